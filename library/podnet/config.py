"""flannel's net-conf.json, parsed and validated the way flanneld does it.

Go's encoding/json matches keys case-insensitively and ignores unknown ones;
flannel then fills defaults in ``CheckNetworkConfig`` (pkg/subnet/config.go).
podnet keeps flannel's rules and messages, reports every problem at once, never
mutates the input, and differs on purpose in one place: a missing ``Backend``
(or ``Backend.Type``) means vxlan, where flannel would pick the legacy udp backend.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ValidationError, raise_if
from .fields import (
    Family,
    IPNetwork,
    fold_keys,
    is_wireguard_key,
    read_address,
    read_bool,
    read_int,
    read_network,
    read_str,
)
from .names import IFNAME_MAX, vxlan_ifname
from .pool import SubnetPool


class BackendType(enum.StrEnum):
    """The backends podnet implements, spelled as flannel spells them."""

    VXLAN = "vxlan"
    HOST_GW = "host-gw"
    WIREGUARD = "wireguard"


class WireguardMode(enum.StrEnum):
    """flannel's WireGuard ``Mode``: one tunnel per family, or one for both."""

    SEPARATE = "separate"
    AUTO = "auto"
    IPV4 = "ipv4"
    IPV6 = "ipv6"


TOP_LEVEL_KEYS = (
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
)

BACKEND_KEYS: dict[BackendType, tuple[str, ...]] = {
    BackendType.VXLAN: ("Type", "VNI", "Port", "MTU", "GBP", "Learning", "DirectRouting"),
    BackendType.HOST_GW: ("Type",),
    BackendType.WIREGUARD: (
        "Type",
        "ListenPort",
        "ListenPortV6",
        "MTU",
        "PSK",
        "PersistentKeepaliveInterval",
        "Mode",
    ),
}
# Backend key -> the Backend attribute that holds it (Type and Mode are enums).
BACKEND_FIELDS: dict[str, str] = {
    "Type": "type",
    "VNI": "vni",
    "Port": "port",
    "MTU": "mtu",
    "GBP": "gbp",
    "Learning": "learning",
    "DirectRouting": "direct_routing",
    "ListenPort": "listen_port",
    "ListenPortV6": "listen_port_v6",
    "PSK": "psk",
    "PersistentKeepaliveInterval": "persistent_keepalive_interval",
    "Mode": "mode",
}
ALL_BACKEND_KEYS = tuple(dict.fromkeys(key for keys in BACKEND_KEYS.values() for key in keys))


@dataclass(frozen=True, slots=True)
class Backend:
    """The ``Backend`` object with flannel's defaults applied.

    Attributes:
        given: the keys the user set, in flannel's spelling (for re-rendering).
        mtu: ``MTU`` as given; 0 means "the underlay's MTU".
        port: VXLAN UDP port; 0 leaves the kernel default (8472).
    """

    type: BackendType = BackendType.VXLAN
    vni: int = 1
    port: int = 0
    mtu: int = 0
    gbp: bool = False
    learning: bool = False
    direct_routing: bool = False
    listen_port: int = 51820
    listen_port_v6: int = 51821
    psk: str = field(default="", repr=False)
    persistent_keepalive_interval: int = 0
    mode: WireguardMode = WireguardMode.SEPARATE
    given: frozenset[str] = frozenset({"Type"})


@dataclass(frozen=True, slots=True)
class NetConf:
    """A validated net-conf.json.

    Attributes:
        ipv4, ipv6: the pod subnet pool of each enabled family, None when disabled.
        given: the top-level keys the user set, in flannel's spelling.
        warnings: things flannel would silently accept that a user should know.
    """

    ipv4: SubnetPool | None
    ipv6: SubnetPool | None
    backend: Backend
    enable_nftables: bool = False
    given: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()

    @property
    def pools(self) -> tuple[SubnetPool, ...]:
        """The enabled families' pools, IPv4 first."""
        return tuple(pool for pool in (self.ipv4, self.ipv6) if pool is not None)

    def pool(self, family: int) -> SubnetPool | None:
        return self.ipv4 if family == 4 else self.ipv6


