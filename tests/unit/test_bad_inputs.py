"""The corpus of inputs that can only be mistakes (issue 19): each one refused, by one pass.

Every case runs `podnet plan --write-leases` on a lease file that exists, and asserts
exit status 2, a message naming the field, the value and the fix, no traceback, nothing
on stdout and the lease file unchanged. The play's side of the same pass (the plan action
over hosts' variables and facts) follows; tests/integration/test_bad_inputs_lab.py runs
site.yml with such inventories on the lab and checks that no host changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from plugins.action.plan import PATHS_FACT, plan_hosts
from plugins.module_utils.reset.decide import SHARED_DIRS as RESET_SHARED_DIRS
from plugins.module_utils.reset.decide import is_own_state_dir

from podnet import ValidationError, parse_net_conf
from podnet.cli import main
from podnet.validate import PATH_DEFAULTS, SHARED_DIRS, check_paths

NET_CONF = {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
DUAL_NET_CONF = {**NET_CONF, "EnableIPv6": True, "IPv6Network": "fd00:10:244::/56"}
LEASES = "node1:\n  subnet: 10.244.1.0/24\n"


def _nodes(**changes: dict[str, object]) -> list[dict[str, object]]:
    """Three valid nodes, with the fields of `changes` (by node name) replaced."""
    nodes = [{"name": f"node{i}", "public_ip": f"192.0.2.{10 + i}"} for i in (1, 2, 3)]
    for node in nodes:
        node.update(changes.get(str(node["name"]), {}))
    return nodes


LONG_NAME = ".".join(["n" * 60] * 5)  # 304 characters
# (nodes, net-conf, fragments the message must hold: the field, the value, the fix)
CLI_CASES = {
    # Addresses no host can have, as public_ip or public_ipv6.
    "address-unspecified": (
        _nodes(node1={"public_ip": "0.0.0.0"}),
        NET_CONF,
        ["nodes[node1].public_ip", "'0.0.0.0'", "unspecified", "give the address peers reach"],
    ),
    "address-loopback": (
        _nodes(node2={"public_ip": "127.0.0.1"}),
        NET_CONF,
        ["nodes[node2].public_ip", "'127.0.0.1'", "loopback", "give the address peers reach"],
    ),
    "address-multicast": (
        _nodes(node1={"public_ip": "224.0.0.251"}),
        NET_CONF,
        ["nodes[node1].public_ip", "'224.0.0.251'", "multicast", "give the address peers"],
    ),
    "address-broadcast": (
        _nodes(node1={"public_ip": "255.255.255.255"}),
        NET_CONF,
        ["nodes[node1].public_ip", "'255.255.255.255'", "broadcast", "give the address"],
    ),
    "address-v6-unspecified": (
        _nodes(node1={"public_ipv6": "::"}),
        DUAL_NET_CONF,
        ["nodes[node1].public_ipv6", "'::'", "unspecified", "give the address peers reach"],
    ),
    "address-v6-loopback": (
        _nodes(node1={"public_ipv6": "::1"}),
        DUAL_NET_CONF,
        ["nodes[node1].public_ipv6", "'::1'", "loopback", "give the address peers reach"],
    ),
    "address-v6-multicast": (
        _nodes(node1={"public_ipv6": "ff02::1"}),
        DUAL_NET_CONF,
        ["nodes[node1].public_ipv6", "'ff02::1'", "multicast", "give the address peers"],
    ),
    "address-v6-link-local": (
        _nodes(node1={"public_ipv6": "fe80::1"}),
        DUAL_NET_CONF,
        ["nodes[node1].public_ipv6", "'fe80::1'", "link-local", "give the address peers"],
    ),
    "address-v4-mapped": (
        _nodes(node1={"public_ipv6": "::ffff:192.0.2.11"}),
        DUAL_NET_CONF,
        ["nodes[node1].public_ipv6", "'::ffff:c000:20b'", "IPv4 address in IPv6 form", "give"],
    ),
    "address-typo": (
        _nodes(node3={"public_ip": "192.0.2.300"}),
        NET_CONF,
        ["nodes[node3].public_ip", "'192.0.2.300'", "not an IPv4", "give the address peers"],
    ),
    "address-wrong-family": (
        _nodes(node3={"public_ip": "2001:db8::3"}),
        NET_CONF,
        ["nodes[node3].public_ip", "'2001:db8::3'", "IPv6 address", "an IPv4 address is needed"],
    ),
    # A public address on no interface of the host (host_addresses: what facts say).
    "address-not-on-host": (
        _nodes(node1={"public_ip": "192.0.2.111", "host_addresses": ["192.0.2.11"]}),
        NET_CONF,
        ["node1.podnet_public_ip", "192.0.2.111", "on no interface", "podnet_public_ip_nat: true"],
    ),
    "address-v6-not-on-host": (
        _nodes(node1={"public_ipv6": "2001:db8::99", "host_addresses": ["192.0.2.11"]}),
        DUAL_NET_CONF,
        ["node1.podnet_public_ipv6", "2001:db8::99", "on no interface", "podnet_public_ip_nat"],
    ),
    # Names no host can carry.
    "name-too-long": (
        [{"name": LONG_NAME, "public_ip": "192.0.2.11"}],
        NET_CONF,
        ["nodes[0].name", repr(LONG_NAME), "304 characters", "use the host's own name"],
    ),
    "name-label-too-long": (
        [{"name": "x" * 64 + ".example", "public_ip": "192.0.2.11"}],
        NET_CONF,
        ["nodes[0].name", "x" * 64, "64 characters", "use the host's own name"],
    ),
    "name-control-character": (
        [{"name": "node\x07", "public_ip": "192.0.2.11"}],
        NET_CONF,
        ["nodes[0].name", "'node\\x07'", "control character", "use the host's own name"],
    ),
    "name-delete-character": (
        [{"name": "node\x7f1", "public_ip": "192.0.2.11"}],
        NET_CONF,
        ["nodes[0].name", "'node\\x7f1'", "control character", "use the host's own name"],
    ),
    "name-newline": (
        [{"name": "node\n1", "public_ip": "192.0.2.11"}],
        NET_CONF,
        ["nodes[0].name", "'node\\n1'", "not a node name", "give a non-empty word"],
    ),
    "name-empty-label": (
        [{"name": "node..example", "public_ip": "192.0.2.11"}],
        NET_CONF,
        ["nodes[0].name", "'node..example'", "empty dot-separated label", "host's own name"],
    ),
    # Numbers.
    "mtu-not-a-number": (
        _nodes(node2={"mtu": "abc"}),
        NET_CONF,
        ["nodes[node2].mtu", "'abc'", "not a whole number", "give the underlay interface's MTU"],
    ),
    "mtu-boolean": (
        _nodes(node2={"mtu": True}),
        NET_CONF,
        ["nodes[node2].mtu", "True", "not a whole number", "give the underlay interface's MTU"],
    ),
    "mtu-too-small": (
        _nodes(node2={"mtu": 68}),
        NET_CONF,
        ["nodes[node2].mtu", "68", "out of range", "use 576..65535"],
    ),
    "mtu-too-large": (
        _nodes(node2={"mtu": 70000}),
        NET_CONF,
        ["nodes[node2].mtu", "70000", "out of range", "use 576..65535"],
    ),
    # CIDRs.
    "pin-host-bits": (
        _nodes(node1={"subnet": "10.244.7.1/24"}),
        NET_CONF,
        ["nodes[node1].subnet", "'10.244.7.1/24'", "host bits", "did you mean 10.244.7.0/24"],
    ),
    "pin-not-a-cidr": (
        _nodes(node1={"subnet": "banana"}),
        NET_CONF,
        ["nodes[node1].subnet", "'banana'", "not an IPv4 CIDR", "pin a subnet of the network"],
    ),
    "pin-outside-network": (
        _nodes(node1={"subnet": "10.99.0.0/24"}),
        NET_CONF,
        ["nodes[node1].subnet", "10.99.0.0/24", "outside Network", "pin a subnet inside it"],
    ),
    "pin-wrong-family": (
        _nodes(node1={"ipv6_subnet": "10.244.7.0/24"}),
        DUAL_NET_CONF,
        ["nodes[node1].ipv6_subnet", "'10.244.7.0/24'", "IPv4 CIDR", "an IPv6 CIDR is needed"],
    ),
    # Booleans and interface names.
    "nat-not-a-boolean": (
        _nodes(node1={"public_ip_nat": "maybe"}),
        NET_CONF,
        ["nodes[node1].public_ip_nat", "'maybe'", "not a boolean", "use true or false"],
    ),
    "iface-slash": (
        _nodes(node1={"iface": "eth0/1"}),
        NET_CONF,
        ["nodes[node1].iface", "'eth0/1'", "not a Linux interface name", "as `ip link` lists"],
    ),
    "iface-too-long": (
        _nodes(node1={"iface": "enp3s0f1-storage"}),
        NET_CONF,
        ["nodes[node1].iface", "'enp3s0f1-storage'", "1-15 characters", "as `ip link` lists"],
    ),
}

CLASSES = {
    "address": "public addresses no host can have, or typos",
    "name": "node names no host can carry",
    "mtu": "numbers",
    "pin": "CIDRs",
    "nat": "booleans",
    "iface": "interface names",
}


@pytest.fixture
def plan_argv(tmp_path: Path):
    """`podnet plan --write-leases` over files holding the given inputs; an existing lease
    file, which a refused plan must leave as it was."""
    (tmp_path / "leases.yml").write_text(LEASES)

    def argv(nodes: object, net_conf: object = NET_CONF) -> list[str]:
        (tmp_path / "net-conf.json").write_text(json.dumps(net_conf))
        (tmp_path / "nodes.yml").write_text(yaml.safe_dump(nodes))
        return [
            "plan",
            *("--net-conf", str(tmp_path / "net-conf.json")),
            *("--nodes", str(tmp_path / "nodes.yml")),
            *("--leases", str(tmp_path / "leases.yml"), "--write-leases"),
        ]

    return argv


def _assert_refused(argv: list[str], fragments: list[str], capsys, tmp_path: Path) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if all(f in line for f in fragments)]
    assert lines, f"no line holds all of {fragments}:\n{captured.err}"
    assert (tmp_path / "leases.yml").read_text() == LEASES
    return captured.err


@pytest.mark.parametrize("case", CLI_CASES.values(), ids=CLI_CASES)
def test_podnet_plan_refuses_each_mistake_and_writes_nothing(
    plan_argv, tmp_path, capsys, case
) -> None:
    nodes, net_conf, fragments = case
    _assert_refused(plan_argv(nodes, net_conf), fragments, capsys, tmp_path)


def test_the_corpus_covers_every_class() -> None:
    assert {case.split("-")[0] for case in CLI_CASES} == set(CLASSES)


def test_several_problems_of_several_nodes_are_all_reported_at_once(
    plan_argv, tmp_path, capsys
) -> None:
    # The example: a non-numeric MTU, a pin outside the network and a bad
    # interface, each on another node, plus an address no host can have.
    nodes = _nodes(
        node1={"mtu": "abc"},
        node2={"subnet": "10.99.0.0/24"},
        node3={"iface": "bond0/1", "public_ip": "0.0.0.0"},
    )
    err = _assert_refused(plan_argv(nodes), ["nodes[node1].mtu", "'abc'"], capsys, tmp_path)
    for fragments in (
        ["nodes[node2].subnet", "10.99.0.0/24", "pin a subnet inside it"],
        ["nodes[node3].iface", "'bond0/1'"],
        ["nodes[node3].public_ip", "'0.0.0.0'"],
    ):
        assert any(all(f in line for f in fragments) for line in err.splitlines()), fragments


def test_a_declared_nat_address_is_accepted(plan_argv, capsys) -> None:
    nodes = _nodes(node1={"public_ip": "203.0.113.7", "host_addresses": ["192.0.2.11"]})
    nodes[0]["public_ip_nat"] = True
    assert main(plan_argv(nodes)) == 0
    assert "203.0.113.7" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name",
    ["node1", "Web_1.example.com", "192.0.2.11", "x" * 63, ".".join(["y" * 63] * 3 + ["z" * 61])],
)
def test_names_hosts_can_carry_are_accepted(name) -> None:
    conf = parse_net_conf(NET_CONF)
    hosts = {name: {"podnet_public_ip": "192.0.2.11"}}
    plan, _ = plan_hosts(conf, [name], hosts, {}, [])
    assert [node.name for node in plan.nodes] == [name]


# --- The play's side: the plan action over hosts' variables and facts ---------------------


def _facts(address: str = "192.0.2.11") -> dict[str, object]:
    """What `setup` (network subset) gathers on a lab node, trimmed to what the plan reads."""
    return {
        "default_ipv4": {"interface": "eth0", "address": address},
        "interfaces": ["eth0", "lo"],
        "all_ipv4_addresses": [address],
        "all_ipv6_addresses": ["fe80::11"],
        "eth0": {
            "mtu": 1500,
            "ipv4": {"address": address, "network": "192.0.2.0", "netmask": "255.255.255.0"},
        },
    }


def _hosts(**changes: dict[str, object]) -> dict[str, dict[str, object]]:
    """Three read hosts with their facts and the role's default paths, with `changes`."""
    hosts: dict[str, dict[str, object]] = {
        f"node{i}": {"ansible_facts": _facts(f"192.0.2.{10 + i}"), PATHS_FACT: PATH_DEFAULTS}
        for i in (1, 2, 3)
    }
    for name, variables in changes.items():
        paths = {**PATH_DEFAULTS, **{k: v for k, v in variables.items() if k in PATH_DEFAULTS}}
        hosts[name] |= {k: v for k, v in variables.items() if k not in PATH_DEFAULTS}
        hosts[name][PATHS_FACT] = paths
    return hosts


