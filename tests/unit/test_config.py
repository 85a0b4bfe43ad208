"""net-conf.json: flannel's defaults, key matching and messages, and podnet's stricter checks."""

from __future__ import annotations

import base64
import contextlib
import copy
import ipaddress
from typing import Any

import pytest
from conftest import BASE_CONF, problems_of

from podnet import BackendType, ValidationError, WireguardMode, parse_net_conf

V6_ONLY: dict[str, Any] = {"EnableIPv4": False, "EnableIPv6": True}
GOOD_PSK = base64.b64encode(bytes(range(32))).decode()


# --- defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "subnet_len", "first", "last", "size"),
    [
        ("10.244.0.0/16", 24, "10.244.1.0", "10.244.255.0", 255),
        ("10.0.0.0/8", 24, "10.0.1.0", "10.255.255.0", 65535),
        ("10.244.0.0/22", 24, "10.244.1.0", "10.244.3.0", 3),
        ("10.244.0.0/23", 25, "10.244.0.128", "10.244.1.128", 3),
        ("10.244.0.0/26", 28, "10.244.0.16", "10.244.0.48", 3),
        ("10.244.0.0/28", 30, "10.244.0.4", "10.244.0.12", 3),
    ],
    ids=["/16", "/8", "/22-last-with-24", "/23-prefix+2", "/26", "/28-smallest"],
)
def test_ipv4_defaults_follow_flannel(network, subnet_len, first, last, size) -> None:
    pool = parse_net_conf({"Network": network}).ipv4
    assert pool is not None
    assert pool.subnet_len == subnet_len
    assert (str(pool.address(pool.first)), str(pool.address(pool.last))) == (first, last)
    assert pool.size == size


@pytest.mark.parametrize(
    ("network", "subnet_len", "first", "last", "size"),
    [
        ("fd00::/48", 64, "fd00:0:0:1::", "fd00:0:0:ffff::", 65535),
        ("fd00::/62", 64, "fd00:0:0:1::", "fd00:0:0:3::", 3),
        ("fd00::/63", 65, "fd00:0:0:0:8000::", "fd00:0:0:1:8000::", 3),
        ("fd00::/124", 126, "fd00::4", "fd00::c", 3),
    ],
    ids=["/48", "/62-last-with-64", "/63-prefix+2", "/124-smallest"],
)
def test_ipv6_defaults_follow_flannel(network, subnet_len, first, last, size) -> None:
    pool = parse_net_conf({**V6_ONLY, "IPv6Network": network}).ipv6
    assert pool is not None
    assert pool.subnet_len == subnet_len
    assert pool.address(pool.first) == ipaddress.ip_address(first)
    assert pool.address(pool.last) == ipaddress.ip_address(last)
    assert pool.size == size


def test_subnet_min_skips_the_first_block_and_max_is_the_last() -> None:
    pool = parse_net_conf({"Network": "10.244.0.0/16"}).ipv4
    assert pool is not None
    assert pool.index_in_range(ipaddress.ip_network("10.244.0.0/24")) is None
    assert pool.index_in_range(ipaddress.ip_network("10.244.1.0/24")) == 1
    assert pool.index_in_range(ipaddress.ip_network("10.244.255.0/24")) == 255


def test_explicit_subnet_len_min_and_max_are_used() -> None:
    pool = parse_net_conf(
        {
            "Network": "10.244.0.0/16",
            "SubnetLen": 26,
            "SubnetMin": "10.244.0.0",
            "SubnetMax": "10.244.2.192",
        }
    ).ipv4
    assert pool is not None
    assert (pool.subnet_len, pool.first, pool.last, pool.size) == (26, 0, 11, 12)


def test_subnet_len_zero_means_the_default_as_in_go() -> None:
    pool = parse_net_conf({"Network": "10.244.0.0/16", "SubnetLen": 0}).ipv4
    assert pool is not None and pool.subnet_len == 24


