"""VTEP MAC addresses derived from stable node data.

flannel picks a random MAC at device creation and publishes it through the
Kubernetes API, so a peer can only be programmed after the node has come up,
and in etcd mode the MAC changes at every reboot. podnet derives the MAC from
the node's name and the address family instead: every node can program every
peer in one pass, and the same device comes back with the same MAC after a reboot.
"""

from __future__ import annotations

import hashlib

_DOMAIN = b"podnet/vtep-mac/v1\x00"


def derive_vtep_mac(node_name: str, family: int) -> str:
    """A locally administered unicast MAC for `node_name`'s VXLAN device of `family`.

    The first octet gets flannel's treatment: the multicast bit cleared and the
    locally-administered bit set, so it can never clash with a vendor's MAC.

    >>> derive_vtep_mac("node1", 4)
    '7a:28:b0:ea:0e:01'
    >>> int(derive_vtep_mac("node1", 6)[:2], 16) & 0b11
    2
    """
    digest = bytearray(hashlib.sha256(_DOMAIN + f"{family}\x00{node_name}".encode()).digest()[:6])
    digest[0] = (digest[0] & 0xFE) | 0x02
    return digest.hex(":")  # lower-case, colon-separated, as flannel publishes it
