"""Typed field readers shared by the net-conf, node and lease parsers.

Each reader appends a problem (path, offending value, rule) to a list instead
of raising, so a parser can report every problem of an input at once.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Family = Literal[4, 6]

FAMILY_WORD: dict[int, str] = {4: "IPv4", 6: "IPv6"}


def fold_keys(
    raw: Mapping[str, object],
    known: Sequence[str],
    path: str,
    problems: list[str],
) -> tuple[dict[str, object], list[str]]:
    """Map the keys of `raw` onto `known` case-insensitively, as Go's encoding/json does.

    Returns the values under their canonical spelling and the keys that matched
    nothing. Two spellings of one key (``Network`` and ``network``) are a problem:
    Go would silently keep the last one.

    >>> fold_keys({"network": "10.0.0.0/8"}, ["Network"], "", [])
    ({'Network': '10.0.0.0/8'}, [])
    """
    canonical = {key.lower(): key for key in known}
    values: dict[str, object] = {}
    spelled: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in raw.items():
        name = canonical.get(str(key).lower())
        if name is None:
            unknown.append(str(key))
            continue
        if name in values:
            problems.append(
                f"{path}{name}: given twice (as {spelled[name]!r} and {key!r}); keep one"
            )
        values[name] = value
        spelled[name] = str(key)
    return values, unknown


def read_int(
    value: object, path: str, problems: list[str], minimum: int, maximum: int
) -> int | None:
    """Return `value` when it is a whole number in [minimum, maximum], else record why not."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{path}: {value!r} is not a whole number")
        return None
    if not minimum <= value <= maximum:
        problems.append(f"{path}: {value} is out of range; use {minimum}..{maximum}")
        return None
    return value


def read_bool(value: object, path: str, problems: list[str]) -> bool | None:
    """Return `value` when it is a JSON boolean (not the string 'true')."""
    if not isinstance(value, bool):
        problems.append(f"{path}: {value!r} is not a boolean; use true or false")
        return None
    return value


def read_str(value: object, path: str, problems: list[str]) -> str | None:
    """Return `value` when it is a string."""
    if not isinstance(value, str):
        problems.append(f"{path}: {value!r} is not a string")
        return None
    return value


def read_address(value: object, path: str, problems: list[str], family: Family) -> IPAddress | None:
    """Parse an address of the given family, recording a problem that shows the value."""
    if not isinstance(value, str):
        problems.append(f"{path}: {value!r} is not an {FAMILY_WORD[family]} address")
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        problems.append(f"{path}: {value!r} is not an {FAMILY_WORD[family]} address")
        return None
    if address.version != family:
        problems.append(
            f"{path}: {value!r} is an {FAMILY_WORD[address.version]} address;"
            f" an {FAMILY_WORD[family]} address is needed here"
        )
        return None
    return address


def check_node_address(address: IPAddress, path: str, problems: list[str]) -> bool:
    """Whether a node can hold `address` as its underlay address; record why not.

    Peers send their tunnel packets or routes to it, so it must be a unicast address
    another host can reach: not unspecified, loopback, multicast or the limited
    broadcast, not an IPv6 link-local one (it needs a zone no peer knows), not an
    IPv4 address written as IPv6.

    >>> problems = []
    >>> check_node_address(ipaddress.ip_address("224.0.0.1"), "public_ip", problems)
    False
    >>> problems[0].split(",")[0]
    "public_ip: '224.0.0.1' is a multicast address"
    """
    rule = _unusable_rule(address)
    if rule is None:
        return True
    problems.append(
        f"{path}: {str(address)!r} is {rule}, which no host can have; give the address peers"
        " reach the node at"
    )
    return False


def _is_ipv4_in_ipv6(address: IPAddress) -> bool:
    """::ffff:192.0.2.1 (mapped) or ::192.0.2.1 (compatible): peers would need IPv4."""
    if not isinstance(address, ipaddress.IPv6Address):
        return False
    return address.ipv4_mapped is not None or address in _V4_COMPATIBLE


_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# In order: an IPv6 link-local address fails before the IPv4-in-IPv6 rule looks at it.
_UNUSABLE: tuple[tuple[Callable[[IPAddress], bool], str], ...] = (
    (lambda a: a.is_unspecified, "the unspecified address"),
    (lambda a: a.is_loopback, "a loopback address"),
    (lambda a: a.is_multicast, "a multicast address"),
    (lambda a: a == _BROADCAST, "the limited broadcast address"),
    (lambda a: a.version == 6 and a.is_link_local, "an IPv6 link-local address (it needs a zone)"),
    (_is_ipv4_in_ipv6, "an IPv4 address in IPv6 form"),
)