@dataclass(frozen=True, slots=True)
class _FamilyRules:
    """flannel's per-family key names, limits and messages (config.go L76-197)."""

    family: Family
    network_key: str
    len_key: str
    min_key: str
    max_key: str
    longest_subnet: int  # SubnetLen must be below max_prefixlen - 1
    smallest_network: int  # default SubnetLen needs a prefix no longer than this
    default_len_cutoff: int  # networks at least this wide default to default_len
    default_len: int
    missing_message: str
    too_small_message: str

    def key_names(self) -> tuple[str, ...]:
        return (self.network_key, self.len_key, self.min_key, self.max_key)


_RULES: dict[int, _FamilyRules] = {
    4: _FamilyRules(
        4, "Network", "SubnetLen", "SubnetMin", "SubnetMax", 30, 28, 22, 24,
        "please define a correct Network parameter in the flannel config",
        "network is too small. Minimum useful network prefix is /28",
    ),
    6: _FamilyRules(
        6, "IPv6Network", "IPv6SubnetLen", "IPv6SubnetMin", "IPv6SubnetMax", 126, 124, 62, 64,
        "please define a correct IPv6Network parameter in the flannel config",
        "IPv6Network is too small. Minimum useful network prefix is /124",
    ),
}  # fmt: skip


# Per family: (Network, SubnetLen, SubnetMin, SubnetMax) in flannel's spelling.
FAMILY_KEYS: dict[int, tuple[str, ...]] = {
    family: rules.key_names() for family, rules in _RULES.items()
}


def parse_net_conf(raw: Mapping[str, object]) -> NetConf:
    """Parse and validate net-conf.json (already decoded from JSON).

    Raises:
        ValidationError: listing every problem, each with the key, value and rule.

    >>> conf = parse_net_conf({"network": "10.244.0.0/16", "Backend": {"Type": "VXLAN"}})
    >>> conf.backend.type, conf.ipv4.subnet_len, conf.ipv4.describe_range()
    (<BackendType.VXLAN: 'vxlan'>, 24, '10.244.1.0..10.244.255.0')
    """
    problems: list[str] = []
    warnings: list[str] = []
    if not isinstance(raw, Mapping):
        raise ValidationError([f"net-conf: {type(raw).__name__} given; a JSON object is needed"])
    values, unknown = fold_keys(raw, TOP_LEVEL_KEYS, "", problems)
    warnings += [f"{key}: not a flannel net-conf key; ignored" for key in unknown]

    enable = {
        4: _read_flag(values, "EnableIPv4", True, problems),
        6: _read_flag(values, "EnableIPv6", False, problems),
    }
    if not enable[4] and not enable[6]:
        problems.append("EnableIPv4, EnableIPv6: none defined stack; enable at least one")
    pools = {
        family: _parse_pool(values, _RULES[family], problems, warnings) if enabled else None
        for family, enabled in enable.items()
    }
    # A disabled family's keys are not read (flannel ignores them too); say so, and do
    # not count them as given, since nothing of them is kept to render back.
    ignored = {
        key
        for family, enabled in enable.items()
        if not enabled
        for key in _RULES[family].key_names()
        if key in values
    }
    warnings += [
        f"{key}: ignored because its address family is disabled" for key in sorted(ignored)
    ]
    backend = _parse_backend(values.get("Backend"), problems, warnings)
    if backend.type is BackendType.VXLAN:
        problems += _device_name_problems(backend.vni, [f for f, on in enable.items() if on])
    enable_nftables = _read_flag(values, "EnableNFTables", False, problems)
    raise_if(problems)
    return NetConf(
        ipv4=pools[4],
        ipv6=pools[6],
        backend=backend,
        enable_nftables=enable_nftables,
        given=frozenset(values.keys() - ignored),
        warnings=tuple(warnings),
    )


def _device_name_problems(vni: int, families: list[int]) -> list[str]:
    """A VNI whose device name the kernel would refuse (flanneld finds out at runtime).

    >>> _device_name_problems(10000, [4, 6])
    ['Backend.VNI: 10000 names the IPv6 device flannel-v6.10000, longer than the 15 characters Linux allows a device name; with EnableIPv6, use a VNI below 10000']
    >>> _device_name_problems(10000, [4])
    []
    """  # noqa: E501 - a doctest's output line
    problems = []
    for family in families:
        name = vxlan_ifname(vni, family)
        if len(name) > IFNAME_MAX:
            room = IFNAME_MAX - len(vxlan_ifname(0, family)) + 1  # digits the prefix leaves
            limit = 10**room
            hint = "with EnableIPv6, " if family == 6 else ""
            problems.append(
                f"Backend.VNI: {vni} names the IPv{family} device {name}, longer than the "
                f"{IFNAME_MAX} characters Linux allows a device name; {hint}use a VNI below {limit}"
            )
    return problems


