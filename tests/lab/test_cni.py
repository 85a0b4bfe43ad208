"""libcni's calling convention, checked with a recording runner (pure: no root, no kernel).

The lab claims to call plugins "exactly as a container runtime does"; these tests pin
down what that means: order, stdin, prevResult, environment and error reporting.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from labkit.cni import (
    CniError,
    Invocation,
    NetworkList,
    add_network_list,
    del_network_list,
    load_network_list,
    parse_network_list,
)
from labkit.system import LabError

WHO = Invocation("c1", "/run/netns/p1", "eth0", "/usr/lib/cni", "IgnoreUnknown=1")


class Recorder:
    """A cni.Runner that records each call and answers with a canned result per plugin."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.fail = fail

    def __call__(
        self, argv: list[str], stdin: str, env: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]:
        plugin = Path(argv[0]).name
        self.calls.append((plugin, json.loads(stdin), dict(env)))
        if plugin == self.fail:
            error = {"cniVersion": "0.3.1", "code": 11, "msg": "boom", "details": "why"}
            return subprocess.CompletedProcess(argv, 1, json.dumps(error), "")
        return subprocess.CompletedProcess(argv, 0, json.dumps({"ips": [], "by": plugin}), "")


def netlist(version: str = "0.3.1") -> NetworkList:
    return parse_network_list(
        {
            "name": "cbr0",
            "cniVersion": version,
            "plugins": [
                {"type": "bridge", "mtu": 1450},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        "10-x.conflist",
    )


def test_add_chains_prev_result_in_list_order() -> None:
    runner = Recorder()
    result = add_network_list(runner, netlist(), WHO)
    assert [c[0] for c in runner.calls] == ["bridge", "portmap"]
    first, second = runner.calls[0][1], runner.calls[1][1]
    assert first == {"type": "bridge", "mtu": 1450, "name": "cbr0", "cniVersion": "0.3.1"}
    assert second["prevResult"] == {"ips": [], "by": "bridge"}
    # No port mappings from the "runtime": the capability stays as written, no runtimeConfig.
    assert second["capabilities"] == {"portMappings": True}
    assert "runtimeConfig" not in second
    assert result == {"ips": [], "by": "portmap"}


def test_environment_is_the_runtime_contract() -> None:
    runner = Recorder()
    add_network_list(runner, netlist(), WHO)
    env = runner.calls[0][2]
    assert {k: env[k] for k in env if k.startswith("CNI_")} == {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "c1",
        "CNI_NETNS": "/run/netns/p1",
        "CNI_IFNAME": "eth0",
        "CNI_ARGS": "IgnoreUnknown=1",
        "CNI_PATH": "/usr/lib/cni",
    }


@pytest.mark.parametrize(
    ("version", "prev"),
    [("0.3.1", None), ("0.4.0", {"ips": ["cached"]}), ("1.0.0", {"ips": ["cached"]})],
    ids=["0.3.1-no-prevResult", "0.4.0-cached-result", "1.0.0-cached-result"],
)
def test_del_runs_in_reverse_with_cached_result_from_0_4_0(
    version: str, prev: dict[str, Any] | None
) -> None:
    runner = Recorder()
    del_network_list(runner, netlist(version), WHO, {"ips": ["cached"]})
    assert [c[0] for c in runner.calls] == ["portmap", "bridge"]
    assert all(c[2]["CNI_COMMAND"] == "DEL" for c in runner.calls)
    assert [c[1].get("prevResult") for c in runner.calls] == [prev, prev]


def test_plugin_error_carries_its_json_message_and_stops_the_list() -> None:
    runner = Recorder(fail="bridge")
    with pytest.raises(CniError, match=r"plugin bridge failed \(code 11\): boom: why"):
        add_network_list(runner, netlist(), WHO)
    assert [c[0] for c in runner.calls] == ["bridge"]


def test_single_plugin_conf_becomes_a_list_of_one() -> None:
    parsed = parse_network_list({"name": "n", "cniVersion": "1.0.0", "type": "bridge"}, "x.conf")
    assert parsed.plugins == ({"name": "n", "cniVersion": "1.0.0", "type": "bridge"},)


def test_bad_list_names_every_problem() -> None:
    with pytest.raises(LabError, match=r"x.conflist: no network `name`; plugins\[1\] has no"):
        parse_network_list({"plugins": [{"type": "bridge"}, {}]}, "x.conflist")


def test_first_config_in_lexical_order_wins(tmp_path: Path) -> None:
    for name, net in [("20-b.conflist", "b"), ("10-a.conf", "a"), ("05-z.txt", "z")]:
        (tmp_path / name).write_text(json.dumps({"name": net, "type": "bridge"}))
    assert load_network_list(tmp_path, "/etc/cni/net.d").name == "a"


def test_empty_config_dir_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"no CNI config in /etc/cni/net\.d: run `ansible-playbook"):
        load_network_list(tmp_path, "/etc/cni/net.d")
