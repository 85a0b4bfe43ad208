"""podnet.fabric.flannel_facts as Ansible runs it (its `main()`, arguments as JSON, under
`ip netns exec`) against flannel's devices built by hand with iproute2, as flanneld leaves
them: the lease from subnet.env or the device's /32, the random VTEP MAC, nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ip, run_module

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
FLANNEL_MAC = "5e:2d:81:0c:3b:7a"
FLANNEL_MAC_V6 = "7a:11:22:33:44:55"
SUBNET_ENV = (
    "FLANNEL_NETWORK=10.244.0.0/16\n"
    "FLANNEL_SUBNET=10.244.7.1/24\n"
    "FLANNEL_MTU=1450\n"
    "FLANNEL_IPMASQ=true\n"
)


def module(netns: str, args: dict[str, Any]) -> dict[str, Any]:
    return run_module(netns, "flannel_facts", args)


@pytest.fixture
def flannel_host(underlay: tuple[str, str]) -> str:
    """flanneld's VXLAN devices (reference 1.2, 1.5): v4 and v6, random MACs, /32 and /128."""
    ns, dev = underlay
    ip("addr", "add", "fd00::11/64", "dev", dev, "nodad", netns=ns)
    for name, mac, local, address in (
        ("flannel.1", FLANNEL_MAC, "192.0.2.11", "10.244.7.0/32"),
        ("flannel-v6.1", FLANNEL_MAC_V6, "fd00::11", "fd00:10:244:7::/128"),
    ):
        ip("link", "add", name, "address", mac, "mtu", "1450", "txqueuelen", "0", "type",
           "vxlan", "id", "1", "local", local, "dev", dev, "nolearning", "ttl", "0",
           netns=ns)  # fmt: skip
        ip("addr", "add", address, "dev", name, netns=ns)
        ip("link", "set", name, "up", netns=ns)
    # Not flannel's: never reported.
    ip("link", "add", "vxlan0", "type", "vxlan", "id", "9", "dstport", "4789", netns=ns)
    return ns


def state(ns: str) -> str:
    return ip("-d", "link", "show", netns=ns) + ip("addr", "show", netns=ns)


def test_reads_the_lease_from_subnet_env_and_every_flannel_device(
    flannel_host: str, tmp_path: Path
) -> None:
    env = tmp_path / "subnet.env"
    env.write_text(SUBNET_ENV)
    before = state(flannel_host)
    result = module(flannel_host, {"path": str(env)})
    assert result["changed"] is False, result
    assert (result["subnet"], result["ipv6_subnet"], result["network"]) == (
        "10.244.7.0/24",
        None,
        "10.244.0.0/16",
    )
    assert result["subnet_env"] == {
        "path": str(env),
        "found": True,
        "values": {
            "FLANNEL_NETWORK": "10.244.0.0/16",
            "FLANNEL_SUBNET": "10.244.7.1/24",
            "FLANNEL_MTU": "1450",
            "FLANNEL_IPMASQ": "true",
        },
    }
    assert result["devices"] == [
        {"ifname": "flannel-v6.1", "kind": "vxlan", "vni": 1, "mac": FLANNEL_MAC_V6,
         "addresses": ["fd00:10:244:7::/128"]},
        {"ifname": "flannel.1", "kind": "vxlan", "vni": 1, "mac": FLANNEL_MAC,
         "addresses": ["10.244.7.0/32"]},
    ]  # fmt: skip
    assert state(flannel_host) == before


def test_check_mode_reads_the_same_and_a_missing_file_is_no_error(
    flannel_host: str, tmp_path: Path
) -> None:
    result = module(flannel_host, {"path": str(tmp_path / "gone"), "_ansible_check_mode": True})
    assert result["changed"] is False and not result.get("failed"), result
    assert (result["subnet"], result["subnet_env"]["found"]) == (None, False)
    assert [device["ifname"] for device in result["devices"]] == ["flannel-v6.1", "flannel.1"]


def test_a_host_without_flannel_has_nothing(netns: str, tmp_path: Path) -> None:
    result = module(netns, {"path": str(tmp_path / "subnet.env")})
    assert (result["changed"], result["subnet"], result["devices"]) == (False, None, [])


def test_a_malformed_subnet_env_fails_naming_the_key_and_value(netns: str, tmp_path: Path) -> None:
    env = tmp_path / "subnet.env"
    env.write_text("FLANNEL_SUBNET=10.244.7.1\n")
    result = module(netns, {"path": str(env)})
    assert result["failed"] is True
    assert result["msg"] == (
        f"{env}: FLANNEL_SUBNET='10.244.7.1' is not an IPv4 address/prefix as flannel writes"
        " it; fix or delete the file (podnet writes it again)"
    )


def test_what_each_path_it_is_asked_about_holds(underlay: tuple[str, str], tmp_path: Path) -> None:
    """What the role compares with what it would send or write, to skip an unchanged copy or
    files call: a file's kind, mode and SHA-256, a directory's mode, null for nothing."""
    present = tmp_path / "pyroute2.zip"
    present.write_bytes(b"zip bytes")
    present.chmod(0o640)
    directory = tmp_path / "lib"
    directory.mkdir(mode=0o700)
    directory.chmod(0o700)
    link = tmp_path / "link"
    link.symlink_to(present)
    missing = tmp_path / "absent.zip"
    asked = [str(present), str(directory), str(link), str(missing)]
    result = module(underlay[0], {"paths": asked})
    assert result["changed"] is False
    assert result["paths"] == {
        str(present): {
            "kind": "file",
            "mode": "0640",
            "sha256": hashlib.sha256(b"zip bytes").hexdigest(),
        },
        str(directory): {"kind": "dir", "mode": "0700", "sha256": None},
        str(link): {"kind": "other", "mode": "0777", "sha256": None},
        str(missing): None,
    }


