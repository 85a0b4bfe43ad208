"""The files action: no module run where flannel_facts' read shows every path as wanted.

The decision is the module's own comparison (wanted_of, diff_files) over the read's
checksums and modes, so each case here is one the module would also call a change; and a
run that decides "unchanged" never calls the module, while any other runs it as given.
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from ansible.plugins.action import ActionBase
from plugins.action.files import MASKED, ActionModule, unchanged_as_read

SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
PSK = "secret-psk"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def args() -> dict[str, Any]:
    return {
        "directories": [{"path": "/run/flannel", "mode": "0755"}],
        "files": [{"path": "/run/flannel/subnet.env", "mode": "0644", "content": SUBNET_ENV}],
        "secret_files": [{"path": "/etc/podnet/wireguard.psk", "mode": "0600", "content": PSK}],
        "absent": ["/etc/podnet/old.psk"],
    }


def as_read() -> dict[str, Any]:
    """A read of a host that holds exactly args()."""
    return {
        "/run/flannel": {"kind": "dir", "mode": "0755", "sha256": None},
        "/run/flannel/subnet.env": {"kind": "file", "mode": "0644", "sha256": sha(SUBNET_ENV)},
        "/etc/podnet/wireguard.psk": {"kind": "file", "mode": "0600", "sha256": sha(PSK)},
        "/etc/podnet/old.psk": None,
    }


def test_a_host_that_holds_every_path_as_wanted_is_unchanged() -> None:
    assert unchanged_as_read(args(), as_read()) is True


@pytest.mark.parametrize(
    ("path", "state"),
    [
        ("/run/flannel/subnet.env", {"kind": "file", "mode": "0644", "sha256": sha("old\n")}),
        ("/run/flannel/subnet.env", {"kind": "file", "mode": "0600", "sha256": sha(SUBNET_ENV)}),
        ("/run/flannel/subnet.env", None),
        ("/run/flannel", {"kind": "dir", "mode": "0700", "sha256": None}),
        ("/run/flannel", None),
        ("/etc/podnet/wireguard.psk", {"kind": "file", "mode": "0600", "sha256": sha("other")}),
        ("/etc/podnet/old.psk", {"kind": "file", "mode": "0600", "sha256": sha("x")}),
        # Another kind of object: the module refuses it, with its own message.
        ("/run/flannel", {"kind": "file", "mode": "0755", "sha256": sha("")}),
        ("/run/flannel/subnet.env", {"kind": "dir", "mode": "0644", "sha256": None}),
        ("/run/flannel/subnet.env", {"kind": "other", "mode": "0777", "sha256": None}),
    ],
)
def test_any_difference_the_module_would_change_runs_it(path: str, state: Any) -> None:
    assert unchanged_as_read(args(), {**as_read(), path: state}) is False


def test_a_path_the_read_did_not_cover_or_a_bad_argument_runs_the_module() -> None:
    read = as_read()
    del read["/etc/podnet/old.psk"]
    assert unchanged_as_read(args(), read) is False
    bad = args()
    bad["files"][0]["mode"] = "rw-r--r--"
    assert unchanged_as_read(bad, as_read()) is False
    assert unchanged_as_read(args(), "not a read") is False


class Executed(Exception):
    pass


def run_action(monkeypatch: pytest.MonkeyPatch, task_args: dict[str, Any]) -> dict[str, Any]:
    """ActionModule.run with Ansible's own base run stubbed and the module call caught."""
    monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    plugin = ActionModule.__new__(ActionModule)
    plugin._task = SimpleNamespace(args=task_args)

    def execute(module_args: dict[str, Any], task_vars: Any) -> dict[str, Any]:
        raise Executed(module_args)

    plugin._execute_module = execute
    result: dict[str, Any] = plugin.run(task_vars={})
    return result


def test_unchanged_as_read_answers_without_the_module_and_masks_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = run_action(monkeypatch, {**args(), "read_before": as_read()})
    assert (result["changed"], result["changes"], result["matched_read_before"]) == (
        False,
        [],
        True,
    )
    assert result["args"]["secret_files"][0]["content"] == MASKED
    assert PSK not in repr(result)


def test_otherwise_the_module_runs_with_the_arguments_as_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed = {**as_read(), "/run/flannel/subnet.env": None}
    for task_args in ({**args(), "read_before": changed}, args()):
        with pytest.raises(Executed) as executed:
            run_action(monkeypatch, task_args)
        assert executed.value.args[0] == args()
