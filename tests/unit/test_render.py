"""The renderers: golden text for every file, plus the facts a wrong golden would hide.

Golden files live in tests/unit/golden/<renderer>/. When a change to the output is
intended, rewrite them and review the diff like code:

    PODNET_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_render.py

A golden test never passes on a missing file unless that variable is set.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import ipaddress
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from podnet import FleetPlan, NetConf, ValidationError, parse_net_conf, parse_nodes, plan_fleet
from podnet.fields import IPAddress
from podnet.render import (
    CNI_MODES,
    render_cni_conflist,
    render_kubeadm,
    render_net_conf,
    render_subnet_env,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("PODNET_UPDATE_GOLDEN") == "1"
NET = ipaddress.ip_network

# flannel's shipped conflist, copied by hand from the `cni-conf.json` block of the
# kube-flannel-cfg ConfigMap in flannel-io/flannel Documentation/kube-flannel.yml (d01746e8,
# v0.13.0-rc2) and Documentation/kustomization/kube-flannel/kube-flannel.yml (05e2b583,
# v0.27.4): the YAML `|` block with its 4-space indent removed and one final newline.
# Kept apart from the library's constant so that a change to either is caught.
SHIPPED_CNI_CONF = (
    "{\n"
    '  "name": "cbr0",\n'
    '  "cniVersion": "0.3.1",\n'
    '  "plugins": [\n'
    "    {\n"
    '      "type": "flannel",\n'
    '      "delegate": {\n'
    '        "hairpinMode": true,\n'
    '        "isDefaultGateway": true\n'
    "      }\n"
    "    },\n"
    "    {\n"
    '      "type": "portmap",\n'
    '      "capabilities": {\n'
    '        "portMappings": true\n'
    "      }\n"
    "    }\n"
    "  ]\n"
    "}\n"
)
# The `net-conf.json` block of the same ConfigMap (05e2b583, v0.27.4; EnableNFTables
# appeared with flannel's nftables support, the older manifests lack it).
SHIPPED_NET_CONF_TEXT = (
    "{\n"
    '  "Network": "10.244.0.0/16",\n'
    '  "EnableNFTables": false,\n'
    '  "Backend": {\n'
    '    "Type": "vxlan"\n'
    "  }\n"
    "}\n"
)
SHIPPED_NET_CONF = {
    "Network": "10.244.0.0/16",
    "EnableNFTables": False,
    "Backend": {"Type": "vxlan"},
}

# Fleets: (net-conf, inventory). Node "b" is rendered in goldens: it holds the second
# subnet, so a renderer that ignored the node would show.
FLEETS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "v4": (
        {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}},
        [
            {"name": "a", "public_ip": "192.0.2.11"},
            {"name": "b", "public_ip": "192.0.2.12"},
        ],
    ),
    "dual": (
        {
            "Network": "10.244.0.0/16",
            "EnableIPv6": True,
            "IPv6Network": "fd00:10:244::/56",
            "Backend": {"Type": "vxlan"},
        },
        [
            {"name": "a", "public_ip": "192.0.2.11", "public_ipv6": "2001:db8::11"},
            {"name": "b", "public_ip": "192.0.2.12", "public_ipv6": "2001:db8::12"},
        ],
    ),
    "v6": (
        {
            "EnableIPv4": False,
            "EnableIPv6": True,
            "IPv6Network": "fd00:10:244::/56",
            "Backend": {"Type": "host-gw"},
        },
        [
            {"name": "a", "public_ipv6": "2001:db8::11"},
            {"name": "b", "public_ipv6": "2001:db8::12"},
        ],
    ),
}
MASQ = {"masq": True, "nomasq": False}


def plan_of(stack: str, services: tuple[str, ...] = ()) -> FleetPlan:
    raw_conf, raw_nodes = FLEETS[stack]
    service_cidrs = [ipaddress.ip_network(s) for s in services]
    return plan_fleet(parse_net_conf(raw_conf), parse_nodes(raw_nodes), service_cidrs=service_cidrs)


def assert_golden(name: str, text: str, root: Path = GOLDEN) -> None:
    """`text` must equal golden file `name` byte for byte; a mismatch shows a unified diff."""
    path = root / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
        return
    if not path.exists():
        pytest.fail(
            f"golden file {path} is missing; create it with PODNET_UPDATE_GOLDEN=1", pytrace=False
        )
    # Bytes, not read_text(): universal newlines would hide a stray "\r\n".
    expected = path.read_bytes().decode()
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"golden/{name}",
            tofile="rendered",
        )
        pytest.fail(
            f"rendered text differs from golden/{name}"
            " (PODNET_UPDATE_GOLDEN=1 rewrites it if the change is intended):\n"
            + "".join(repr_line(line) for line in diff),
            pytrace=False,
        )


def repr_line(line: str) -> str:
    """A diff line with invisible differences (trailing spaces, CR, no final newline) shown."""
    body = line.removesuffix("\n")
    if body != body.rstrip() or "\r" in body or not line.endswith("\n"):
        return f"{body!r}{' (no newline)' if not line.endswith(chr(10)) else ''}\n"
    return line


def env_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


# --- golden files ------------------------------------------------------------------------


@pytest.mark.parametrize("masq", MASQ)
@pytest.mark.parametrize("stack", FLEETS)
def test_subnet_env_golden(stack: str, masq: str) -> None:
    assert_golden(
        f"subnet_env/{stack}-{masq}.env", render_subnet_env(plan_of(stack), "b", MASQ[masq])
    )


@pytest.mark.parametrize("masq", MASQ)
@pytest.mark.parametrize("stack", FLEETS)
def test_cni_bridge_golden(stack: str, masq: str) -> None:
    text = render_cni_conflist(plan_of(stack), "b", mode="bridge", ip_masq=MASQ[masq])
    assert_golden(f"cni/bridge-{stack}-{masq}.conflist", text)


def test_cni_flannel_golden() -> None:
    assert_golden("cni/flannel.conflist", render_cni_conflist(plan_of("v4"), "b", mode="flannel"))


NET_CONFS: dict[str, dict[str, Any]] = {
    "shipped": SHIPPED_NET_CONF,
    "network-only": {"Network": "10.244.0.0/16"},
    "host-gw": {"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}},
    # Lower-case keys, host bits, SubnetLen 0 (= default), an unknown key, a WireGuard
    # key on a vxlan backend: all normalised or dropped.
    "messy": {
        "network": "10.244.3.7/16",
        "subnetlen": 0,
        "SubnetMin": "10.244.10.0",
        "EnableIPv6": False,
        "Colour": "blue",
        "backend": {
            "type": "VXLAN",
            "vni": 4096,
            "port": 4789,
            "DirectRouting": True,
            "ListenPort": 1,
        },
    },
    "dual": {
        "Network": "10.244.0.0/16",
        "SubnetLen": 25,
        "SubnetMax": "10.244.127.128",
        "EnableIPv6": True,
        "IPv6Network": "fd00:10:244::/56",
        "IPv6SubnetLen": 64,
        "IPv6SubnetMin": "fd00:10:244:10::",
        "EnableNFTables": True,
        "Backend": {"Type": "vxlan", "VNI": 1, "MTU": 9000, "GBP": False, "Learning": False},
    },
    "v6-wireguard": {
        "EnableIPv4": False,
        "EnableIPv6": True,
        "IPv6Network": "fd00:10:244::/48",
        "Backend": {
            "Mode": "separate",
            "PSK": base64.b64encode(bytes(range(32))).decode(),
            "Type": "wireguard",
            "PersistentKeepaliveInterval": 25,
            "ListenPortV6": 51000,
            "MTU": 1420,
        },
    },
}


@pytest.mark.parametrize("name", NET_CONFS)
def test_net_conf_golden(name: str) -> None:
    assert_golden(f"net_conf/{name}.json", render_net_conf(parse_net_conf(NET_CONFS[name])))


KUBEADM_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "v4": ("v4", ()),
    "v4-service": ("v4", ("10.96.0.0/12",)),
    # Given v6 first: the output puts IPv4 first all the same.
    "dual-service": ("dual", ("fd00:10:96::/112", "10.96.0.0/12")),
    "v6-service": ("v6", ("fd00:10:96::/112",)),
}


@pytest.mark.parametrize("name", KUBEADM_CASES)
def test_kubeadm_golden(name: str) -> None:
    stack, services = KUBEADM_CASES[name]
    text = render_kubeadm(plan_of(stack, services))
    assert_golden(f"kubeadm/{name}.yaml", text)


@pytest.mark.skipif(UPDATE_GOLDEN, reason="golden files are being rewritten")
def test_golden_mismatch_fails_with_a_diff(tmp_path: Path) -> None:
    (tmp_path / "x.env").write_bytes(b"FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_golden("x.env", "FLANNEL_MTU=1400\nFLANNEL_IPMASQ=true \n", root=tmp_path)
    message = str(failed.value)
    assert "--- golden/x.env\n+++ rendered\n" in message
    assert "\n-FLANNEL_MTU=1450\n" in message and "\n+FLANNEL_MTU=1400\n" in message
    assert "'+FLANNEL_IPMASQ=true '" in message  # the trailing space is made visible
    with pytest.raises(pytest.fail.Exception, match="PODNET_UPDATE_GOLDEN=1"):
        assert_golden("missing.env", "", root=tmp_path)


# --- subnet.env --------------------------------------------------------------------------


@pytest.mark.parametrize("stack", FLEETS)
def test_flannel_subnet_is_the_network_address_plus_one(stack: str) -> None:
    plan = plan_of(stack)
    for node in plan.nodes:
        env = env_of(render_subnet_env(plan, node.name))
        for family, key in ((4, "FLANNEL_SUBNET"), (6, "FLANNEL_IPV6_SUBNET")):
            subnet = node.subnet_of(family)
            if subnet is None:
                assert key not in env
                continue
            interface = ipaddress.ip_interface(env[key])
            assert interface.ip == subnet.network_address + 1
            assert interface.network == subnet  # what the CNI plugin's ParseCIDR gives back


@pytest.mark.parametrize(
    ("stack", "keys"),
    [
        ("v4", ["FLANNEL_NETWORK", "FLANNEL_SUBNET", "FLANNEL_MTU", "FLANNEL_IPMASQ"]),
        (
            "dual",
            [
                "FLANNEL_NETWORK",
                "FLANNEL_SUBNET",
                "FLANNEL_IPV6_NETWORK",
                "FLANNEL_IPV6_SUBNET",
                "FLANNEL_MTU",
                "FLANNEL_IPMASQ",
            ],
        ),
        ("v6", ["FLANNEL_IPV6_NETWORK", "FLANNEL_IPV6_SUBNET", "FLANNEL_MTU", "FLANNEL_IPMASQ"]),
    ],
    ids=["v4", "dual", "v6"],
)
def test_subnet_env_keys_order_and_shape(stack: str, keys: list[str]) -> None:
    plan = plan_of(stack)
    text = render_subnet_env(plan, "a")
    assert [line.split("=", 1)[0] for line in text.splitlines()] == keys
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert '"' not in text and "'" not in text and " " not in text
    env = env_of(text)
    assert env["FLANNEL_MTU"] == str(plan.mtu.mtu)
    for pool in plan.net_conf.pools:
        assert env["FLANNEL_NETWORK" if pool.family == 4 else "FLANNEL_IPV6_NETWORK"] == str(
            pool.network
        )


def test_subnet_env_ipv6_is_rfc5952() -> None:
    env = env_of(render_subnet_env(plan_of("dual"), "a"))
    assert env["FLANNEL_IPV6_NETWORK"] == "fd00:10:244::/56"
    assert env["FLANNEL_IPV6_SUBNET"] == "fd00:10:244:1::1/64"


@pytest.mark.parametrize(("ip_masq", "word"), [(True, "true"), (False, "false")])
def test_subnet_env_ipmasq(ip_masq: bool, word: str) -> None:
    assert env_of(render_subnet_env(plan_of("v4"), "a", ip_masq))["FLANNEL_IPMASQ"] == word


# --- CNI ---------------------------------------------------------------------------------


def flannel_delegate(subnet_env: str, name: str = "cbr0", cni_version: str = "0.3.1") -> Any:
    """The delegate the flannel CNI plugin builds from subnet.env and the shipped conflist.

    A model of cni-plugin flannel.go / flannel_linux.go as the reference describes it
    (section 8.2): defaults fill only what the shipped delegate leaves unset.
    """
    env = env_of(subnet_env)
    delegate: dict[str, Any] = {"hairpinMode": True, "isDefaultGateway": True}
    delegate["name"] = name
    delegate.setdefault("type", "bridge")
    delegate.setdefault("ipMasq", env["FLANNEL_IPMASQ"] != "true")
    delegate.setdefault("mtu", int(env["FLANNEL_MTU"]))
    delegate.setdefault("isGateway", True)
    delegate["cniVersion"] = cni_version
    ranges, routes = [], []
    for network_key, subnet_key in (
        ("FLANNEL_NETWORK", "FLANNEL_SUBNET"),
        ("FLANNEL_IPV6_NETWORK", "FLANNEL_IPV6_SUBNET"),
    ):
        if subnet_key in env:  # net.ParseCIDR: 10.244.1.1/24 -> 10.244.1.0/24
            ranges.append([{"subnet": str(ipaddress.ip_interface(env[subnet_key]).network)}])
        if network_key in env:
            routes += [{"dst": dst} for dst in dict.fromkeys(env[network_key].split(","))]
    delegate["ipam"] = {"type": "host-local", "ranges": ranges, "routes": routes}
    return delegate


def bridge_as_delegate(conflist: Mapping[str, Any]) -> Any:
    """Our bridge plugin as a standalone delegate: inherits name and cniVersion, `bridge` is
    the plugin's default and so not part of flannel's delegate."""
    bridge = dict(conflist["plugins"][0])
    assert bridge.pop("bridge") == "cni0"  # containernetworking-plugins' defaultBrName
    return {**bridge, "name": conflist["name"], "cniVersion": conflist["cniVersion"]}


@pytest.mark.parametrize("masq", MASQ)
@pytest.mark.parametrize("stack", FLEETS)
def test_bridge_mode_equals_what_flannels_plugin_delegates(stack: str, masq: str) -> None:
    plan = plan_of(stack)
    for node in plan.nodes:
        conflist = json.loads(render_cni_conflist(plan, node.name, "bridge", MASQ[masq]))
        subnet_env = render_subnet_env(plan, node.name, MASQ[masq])
        assert bridge_as_delegate(conflist) == flannel_delegate(subnet_env)
        assert conflist["plugins"][1] == {"type": "portmap", "capabilities": {"portMappings": True}}


def test_bridge_mode_matches_the_reference_delegate_bytes() -> None:
    """Reference section 8.2: the delegate JSON for 10.244.1.1/24, MTU 1450, IPMASQ true."""
    conflist = json.loads(render_cni_conflist(plan_of("v4"), "a"))
    compact = json.dumps(bridge_as_delegate(conflist), sort_keys=True, separators=(",", ":"))
    assert compact == (
        '{"cniVersion":"0.3.1","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":'
        '[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},'
        '"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","type":"bridge"}'
    )


@pytest.mark.parametrize("ip_masq", [True, False], ids=["masq", "nomasq"])
def test_bridge_ip_masq_is_the_negation(ip_masq: bool) -> None:
    conflist = json.loads(render_cni_conflist(plan_of("dual"), "a", ip_masq=ip_masq))
    assert conflist["plugins"][0]["ipMasq"] is (not ip_masq)


@pytest.mark.parametrize("stack", FLEETS)
def test_bridge_mode_holds_the_nodes_subnets_and_the_pod_mtu(stack: str) -> None:
    plan = plan_of(stack)
    for node in plan.nodes:
        bridge = json.loads(render_cni_conflist(plan, node.name))["plugins"][0]
        subnets = [str(s) for s in (node.subnet, node.ipv6_subnet) if s is not None]
        assert bridge["ipam"]["ranges"] == [[{"subnet": s}] for s in subnets]
        assert bridge["ipam"]["routes"] == [{"dst": str(p.network)} for p in plan.net_conf.pools]
        assert bridge["mtu"] == plan.mtu.mtu


def test_flannel_mode_is_the_shipped_file_on_every_node() -> None:
    # flannel's text is exactly json.dumps(indent=2): bridge mode is written the same way.
    assert json.dumps(json.loads(SHIPPED_CNI_CONF), indent=2) + "\n" == SHIPPED_CNI_CONF
    for stack in FLEETS:
        plan = plan_of(stack)
        for node in plan.nodes:
            for ip_masq in (True, False):
                text = render_cni_conflist(plan, node.name, mode="flannel", ip_masq=ip_masq)
                assert text == SHIPPED_CNI_CONF


def test_unknown_cni_mode_names_the_value_and_the_choices() -> None:
    assert CNI_MODES == ("bridge", "flannel")
    with pytest.raises(ValueError, match=r"'calico' is not one of bridge, flannel"):
        render_cni_conflist(plan_of("v4"), "a", mode="calico")


@pytest.mark.parametrize(
    "render",
    [
        lambda plan: render_subnet_env(plan, "zz"),
        lambda plan: render_cni_conflist(plan, "zz"),
        lambda plan: render_cni_conflist(plan, "zz", mode="flannel"),
    ],
    ids=["subnet-env", "cni-bridge", "cni-flannel"],
)
def test_unknown_node_is_a_key_error(render: Any) -> None:
    with pytest.raises(KeyError, match="'zz' is not in the inventory"):
        render(plan_of("v4"))


# --- net-conf.json -----------------------------------------------------------------------


def test_shipped_net_conf_comes_back_byte_for_byte() -> None:
    assert json.loads(SHIPPED_NET_CONF_TEXT) == SHIPPED_NET_CONF
    assert render_net_conf(parse_net_conf(SHIPPED_NET_CONF)) == SHIPPED_NET_CONF_TEXT
    # From podnet's shortest form too: flannel would read a missing Backend as udp.
    assert render_net_conf(parse_net_conf({"Network": "10.244.0.0/16"})) == SHIPPED_NET_CONF_TEXT


FLANNEL_KEY_ORDER = [
    "Network",
    "IPv6Network",
    "EnableIPv4",
    "EnableIPv6",
    "SubnetLen",
    "SubnetMin",
    "SubnetMax",
    "IPv6SubnetLen",
    "IPv6SubnetMin",
    "IPv6SubnetMax",
    "EnableNFTables",
    "Backend",
]
ALL_KEYS_VALUES: dict[str, Any] = {
    "Network": "10.244.0.0/16",
    "IPv6Network": "fd00:10:244::/56",
    "EnableIPv4": True,
    "EnableIPv6": True,
    "SubnetLen": 24,
    "SubnetMin": "10.244.1.0",
    "SubnetMax": "10.244.200.0",
    "IPv6SubnetLen": 64,
    "IPv6SubnetMin": "fd00:10:244:1::",
    "IPv6SubnetMax": "fd00:10:244:ff::",
    "EnableNFTables": False,
}


@pytest.mark.parametrize(
    ("backend", "backend_order"),
    [
        (
            {"DirectRouting": True, "Learning": False, "GBP": False, "MTU": 1450, "Port": 8472},
            ["Type", "Port", "MTU", "GBP", "Learning", "DirectRouting"],
        ),
        (
            {"Mode": "auto", "PersistentKeepaliveInterval": 25, "ListenPortV6": 51821},
            ["Type", "ListenPortV6", "PersistentKeepaliveInterval", "Mode"],
        ),
    ],
    ids=["vxlan", "wireguard"],
)
def test_net_conf_key_order_is_flannels(backend: dict[str, Any], backend_order: list[str]) -> None:
    """Whatever order the input has: the keys are given here in reverse."""
    backend_type = "vxlan" if "Port" in backend else "wireguard"
    raw = dict(reversed([*ALL_KEYS_VALUES.items(), ("Backend", backend)]))
    raw["Backend"] = {**backend, "Type": backend_type}
    rendered = json.loads(render_net_conf(parse_net_conf(raw)))
    assert list(rendered) == FLANNEL_KEY_ORDER
    assert list(rendered["Backend"]) == backend_order


def test_net_conf_drops_the_keys_of_a_disabled_family() -> None:
    """NetConf keeps no value for a disabled family, so its keys cannot be written back."""
    raw = {"Network": "10.244.0.0/16", "EnableIPv6": False, "IPv6Network": "fd00::/56"}
    rendered = json.loads(render_net_conf(parse_net_conf(raw)))
    assert "IPv6Network" not in rendered and rendered["EnableIPv6"] is False


def test_net_conf_writes_what_flannel_needs_for_a_hand_built_conf() -> None:
    """A NetConf built in code, with nothing in `given`: flannel must still read IPv6 on."""
    parsed = parse_net_conf({"EnableIPv4": False, "EnableIPv6": True, "IPv6Network": "fd00::/56"})
    rendered = json.loads(render_net_conf(dataclasses.replace(parsed, given=frozenset())))
    assert rendered == {
        "IPv6Network": "fd00::/56",
        "EnableIPv4": False,
        "EnableIPv6": True,
        "EnableNFTables": False,
        "Backend": {"Type": "vxlan"},
    }


_LONGEST = {4: 30, 6: 126}
_DEFAULT_LEN = {4: (22, 24), 6: (62, 64)}  # networks up to /22 (/62) default to /24 (/64)
_FAMILY_KEYS = {
    4: ("Network", "SubnetLen", "SubnetMin", "SubnetMax"),
    6: ("IPv6Network", "IPv6SubnetLen", "IPv6SubnetMin", "IPv6SubnetMax"),
}


@st.composite
def family_keys(draw: st.DrawFn, family: int) -> dict[str, Any]:
    """One family's Network (sometimes with host bits) and, sometimes, SubnetLen/Min/Max."""
    network_key, len_key, min_key, max_key = _FAMILY_KEYS[family]
    bits = 32 if family == 4 else 128
    prefix = draw(st.integers(4, 28) if family == 4 else st.integers(8, 124))
    host = draw(st.integers(0, (1 << bits) - 1))
    # The class by family: ip_address() would take a small int for an IPv4 address.
    start: IPAddress = ipaddress.IPv4Address(host) if family == 4 else ipaddress.IPv6Address(host)
    network = ipaddress.ip_network(f"{start}/{prefix}", strict=False)
    text = f"{start}/{prefix}" if draw(st.booleans()) else str(network)
    raw: dict[str, Any] = {network_key: text}
    subnet_len = draw(st.none() | st.just(0) | st.integers(prefix + 2, _LONGEST[family]))
    if subnet_len is not None:
        raw[len_key] = subnet_len
    cutoff, default = _DEFAULT_LEN[family]
    length = subnet_len or (default if prefix <= cutoff else prefix + 2)
    blocks = 1 << (length - prefix)

    def address(index: int) -> str:
        return str(network.network_address + (index << (bits - length)))

    give_min, give_max = draw(st.booleans()), draw(st.booleans())
    if give_min and give_max:
        first, last = sorted(draw(st.lists(st.integers(0, blocks - 1), min_size=2, max_size=2)))
        raw[min_key], raw[max_key] = address(first), address(last)
    elif give_min:
        raw[min_key] = draw(st.just("") | st.integers(0, blocks - 1).map(address))
    elif give_max:
        raw[max_key] = address(draw(st.integers(1, blocks - 1)))
    return raw