def test_network_host_bits_are_masked_with_a_warning() -> None:
    conf = parse_net_conf({"Network": "10.244.3.7/16"})
    assert conf.ipv4 is not None and str(conf.ipv4.network) == "10.244.0.0/16"
    assert conf.warnings == ("Network: '10.244.3.7/16' has host bits set; using 10.244.0.0/16",)


@pytest.mark.parametrize(
    "network", ["FD00::/48", "fd00:0:0::/48"], ids=["upper-case", "uncompressed"]
)
def test_ipv6_spelling_is_not_mistaken_for_host_bits(network) -> None:
    conf = parse_net_conf({**V6_ONLY, "IPv6Network": network})
    assert conf.ipv6 is not None and str(conf.ipv6.network) == "fd00::/48"
    assert conf.warnings == ()


def test_dual_stack_has_both_pools_v4_first() -> None:
    conf = parse_net_conf(
        {"Network": "10.244.0.0/16", "EnableIPv6": True, "IPv6Network": "fd00:10:244::/56"}
    )
    assert [pool.family for pool in conf.pools] == [4, 6]
    assert conf.pool(6) is conf.ipv6 and conf.ipv6 is not None and conf.ipv6.subnet_len == 64


# --- key matching ------------------------------------------------------------------------


def test_keys_match_case_insensitively() -> None:
    conf = parse_net_conf(
        {"network": "10.244.0.0/16", "SUBNETLEN": 25, "BACKEND": {"type": "VXLAN", "vni": 4}}
    )
    assert conf.ipv4 is not None and conf.ipv4.subnet_len == 25
    assert conf.backend.type is BackendType.VXLAN and conf.backend.vni == 4
    assert conf.given == {"Network", "SubnetLen", "Backend"}
    assert conf.backend.given == {"Type", "VNI"}


def test_two_spellings_of_one_key_are_an_error() -> None:
    problems = problems_of(
        lambda: parse_net_conf({"Network": "10.244.0.0/16", "network": "10.245.0.0/16"})
    )
    assert problems == ("Network: given twice (as 'Network' and 'network'); keep one",)


@pytest.mark.parametrize(
    ("raw", "warning"),
    [
        ({"Netwrk": "x"}, "Netwrk: not a flannel net-conf key; ignored"),
        ({"Backend": {"Type": "vxlan", "Foo": 1}}, "Backend.Foo: not a backend key; ignored"),
        (
            {"Backend": {"Type": "host-gw", "VNI": 2}},
            "Backend.VNI: not used by the host-gw backend; ignored",
        ),
        (
            {"Backend": {"Type": "vxlan", "PSK": GOOD_PSK}},
            "Backend.PSK: not used by the vxlan backend; ignored",
        ),
    ],
    ids=["top-level", "backend", "other-backends-key", "psk-on-vxlan"],
)
def test_unknown_keys_warn(raw, warning) -> None:
    conf = parse_net_conf({"Network": "10.244.0.0/16", **raw})
    assert warning in conf.warnings
    assert GOOD_PSK not in repr(conf.warnings)


# --- backend -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [{}, {"Backend": {}}, {"Backend": {"Type": ""}}, {"Backend": {"VNI": 7}}],
    ids=["no-backend", "empty-backend", "empty-type", "no-type"],
)
def test_missing_backend_or_type_means_vxlan(raw) -> None:
    conf = parse_net_conf({"Network": "10.244.0.0/16", **raw})
    assert conf.backend.type is BackendType.VXLAN


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [("vxlan", BackendType.VXLAN), ("VXLAN", BackendType.VXLAN), ("Host-GW", BackendType.HOST_GW),
     ("wireguard", BackendType.WIREGUARD)],
    ids=["vxlan", "VXLAN", "Host-GW", "wireguard"],
)  # fmt: skip
def test_backend_type_is_case_insensitive(type_name, expected) -> None:
    conf = parse_net_conf({"Network": "10.244.0.0/16", "Backend": {"Type": type_name}})
    assert conf.backend.type is expected


