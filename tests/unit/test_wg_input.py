"""The wireguard module's input checks: every problem at once, each naming field, value and
rule; canonical values out; a preshared key never quoted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

from plugins.module_utils.wireguard.input import (  # noqa: E402
    PeerParams,
    WgInputError,
    parse_endpoint,
    validate_params,
)
from plugins.module_utils.wireguard.keys import Secret, is_wireguard_key  # noqa: E402

KEY_A = "pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI="
KEY_B = "SEjOOauy9N+3ju15N9cXl+PCO7YSJgfCJm3E2VSIAic="
PSK = "YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtRo="
RULE = "base64 of 32 bytes (44 characters ending in '=', as `wg genkey` prints)"


def args(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "state": "present",
        "device": "flannel-wg",
        "key_file": "/etc/podnet/wireguard.key",
        "listen_port": 51820,
        "mtu": 1420,
        "addresses": ["10.244.1.0/32"],
        "routes": ["10.244.0.0/16"],
        "psk": None,
        "persistent_keepalive": 0,
        "peers": [
            {
                "name": "node2",
                "public_key": KEY_A,
                "endpoint": "192.0.2.12:51820",
                "allowed_ips": ["10.244.2.0/24"],
            }
        ],
    }
    base.update(changes)
    return base


def peer(name: str, key: str = KEY_A, endpoint: str = "192.0.2.12:51820", *ips: str) -> dict:
    return {"name": name, "public_key": key, "endpoint": endpoint, "allowed_ips": list(ips)}


def problems(**changes: Any) -> list[str]:
    with pytest.raises(WgInputError) as caught:
        validate_params(args(**changes))
    return caught.value.problems


def test_good_input_comes_out_canonical() -> None:
    params = validate_params(
        args(
            addresses=["fd00:10:244:1:0::/128", "10.244.1.0/32"],
            routes=["fd00:10:244::/56", "10.244.0.0/16"],
            peers=[peer("n2", KEY_A, "[2001:DB8::2]:51821", "fd00:10:244:2::/64", "10.244.2.0/24")],
            psk=PSK,
        )
    )
    assert params.addresses == ("10.244.1.0/32", "fd00:10:244:1::/128")
    assert [str(r) for r in params.routes] == ["10.244.0.0/16", "fd00:10:244::/56"]
    assert params.peers == (
        PeerParams("n2", KEY_A, "[2001:db8::2]:51821", ("10.244.2.0/24", "fd00:10:244:2::/64")),
    )
    assert params.psk == Secret(PSK)
    assert PSK not in repr(params)  # a dataclass repr would print every field


def test_absent_needs_only_the_device() -> None:
    params = validate_params({"state": "absent", "device": "flannel-wg-v6", "peers": "junk"})
    assert (params.state, params.device, params.peers) == ("absent", "flannel-wg-v6", ())


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"listen_port": 0}, "listen_port: 0 is out of range (1..65535)"),
        ({"listen_port": 65536}, "listen_port: 65536 is out of range (1..65535)"),
        ({"persistent_keepalive": -1}, "persistent_keepalive: -1 is out of range (0..65535)"),
        ({"mtu": 60}, "mtu: 60 is out of range (68..65535)"),
        (
            {"mtu": 1200, "addresses": ["fd00::/128"], "routes": []},
            "mtu: 1200 is out of range (1280..65535)",
        ),
        ({"key_file": None}, "key_file: required when state=present"),
        ({"key_file": "wg.key"}, "key_file: 'wg.key' is not an absolute path"),
        (
            {"device": "a-name-that-is-too-long"},
            "device: 'a-name-that-is-too-long' is not an interface name (1..15 characters, "
            "no '/', ':' or white space)",
        ),
        (
            {"addresses": []},
            "addresses: required when state=present (the node subnet's network address, "
            "e.g. 10.244.1.0/32)",
        ),
        (
            {"addresses": ["10.244.1.0/24"]},
            "addresses: 10.244.1.0/24 is not a /32: the device carries the node subnet's "
            "network address alone (e.g. 10.244.1.0/32)",
        ),
        (
            {"addresses": ["10.244.1.0/32", "10.244.1.0/32"]},
            "addresses[1]: 10.244.1.0/32 is listed twice",
        ),
        (
            {"routes": ["10.244.0.1/16"]},
            "routes[0]: 10.244.0.1/16 has host bits set; did you mean 10.244.0.0/16?",
        ),
        ({"routes": "10.244.0.0/16"}, "routes: '10.244.0.0/16' is not a list of CIDRs"),
        (
            {"psk": "c2VjcmV0"},
            f"psk: the value given (not shown: it is secret) is not {RULE}",
        ),
    ],
    ids=[
        "port-zero",
        "port-high",
        "keepalive-negative",
        "mtu-low",
        "mtu-low-for-ipv6",
        "key-file-missing",
        "key-file-relative",
        "device-name-long",
        "no-addresses",
        "address-not-host",
        "address-twice",
        "route-host-bits",
        "routes-not-list",
        "psk-bad",
    ],
)
def test_one_problem(changes: dict[str, Any], expected: str) -> None:
    assert problems(**changes) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (peer("x", "short="), f"peers[x].public_key: 'short=' is not {RULE}"),
        (
            peer("x", KEY_A, "192.0.2.12"),
            "peers[x].endpoint: '192.0.2.12': an endpoint is address:port, or [address]:port "
            "for IPv6",
        ),
        (
            peer("x", KEY_A, "2001:db8::2:51820"),
            "peers[x].endpoint: '2001:db8::2:51820': an endpoint is address:port, or "
            "[address]:port for IPv6",
        ),
        (
            peer("x", KEY_A, "192.0.2.12:0"),
            "peers[x].endpoint: '192.0.2.12:0': port '0' is not 1..65535",
        ),
        (
            peer("x", KEY_A, "node2.example:51820"),
            "peers[x].endpoint: 'node2.example:51820': 'node2.example' is not an IP address "
            "(a host name is not accepted)",
        ),
        (
            peer("x", KEY_A, "192.0.2.12:1", "10.244.2.0"),
            "peers[x].allowed_ips[0]: '10.244.2.0' is not a CIDR (address/prefix, "
            "e.g. 10.244.0.0/16)",
        ),
        (
            {"name": "x", "public_key": KEY_A},
            "peers[x]: missing endpoint",
        ),
        (
            {**peer("x"), "vtep_mac": "0a:00:00:00:00:01"},
            "peers[x]: unknown key(s) vtep_mac",
        ),
        ("node2", "peers[0]: 'node2' is not a dict with name, public_key, endpoint, allowed_ips"),
    ],
    ids=[
        "key",
        "endpoint-no-port",
        "endpoint-v6-unbracketed",
        "endpoint-port-zero",
        "endpoint-hostname",
        "allowed-not-cidr",
        "missing-endpoint",
        "unknown-key",
        "not-a-dict",
    ],
)
def test_peer_problem(raw: Any, expected: str) -> None:
    assert problems(peers=[raw]) == [expected]


def test_every_problem_at_once_and_the_psk_is_never_quoted() -> None:
    secret = "this-is-the-secret-psk"
    found = problems(listen_port=99999, psk=secret, peers=[peer("x", "nope")], mtu=0)
    assert len(found) == 4
    assert not any(secret in problem for problem in found)


def test_peers_may_not_share_names_keys_or_addresses() -> None:
    found = problems(
        peers=[
            peer("a", KEY_A, "192.0.2.12:1", "10.244.2.0/24"),
            peer("a", KEY_B, "192.0.2.13:1", "10.244.2.128/25"),
            peer("c", KEY_A, "192.0.2.14:1", "10.244.1.0/24"),
        ]
    )
    assert found == [
        "peers[a].name: a is also peers[a]'s",
        f"peers[c].public_key: {KEY_A} is also peers[a]'s",
        "peers[a].allowed_ips: 10.244.2.128/25 overlaps peers[a]'s 10.244.2.0/24; "
        "each address belongs to one peer",
    ]


def test_families_do_not_overlap_each_other() -> None:
    params = validate_params(
        args(peers=[peer("a", KEY_A, "192.0.2.12:1", "::/8", "0.0.0.0/8")])
    )  # both start at address 0; only the family tells them apart
    assert params.peers[0].allowed_ips == ("0.0.0.0/8", "::/8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.12:51820", "192.0.2.12:51820"),
        ("[2001:db8:0:0::2]:51821", "[2001:db8::2]:51821"),
        ("[::ffff:192.0.2.1]:1", "[::ffff:192.0.2.1]:1"),
        ("192.0.2.12:051820", "192.0.2.12:51820"),
    ],
    ids=["v4", "v6-compressed", "v4-mapped", "leading-zero-port"],
)
def test_endpoint_canonical(text: str, expected: str) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI",  # no padding
        "pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyH==",  # 31 bytes
        "pS4PnNzefPGULya_EEHx3_P2O-fjWEDQf6VpcgJzyHI=",  # URL-safe alphabet
        " pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI=",
    ],
    ids=["unpadded", "31-bytes", "urlsafe", "leading-space"],
)
def test_not_keys(text: str) -> None:
    assert not is_wireguard_key(text)
