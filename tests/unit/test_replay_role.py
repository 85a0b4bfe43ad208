"""The role records what main.yml applies, all of it and as main.yml applies it.

Every module task of main.yml registers podnet_applied_<module>, every podnet module
returns `args` (its arguments as Ansible normalised them), and the record (vars/main.yml's
podnet_restore_record, written by main.yml's files call) holds exactly those, in main.yml's
order, with the files main.yml writes: these tests fail when main.yml gains a module the
record misses, a module task stops registering what the record reads, a module stops
returning its arguments, or the recorded files drift from the written ones. The one task
main.yml may skip on an unchanged host (forwarding, already on) passes every option of its
module from podnet_forwarding, which the record then holds in place of its `args`.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from plugins.module_utils.core.shell import Applied

from podnet.slices import CNI_CONFLIST_NAME

REPO = Path(__file__).resolve().parents[2]

TASKS = REPO / "roles" / "node" / "tasks"
ROLE_VARS = REPO / "roles" / "node" / "vars" / "main.yml"
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


def role_vars() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ROLE_VARS.read_text())
    return loaded


def recorded_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = role_vars()["podnet_restore_record"]["steps"]
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
        elif name == "sysctl":  # skipped where forwarding is on: see the next test
            assert "loop" not in task, name
            wanted = "[podnet_applied_sysctl.args | default(podnet_forwarding)]"
        else:
            assert "loop" not in task and "when" not in task, name
            wanted = f"[podnet_applied_{name}.args]"
        assert steps[name] == "{{ " + wanted + " }}", name


def test_the_skippable_forwarding_task_passes_every_option_from_what_the_record_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the sysctl task is skipped the record holds podnet_forwarding: that is the
    task's arguments only if it sets every option of the module (a new option with a
    default would otherwise be missing from a skipped run's record), each from there."""
    (task,) = [t for t in applying_tasks() if module_of(t) == "sysctl"]
    forwarding = role_vars()["podnet_forwarding"]
    assert set(forwarding) == set(argument_spec("sysctl", monkeypatch))
    assert task[PREFIX + "sysctl"] == {
        "values": "{{ podnet_forwarding['values'] }}",
        "ignore_missing": "{{ podnet_forwarding.ignore_missing }}",
    }
    # flannel_facts reads, before the plan, every name the task may set.
    (facts,) = [t for t in load("plan.yml") if module_of(t) == "flannel_facts"]
    assert facts[PREFIX + "flannel_facts"]["sysctls"] == "{{ podnet_forwarding_names }}"
    assert set(re.findall(r"'(net\.[a-z0-9_.]+)'", forwarding["values"])) == set(
        role_vars()["podnet_forwarding_names"]
    )


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
    """The record is written by main.yml's one files call, after every module task it
    records, with main.yml's own list of written files; restore.yml (the program and the
    unit) comes last."""
    (block,) = [t for t in load("main.yml") if t.get("name") == "Apply this node's plan"]
    names = [t.get("name") for t in block["block"]]
    assert names[-1] == "Boot restore"
    assert block["block"][-1]["ansible.builtin.import_tasks"] == "restore.yml"
    modules = [module_of(t) for t in block["block"]]
    (written,) = [t for t in block["block"] if module_of(t) == "files"]
    assert set(RECORDED_ORDER) <= set(modules[: modules.index("files")])
    args = written[PREFIX + "files"]
    assert args == {
        "directories": "{{ podnet_written.directories }}",
        "files": "{{ podnet_written.files }}",
        "secret_files": "{{ podnet_written.secret_files }}",
        "absent": "{{ podnet_written.absent }}",
        "read_before": "{{ podnet_flannel_facts.paths }}",
    }
    written_files = role_vars()["podnet_written"]["files"]
    assert words(written_files) == words(
        "{{ podnet_files + (podnet_restore_files.files if podnet_boot_restore | bool else []) }}"
    )
    assert role_vars()["podnet_restore_record"]["files"] == "{{ podnet_files }}"
    assert role_vars()["podnet_restore_files"]["files"][0]["content"] == (
        "{{ podnet_restore_record | to_nice_json }}\n"
    )


def test_the_conflist_the_role_writes_is_the_one_the_library_names() -> None:
    """The role names it before the plan (flannel_facts reads it first); the library's name
    is the one reset and `podnet plan` use."""
    assert role_vars()["podnet_cni_conflist_name"] == CNI_CONFLIST_NAME
    (conflist,) = [f for f in role_vars()["podnet_files"] if "conflist" in f["path"]]
    assert conflist["path"] == "{{ podnet_cni_conf_dir }}/{{ podnet_cni_conflist_name }}"


def test_flannel_facts_reads_every_path_the_files_call_names() -> None:
    """Before the plan: the directories and files of podnet_written, the PSK file (written or
    removed), the provided pyroute2 and the restore program. A path left out would only cost
    the files call its module run, so this holds the list to the call."""
    read = words(role_vars()["podnet_paths_read"])
    assert "(podnet_written.directories + podnet_written.files) | map(attribute='path')" in read
    for path in ("podnet_restore_psk_file", "podnet_restore_program_path", "podnet_pyroute2_zip"):
        assert path in read
    files = role_vars()["podnet_restore_files"]
    assert words(files["absent"]) == words(
        "{{ [] if podnet_restore_psk_used else [podnet_restore_psk_file] }}"
    )
    assert "'path': podnet_restore_psk_file" in words(files["secret_files"])
    (facts,) = [t for t in load("plan.yml") if module_of(t) == "flannel_facts"]
    assert facts[PREFIX + "flannel_facts"]["paths"] == "{{ podnet_paths_read }}"
