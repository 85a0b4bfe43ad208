"""The role records what main.yml applies, all of it and as main.yml applies it.

restore.yml takes the looped modules' arguments from their registered results, and
restates sysctl's and masquerade's (ansible-core drops `invocation` from a registered
non-loop result): these tests fail when main.yml gains a module the record misses, or
when the restated expressions or the modules' defaults drift apart.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TASKS = REPO / "roles" / "node" / "tasks"
PREFIX = "podnet.fabric."
RECORDED_ORDER = ["sysctl", "vxlan", "host_gw", "wireguard", "masquerade"]
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
    """main.yml's module tasks that build state (not the removal of other devices)."""
    return [
        task
        for task in load("main.yml")
        if module_of(task) is not None and not task["name"].startswith("Remove ")
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


def test_looped_modules_register_what_restore_yml_reads() -> None:
    text = (TASKS / "restore.yml").read_text()
    for task in applying_tasks():
        name = module_of(task)
        if name in LOOPED:
            assert "loop" in task, f"{name}: invocation survives register only in loop results"
            assert task["register"] == f"podnet_applied_{name}"
            assert f"podnet_applied_{name}.results" in text


@pytest.mark.parametrize("name", ["sysctl", "masquerade"])
def test_restated_arguments_are_main_ymls_with_the_modules_defaults(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (task,) = [t for t in applying_tasks() if module_of(t) == name]
    (step,) = [s for s in recorded_steps() if s["module"] == name]
    (restated,) = step["runs"]
    given = task[PREFIX + name]
    spec = argument_spec(name, monkeypatch)
    assert set(restated) == set(spec), "every option, so the replay needs no defaults"
    for option, value in restated.items():
        if option in given:
            assert words(value) == words(given[option]), option
        else:
            assert value == spec[option]["default"], option


def test_the_record_sees_the_node_as_main_yml_does() -> None:
    (block,) = [t for t in load("main.yml") if t.get("name") == "Apply this node's plan"]
    (task,) = [t for t in load("restore.yml") if t.get("name", "").startswith("Record what")]
    assert task["vars"]["podnet_node"] == block["vars"]["podnet_node"]
