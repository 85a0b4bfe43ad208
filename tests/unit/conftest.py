"""Shared builders and hypothesis strategies for the library's unit tests.

Builders make valid inputs with one thing changed, so a test states only what it is
about. Strategies generate fleets that always fit their pool, so a property failure
is about the property, not about exhaustion.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import strategies as st

from podnet import Lease, NetConf, Node, ValidationError, parse_net_conf
from podnet.fields import IPNetwork

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
NET = ipaddress.ip_network
BASE_CONF: dict[str, Any] = {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
DUAL_CONF: dict[str, Any] = {
    "Network": "10.244.0.0/16",
    "EnableIPv6": True,
    "IPv6Network": "fd00:10:244::/56",
}


def conf(base: Mapping[str, Any] = BASE_CONF, /, **changes: Any) -> NetConf:
    """parse_net_conf of `base` with top-level keys changed; a value of None drops the key."""
    raw = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return parse_net_conf(raw)


def backend_conf(backend: Mapping[str, Any], base: Mapping[str, Any] = BASE_CONF) -> NetConf:
    return conf(base, Backend=dict(backend))


def node(name: str, index: int | None = None, **fields: Any) -> Node:
    """A node with a unique underlay address in 192.0.2.0/24 derived from `index`.

    Strings given for address fields (and the list of iface_addresses) are converted,
    so tables stay readable.
    """
    if index is not None and "public_ip" not in fields:
        fields["public_ip"] = f"192.0.2.{index}"
    converters: dict[str, Callable[[str], object]] = {
        "public_ip": V4,
        "public_ipv6": V6,
        "subnet": NET,
        "ipv6_subnet": NET,
        "underlay_subnet": NET,
        "underlay_ipv6_subnet": NET,
    }
    for key, convert in converters.items():
        if isinstance(fields.get(key), str):
            fields[key] = convert(fields[key])
    if fields.get("iface_addresses") is not None:
        fields["iface_addresses"] = frozenset(
            ipaddress.ip_address(text) for text in fields["iface_addresses"]
        )
    return Node(name, **fields)


def fleet(count: int, prefix: str = "node", *, v6: bool = False, **fields: Any) -> list[Node]:
    """`count` nodes named prefix01.. with addresses 198.18.0.1.. (and 2001:db8::1..)."""
    base4 = int(V4("198.18.0.0"))
    base6 = int(V6("2001:db8::"))
    return [
        Node(
            f"{prefix}{i:02d}",
            public_ip=V4(base4 + i),
            public_ipv6=V6(base6 + i) if v6 else None,
            **fields,
        )
        for i in range(1, count + 1)
    ]


def leases(mapping: Mapping[str, str | tuple[str, str]]) -> dict[str, Lease]:
    """Lease objects from {'name': 'cidr'} or {'name': ('v4 cidr', 'v6 cidr')}."""
    result: dict[str, Lease] = {}
    for name, value in mapping.items():
        subnets = [NET(text) for text in ((value,) if isinstance(value, str) else value)]
        by_family = {subnet.version: subnet for subnet in subnets}
        result[name] = Lease(by_family.get(4), by_family.get(6))  # type: ignore[arg-type]
    return result


def problems_of(call: Callable[[], object]) -> tuple[str, ...]:
    """The problems of the ValidationError `call` raises (fails the test if it does not)."""
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.problems


def one_problem(call: Callable[[], object]) -> str:
    problems = problems_of(call)
    assert len(problems) == 1, problems
    return problems[0]


def subnets_of(plan: Any, family: int = 4) -> dict[str, IPNetwork]:
    return {p.name: p.subnet_of(family) for p in plan.nodes}


# --- hypothesis strategies -------------------------------------------------------------

# Names as an inventory has them: short words, sorted by plain string order.
DEFAULT_MTUS = st.just(1500)
node_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)


@st.composite
def pool_configs(draw: st.DrawFn, min_subnets: int) -> dict[str, Any]:
    """A raw net-conf whose pools hold at least `min_subnets` subnets per family.

    Varies the family (v4, v6, dual), Network prefix, SubnetLen and, sometimes, a
    narrowed SubnetMin..SubnetMax.
    """
    stack = draw(st.sampled_from(["v4", "v6", "dual"]))
    raw: dict[str, Any] = {"Backend": {"Type": draw(st.sampled_from(["vxlan", "host-gw"]))}}
    if stack in ("v4", "dual"):
        raw.update(_family_keys(draw, 4, min_subnets))
    else:
        raw["EnableIPv4"] = False
    if stack in ("v6", "dual"):
        raw["EnableIPv6"] = True
        raw.update(_family_keys(draw, 6, min_subnets))
    return raw


def _family_keys(draw: st.DrawFn, family: int, min_subnets: int) -> dict[str, Any]:
    keys = {
        4: ("Network", "SubnetLen", "SubnetMin", "SubnetMax"),
        6: ("IPv6Network", "IPv6SubnetLen", "IPv6SubnetMin", "IPv6SubnetMax"),
    }[family]
    bits = 32 if family == 4 else 128
    base = V4("10.0.0.0") if family == 4 else V6("fd00::")
    # Enough blocks for the fleet after SubnetMin skips the first and the range may lose 4.
    spare = max(2, (min_subnets + 6).bit_length())
    prefix = draw(st.integers(8, 30 - spare) if family == 4 else st.integers(16, 126 - spare))
    subnet_len = draw(st.integers(prefix + spare, (30 if family == 4 else 126)))
    network = ipaddress.ip_network((int(base), prefix))
    raw: dict[str, Any] = {keys[0]: str(network), keys[1]: subnet_len}
    if draw(st.booleans()):
        blocks = 1 << (subnet_len - prefix)
        step = 1 << (bits - subnet_len)
        first = draw(st.integers(0, 2))
        last = blocks - 1 - draw(st.integers(0, 2))
        raw[keys[2]] = str(ipaddress.ip_address(int(network.network_address) + first * step))
        raw[keys[3]] = str(ipaddress.ip_address(int(network.network_address) + last * step))
    return raw


@st.composite
def fleets(
    draw: st.DrawFn,
    min_size: int = 1,
    max_size: int = 24,
    mtus: st.SearchStrategy[int] = DEFAULT_MTUS,
) -> list[Node]:
    """Nodes with unique names and unique underlay addresses (198.18.0.0/15, 2001:db8::/32)."""
    names = draw(st.lists(node_names, min_size=min_size, max_size=max_size, unique=True))
    count = len(names)
    hosts4 = draw(
        st.lists(st.integers(1, (1 << 17) - 2), min_size=count, max_size=count, unique=True)
    )
    hosts6 = draw(
        st.lists(st.integers(1, (1 << 32) - 1), min_size=count, max_size=count, unique=True)
    )
    node_mtus = draw(st.lists(mtus, min_size=count, max_size=count))
    base4, base6 = int(V4("198.18.0.0")), int(V6("2001:db8::"))
    return [
        Node(name, public_ip=V4(base4 + h4), public_ipv6=V6(base6 + h6), mtu=mtu)
        for name, h4, h6, mtu in zip(names, hosts4, hosts6, node_mtus, strict=True)
    ]
