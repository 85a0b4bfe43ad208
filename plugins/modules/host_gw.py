#!/usr/bin/python
"""podnet.fabric.host_gw: one node's host-gw routes, as flanneld's host-gw backend's.

Objects: one route per peer, `<peer subnet> via <peer public IP> dev <dev>`, table main,
proto boot, scope universe, no onlink. No device, neighbour or address: the kernel
resolves each gateway on the underlay by ARP/ND like any other next hop.
Order: deletes (peers that left, routes on an old device under another metric), then
adds and replaces; nothing depends on anything else.
Scale: one route per peer, so O(peers) routes on every host and O(fleet^2) in the fleet.
Each run costs one `link get` and one dump of table main whatever the fleet size, and
writes only what differs, in one batch. The work lives in module_utils/host_gw/
(entry.run); this file is the adapter.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_gw
short_description: Make a node's host-gw routes to its peers match its plan
version_added: "1.0.0"
description:
  - Routes every peer's pod subnet via the peer's public IP on the underlay interface,
    exactly as flanneld's host-gw backend does - C(<subnet> via <public_ip> dev <dev>),
    table main, C(proto boot), scope universe, no C(onlink), no metric (the kernel's
    default, 0 for IPv4 and 1024 for IPv6).
  - Run once per address family; O(family) selects IPv4 or IPv6 routes and every address
    given must be of that family.
  - Unlike flanneld, it also reconciles - it moves a peer's route to the planned gateway
    and device in place (C(ip route replace), no gap in traffic) and removes the routes of
    peers that left the inventory.
  - It owns exactly the routes it would create, on any device - table main, C(proto boot),
    destination inside O(network) (prefix at least as long), one gateway, no C(onlink).
    That is also the class of the vxlan module's DirectRouting routes, so switching between
    the two backends adopts those routes instead of re-writing them.
  - Everything else is left alone - C(proto static) or C(kernel) routes, other tables,
    routes outside O(network), C(onlink) tunnel routes on C(flannel.N), the C(scope link)
    routes of C(flannel-wg). A route podnet does not own in a planned peer's slot (same
    destination and metric in table main) is an error naming it and the fix, not
    overwritten.
  - host-gw needs every node on one L2 segment. Before writing anything it checks that each
    peer's public IP lies in a connected route (no gateway, scope link for IPv4) of O(dev)
    in table main, and fails naming the peers that do not; should the kernel still refuse
    a gateway as not on-link, the error says the same.
  - After writing, it reads table main again and fails, naming the route and field, if the
    kernel does not hold what was written.
options:
  state:
    description: C(present) makes the routes match O(peers). C(absent) deletes every route
      the module owns of O(family) inside O(network), and nothing else.
    type: str
    choices: [present, absent]
    default: present
  family:
    description: The address family of the routes - 4 or 6. O(network) and each peer's
      C(subnet) and C(public_ip) must be of this family.
    type: int
    choices: [4, 6]
    default: 4
  network:
    description: The cluster network of O(family), e.g. C(10.244.0.0/16). It bounds what the
      module owns, so it is required in both states.
    type: str
    required: true
  dev:
    description: The underlay interface every peer's public IP is reached on, e.g. C(eth0).
      Required when O(state=present).
    type: str
  peers:
    description:
      - The other nodes of the fleet, one dict each with C(name) (used in messages),
        C(subnet) (the node's pod subnet, inside O(network)) and C(public_ip) (its address
        on the underlay, of O(family), outside O(network)).
      - Other keys, such as the C(vtep_mac) of the vxlan module's peer table, are ignored,
        so the role passes one peer table to either backend.
      - Subnets must not overlap and names must be unique. Ignored when O(state=absent).
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
    details: Reads the kernel, runs every check and reports the changes; writes nothing.
  diff_mode:
    support: full
    details: The routes the module owns, before and after, one line per route.
  platform:
    platforms: linux
requirements:
  - pyroute2 >= 0.9 on the managed node (Python >= 3.9)
notes:
  - Runs as root on the node, in the network namespace it manages.
  - Bad input fails with every problem listed (the field, the value and the rule) before
    the kernel is read; a missing O(dev), a foreign route in a planned slot and peers off
    the segment fail after reading and before any write.
  - A second identical run reports no change and makes no netlink call that writes.
  - flanneld checks nothing before adding a route and retries a refused one forever,
    silently; it never removes routes of nodes that left.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Route two peers on the same segment, as flanneld's host-gw backend would
  podnet.fabric.host_gw:
    network: 10.244.0.0/16
    dev: eth0
    peers:
      - name: node2
        subnet: 10.244.2.0/24
        public_ip: 192.0.2.12
      - name: node3
        subnet: 10.244.3.0/24
        public_ip: 192.0.2.13

- name: IPv6 routes from the plan's peer table (this node left out)
  podnet.fabric.host_gw:
    family: 6
    network: fd00:10:244::/56
    dev: eth0
    peers: "{{ podnet_plan.peers.ipv6 | rejectattr('name', 'equalto', inventory_hostname) }}"

- name: Remove podnet's host-gw routes of the IPv4 cluster network
  podnet.fabric.host_gw:
    state: absent
    network: 10.244.0.0/16
"""

RETURN = r"""
runtime:
  description: The Python the module ran with and the pyroute2 it imported, so that on a
    fleet of several releases the one each host used is known (the role's provided copy,
    or the host's own with C(podnet_pyroute2_provide=false)).
  returned: always
  type: dict
  sample: {python: 3.9.2, python_path: /usr/bin/python3, pyroute2: 0.9.7,
    pyroute2_path: /etc/podnet/lib/pyroute2-0123456789abcdef/pyroute2}
args:
  description: The module's arguments as Ansible normalised them (defaults filled, types
    converted), which is what the boot restore records and replays.
  returned: always
  type: dict
  sample: {state: present, family: 4, network: 10.244.0.0/16, dev: eth0, peers: []}
changes:
  description: What was changed (or would be, in check mode), in the order it was applied.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: C(add), C(replace) or C(delete).
      type: str
    kind:
      description: Always C(route).
      type: str
    key:
      description: The route's destination, followed by C(metric N) when N is not the
        family's default.
      type: str
    reason:
      description: "Why - C(peer <name>: missing), C(peer <name>: <field>: <current> vs
        <wanted>), C(state=absent), or C(not in the plan) followed by the cause."
      type: str
  sample:
    - op: add
      kind: route
      key: 10.244.2.0/24
      reason: "peer node2: missing"
    - op: replace
      kind: route
      key: 10.244.3.0/24
      reason: "peer node3: gateway: 192.0.2.99 vs 192.0.2.13"
diff:
  description: The owned routes before and after, under C(routes), one line per route in
    iproute2's words.
  returned: in diff mode
  type: dict
  sample:
    before:
      routes: {}
    after:
      routes: {10.244.2.0/24: via 192.0.2.12 dev eth0 proto boot}
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.host_gw import entry  # noqa: E402

# Peers are plain dicts, checked by validate_host_gw: suboptions would reject the keys
# other backends' peer tables carry.
ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "family": {"type": "int", "choices": [4, 6], "default": 4},
    "network": {"type": "str", "required": True},
    "dev": {"type": "str"},
    "peers": {"type": "list", "elements": "dict", "default": []},
}

REQUIRED_IF = [("state", "present", ("dev",))]


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True
    )
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
