"""The role records what main.yml applies, all of it and as main.yml applies it.

Every module task of main.yml registers podnet_applied_<module>, every podnet module
returns `args` (its arguments as Ansible normalised them), and restore.yml records exactly
those, in main.yml's order, with the files main.yml writes: these tests fail when main.yml
gains a module the record misses, a module task stops registering what restore.yml reads,
a module stops returning its arguments, or the recorded files drift from the written ones.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from plugins.module_utils.core.shell import Applied

REPO = Path(__file__).resolve().parents[2]

TASKS = REPO / "roles" / "node" / "tasks"
PREFIX = "podnet.fabric."
RECORDED_ORDER = ["sysctl", "overlay_filter", "vxlan", "host_gw", "wireguard", "masquerade"]
LOOPED = {"vxlan", "host_gw", "wireguard"}


def flatten(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for task in tasks:
        found.append(task)
        found.extend(flatten(task.get("block", [])))
    return found


def load(name: str) -> list[dict[str, Any]]:
    return flatten(yaml.safe_load((TASKS / name).read_text()))


def module_of(task: dict[str, Any]) -> str | None:
    return next((key[len(PREFIX) :] for key in task if key.startswith(PREFIX)), None)


def applying_tasks() -> list[dict[str, Any]]:
    """main.yml's module tasks that build kernel state (not the removal of other devices,
    not the files, which the record holds as its `files`)."""
    return [
        task
        for task in load("main.yml")
        if module_of(task) not in (None, "files") and not task["name"].startswith("Remove ")
    ]


def recorded_steps() -> list[dict[str, Any]]:
    (task,) = [t for t in load("restore.yml") if t.get("name", "").startswith("Record what")]
    steps: list[dict[str, Any]] = task["vars"]["podnet_restore_record"]["steps"]
    return steps


def words(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def argument_spec(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A module's argument_spec, caught where main() hands it to AnsibleModule."""
    module = __import__(f"plugins.modules.{name}", fromlist=["main"])

    class Caught(Exception):
        pass

    def capture(**kwargs: Any) -> None:
        raise Caught(kwargs["argument_spec"])

    monkeypatch.setattr(module, "AnsibleModule", capture)
    with pytest.raises(Caught) as caught:
        module.main()
    spec: dict[str, Any] = caught.value.args[0]
    return spec


def test_every_module_main_yml_applies_is_recorded_in_its_order() -> None:
    applied = [module_of(task) for task in applying_tasks()]
    assert applied == RECORDED_ORDER
    assert [step["module"] for step in recorded_steps()] == RECORDED_ORDER


def test_every_module_registers_the_args_restore_yml_records() -> None:
    steps = {step["module"]: words(step["runs"]) for step in recorded_steps()}
    for task in applying_tasks():
        name = module_of(task)
        assert task["register"] == f"podnet_applied_{name}"
        if name in LOOPED:
            assert "loop" in task, name
            wanted = f"podnet_applied_{name}.results | default([]) | map(attribute='args') | list"
        else:
            assert "loop" not in task, name
            wanted = f"[podnet_applied_{name}.args]"
        assert steps[name] == "{{ " + wanted + " }}", name


@pytest.mark.parametrize("name", RECORDED_ORDER)
def test_every_recorded_module_returns_its_normalised_arguments(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module's main() with its entry stubbed: the result carries `args`, all of
    module.params (defaults filled), which is what the replay needs."""
    module = importlib.import_module(f"plugins.modules.{name}")
    spec = argument_spec(name, monkeypatch)
    params = {option: entry.get("default") for option, entry in spec.items()}

    class Exited(Exception):
        pass

    class FakeModule:
        def __init__(self, **_kwargs: Any) -> None:
            self.params = params
            self.check_mode = False
            self._diff = False
            self.no_log_values: set[str] = set()

        def exit_json(self, **result: Any) -> None:
            raise Exited(result)

        def fail_json(self, **result: Any) -> None:
            raise AssertionError(result)

        def warn(self, _text: str) -> None:
            pass

    monkeypatch.setattr(module, "AnsibleModule", FakeModule)
    monkeypatch.setattr(module.entry, "run", lambda *_args: Applied([]))
    with pytest.raises(Exited) as exited:
        module.main()
    assert exited.value.args[0]["args"] == params


def test_the_record_sees_the_node_and_the_files_as_main_yml_does() -> None:
    """restore.yml runs inside main.yml's apply block (its podnet_node), after every module
    task, and records main.yml's own list of written files."""
    (block,) = [t for t in load("main.yml") if t.get("name") == "Apply this node's plan"]
    names = [t.get("name") for t in block["block"]]
    assert names[-1] == "Boot restore"
    assert block["block"][-1]["ansible.builtin.import_tasks"] == "restore.yml"
    (written,) = [t for t in block["block"] if module_of(t) == "files"]
    assert written[PREFIX + "files"]["files"] == "{{ podnet_files }}"
    (task,) = [t for t in load("restore.yml") if t.get("name", "").startswith("Record what")]
    assert task["vars"]["podnet_restore_record"]["files"] == "{{ podnet_files }}"
    assert "podnet_node" not in task.get("vars", {})