def _read_flag(values: Mapping[str, object], key: str, default: bool, problems: list[str]) -> bool:
    if key not in values:
        return default
    flag = read_bool(values[key], key, problems)
    return default if flag is None else flag


def _parse_pool(
    values: Mapping[str, object], rules: _FamilyRules, problems: list[str], warnings: list[str]
) -> SubnetPool | None:
    """One family's Network, SubnetLen, SubnetMin and SubnetMax, defaults as flannel fills them."""
    before = len(problems)
    raw_network = values.get(rules.network_key)
    if raw_network in (None, ""):
        problems.append(f"{rules.network_key}: {rules.missing_message}")
        return None
    network = read_network(raw_network, rules.network_key, problems, rules.family, strict=False)
    if network is None:
        return None
    if ipaddress.ip_interface(str(raw_network).strip()).ip != network.network_address:
        # Go's net.ParseCIDR masks host bits without a word; say it. (Compare addresses, not
        # text: 'FD00::/48' and 'fd00:0::/48' have no host bits.)
        warnings.append(f"{rules.network_key}: {raw_network!r} has host bits set; using {network}")

    subnet_len = _parse_subnet_len(values.get(rules.len_key), network, rules, problems)
    if subnet_len is None:
        return None
    # There are 2**(subnet_len - prefix) blocks. flannel's SubnetMin skips the first
    # (whose .0 would be the Network address itself); SubnetMax is the last block.
    blocks = 1 << (subnet_len - network.prefixlen)
    pool = SubnetPool(network, subnet_len, 1, blocks - 1)
    first = _parse_bound(values.get(rules.min_key), rules.min_key, pool, rules, problems)
    last = _parse_bound(values.get(rules.max_key), rules.max_key, pool, rules, problems)
    pool = SubnetPool(
        network,
        subnet_len,
        pool.first if first is None else first,
        pool.last if last is None else last,
    )
    if pool.first > pool.last:
        problems.append(
            f"{rules.min_key}, {rules.max_key}: {pool.address(pool.first)} is above"
            f" {pool.address(pool.last)}; the range holds no subnet, swap them"
        )
    return pool if len(problems) == before else None


def _parse_subnet_len(
    raw: object, network: IPNetwork, rules: _FamilyRules, problems: list[str]
) -> int | None:
    key = rules.len_key
    # Go decodes a missing key and 0 alike (the zero value), so 0 means "default". Only the
    # integer 0: false and 0.0 equal 0 in Python, but Go refuses to decode them into a uint.
    if raw is None or (isinstance(raw, int) and not isinstance(raw, bool) and raw == 0):
        return _default_subnet_len(network, rules, problems)
    subnet_len = read_int(raw, key, problems, 0, network.max_prefixlen)
    if subnet_len is None:
        return None
    if subnet_len > rules.longest_subnet:
        problems.append(
            f"{key}: SubnetLen must be less than /{rules.longest_subnet + 1} (got {subnet_len})"
        )
        return None
    if subnet_len < network.prefixlen + 2:
        problems.append(
            f"{key}: network must be able to accommodate at least four subnets"
            f" (got /{subnet_len} in {network}); use {network.prefixlen + 2} or more"
        )
        return None
    return subnet_len


def _default_subnet_len(network: IPNetwork, rules: _FamilyRules, problems: list[str]) -> int | None:
    """flannel's default: /24 (/64) in wide networks, else room for four subnets."""
    if network.prefixlen > rules.smallest_network:
        problems.append(f"{rules.network_key}: {rules.too_small_message} (got {network})")
        return None
    if network.prefixlen <= rules.default_len_cutoff:
        return rules.default_len
    return network.prefixlen + 2