PLAY_CASES = {
    "path-relative-state-dir": (
        _hosts(node1={"podnet_state_dir": "podnet"}),
        ["node1.podnet_state_dir", "'podnet'", "relative path", "absolute one such as /etc/podnet"],
    ),
    "path-root-state-dir": (
        _hosts(node1={"podnet_state_dir": "/"}),
        ["node1.podnet_state_dir", "'/'", "system directory", "such as /etc/podnet"],
    ),
    "path-etc-state-dir": (
        _hosts(node2={"podnet_state_dir": "/etc"}),
        ["node2.podnet_state_dir", "'/etc'", "system directory", "such as /etc/podnet"],
    ),
    "path-shared-state-dir": (
        _hosts(node2={"podnet_state_dir": "/var/lib"}),
        ["node2.podnet_state_dir", "'/var/lib'", "system directory", "such as /etc/podnet"],
    ),
    "path-state-dir-holds-cni": (
        _hosts(node2={"podnet_state_dir": "/etc/cni"}),
        ["node2.podnet_state_dir", "'/etc/cni'", "holds podnet_cni_conf_dir", "its own directory"],
    ),
    "path-subnet-env-in-tmp": (
        _hosts(node3={"podnet_subnet_env_path": "/tmp/subnet.env"}),
        ["node3.podnet_subnet_env_path", "'/tmp/subnet.env'", "system directory", "/run/flannel"],
    ),
    "path-subnet-env-relative": (
        _hosts(node3={"podnet_subnet_env_path": "run/flannel/subnet.env"}),
        ["node3.podnet_subnet_env_path", "'run/flannel/subnet.env'", "relative", "absolute one"],
    ),
    "path-cni-root": (
        _hosts(node1={"podnet_cni_conf_dir": "/"}),
        ["node1.podnet_cni_conf_dir", "'/'", "system directory", "such as /etc/cni/net.d"],
    ),
    "path-cni-not-normalised": (
        _hosts(node1={"podnet_cni_conf_dir": "/etc/cni/../cni/net.d"}),
        ["node1.podnet_cni_conf_dir", "'/etc/cni/../cni/net.d'", "normalised", "/etc/cni/net.d"],
    ),
    "path-not-a-string": (
        _hosts(node1={"podnet_cni_conf_dir": ["/etc/cni/net.d"]}),
        ["node1.podnet_cni_conf_dir", "['/etc/cni/net.d']", "not a path", "such as /etc/cni"],
    ),
    "path-unit-dir-etc": (
        _hosts(node1={"podnet_systemd_unit_dir": "/etc"}),
        ["node1.podnet_systemd_unit_dir", "'/etc'", "system directory", "/etc/systemd/system"],
    ),
    "host-public-ip-typo": (
        _hosts(node2={"podnet_public_ip": "192.0.2.121"}),
        [
            "node2.podnet_public_ip",
            "192.0.2.121",
            "on no interface of node2 (it has: 192.0.2.12)",
            "set podnet_public_ip_nat: true for node2",
        ],
    ),
    "host-mtu-not-a-number": (
        _hosts(node1={"podnet_mtu": "15OO"}),
        ["node1.podnet_mtu", "'15OO'", "not a whole number", "give the underlay interface's MTU"],
    ),
    "host-nat-not-a-boolean": (
        _hosts(node1={"podnet_public_ip_nat": "maybe"}),
        ["node1.podnet_public_ip_nat", "'maybe'", "not a boolean", "use true or false"],
    ),
    "host-unknown-iface": (
        _hosts(node3={"podnet_iface": "bond0"}),
        ["node3.podnet_iface", "'bond0'", "not an interface of the host", "set podnet_iface"],
    ),
    "host-address-no-host-can-have": (
        _hosts(node3={"podnet_public_ip": "0.0.0.0"}),
        ["node3.podnet_public_ip", "'0.0.0.0'", "unspecified", "give the address peers reach"],
    ),
}