@pytest.mark.parametrize("type_name", ["udp", "ipip", "alloc", "extension"])
def test_unsupported_backend_type_is_an_error(type_name) -> None:
    problems = problems_of(
        lambda: parse_net_conf({"Network": "10.244.0.0/16", "Backend": {"Type": type_name}})
    )
    assert problems == (
        f"Backend.Type: {type_name!r} is not a backend podnet implements;"
        " use one of vxlan, host-gw, wireguard",
    )


def test_vxlan_keys_are_read() -> None:
    backend = parse_net_conf(
        {
            "Network": "10.244.0.0/16",
            "Backend": {"Type": "vxlan", "VNI": 4096, "Port": 4789, "MTU": 1400, "GBP": True,
                        "Learning": True, "DirectRouting": True},
        }
    ).backend  # fmt: skip
    assert (backend.vni, backend.port, backend.mtu) == (4096, 4789, 1400)
    assert backend.gbp and backend.learning and backend.direct_routing


def test_wireguard_defaults() -> None:
    backend = parse_net_conf({"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard"}}).backend
    assert (backend.listen_port, backend.listen_port_v6) == (51820, 51821)
    assert backend.persistent_keepalive_interval == 0
    assert backend.mode is WireguardMode.SEPARATE
    assert backend.psk == ""


def test_wireguard_keys_are_read_and_the_psk_is_not_shown() -> None:
    conf = parse_net_conf(
        {
            "Network": "10.244.0.0/16",
            "Backend": {"Type": "wireguard", "PSK": GOOD_PSK, "ListenPort": 51900,
                        "ListenPortV6": 51901, "PersistentKeepaliveInterval": 25, "Mode": "auto"},
        }
    )  # fmt: skip
    backend = conf.backend
    assert backend.psk == GOOD_PSK
    assert (backend.listen_port, backend.listen_port_v6) == (51900, 51901)
    assert backend.persistent_keepalive_interval == 25
    assert backend.mode is WireguardMode.AUTO
    assert GOOD_PSK not in repr(conf)


@pytest.mark.parametrize(
    "psk",
    [
        "not base64!",
        base64.b64encode(bytes(31)).decode(),
        base64.b64encode(bytes(33)).decode(),
        GOOD_PSK[:-1],
        12345,
        [GOOD_PSK],
    ],
    ids=["not-base64", "31-bytes", "33-bytes", "truncated", "number", "list"],
)
def test_a_bad_psk_is_an_error_that_never_shows_the_value(psk) -> None:
    problems = problems_of(
        lambda: parse_net_conf(
            {"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard", "PSK": psk}}
        )
    )
    assert problems == (
        "Backend.PSK: not a base64 WireGuard key of 32 bytes; make one with `wg genpsk`",
    )
    assert str(psk) not in problems[0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("25s", "Backend.PersistentKeepaliveInterval: '25s' is a string; give a whole number"
                " of seconds, e.g. 25"),
        (2.5, "Backend.PersistentKeepaliveInterval: 2.5 is not a whole number"),
        (-1, "Backend.PersistentKeepaliveInterval: -1 is out of range; use 0..65535"),
    ],
    ids=["duration-string", "float", "negative"],
)  # fmt: skip
def test_persistent_keepalive_is_whole_seconds(value, message) -> None:
    problems = problems_of(
        lambda: parse_net_conf(
            {"Network": "10.244.0.0/16",
             "Backend": {"Type": "wireguard", "PersistentKeepaliveInterval": value}}
        )
    )  # fmt: skip
    assert problems == (message,)


@pytest.mark.parametrize("mode", list(WireguardMode), ids=[m.value for m in WireguardMode])
def test_wireguard_modes(mode) -> None:
    conf = parse_net_conf(
        {"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard", "Mode": mode.value}}
    )
    assert conf.backend.mode is mode


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("both", "Backend.Mode: no valid Mode configured (got 'both');"
                 " use one of separate, auto, ipv4, ipv6"),
        ("", "Backend.Mode: no valid Mode configured (got '');"
             " use one of separate, auto, ipv4, ipv6"),
        (4, "Backend.Mode: 4 is not a string"),
    ],
    ids=["unknown", "empty", "not-a-string"],
)  # fmt: skip
def test_bad_wireguard_mode(mode, message) -> None:
    problems = problems_of(
        lambda: parse_net_conf(
            {"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard", "Mode": mode}}
        )
    )
    assert problems == (message,)