def _parse_bound(
    raw: object, key: str, pool: SubnetPool, rules: _FamilyRules, problems: list[str]
) -> int | None:
    """SubnetMin/SubnetMax: an address inside Network on a SubnetLen boundary."""
    if raw is None or raw == "":
        return None
    address = read_address(raw, key, problems, rules.family)
    if address is None:
        return None
    if address not in pool.network:
        problems.append(
            f"{key}: {key} is not in the range of the {rules.network_key}"
            f" (got {address}, {rules.network_key} {pool.network})"
        )
        return None
    offset = int(address) - int(pool.network.network_address)
    index = offset >> (pool.network.max_prefixlen - pool.subnet_len)
    if pool.address(index) != address:
        problems.append(
            f"{key}: {key} is not on a SubnetLen boundary: {address};"
            f" the nearest is {pool.address(index)}"
        )
        return None
    return index


def _parse_backend(raw: object, problems: list[str], warnings: list[str]) -> Backend:
    if raw is None:
        return Backend()
    if not isinstance(raw, Mapping):
        problems.append(f'Backend: {raw!r} is not an object; use {{"Type": "vxlan"}}')
        return Backend()
    values, unknown = fold_keys(raw, ALL_BACKEND_KEYS, "Backend.", problems)
    warnings += [f"Backend.{key}: not a backend key; ignored" for key in unknown]
    type_name = read_str(values.get("Type", "vxlan"), "Backend.Type", problems) or "vxlan"
    try:
        backend_type = BackendType(type_name.lower())  # flannel lower-cases the type
    except ValueError:
        problems.append(
            f"Backend.Type: {type_name!r} is not a backend podnet implements;"
            f" use one of {', '.join(t.value for t in BackendType)}"
        )
        return Backend()
    for key in values.keys() - set(BACKEND_KEYS[backend_type]):
        warnings.append(f"Backend.{key}: not used by the {backend_type} backend; ignored")
    settings: dict[str, object] = {}
    for key in BACKEND_KEYS[backend_type]:
        if key in values and key != "Type":
            _read_backend_key(key, values[key], settings, problems)
    return Backend(
        type=backend_type,
        given=frozenset({"Type", *(key for key in values if key in BACKEND_KEYS[backend_type])}),
        **settings,  # type: ignore[arg-type]
    )


# Backend key -> (field, reader). Ranges: VNI is 24 bits; ports are 16 bits, 0 for VXLAN
# meaning "the kernel's 8472"; MTU 0 means "the underlay's".
_INT_KEYS: dict[str, tuple[int, int]] = {
    "VNI": (0, (1 << 24) - 1),
    "Port": (0, 65535),
    "MTU": (0, 65535),
    "ListenPort": (1, 65535),
    "ListenPortV6": (1, 65535),
    "PersistentKeepaliveInterval": (0, 65535),
}
_BOOL_KEYS = frozenset({"GBP", "Learning", "DirectRouting"})


def _read_backend_key(
    key: str, raw: object, settings: dict[str, object], problems: list[str]
) -> None:
    path = f"Backend.{key}"
    if key in _INT_KEYS:
        low, high = _INT_KEYS[key]
        if key == "PersistentKeepaliveInterval" and isinstance(raw, str):
            problems.append(f"{path}: {raw!r} is a string; give a whole number of seconds, e.g. 25")
            return
        value: object = read_int(raw, path, problems, low, high)
        if value is not None:
            settings[BACKEND_FIELDS[key]] = value
    elif key in _BOOL_KEYS:
        flag = read_bool(raw, path, problems)
        if flag is not None:
            settings[BACKEND_FIELDS[key]] = flag
    elif key == "Mode":
        mode = read_str(raw, path, problems)
        if mode is None:
            return
        try:
            settings["mode"] = WireguardMode(mode)
        except ValueError:
            problems.append(
                f"{path}: no valid Mode configured (got {raw!r});"
                f" use one of {', '.join(m.value for m in WireguardMode)}"
            )
    elif key == "PSK":
        # Never echo the value, not even a mistyped one (read_str would): it is a secret.
        if not isinstance(raw, str) or not is_wireguard_key(raw):
            problems.append(
                f"{path}: not a base64 WireGuard key of 32 bytes; make one with `wg genpsk`"
            )
        else:
            settings["psk"] = raw