def _unusable_rule(address: IPAddress) -> str | None:
    return next((rule for test, rule in _UNUSABLE if test(address)), None)


def read_network(
    value: object,
    path: str,
    problems: list[str],
    family: Family,
    *,
    strict: bool = True,
) -> IPNetwork | None:
    """Parse a CIDR of the given family.

    With ``strict`` (the default) host bits are an error that suggests the
    network address; without it they are masked, as Go's ``net.ParseCIDR`` does.
    """
    word = FAMILY_WORD[family]
    if not isinstance(value, str) or "/" not in value:
        problems.append(f"{path}: {value!r} is not an {word} CIDR (address/prefix)")
        return None
    try:
        # One parse gives both the address as written and its network; ip_network and
        # then ip_interface parsed the text twice (about 2 µs a CIDR, 10% of parse_nodes).
        interface = ipaddress.ip_interface(value.strip())
    except ValueError:
        problems.append(f"{path}: {value!r} is not an {word} CIDR (address/prefix)")
        return None
    network = interface.network
    if network.version != family:
        problems.append(
            f"{path}: {value!r} is an {FAMILY_WORD[network.version]} CIDR;"
            f" an {word} CIDR is needed here"
        )
        return None
    if strict and interface.ip != network.network_address:
        problems.append(f"{path}: {value!r} has host bits set; did you mean {network}?")
        return None
    return network


def read_cidrs(values: Sequence[object], label: str, problems: list[str]) -> list[IPNetwork]:
    """Parse a list of CIDRs (service ranges, say), recording each bad one under `label`.

    >>> problems = []
    >>> read_cidrs(["10.96.0.0/12", "10.96.0.1/12"], "--service-cidr", problems)
    [IPv4Network('10.96.0.0/12')]
    >>> problems
    ["--service-cidr: '10.96.0.1/12' is not a CIDR with its host bits clear"]
    """
    cidrs = []
    for value in values:
        try:
            cidrs.append(ipaddress.ip_network(str(value), strict=True))
        except ValueError:
            problems.append(f"{label}: {value!r} is not a CIDR with its host bits clear")
    return cidrs


_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def read_mac(value: object, path: str, problems: list[str]) -> str | None:
    """A unicast MAC (a VXLAN device's, say) in the kernel's form: lower case, colons.

    The all-zeros address is refused too: on a VXLAN device it is the flood entry.

    >>> problems = []
    >>> read_mac("0A:58:0A:F4:07:00", "mac", problems), read_mac("01:00:5e:00:00:01", "m", problems)
    ('0a:58:0a:f4:07:00', None)
    >>> problems
    ["m: '01:00:5e:00:00:01' is a multicast MAC; a unicast one is needed"]
    """
    text = value.strip().lower() if isinstance(value, str) else None
    if text is None or not _MAC.fullmatch(text):
        problems.append(f"{path}: {value!r} is not a MAC address (six hex pairs, colon-separated)")
        return None
    if int(text[:2], 16) & 1:
        problems.append(f"{path}: {value!r} is a multicast MAC; a unicast one is needed")
        return None
    if text == "00:00:00:00:00:00":
        problems.append(f"{path}: {value!r} is the all-zeros MAC; a unicast one is needed")
        return None
    return text


# RFC 1123: a host name is at most 253 characters, in dot-separated labels of at most 63.
HOST_NAME_MAX = 253
HOST_LABEL_MAX = 63


def host_name_rule(name: str) -> str | None:
    """Why no host can carry `name` as its name, or None when one can.

    Inventory names are looser than DNS (upper case, underscores, an address), so only
    what no host name can hold is refused: control characters, whitespace, empty labels
    and the RFC 1123 lengths.

    >>> [host_name_rule(n) for n in ("node1", "Web_1.example.com", "192.0.2.11")]
    [None, None, None]
    >>> host_name_rule("node\\x07"), host_name_rule("a..b")
    ('it holds a control character', 'it has an empty dot-separated label')
    """
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        return "it holds a control character"
    if any(c.isspace() for c in name):
        return "it holds whitespace"
    if len(name) > HOST_NAME_MAX:
        return f"it has {len(name)} characters; a host name has at most {HOST_NAME_MAX}"
    labels = name.rstrip(".").split(".")
    if any(not label for label in labels):
        return "it has an empty dot-separated label"
    longest = max(labels, key=len)
    if len(longest) > HOST_LABEL_MAX:
        return (
            f"its label {longest[:20]!r}... has {len(longest)} characters; a host name's"
            f" labels have at most {HOST_LABEL_MAX}"
        )
    return None


def is_wireguard_key(text: str) -> bool:
    """A WireGuard key (private, public or preshared): base64 of exactly 32 bytes."""
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False
