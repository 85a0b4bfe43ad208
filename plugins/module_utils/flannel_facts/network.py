"""The network facts the plan reads, in ansible.builtin.setup's shape, from `ip -j`.

The plan (plugins/action/plan.py, describe_node) reads a node's underlay from its facts:
`default_ipv4.interface`, and of that interface (or podnet_iface) `mtu`, `ipv4` (the
primary address with `network` and `netmask`), `ipv4_secondaries` and `ipv6` (address,
prefix, scope), plus `interfaces` for its error message, `all_ipv4_addresses` and
`all_ipv6_addresses` (every address of the host), and `python.executable` for the boot
restore's shebang. setup's network subset computes much more (a dozen `ip` runs
and /sys reads per interface) and costs a module run of its own per host on every run;
these come from the `ip -d -j addr show` flannel_facts makes anyway and two `ip route
get` (setup's own way of finding the default interface), so an unchanged run gathers
nothing else. Pure: `ip`'s JSON in, facts out.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

# setup's probes for the default interface (module_utils/facts/network/linux.py): the route
# the kernel would use toward a public address, not whatever `default` says.
ROUTE_PROBES = {4: "8.8.8.8", 6: "2404:6800:400a:800::1012"}


def default_interface(route_json: str) -> dict[str, str]:
    """`default_ipv4`/`default_ipv6` from `ip -j -<family> route get <probe>`: the
    interface and source address, or {} where there is no such route.

    >>> default_interface('[{"dst": "8.8.8.8", "gateway": "192.0.2.1", "dev": "eth0",'
    ...                   ' "prefsrc": "192.0.2.11"}]')
    {'interface': 'eth0', 'address': '192.0.2.11'}
    >>> default_interface("")
    {}
    """
    try:
        routes = json.loads(route_json or "[]")
    except ValueError:
        return {}
    if not routes or not routes[0].get("dev"):
        return {}
    route = routes[0]
    found = {"interface": route["dev"]}
    if route.get("prefsrc"):
        found["address"] = route["prefsrc"]
    return found


def interface_facts(link: dict[str, Any]) -> dict[str, Any]:
    """One interface of `ip -j addr show` as setup's `ansible_facts[<ifname>]` (the keys the
    plan reads): device, mtu, macaddress, ipv4 (primary), ipv4_secondaries, ipv6.

    >>> facts = interface_facts({"ifname": "eth0", "mtu": 1500, "address": "02:00:00:00:00:01",
    ...     "addr_info": [
    ...         {"family": "inet", "local": "192.0.2.11", "prefixlen": 24, "broadcast": "192.0.2.255"},
    ...         {"family": "inet", "local": "192.0.2.99", "prefixlen": 24, "secondary": True},
    ...         {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]})
    >>> facts["ipv4"]
    {'address': '192.0.2.11', 'broadcast': '192.0.2.255', 'netmask': '255.255.255.0', 'network': '192.0.2.0', 'prefix': '24'}
    >>> [a["address"] for a in facts["ipv4_secondaries"]], facts["ipv6"]
    (['192.0.2.99'], [{'address': 'fe80::1', 'prefix': '64', 'scope': 'link'}])
    """  # noqa: E501 - doctest lines
    facts: dict[str, Any] = {
        "device": link.get("ifname"),
        "mtu": link.get("mtu"),
        "macaddress": link.get("address"),
    }
    v4: list[dict[str, Any]] = []
    v6: list[dict[str, str]] = []
    for entry in link.get("addr_info") or ():
        address, prefix = entry.get("local"), entry.get("prefixlen")
        if address is None or prefix is None:
            continue
        if entry.get("family") == "inet":
            network = ipaddress.ip_interface(f"{address}/{prefix}").network
            item = {
                "address": address,
                "broadcast": entry.get("broadcast", ""),
                "netmask": str(network.netmask),
                "network": str(network.network_address),
                "prefix": str(prefix),
            }
            # setup's primary is the first address the kernel does not flag secondary.
            v4.append({**item, "_secondary": bool(entry.get("secondary"))})
        elif entry.get("family") == "inet6":
            v6.append({"address": address, "prefix": str(prefix), "scope": entry.get("scope", "")})
    primary = [a for a in v4 if not a["_secondary"]][:1]
    if primary:
        facts["ipv4"] = _public(primary[0])
    secondaries = [_public(a) for a in v4 if a["_secondary"] or a not in primary]
    if secondaries:
        facts["ipv4_secondaries"] = secondaries
    if v6:
        facts["ipv6"] = v6
    return facts


def network_facts(addr_json: str, routes: dict[int, str], python: str) -> dict[str, Any]:
    """`ansible_facts` for the plan: every interface, the default ones, and the Python.

    Args:
        addr_json: `ip -d -j addr show`'s output.
        routes: per family (4, 6), `ip -j -<family> route get <ROUTE_PROBES[family]>`'s
            output ("" where it failed).
        python: the module's interpreter (sys.executable), setup's `python.executable`.
    """
    links = json.loads(addr_json or "[]")
    facts: dict[str, Any] = {link["ifname"]: interface_facts(link) for link in links}
    facts["interfaces"] = sorted(facts)
    # setup's lists of every address of the host but loopback (the plan checks a public
    # address against them).
    every = [
        (e.get("family"), e.get("local")) for link in links for e in link.get("addr_info") or ()
    ]
    facts["all_ipv4_addresses"] = [
        a for f, a in every if f == "inet" and a and not a.startswith("127.")
    ]
    facts["all_ipv6_addresses"] = [a for f, a in every if f == "inet6" and a and a != "::1"]
    facts["default_ipv4"] = default_interface(routes.get(4, ""))
    facts["default_ipv6"] = default_interface(routes.get(6, ""))
    facts["python"] = {"executable": python}
    return facts


def _public(address: dict[str, Any]) -> dict[str, str]:
    return {key: value for key, value in address.items() if not key.startswith("_")}
