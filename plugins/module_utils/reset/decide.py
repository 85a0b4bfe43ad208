"""reset.yml's ownership rules, over what host.py read. Nothing here touches the host.

Own only what podnet creates: the state directory only when it is a directory of podnet's
own; the CNI conflist only when it is the file podnet writes; a directory only when
nothing else is in it and it is no mount point (a mounted directory is emptied, not
removed: the lab binds both).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..names import is_wireguard_ifname, parse_vxlan_ifname, vxlan_ifname

# Directories that hold other configuration than podnet's: reset removes the state
# directory with everything in it, so it may be none of them, nor hold one of them. The
# plan refuses them first (podnet.validate.SHARED_DIRS, held equal by tests/unit/
# test_bad_inputs.py); this copy is for the host, which has no podnet library.
SHARED_DIRS = (
    "/dev/shm",
    "/etc/default",
    "/etc/systemd",
    "/run/lock",
    "/run/user",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/sbin",
    "/usr/share",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/run",
    "/var/spool",
    "/var/tmp",
)
# What may have changed in podnet's conflist since it was written: the MTU (it follows the
# backend), ipMasq (podnet_ip_masq) and the node's subnet.
_VARYING = re.compile(r'"(mtu|ipMasq|subnet)": [^,\n]*')
_NETWORK_LINE = re.compile(r"^FLANNEL(_IPV6)?_NETWORK=")


def is_own_state_dir(state_dir: str, shared: Iterable[str]) -> bool:
    """An absolute, normalised path at least two levels deep that is none of the shared
    directories and holds none of them.

    >>> is_own_state_dir("/etc/podnet", ["/etc/cni/net.d"])
    True
    >>> [is_own_state_dir(p, ["/run/flannel"]) for p in ("/etc", "/etc/x/", "/run", "/var/lib")]
    [False, False, False, False]
    """
    dirs = [*shared, *SHARED_DIRS]
    return (
        re.match(r"^/[^/]+/.", state_dir) is not None
        and os.path.normpath(state_dir) == state_dir
        and state_dir not in dirs
        and not any(d.startswith(state_dir + "/") for d in dirs)
    )


def is_podnets_conflist(found: str | None, planned: str) -> bool:
    """Whether the conflist found is the one podnet writes with these settings, give or take
    the MTU, ipMasq and the subnet. An edited file, another podnet_cni_mode's or another
    CNI's is not podnet's to remove.

    >>> is_podnets_conflist('{"mtu": 1450, "name": "cbr0"}', '{"mtu": 1500, "name": "cbr0"}')
    True
    >>> is_podnets_conflist('{"name": "mine"}', '{"name": "cbr0"}'), is_podnets_conflist(None, "")
    (False, False)
    """
    if found is None:
        return False
    return _VARYING.sub(r'"\1": _', found) == _VARYING.sub(r'"\1": _', planned)


def installed_networks(planned: Sequence[str], subnet_env: str | None) -> list[str]:
    """The plan's networks, then those subnet.env recorded at install: a network or an IPv6
    family dropped since then is still cleaned up.

    >>> installed_networks(["10.244.0.0/16"], "FLANNEL_NETWORK=10.244.0.0/16\\n"
    ...                    "FLANNEL_IPV6_NETWORK= fd00::/56\\nFLANNEL_MTU=1450\\n")
    ['10.244.0.0/16', 'fd00::/56']
    """
    recorded = [
        line.split("=", 1)[1].strip()
        for line in (subnet_env or "").splitlines()
        if _NETWORK_LINE.match(line)
    ]
    return list(dict.fromkeys([*planned, *recorded]))


def kept_entry(state_dir: str, key_file: str, keep_key: bool) -> str:
    """With the key kept: the state directory's entry that is, or holds, the key file.

    >>> kept_entry("/etc/podnet", "/etc/podnet/keys/wg.key", True)
    '/etc/podnet/keys'
    >>> kept_entry("/etc/podnet", "/etc/podnet/wireguard.key", False)
    ''
    """
    if not keep_key or not key_file.startswith(state_dir + "/"):
        return ""
    return state_dir + "/" + os.path.relpath(key_file, state_dir).split("/")[0]


def mount_points(mountinfo: str) -> set[str]:
    """The mount points of /proc/self/mountinfo (its fifth field)."""
    return {fields[4] for fields in map(str.split, mountinfo.splitlines()) if len(fields) > 4}


def family_of(network: str) -> int:
    """4 or 6, from a network's text.

    >>> family_of("10.244.0.0/16"), family_of("fd00::/56")
    (4, 6)
    """
    return 6 if ":" in network else 4


def stale_devices(ifnames: Iterable[str], networks: Sequence[str]) -> dict[str, Any]:
    """Every flannel device, whatever the backend now: VXLAN devices with the arguments
    their removal needs (the network of their family bounds the direct routes), WireGuard's.

    >>> stale_devices(["eth0", "flannel-v6.1", "flannel-wg"], ["10.244.0.0/16", "fd00::/56"])
    {'vxlan': [{'ifname': 'flannel-v6.1', 'family': 6, 'vni': 1, 'network': 'fd00::/56'}], \
'wireguard': ['flannel-wg']}
    """
    vxlan = []
    for ifname in sorted(ifnames):
        parsed = parse_vxlan_ifname(ifname)
        if parsed is not None:
            family, vni = parsed
            network = next((n for n in networks if family_of(n) == family), None)
            vxlan.append(
                {
                    "ifname": vxlan_ifname(vni, family),
                    "family": family,
                    "vni": vni,
                    "network": network,
                }
            )
    return {"vxlan": vxlan, "wireguard": [n for n in sorted(ifnames) if is_wireguard_ifname(n)]}


def conflist_path(params: Mapping[str, Any]) -> str:
    """Where podnet writes the CNI conflist."""
    return os.path.join(str(params["cni_conf_dir"]), str(params["conflist_name"]))


def decide(params: Mapping[str, Any], found: Mapping[str, Any]) -> dict[str, Any]:
    """reset.yml's answers from the module's arguments and host.py's `found`."""
    state_dir = params["state_dir"]
    subnet_env = params["subnet_env_path"]
    subnet_env_dir = os.path.dirname(subnet_env)
    mounts = mount_points(found["mountinfo"])
    state_entries = found["entries"].get(state_dir)
    subnet_env_entries = found["entries"].get(subnet_env_dir)
    kept = kept_entry(state_dir, params["key_file"], params["keep_key"])
    networks = installed_networks(params["networks"], found["subnet_env"])
    conflist_found = found["conflist"] is not None
    return {
        "conflist_path": conflist_path(params),
        "subnet_env_dir": subnet_env_dir,
        "state_dir_owned": is_own_state_dir(state_dir, [params["cni_conf_dir"], subnet_env_dir]),
        "conflist_found": conflist_found,
        "conflist_ours": is_podnets_conflist(found["conflist"], params["conflist"]),
        "subnet_env_found": subnet_env in (subnet_env_entries or []),
        "networks": [{"family": family_of(n), "network": n} for n in networks],
        "devices": stale_devices(found["ifnames"], networks),
        "unit_files": found["unit_files"],
        "systemd_runs": found["systemd_runs"],
        "state_dir_entries": sorted(e for e in state_entries or [] if e != kept),
        "remove_state_dir": state_entries is not None
        and state_dir not in mounts
        and kept not in state_entries,
        "remove_subnet_env_dir": subnet_env_entries is not None
        and subnet_env_dir not in mounts
        and not [e for e in subnet_env_entries if e != subnet_env],
    }