@st.composite
def backends(draw: st.DrawFn, max_vni: int = (1 << 24) - 1) -> dict[str, Any]:
    """`max_vni`: the largest VNI whose device names Linux holds for the stack (15
    characters: `flannel-v6.` leaves 4 digits, `flannel.` 7)."""
    type_name = draw(st.sampled_from(["vxlan", "host-gw", "wireguard", None]))
    per_type: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "vxlan": {
            "VNI": st.integers(0, max_vni),
            "Port": st.integers(0, 65535),
            "MTU": st.integers(0, 65535),
            "GBP": st.booleans(),
            "Learning": st.booleans(),
            "DirectRouting": st.booleans(),
        },
        "wireguard": {
            "ListenPort": st.integers(1, 65535),
            "ListenPortV6": st.integers(1, 65535),
            "MTU": st.integers(0, 65535),
            "PSK": st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode()),
            "PersistentKeepaliveInterval": st.integers(0, 65535),
            "Mode": st.sampled_from(["separate", "auto", "ipv4", "ipv6"]),
        },
        "host-gw": {"VNI": st.integers(1, 10)},  # not a host-gw key: warned about, dropped
    }
    keys = per_type[type_name or "vxlan"]
    raw = {key: draw(value) for key, value in keys.items() if draw(st.booleans())}
    if type_name is not None:
        raw["Type"] = draw(st.sampled_from([type_name, type_name.upper()]))
    return raw