# --- flannel's messages (reference section 5.2), verbatim -------------------------------


@pytest.mark.parametrize(
    ("raw", "flannel_message"),
    [
        ({"Backend": {"Type": "vxlan"}},
         "please define a correct Network parameter in the flannel config"),
        ({"Network": ""}, "please define a correct Network parameter in the flannel config"),
        ({"Network": "10.244.0.0/16", "SubnetLen": 31}, "SubnetLen must be less than /31"),
        ({"Network": "10.244.0.0/16", "SubnetLen": 17},
         "network must be able to accommodate at least four subnets"),
        ({"Network": "10.244.0.0/29"},
         "network is too small. Minimum useful network prefix is /28"),
        ({"Network": "10.244.0.0/16", "SubnetMin": "10.245.1.0"},
         "SubnetMin is not in the range of the Network"),
        ({"Network": "10.244.0.0/16", "SubnetMax": "10.243.255.0"},
         "SubnetMax is not in the range of the Network"),
        ({"Network": "10.244.0.0/16", "SubnetMin": "10.244.1.5"},
         "SubnetMin is not on a SubnetLen boundary: 10.244.1.5"),
        ({"Network": "10.244.0.0/16", "SubnetMax": "10.244.9.128"},
         "SubnetMax is not on a SubnetLen boundary: 10.244.9.128"),
        ({**V6_ONLY}, "please define a correct IPv6Network parameter in the flannel config"),
        ({**V6_ONLY, "IPv6Network": "fd00::/48", "IPv6SubnetLen": 127},
         "SubnetLen must be less than /127"),
        ({**V6_ONLY, "IPv6Network": "fd00::/48", "IPv6SubnetLen": 49},
         "network must be able to accommodate at least four subnets"),
        ({**V6_ONLY, "IPv6Network": "fd00::/125"},
         "IPv6Network is too small. Minimum useful network prefix is /124"),
        ({**V6_ONLY, "IPv6Network": "fd00::/48", "IPv6SubnetMin": "fd01::"},
         "IPv6SubnetMin is not in the range of the IPv6Network"),
        ({**V6_ONLY, "IPv6Network": "fd00::/48", "IPv6SubnetMax": "fc00::"},
         "IPv6SubnetMax is not in the range of the IPv6Network"),
        ({**V6_ONLY, "IPv6Network": "fd00::/48", "IPv6SubnetMin": "fd00:0:0:1::1"},
         "IPv6SubnetMin is not on a SubnetLen boundary: fd00:0:0:1::1"),
        ({**V6_ONLY, "IPv6Network": "fd00::/48", "IPv6SubnetMax": "fd00:0:0:2:8000::"},
         "IPv6SubnetMax is not on a SubnetLen boundary: fd00:0:0:2:8000::"),
        ({"EnableIPv4": False}, "none defined stack"),
        ({"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard", "Mode": "x"}},
         "no valid Mode configured"),
    ],
    ids=[
        "network-missing", "network-empty", "subnetlen-31", "subnetlen-four-subnets",
        "network-too-small", "min-outside", "max-outside", "min-misaligned", "max-misaligned",
        "v6-network-missing", "v6-subnetlen-127", "v6-four-subnets", "v6-network-too-small",
        "v6-min-outside", "v6-max-outside", "v6-min-misaligned", "v6-max-misaligned",
        "no-stack", "wireguard-mode",
    ],
)  # fmt: skip
def test_flannel_messages_appear_verbatim(raw, flannel_message) -> None:
    problems = problems_of(lambda: parse_net_conf(raw))
    assert any(flannel_message in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"Network": "10.244.0.0/16", "SubnetLen": 31}, "SubnetLen: SubnetLen must be less than"
         " /31 (got 31)"),
        ({"Network": "10.244.0.0/16", "SubnetLen": 17}, "SubnetLen: network must be able to"
         " accommodate at least four subnets (got /17 in 10.244.0.0/16); use 18 or more"),
        ({"Network": "10.244.0.0/16", "SubnetMin": "10.244.1.5"}, "SubnetMin: SubnetMin is not on"
         " a SubnetLen boundary: 10.244.1.5; the nearest is 10.244.1.0"),
        ({"Network": "10.244.0.0/16", "SubnetMin": "10.244.9.0", "SubnetMax": "10.244.3.0"},
         "SubnetMin, SubnetMax: 10.244.9.0 is above 10.244.3.0; the range holds no subnet,"
         " swap them"),
        ({"Network": "fd00::/48"}, "Network: 'fd00::/48' is an IPv6 CIDR; an IPv4 CIDR is"
         " needed here"),
        ({"Network": "10.244.0.0"}, "Network: '10.244.0.0' is not an IPv4 CIDR (address/prefix)"),
        ({"Network": "10.244.0.0/16", "SubnetMin": "fd00::"}, "SubnetMin: 'fd00::' is an IPv6"
         " address; an IPv4 address is needed here"),
    ],
    ids=["subnetlen-31", "four-subnets", "misaligned", "min-above-max", "v6-as-network",
         "no-prefix", "v6-as-min"],
)  # fmt: skip
def test_messages_name_the_key_the_value_and_the_fix(raw, expected) -> None:
    assert problems_of(lambda: parse_net_conf(raw)) == (expected,)


