"""The cni_bridge module's pure side and its reads, with hand-made inputs."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from plugins.module_utils.cni_bridge.decide import old_gateways
from plugins.module_utils.cni_bridge.host import read_bridge, read_reservations

NET = [ipaddress.ip_network("10.244.0.0/16"), ipaddress.ip_network("fd00:10:244::/56")]
NEW = [ipaddress.ip_network("10.244.77.0/24"), ipaddress.ip_network("fd00:10:244:4d::/64")]


def iface(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    return ipaddress.ip_interface(text)


def test_the_current_gateway_and_foreign_addresses_stay() -> None:
    addresses = [iface("10.244.77.1/24"), iface("192.168.5.1/24"), iface("fd00:10:244:4d::1/64")]
    assert old_gateways("cni0", addresses, NEW, NET, {}) == ([], [])


def test_an_old_gateway_goes_only_when_no_pod_holds_an_old_address() -> None:
    old = [iface("10.244.1.1/24"), iface("fd00:10:244:1::1/64")]
    reserved = {
        ipaddress.ip_address("10.244.1.7"): "aaaa",
        ipaddress.ip_address("10.244.77.2"): "bbbb",  # a new pod: not a holder of the old
    }
    changes, warnings = old_gateways("cni0", old, NEW, NET, reserved)
    assert [c.key for c in changes] == ["cni0 fd00:10:244:1::1/64"]
    assert warnings == [
        "cni0 keeps its old gateway 10.244.1.1/24 (the node's subnet is 10.244.77.0/24 now): "
        "1 pod still holds an address in 10.244.1.0/24 (container aaaa: 10.244.1.7), and new "
        "pods cannot start until it goes. Drain the node (kubectl drain), then run site.yml "
        "again."
    ]


def test_a_family_no_longer_enabled_loses_its_gateway() -> None:
    changes, _ = old_gateways("cni0", [iface("fd00:10:244:1::1/64")], NEW[:1], NET, {})
    assert "the node's subnet is none in IPv6 now" in changes[0].reason


def test_reads_the_bridge_and_host_locals_store(tmp_path: Path) -> None:
    shown = [{"addr_info": [
        {"family": "inet", "local": "10.244.1.1", "prefixlen": 24, "scope": "global"},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"},
    ]}]  # fmt: skip
    assert read_bridge(lambda args: (0, json.dumps(shown), ""), "cni0") == [iface("10.244.1.1/24")]
    missing = (1, "", 'Device "cni0" does not exist.\n')
    assert read_bridge(lambda args: missing, "cni0") == []
    (tmp_path / "10.244.1.7").write_text("0123456789abcdef0123\neth0\n")
    (tmp_path / "last_reserved_ip.0").write_text("10.244.1.7")
    (tmp_path / "lock").write_text("")
    assert read_reservations(str(tmp_path)) == {ipaddress.ip_address("10.244.1.7"): "0123456789ab"}
    assert read_reservations(str(tmp_path / "none")) == {}