def recase(raw: Mapping[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """Keys in flannel's spelling or lower case: Go's encoding/json matches either."""
    return {
        (key.lower() if draw(st.booleans()) else key): (
            recase(value, draw) if isinstance(value, Mapping) else value
        )
        for key, value in raw.items()
    }


@st.composite
def raw_net_confs(draw: st.DrawFn) -> dict[str, Any]:
    """Valid net-confs. Per-family keys appear only for enabled families (see the
    disabled-family test above for why)."""
    stack = draw(st.sampled_from(["v4", "v6", "dual"]))
    raw: dict[str, Any] = {}
    if stack == "v6":
        raw["EnableIPv4"] = False
    else:
        if draw(st.booleans()):
            raw["EnableIPv4"] = True
        raw.update(draw(family_keys(4)))
    if stack == "v4":
        if draw(st.booleans()):
            raw["EnableIPv6"] = False
    else:
        raw["EnableIPv6"] = True
        raw.update(draw(family_keys(6)))
    if draw(st.booleans()):
        raw["EnableNFTables"] = draw(st.booleans())
    if draw(st.booleans()):
        raw["Backend"] = draw(backends(9_999 if stack != "v4" else 9_999_999))
    if draw(st.booleans()):
        raw["Colour"] = "blue"  # unknown: warned about, dropped
    return recase(raw, draw)


def test_ipv6_pool_below_2_to_the_32() -> None:
    """An IPv6 pool near :: must stay IPv6 (ip_address(int) would guess IPv4 there)."""
    raw = {"EnableIPv4": False, "EnableIPv6": True, "IPv6Network": "::/8", "IPv6SubnetLen": 97}
    raw["IPv6SubnetMax"] = "::8000:0"  # block 1 of ::/8 in /97s
    conf = parse_net_conf(raw)
    assert json.loads(render_net_conf(conf))["IPv6SubnetMax"] == "::8000:0"


@given(raw_net_confs())
def test_net_conf_round_trips(raw: dict[str, Any]) -> None:
    """parse(render(c)) is c, but for the keys rendering makes explicit and the warnings
    (which rendering resolves: host bits, unknown keys, other backends' keys)."""
    conf = parse_net_conf(raw)
    text = render_net_conf(conf)
    again = parse_net_conf(json.loads(text))
    expected: NetConf = dataclasses.replace(
        conf, given=conf.given | {"EnableNFTables", "Backend"}, warnings=()
    )
    assert again == expected
    assert render_net_conf(again) == text  # a fixed point: rendering twice changes nothing


# --- kubeadm -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "services", "pod_subnet", "service_subnet"),
    [
        ("v4", (), "10.244.0.0/16", None),
        ("v4", ("10.96.0.0/12",), "10.244.0.0/16", "10.96.0.0/12"),
        (
            "dual",
            ("fd00:10:96::/112", "10.96.0.0/12"),
            "10.244.0.0/16,fd00:10:244::/56",
            "10.96.0.0/12,fd00:10:96::/112",
        ),
        ("v6", ("fd00:10:96::/112",), "fd00:10:244::/56", "fd00:10:96::/112"),
    ],
    ids=["v4", "v4-service", "dual-service", "v6-service"],
)
def test_kubeadm_reads_back_as_the_v1beta4_shape(
    stack: str, services: tuple[str, ...], pod_subnet: str, service_subnet: str | None
) -> None:
    document = yaml.safe_load(render_kubeadm(plan_of(stack, services)))
    expected_networking = {"podSubnet": pod_subnet}
    if service_subnet is not None:
        expected_networking["serviceSubnet"] = service_subnet
    assert document == {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "networking": expected_networking,
        # A string "false": v1beta4's Arg.value is a string, a YAML boolean fails to decode.
        "controllerManager": {"extraArgs": [{"name": "allocate-node-cidrs", "value": "false"}]},
    }


def test_kubeadm_quotes_what_yaml_would_misread() -> None:
    conf = parse_net_conf({"EnableIPv4": False, "EnableIPv6": True, "IPv6Network": "::/56"})
    plan = plan_fleet(conf, parse_nodes([{"name": "a", "public_ipv6": "2001:db8::1"}]))
    text = render_kubeadm(plan)
    assert '  podSubnet: "::/56"\n' in text
    assert yaml.safe_load(text)["networking"]["podSubnet"] == "::/56"


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (("10.96.0.0/12", "10.112.0.0/12"), "10.96.0.0/12, 10.112.0.0/12 are all IPv4"),
        (("10.244.128.0/17",), "10.244.0.0/16 overlaps the service CIDR 10.244.128.0/17"),
    ],
    ids=["two-v4", "overlap"],
)
def test_kubeadm_refuses_bad_service_cidrs(services: tuple[str, ...], message: str) -> None:
    """The plan refuses them, so no kubeadm file can carry them."""
    with pytest.raises(ValidationError) as caught:
        render_kubeadm(plan_of("v4", services))
    assert any(message in problem for problem in caught.value.problems), caught.value.problems