# --- all problems at once, no mutation, types --------------------------------------------


def test_every_problem_is_reported_in_one_error() -> None:
    raw = {
        "Network": "10.244.0.0/16",
        "SubnetLen": 31,
        "EnableIPv6": "yes",
        "EnableNFTables": 1,
        "Backend": {"Type": "wireguard", "Mode": "both", "ListenPort": 0},
    }
    problems = problems_of(lambda: parse_net_conf(raw))
    assert len(problems) == 5, problems
    assert [problem.split(":")[0] for problem in problems] == [
        "EnableIPv6",
        "SubnetLen",
        "Backend.ListenPort",
        "Backend.Mode",
        "EnableNFTables",
    ]


def test_validation_error_lists_problems_one_per_line() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_net_conf({"SubnetLen": "24", "EnableIPv6": True})
    assert str(caught.value).splitlines() == list(caught.value.problems)
    assert len(caught.value.problems) == 2
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "raw",
    [
        {"network": "10.244.3.7/16", "Backend": {"type": "VXLAN", "VNI": 2}},
        {"Network": "10.244.0.0/16", "EnableIPv6": True, "IPv6Network": "fd00::/48",
         "Backend": {"Type": "wireguard", "PSK": GOOD_PSK, "Extra": [1, 2]}},
        {"Network": "10.244.0.0/16", "SubnetLen": 31, "Backend": {"Type": "udp"}},
        {"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}, "Unknown": {"x": [1]}},
    ],
    ids=["case-folded", "dual-wireguard", "invalid", "unknown-keys"],
)  # fmt: skip
def test_input_is_never_mutated(raw) -> None:
    before = copy.deepcopy(raw)
    with contextlib.suppress(ValidationError):
        parse_net_conf(raw)
    assert raw == before


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"EnableIPv6": "true"}, "EnableIPv6: 'true' is not a boolean; use true or false"),
        ({"EnableIPv4": 1}, "EnableIPv4: 1 is not a boolean; use true or false"),
        ({"EnableNFTables": None}, "EnableNFTables: None is not a boolean; use true or false"),
        ({"SubnetLen": "24"}, "SubnetLen: '24' is not a whole number"),
        ({"SubnetLen": True}, "SubnetLen: True is not a whole number"),
        ({"SubnetLen": False}, "SubnetLen: False is not a whole number"),
        ({"SubnetLen": 0.0}, "SubnetLen: 0.0 is not a whole number"),
        ({"SubnetLen": 24.0}, "SubnetLen: 24.0 is not a whole number"),
        ({"Backend": {"VNI": "1"}}, "Backend.VNI: '1' is not a whole number"),
        ({"Backend": {"VNI": True}}, "Backend.VNI: True is not a whole number"),
        ({"Backend": {"VNI": 1 << 24}}, "Backend.VNI: 16777216 is out of range; use 0..16777215"),
        ({"Backend": {"Port": 70000}}, "Backend.Port: 70000 is out of range; use 0..65535"),
        ({"Backend": {"MTU": -1}}, "Backend.MTU: -1 is out of range; use 0..65535"),
        ({"Backend": {"DirectRouting": 1}},
         "Backend.DirectRouting: 1 is not a boolean; use true or false"),
        ({"Backend": {"GBP": "false"}}, "Backend.GBP: 'false' is not a boolean; use true or false"),
        ({"Backend": {"Type": "wireguard", "ListenPort": 0}},
         "Backend.ListenPort: 0 is out of range; use 1..65535"),
        ({"Backend": "vxlan"}, "Backend: 'vxlan' is not an object; use {\"Type\": \"vxlan\"}"),
        ({"Backend": {"Type": 1}}, "Backend.Type: 1 is not a string"),
    ],
    ids=[
        "bool-as-string", "bool-as-int", "bool-null", "int-as-string", "int-true", "int-false",
        "int-float-zero", "int-float", "vni-string", "vni-bool", "vni-25-bits", "port-range",
        "mtu-negative", "directrouting-int", "gbp-string", "listenport-zero", "backend-string",
        "type-int",
    ],
)  # fmt: skip
def test_bools_and_ints_are_type_checked(raw, message) -> None:
    problems = problems_of(lambda: parse_net_conf({"Network": "10.244.0.0/16", **raw}))
    assert problems == (message,)