def setup_network_facts(netns: str) -> dict[str, Any]:
    """ansible.builtin.setup's network and python subsets, run inside `netns`."""
    payload = json.dumps(
        {"ANSIBLE_MODULE_ARGS": {"gather_subset": ["!all", "!min", "network", "python"]}}
    )
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "ansible.modules.setup", payload],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["ansible_facts"]


def test_network_facts_are_setups_for_what_the_plan_reads(underlay: tuple[str, str]) -> None:
    """The keys plugins/action/plan.py's describe_node reads, equal to setup's own."""
    ns, iface = underlay
    ip("addr", "add", "192.0.2.99/24", "dev", iface, netns=ns)  # a secondary
    ip("addr", "add", "198.51.100.5/24", "dev", iface, netns=ns)  # another primary
    ip("addr", "add", "2001:db8::11/64", "dev", iface, "nodad", netns=ns)
    ip("route", "add", "default", "via", "192.0.2.1", netns=ns)
    ip("-6", "route", "add", "default", "via", "2001:db8::1", netns=ns)
    ours = module(ns, {"path": "/nonexistent/subnet.env", "network_facts": True})["ansible_facts"]
    theirs = setup_network_facts(ns)
    for key in ("default_ipv4", "default_ipv6"):
        assert ours[key]["interface"] == theirs[f"ansible_{key}"]["interface"] == iface, key
        assert ours[key]["address"] == theirs[f"ansible_{key}"]["address"], key
    assert ours["interfaces"] == sorted(theirs["ansible_interfaces"])
    for key in ("all_ipv4_addresses", "all_ipv6_addresses"):
        assert sorted(ours[key]) == sorted(theirs[f"ansible_{key}"]), key
    assert ours["python"]["executable"] == theirs["ansible_python"]["executable"]
    mine, setup = ours[iface], theirs[f"ansible_{iface}"]
    assert mine["mtu"] == setup["mtu"]
    for field in ("address", "netmask", "network", "prefix", "broadcast"):
        assert mine["ipv4"][field] == setup["ipv4"][field], field
    assert [a["address"] for a in mine["ipv4_secondaries"]] == [
        a["address"] for a in setup["ipv4_secondaries"]
    ]
    assert [(a["address"], a["prefix"], a["scope"]) for a in mine["ipv6"]] == [
        (a["address"], a["prefix"], a["scope"]) for a in setup["ipv6"]
    ]


def test_without_network_facts_no_facts_are_returned(underlay: tuple[str, str]) -> None:
    assert "ansible_facts" not in module(underlay[0], {"path": "/nonexistent/subnet.env"})


def test_the_cni_bridges_networks_and_the_sysctls_asked_for(underlay: tuple[str, str]) -> None:
    """What the role's skips read: the bridge's address networks (an old gateway's too; not
    its link-local address), and each asked sysctl's value, null where there is none."""
    ns, _dev = underlay
    assert module(ns, {"path": "/nonexistent/subnet.env"})["bridge_networks"] == []
    ip("link", "add", "cni0", "type", "bridge", netns=ns)
    ip("addr", "add", "10.244.1.1/24", "dev", "cni0", netns=ns)
    ip("addr", "add", "10.244.77.1/24", "dev", "cni0", netns=ns)
    ip("link", "set", "cni0", "up", netns=ns)
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=0"],
                   check=True)  # fmt: skip
    facts = module(ns, {"path": "/nonexistent/subnet.env", "sysctls": [
        "net.ipv4.ip_forward", "net.ipv4.conf.nosuchdev.forwarding"]})  # fmt: skip
    assert facts["bridge_networks"] == ["10.244.1.0/24", "10.244.77.0/24"]
    assert facts["sysctls"] == {
        "net.ipv4.ip_forward": "0",
        "net.ipv4.conf.nosuchdev.forwarding": None,
    }
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                   check=True)  # fmt: skip
    assert module(ns, {"sysctls": ["net.ipv4.ip_forward"]})["sysctls"] == {
        "net.ipv4.ip_forward": "1"
    }
    bad = module(ns, {"sysctls": ["net..ipv4"]})
    assert bad.get("failed") and "sysctls[net..ipv4]: the name has an empty level" in bad["msg"]


def test_it_never_imports_pyroute2_unless_asked_to_check_it(underlay: tuple[str, str]) -> None:
    """The role's first module on every host: importing pyroute2 was most of its cost."""
    code = (
        "import json, sys, runpy; sys.argv = ['flannel_facts', json.dumps({'ANSIBLE_MODULE_ARGS':"
        " {'path': '/nonexistent/subnet.env', 'network_facts': True}})]\n"
        "import atexit; atexit.register(lambda: sys.stderr.write("
        "'PYROUTE2 %s' % ('pyroute2' in sys.modules)))\n"
        "runpy.run_module('plugins.modules.flannel_facts', run_name='__main__')"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", underlay[0], sys.executable, "-c", code],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert json.loads(done.stdout)["devices"] == []
    assert "PYROUTE2 False" in done.stderr, done.stderr
