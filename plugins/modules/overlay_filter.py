#!/usr/bin/python
# Copyright: podnet authors
# Apache License 2.0 (see LICENSE)
"""podnet.fabric.overlay_filter: VXLAN accepted from the fleet's nodes only.

What it owns: in iptables mode, per family, the filter chain PODNET-OVERLAY and its one jump,
the first rule of INPUT; in nftables mode the whole table `inet podnet-overlay`. Nothing
else: a foreign rule in INPUT, or in any other chain or table, is never read into a script.
The work lives in module_utils/firewall/overlay/; its entry.py is the adapter (the boot
restore runs it too, before the VXLAN device exists), and this file is the Ansible shell.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: overlay_filter
short_description: Accept VXLAN only from the nodes of the fleet, drop and count the rest
version_added: "1.0.0"
description:
  - The kernel's VXLAN socket takes a frame from any host that can reach its UDP port, and
    delivers the inner packet, with whatever pod source address it carries, to the pods.
    flanneld leaves the port open to the world. This module lets frames to the VXLAN port in
    only from the public (underlay) addresses of the fleet's nodes, given in O(members), and
    drops the others; the drop rule counts them.
  - "In C(iptables) mode, per family: the filter chain C(PODNET-OVERLAY), one C(RETURN) rule
    per member (the frame goes on through the host's own C(INPUT) rules) and a final C(DROP)
    (comment C(podnet overlay filter: not a node of the fleet)), jumped to from the first rule
    of C(INPUT) for UDP to O(port) only."
  - "In C(nftables) mode: the table C(inet podnet-overlay), a named set of members per family
    (C(members-ipv4), C(members-ipv6)) and one rule per family in its input chain (C(udp
    dport PORT ip saddr != @members-ipv4 counter drop)). A node joining or leaving is one set
    element added or deleted: the rules stay as they are."
  - The current rules are read (C(iptables-save -t filter), C(nft list table)) and compared
    with the wanted ones; when only members differ, each added or removed member is one
    change (what check mode and RV(changes) list), written in one transaction per family
    (C(iptables-restore --noflush --wait)) or one C(nft -f) transaction.
  - The filter of the other mode, of a family with no member, and every filter with
    O(state=absent), are removed.
options:
  state:
    description:
      - V(present) makes the filter match; V(absent) removes the chains, jumps and table the
        module owns, in both modes, and nothing else.
    type: str
    choices: [present, absent]
    default: present
  backend:
    description:
      - Which tool holds the filter. The node role passes V(nftables) when net-conf.json's
        C(EnableNFTables) is true, as for the masquerade rules.
    type: str
    choices: [iptables, nftables]
    default: iptables
  port:
    description:
      - The VXLAN UDP port (net-conf.json's C(Backend.Port)); V(0) is the kernel's default,
        8472, as for the VXLAN device.
    type: int
    default: 0
  members:
    description:
      - The public (underlay) address of every node of the fleet, this one included, IPv4
        and/or IPv6; one filter per family that has members. The node role passes the
        plan's C(overlay_members).
      - Unspecified, multicast, loopback and IPv6 link-local addresses are refused.
    type: list
    elements: str
    default: []
requirements:
  - iptables, for the iptables mode (Debian package C(iptables))
  - nft, for the nftables mode (Debian package C(nftables))
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are the owned rules, in C(iptables -S) style and C(nft list) form.
  platform:
    platforms: linux
notes:
  - A missing jump is inserted as the first rule of C(INPUT); an existing one stays where it
    is, as kube-proxy leaves its own (moving it back on top at every run would fight every
    tool that inserts at the top). A rule you insert above it that accepts UDP to the port
    bypasses the filter.
  - In iptables mode a frame walks one rule per member until it matches; on fleets of
    hundreds of nodes use the nftables mode (C(EnableNFTables)), whose set is a hash lookup.
  - Only VXLAN is filtered. host-gw routes and VXLAN DirectRouting send pod traffic
    unencapsulated between nodes on one segment; there only WireGuard authenticates peers.
  - Rules are not persisted across reboots by this module; the node role's boot restore
    replays it before the VXLAN device is made.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Accept VXLAN on the kernel's port from the three nodes only (iptables)
  podnet.fabric.overlay_filter:
    members: [192.0.2.11, 192.0.2.12, 192.0.2.13]

- name: Dual-stack underlay, nftables, flannel's Port 4789
  podnet.fabric.overlay_filter:
    backend: nftables
    port: 4789
    members: [192.0.2.11, 192.0.2.12, "2001:db8::11", "2001:db8::12"]

- name: Remove the filter, both forms
  podnet.fabric.overlay_filter:
    state: absent
"""

RETURN = r"""
args:
  description: The module's arguments as Ansible normalised them (defaults filled, types
    converted), which is what the boot restore records and replays.
  returned: always
  type: dict
changes:
  description: What was changed (or would be, in check mode), in apply order.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: add, replace or delete.
      type: str
    kind:
      description: iptables-chain, iptables-jump, iptables-member, nft-table or nft-element.
      type: str
    key:
      description: The object, e.g. C(iptables PODNET-OVERLAY 192.0.2.14) or
        C(inet podnet-overlay members-ipv4 192.0.2.14).
      type: str
    reason:
      description: Why, e.g. C(missing), C(backend is nftables), or for a member whether it
        is in this run's plan.
      type: str
  sample:
    - op: add
      kind: nft-element
      key: inet podnet-overlay members-ipv4 192.0.2.14
      reason: a node of the fleet (in this run's plan)
backend:
  description: The mode whose filter was made to match.
  returned: always
  type: str
  sample: iptables
port:
  description: The UDP port filtered (V(0) resolved to 8472).
  returned: always
  type: int
  sample: 8472
runtime:
  description: The Python the module ran with (and pyroute2, if any, though this module
    does not use it).
  returned: always
  type: dict
diff:
  description: The owned rules before and after, in C(iptables -S) style and C(nft list) form.
  returned: in diff mode
  type: dict
  sample:
    before: ""
    after: |
      # iptables -t filter
      -A INPUT -p udp -m udp --dport 8472 -m comment --comment "podnet overlay filter" -j ...
      -N PODNET-OVERLAY
      -A PODNET-OVERLAY -s 192.0.2.11/32 -j RETURN
      ...
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.firewall.overlay import entry  # noqa: E402

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "backend": {"type": "str", "choices": ["iptables", "nftables"], "default": "iptables"},
    "port": {"type": "int", "default": 0},
    "members": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