def _refusal(hosts: dict[str, dict[str, object]], net_conf: object = NET_CONF) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        plan_hosts(parse_net_conf(net_conf), sorted(hosts), hosts, {}, [])
    assert "Traceback" not in str(refused.value)
    return list(refused.value.problems)


@pytest.mark.parametrize(("hosts", "fragments"), PLAY_CASES.values(), ids=PLAY_CASES)
def test_the_plan_action_refuses_each_mistake_of_the_hosts(hosts, fragments) -> None:
    problems = _refusal(hosts)
    assert any(all(f in problem for f in fragments) for problem in problems), problems


def test_the_play_reports_every_problem_of_every_host_at_once() -> None:
    # The example, as host variables: only one of them was reported before.
    hosts = _hosts(
        node1={"podnet_mtu": "abc"},
        node2={"podnet_subnet": "10.99.0.0/24"},
        node3={"podnet_iface": "bond0", "podnet_state_dir": "/etc"},
    )
    fields = [problem.split(":")[0] for problem in _refusal(hosts)]
    # node3's unknown interface also leaves its address unknown: said in its own line.
    assert fields == [
        "node3.podnet_state_dir",
        "node3.podnet_iface",
        "node3.podnet_public_ip",
        "node1.podnet_mtu",
        "node2.podnet_subnet",
    ]


