"""flannel's /run/flannel/subnet.env, read back: the node's lease as flanneld wrote it.

flanneld (and podnet after it) writes `KEY=value` lines, no quotes (reference section 6):
FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_NETWORK, FLANNEL_IPV6_SUBNET, FLANNEL_MTU,
FLANNEL_IPMASQ. FLANNEL_SUBNET is the lease's first address with the lease's prefix
(`10.244.7.1/24` for the lease 10.244.7.0/24: the cni0 gateway), so the lease is its
network; the flannel CNI plugin reads it with Go's net.ParseCIDR, which masks the same way.
`parse_subnet_env` is pure (text in, data out); `read_subnet_env` reads the file.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..core.errors import PodnetError

# key -> (field of the result, address family)
SUBNET_KEYS = {"FLANNEL_SUBNET": ("subnet", 4), "FLANNEL_IPV6_SUBNET": ("ipv6_subnet", 6)}
NETWORK_KEYS = {"FLANNEL_NETWORK": ("network", 4), "FLANNEL_IPV6_NETWORK": ("ipv6_network", 6)}


class SubnetEnvError(PodnetError):
    """subnet.env holds something that is not flannel's; the message names file, key, value."""


def read_subnet_env(path: str) -> dict[str, Any]:
    """The module's result fields for the subnet.env at `path`; a missing file holds nothing.

    Returns `subnet`, `ipv6_subnet`, `network`, `ipv6_network` and `subnet_env` (`path`,
    `found`, `values`).

    Raises:
        SubnetEnvError: the file cannot be read, or holds a malformed subnet or network.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text: str | None = handle.read()
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError) as exc:
        raise SubnetEnvError(f"{path}: cannot be read: {exc}") from None
    env = parse_subnet_env(text or "", path)
    values = env.pop("values")
    env["subnet_env"] = {"path": path, "found": text is not None, "values": values}
    return env


def parse_subnet_env(text: str, path: str) -> dict[str, Any]:
    """The values of subnet.env and the lease they give.

    Returns a dict with `values` (every KEY=value line, as text), `subnet` and
    `ipv6_subnet` (the leases as network CIDRs, or None), `network` and `ipv6_network`.
    Lines without `=` and `#` comments are skipped, as the flannel CNI plugin skips them.

    Raises:
        SubnetEnvError: a subnet or network key whose value is not a CIDR of its family.

    >>> text = "FLANNEL_NETWORK=10.244.0.0/16\\nFLANNEL_SUBNET=10.244.7.1/24\\n"
    >>> env = parse_subnet_env(text, "f")
    >>> env["subnet"], env["network"], env["ipv6_subnet"]
    ('10.244.7.0/24', '10.244.0.0/16', None)
    """
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _eq, value = line.partition("=")
        values[key.strip()] = value.strip()
    result: dict[str, Any] = {"values": values}
    problems: list[str] = []
    for keys in (SUBNET_KEYS, NETWORK_KEYS):
        for key, (field, family) in keys.items():
            result[field] = _network(values.get(key), path, key, family, problems)
    if problems:
        raise SubnetEnvError("; ".join(problems))
    return result


def _network(
    value: str | None, path: str, key: str, family: int, problems: list[str]
) -> str | None:
    if value is None or value == "":
        return None
    try:
        interface = ipaddress.ip_interface(value)
    except ValueError:
        interface = None
    if interface is None or interface.version != family or "/" not in value:
        problems.append(
            f"{path}: {key}={value!r} is not an IPv{family} address/prefix as flannel writes"
            " it; fix or delete the file (podnet writes it again)"
        )
        return None
    return str(interface.network)
