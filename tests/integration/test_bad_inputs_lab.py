"""The play's half of the bad-input corpus (issue 19): site.yml and reset.yml on a converged
lab, with inventories that can only be mistakes, several of them on several hosts at once.

Each run must fail in the plan, with every problem in one message (node, field, value,
fix), no traceback, and no host changed: kernel objects, firewall rules, files and the
lease file are compared before and after. tests/unit/test_bad_inputs.py holds the
command line's half and the plan action's, case by case.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import LAB_INVENTORY, LEASE_FILE, converge, node_json, node_text, run_playbook

NODES = ("node1", "node2", "node3")
LONG_NAME = ".".join(["n" * 60] * 5)  # 304 characters: longer than any host name
LONG_LABEL = "x" * 64 + ".example"  # a label of 64 characters: one more than DNS allows

# run id -> (host variables by host, extra arguments, fragments each expected line holds)
RUNS: dict[str, tuple[dict[str, dict[str, object]], list[str], list[list[str]]]] = {
    "a-mistake-on-each-host": (
        {
            "node1": {"podnet_mtu": "abc"},
            "node2": {"podnet_subnet": "10.99.0.0/24"},
            "node3": {"podnet_iface": "bond0"},
        },
        [],
        [
            ["node1.podnet_mtu", "'abc'", "not a whole number", "give the underlay"],
            ["node2.podnet_subnet", "10.99.0.0/24", "outside Network", "pin a subnet inside it"],
            ["node3.podnet_iface", "'bond0'", "not an interface of the host", "set podnet_iface"],
        ],
    ),
    "public-addresses": (
        {
            "node1": {"podnet_public_ip": "192.0.2.111"},
            "node2": {"podnet_public_ip": "0.0.0.0"},
            "node3": {"podnet_public_ip": "224.0.0.5"},
        },
        [],
        [
            [
                "node1.podnet_public_ip",
                "192.0.2.111",
                "on no interface of node1",
                "set podnet_public_ip_nat: true for node1",
            ],
            ["node2.podnet_public_ip", "'0.0.0.0'", "unspecified", "give the address peers"],
            ["node3.podnet_public_ip", "'224.0.0.5'", "multicast", "give the address peers"],
        ],
    ),
    "paths": (
        {
            "node1": {"podnet_state_dir": "podnet"},
            "node2": {"podnet_state_dir": "/etc"},
            "node3": {"podnet_subnet_env_path": "/tmp/subnet.env"},
        },
        [],
        [
            ["node1.podnet_state_dir", "'podnet'", "relative path", "such as /etc/podnet"],
            ["node2.podnet_state_dir", "'/etc'", "system directory", "such as /etc/podnet"],
            [
                "node3.podnet_subnet_env_path",
                "'/tmp/subnet.env'",
                "system directory",
                "such as /run/flannel/subnet.env",
            ],
        ],
    ),
    "more-paths-and-a-boolean": (
        {
            "node1": {"podnet_cni_conf_dir": "/"},
            "node2": {"podnet_state_dir": "/var/lib"},
            "node3": {"podnet_public_ip_nat": "maybe"},
        },
        [],
        [
            ["node1.podnet_cni_conf_dir", "'/'", "system directory", "such as /etc/cni/net.d"],
            ["node2.podnet_state_dir", "'/var/lib'", "system directory", "such as /etc/podnet"],
            ["node3.podnet_public_ip_nat", "'maybe'", "not a boolean", "use true or false"],
        ],
    ),
    "names-no-host-can-carry": (
        # In the group (so in the fleet), not in the play: their names alone are wrong.
        {
            LONG_NAME: {"podnet_public_ip": "192.0.2.21", "podnet_subnet": "10.244.21.0/24"},
            LONG_LABEL: {"podnet_public_ip": "192.0.2.22", "podnet_subnet": "10.244.22.0/24"},
        },
        ["--limit", ",".join(NODES)],
        [
            ["name", LONG_NAME, "304 characters", "use the host's own name"],
            ["name", LONG_LABEL, "64 characters", "use the host's own name"],
        ],
    ),
    "a-relative-path-for-every-host": (
        {},
        ["-e", "podnet_subnet_env_path=flannel/subnet.env"],
        [
            [
                f"{node}.podnet_subnet_env_path",
                "'flannel/subnet.env'",
                "relative path",
                "absolute one such as /run/flannel/subnet.env",
            ]
            for node in NODES
        ],
    ),
}


def _inventory(tmp_path: Path, host_vars: dict[str, dict[str, object]]) -> Path:
    """The lab inventory with host variables added (and hosts, for new names), as a user
    edits it; group variables inlined, as conftest.inventory_without does."""
    hosts = yaml.safe_load((LAB_INVENTORY / "hosts.yml").read_text())
    group_vars = yaml.safe_load((LAB_INVENTORY / "group_vars" / "podnet_nodes.yml").read_text())
    group_vars["podnet_net_conf"] = str(LAB_INVENTORY / "net-conf.json")
    hosts["podnet_nodes"]["vars"].update(group_vars)
    for name, variables in host_vars.items():
        hosts["podnet_nodes"]["hosts"][name] = variables
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(hosts))
    return path


def host_state(node: str) -> dict[str, object]:
    """Everything a run could change on a node: podnet's kernel objects, firewall, files.

    Routes the kernel makes itself and neighbours it learns come and go on their own.
    """
    routes = node_json(node, ["ip", "-j", "route", "show", "table", "all"])
    return {
        "links": sorted(link["ifname"] for link in node_json(node, ["ip", "-j", "link", "show"])),
        "addresses": node_text(node, ["ip", "-br", "addr", "show"]),
        "routes": [route for route in routes if route.get("protocol") != "kernel"],
        "neighbours": node_json(node, ["ip", "-j", "neigh", "show", "nud", "permanent"]),
        "fdb": node_json(node, ["bridge", "-j", "fdb", "show"]),
        "iptables": _rules(node_text(node, ["iptables-save"])),
        "nft": node_text(node, ["nft", "list", "ruleset"]),
        "sysctl": node_text(node, ["cat", "/proc/sys/net/ipv4/ip_forward"]),
        "files": node_text(
            node,
            ["sh", "-c", "find /run/flannel /etc/cni/net.d /etc/podnet -type f | sort"
             " | xargs -r sha256sum"],
        ),
    }  # fmt: skip


def _rules(save: str) -> list[str]:
    # Comment lines carry timestamps; counters change as packets pass.
    return [line for line in save.splitlines() if line and not line.startswith(("#", ":"))]


@pytest.fixture(scope="module")
def converged(lab):
    converge()
    return lab


def _assert_refused_and_nothing_changed(
    tmp_path: Path,
    host_vars: dict[str, dict[str, object]],
    args: list[str],
    expected: list[list[str]],
    playbook: str = "site.yml",
) -> None:
    before = {node: host_state(node) for node in NODES}
    leases_before = LEASE_FILE.read_bytes()
    result = run_playbook(*args, playbook=playbook, inventory=_inventory(tmp_path, host_vars))
    assert result.rc != 0, result.output[-4000:]
    assert "Traceback" not in result.output
    assert "nothing was changed on any host" in result.output, result.output[-4000:]
    lines = result.output.splitlines()
    for fragments in expected:
        assert any(all(f in line for f in fragments) for line in lines), (fragments, lines[-40:])
    assert not any(result.changed().values()), result.recap
    assert LEASE_FILE.read_bytes() == leases_before
    assert {node: host_state(node) for node in NODES} == before


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS)
def test_site_yml_refuses_every_mistake_at_once_and_changes_no_host(
    converged, tmp_path, run
) -> None:
    host_vars, args, expected = run
    _assert_refused_and_nothing_changed(tmp_path, host_vars, args, expected)


def test_reset_refuses_a_system_directory_as_state_dir_and_removes_nothing(
    converged, tmp_path
) -> None:
    _assert_refused_and_nothing_changed(
        tmp_path,
        {"node2": {"podnet_state_dir": "/etc"}},
        [],
        [["node2.podnet_state_dir", "'/etc'", "system directory", "such as /etc/podnet"]],
        playbook="reset.yml",
    )


def test_the_same_inventory_fixed_converges_with_no_change(converged) -> None:
    # The refused runs left the lab exactly as converged: a run now changes nothing.
    assert not any(converge().changed().values())