def test_a_non_mapping_is_refused() -> None:
    assert problems_of(lambda: parse_net_conf(["Network"])) == (  # type: ignore[arg-type]
        "net-conf: list given; a JSON object is needed",
    )


def test_base_conf_is_valid() -> None:
    conf = parse_net_conf(BASE_CONF)
    assert conf.warnings == () and conf.ipv6 is None and not conf.enable_nftables


def test_keys_of_a_disabled_family_warn_and_are_not_counted_as_given() -> None:
    parsed = parse_net_conf(
        {"Network": "10.244.0.0/16", "IPv6Network": "fd00::/56", "IPv6SubnetLen": 64}
    )
    assert parsed.ipv6 is None
    assert "IPv6Network" not in parsed.given and "IPv6SubnetLen" not in parsed.given
    assert parsed.warnings == (
        "IPv6Network: ignored because its address family is disabled",
        "IPv6SubnetLen: ignored because its address family is disabled",
    )


@pytest.mark.parametrize(
    ("vni", "ipv6", "problem"),
    [
        (9999, True, None),
        (9999999, False, None),
        (10000, True, "IPv6 device flannel-v6.10000"),
        (10000000, False, "IPv4 device flannel.10000000"),
    ],
    ids=["v6-longest", "v4-longest", "v6-too-long", "v4-too-long"],
)
def test_a_vni_whose_device_name_linux_refuses_is_an_error(vni, ipv6, problem) -> None:
    """Linux names a device in 15 characters (IFNAMSIZ): `flannel-v6.` leaves 4 digits."""
    raw = {**BASE_CONF, "Backend": {"Type": "vxlan", "VNI": vni}}
    if ipv6:
        raw.update(EnableIPv6=True, IPv6Network="fd00:10:244::/56")
    if problem is None:
        assert parse_net_conf(raw).backend.vni == vni
        return
    (found,) = problems_of(lambda: parse_net_conf(raw))
    assert found.startswith(f"Backend.VNI: {vni} names the {problem}, longer than the 15")
