"""The command line: exit codes, output formats, lease file handling."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from plugins.action.plan import plan_hosts

from podnet import ValidationError, parse_net_conf
from podnet.adopt import OBSERVED_FACT
from podnet.cli import main

NET_CONF = {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
DUAL_NET_CONF = {
    "Network": "10.244.0.0/16",
    "EnableIPv6": True,
    "IPv6Network": "fd00:10:244::/56",
}


def _node(index: int, **extra: object) -> dict[str, object]:
    return {"name": f"node{index}", "public_ip": f"192.0.2.{10 + index}", **extra}


@pytest.fixture
def inputs(tmp_path: Path):
    """Write net-conf and nodes files; returns a function taking their contents."""

    def write(net_conf: object = NET_CONF, nodes: object = None) -> list[str]:
        (tmp_path / "net-conf.json").write_text(json.dumps(net_conf))
        nodes = nodes if nodes is not None else [_node(i) for i in (1, 2, 3)]
        (tmp_path / "nodes.yml").write_text(yaml.safe_dump(nodes))
        return [
            "--net-conf",
            str(tmp_path / "net-conf.json"),
            "--nodes",
            str(tmp_path / "nodes.yml"),
        ]

    return write


def test_plan_table_lists_every_node(inputs, capsys) -> None:
    assert main(["plan", *inputs()]) == 0
    out = capsys.readouterr().out
    assert "pod MTU 1450" in out
    for index, subnet in ((1, "10.244.1.0/24"), (2, "10.244.2.0/24"), (3, "10.244.3.0/24")):
        line = next(line for line in out.splitlines() if line.startswith(f"node{index} "))
        assert f"192.0.2.{10 + index}" in line and subnet in line


def test_plan_json_has_the_documented_shape(inputs, capsys) -> None:
    assert main(["plan", *inputs(), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["network"] == "10.244.0.0/16"
    assert data["backend"] == "vxlan"
    assert data["mtu"] == 1450
    assert data["warnings"] == []
    assert list(data["nodes"]) == ["node1", "node2", "node3"]
    node1 = data["nodes"]["node1"]
    assert node1["subnet"] == "10.244.1.0/24"
    assert node1["mtu"] == 1450
    assert node1["public_ip"] == "192.0.2.11"
    assert int(node1["vtep_mac"][:2], 16) & 0b11 == 0b10  # locally administered unicast


def test_plan_json_dual_stack_has_ipv6_subnets(inputs, capsys) -> None:
    nodes = [_node(i, public_ipv6=f"2001:db8::{i}") for i in (1, 2)]
    assert main(["plan", *inputs(DUAL_NET_CONF, nodes), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mtu"] == 1430  # the IPv6 tunnel's 70 bytes bound the shared pod MTU
    assert data["nodes"]["node2"]["ipv6_subnet"] == "fd00:10:244:2::/64"


def test_mixed_mtu_warns_on_stderr_naming_the_small_hosts(inputs, capsys) -> None:
    nodes = [_node(1, mtu=9000), _node(2, mtu=1500), _node(3, mtu=9000)]
    assert main(["plan", *inputs(nodes=nodes)]) == 0
    captured = capsys.readouterr()
    assert "pod MTU 1450" in captured.out
    assert "warning:" in captured.err and "node2" in captured.err and "node1" not in captured.err


def test_invalid_input_exits_2_with_every_problem_and_writes_nothing(
    inputs, tmp_path, capsys
) -> None:
    args = inputs(
        {"Network": "10.244.0.0/16", "SubnetLen": 31},
        [_node(1, public_ip="10.0.0.300"), _node(2, mtu=20)],
    )
    leases = tmp_path / "leases.yml"
    assert main(["plan", *args, "--leases", str(leases), "--write-leases"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "SubnetLen must be less than /31" in captured.err
    assert "nodes[node1].public_ip: '10.0.0.300' is not an IPv4 address" in captured.err
    assert "nodes[node2].mtu: 20 is out of range" in captured.err
    assert not leases.exists()


ETH0_FACTS = {
    "default_ipv4": {"interface": "eth0"},
    "interfaces": ["eth0"],
    "eth0": {"device": "eth0", "mtu": 1500,
             "ipv4": {"address": "192.0.2.11", "network": "192.0.2.0", "netmask": "255.255.255.0"}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("backend", "nodes", "hostvars"),
    [
        (
            "host-gw",
            [_node(1, public_ip="203.0.113.7", iface="eth0", iface_addresses=["192.0.2.11"]),
             _node(2)],
            {"node1": {"ansible_facts": ETH0_FACTS, "podnet_public_ip": "203.0.113.7"},
             "node2": {"podnet_public_ip": "192.0.2.12"}},
        ),
        (
            "vxlan",
            [_node(1, read=True), _node(2)],
            {"node1": {OBSERVED_FACT: {"devices": []}, "podnet_public_ip": "192.0.2.11"},
             "node2": {"podnet_public_ip": "192.0.2.12"}},
        ),
    ],
    ids=["host-gw-behind-nat", "unknown-subnet"],
)  # fmt: skip
def test_plan_rejects_what_site_yml_rejects_with_the_same_message(
    inputs, capsys, backend, nodes, hostvars
) -> None:
    net_conf = {**NET_CONF, "Backend": {"Type": backend}}
    with pytest.raises(ValidationError) as action:
        plan_hosts(parse_net_conf(net_conf), list(hostvars), hostvars, {}, [])
    assert len(action.value.problems) == 1
    assert main(["plan", *inputs(net_conf, nodes)]) == 2
    assert capsys.readouterr().err == f"podnet: error: {action.value.problems[0]}\n"


def test_exhaustion_names_the_counts_and_the_fix(inputs, capsys) -> None:
    nodes = [
        {"name": f"n{i:03}", "public_ip": f"198.18.{i // 250}.{i % 250 + 1}"} for i in range(300)
    ]
    assert main(["plan", *inputs(nodes=nodes)]) == 2
    assert (
        "Network 10.244.0.0/16 holds 255 /24 subnets (SubnetMin..SubnetMax) but the inventory"
        " has 300 nodes: widen Network to /15 or set SubnetLen 25" in capsys.readouterr().err
    )


def test_write_leases_records_and_keeps_subnets_sticky(inputs, tmp_path, capsys) -> None:
    leases = tmp_path / "leases.yml"
    assert (
        main(
            ["plan", *inputs(nodes=[_node(2), _node(3)]), "--leases", str(leases), "--write-leases"]
        )
        == 0
    )
    assert yaml.safe_load(leases.read_text()) == {
        "node2": "10.244.1.0/24",
        "node3": "10.244.2.0/24",
    }
    assert leases.read_text().startswith("# podnet lease file")

    # node1 joins and sorts first: it takes the next free subnet, the others stay put.
    assert (
        main(
            [
                "plan",
                *inputs(nodes=[_node(1), _node(2), _node(3)]),
                "--leases",
                str(leases),
                "--write-leases",
            ]
        )
        == 0
    )
    assert yaml.safe_load(leases.read_text()) == {
        "node1": "10.244.3.0/24",
        "node2": "10.244.1.0/24",
        "node3": "10.244.2.0/24",
    }
    # node2 leaves: its lease stays reserved and nobody else moves.
    assert (
        main(
            ["plan", *inputs(nodes=[_node(1), _node(3)]), "--leases", str(leases), "--write-leases"]
        )
        == 0
    )
    assert yaml.safe_load(leases.read_text())["node2"] == "10.244.1.0/24"
    capsys.readouterr()
    # An unchanged plan leaves the file alone.
    assert (
        main(
            ["plan", *inputs(nodes=[_node(1), _node(3)]), "--leases", str(leases), "--write-leases"]
        )
        == 0
    )
    assert "wrote" not in capsys.readouterr().err


def test_leases_without_write_are_read_only(inputs, tmp_path) -> None:
    leases = tmp_path / "leases.yml"
    leases.write_text("node1: 10.244.7.0/24\n")
    before = leases.read_text()
    assert main(["plan", *inputs(), "--leases", str(leases)]) == 0
    assert leases.read_text() == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--write-leases"], "--write-leases: needs --leases FILE"),
        (["--leases", "/nonexistent/leases.yml"], "--leases /nonexistent/leases.yml: no such file"),
        (["--service-cidr", "10.96.0.1/12"], "--service-cidr: '10.96.0.1/12' is not a CIDR"),
        (["--service-cidr", "10.240.0.0/12"], "overlaps the service CIDR 10.240.0.0/12"),
    ],
    ids=["write-without-file", "missing-lease-file", "service-host-bits", "service-overlap"],
)
def test_bad_options_exit_2(inputs, capsys, extra, message) -> None:
    assert main(["plan", *inputs(), *extra]) == 2
    assert message in capsys.readouterr().err


def test_malformed_json_names_the_position(inputs, tmp_path, capsys) -> None:
    args = inputs()
    (tmp_path / "net-conf.json").write_text('{"Network": "10.244.0.0/16",\n}')
    assert main(["plan", *args]) == 2
    assert "not valid JSON at line 2 column 1" in capsys.readouterr().err


def test_render_subnet_env_for_a_node(inputs, capsys) -> None:
    assert main(["render", "subnet-env", *inputs(), "--node", "node2"]) == 0
    assert capsys.readouterr().out == (
        "FLANNEL_NETWORK=10.244.0.0/16\n"
        "FLANNEL_SUBNET=10.244.2.1/24\n"
        "FLANNEL_MTU=1450\n"
        "FLANNEL_IPMASQ=true\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["render", "subnet-env"], "--node: needed to render subnet-env"),
        (["render", "cni", "--node", "web9"], "--node: node 'web9' is not in the inventory"),
    ],
    ids=["no-node", "unknown-node"],
)
def test_render_node_errors(inputs, capsys, argv, message) -> None:
    assert main([*argv, *inputs()]) == 2
    assert message in capsys.readouterr().err


def test_render_cni_bridge_uses_the_node_subnet_and_mtu(inputs, capsys) -> None:
    assert main(["render", "cni", *inputs(), "--node", "node3"]) == 0
    conflist = json.loads(capsys.readouterr().out)
    bridge = conflist["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["mtu"] == 1450
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]


def test_render_kubeadm_and_net_conf(inputs, capsys) -> None:
    args = inputs({"network": "10.244.0.0/16"})
    assert main(["render", "kubeadm", *args]) == 0
    assert "podSubnet: 10.244.0.0/16" in capsys.readouterr().out
    assert main(["render", "net-conf", *args]) == 0
    assert json.loads(capsys.readouterr().out)["Backend"] == {"Type": "vxlan"}


def test_console_script_is_installed(inputs) -> None:
    """The `podnet` entry point of pyproject.toml, as a user runs it."""
    executable = shutil.which("podnet") or str(Path(__file__).parents[2] / ".venv/bin/podnet")
    result = subprocess.run(
        [executable, "plan", *inputs(), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["nodes"]["node1"]["subnet"] == "10.244.1.0/24"