def test_a_public_address_declared_nat_is_accepted_but_not_under_host_gw() -> None:
    # "yes", as `-e podnet_public_ip_nat=yes` or an INI inventory give it: Ansible's boolean.
    hosts = _hosts(node1={"podnet_public_ip": "203.0.113.7", "podnet_public_ip_nat": "yes"})
    plan, _ = plan_hosts(parse_net_conf(NET_CONF), sorted(hosts), hosts, {}, [])
    assert str(plan.node("node1").node.public_ip) == "203.0.113.7"
    host_gw = {**NET_CONF, "Backend": {"Type": "host-gw"}}
    hosts["node1"]["ansible_facts"]["eth0"]["ipv4_secondaries"] = []  # type: ignore[index]
    problems = _refusal(hosts, host_gw)
    assert any("not supported by host-gw" in problem for problem in problems), problems


def test_default_paths_and_the_labs_unit_dir_inside_the_state_dir_pass() -> None:
    hosts = _hosts(node1={"podnet_systemd_unit_dir": "/etc/podnet/systemd"})
    plan, _ = plan_hosts(parse_net_conf(NET_CONF), sorted(hosts), hosts, {}, [])
    assert len(plan.nodes) == 3


def test_reset_on_the_host_and_the_plan_share_one_list_of_system_directories() -> None:
    assert set(RESET_SHARED_DIRS) == SHARED_DIRS


@pytest.mark.parametrize(
    "state_dir",
    ["/etc/podnet", "/", "/etc", "/var/lib", "/etc/cni", "/etc/podnet/", "/etc//podnet", "x/y"],
)
def test_the_plan_refuses_every_state_dir_reset_would_refuse(state_dir) -> None:
    # The plan runs before reset (and site.yml): a state directory it accepts is one reset
    # owns; one reset would refuse never gets that far.
    problems: list[str] = []
    paths = {**PATH_DEFAULTS, "podnet_state_dir": state_dir}
    check_paths("n1", paths, problems)
    shared = [paths["podnet_cni_conf_dir"], "/run/flannel"]
    assert (not problems) == is_own_state_dir(state_dir, shared)
