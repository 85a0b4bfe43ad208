#!/usr/bin/python
"""podnet.fabric.vxlan: one node's VXLAN device and per-peer tunnel state, as flanneld's.

Objects, in apply order (deletes run first, in the reverse order):
  1. the device `flannel.<vni>` / `flannel-v6.<vni>` and its attributes (MTU, MAC, up);
  2. its address, the node subnet's network address /32 (/128);
  3. per tunnelled peer a permanent neighbour `<peer subnet .0> lladdr <peer VTEP MAC>`,
  4. an FDB entry `<peer VTEP MAC> dst <peer public IP> self permanent`,
  5. and last the route `<peer subnet> via <peer .0> dev flannel.1 onlink`; a
     DirectRouting peer on the same segment gets `<peer subnet> via <peer public IP>`
     instead and no neighbour or FDB entry.
Scale: 3 objects per peer, so O(peers) objects on every host and O(fleet^2) in the fleet.
Each run costs one read per object kind (link get, one dump each of addresses,
neighbours, FDB and table main), whatever the fleet size; writes only what differs,
batched per kind. The work lives in module_utils/vxlan/ (entry.run); this file is the
adapter.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vxlan
short_description: Make a node's VXLAN device, neighbours, FDB entries and routes match its plan
version_added: "1.0.0"
description:
  - Creates and reconciles flanneld's VXLAN device (C(flannel.<vni>) for IPv4,
    C(flannel-v6.<vni>) for IPv6) with exactly the attributes flanneld gives it - kind
    vxlan, the VNI, the underlay interface, C(local) address, the kernel's default UDP port
    8472 unless O(port) is set, no learning, ttl 0 (auto), txqueuelen 0, the VTEP MAC, the pod
    MTU, up, and IPv6 C(accept_ra) 0.
  - Gives it the node subnet's network address as a /32 (/128) and removes other addresses of
    that family on the device that lie inside O(network), as flanneld does.
  - Per peer, a permanent neighbour for the peer subnet's network address with the peer's
    VTEP MAC, a C(self permanent) FDB entry sending that MAC to the peer's public IP, and an
    C(onlink) route to the peer subnet via its network address, C(proto boot), table main.
    They are written in that order, routes last, so the kernel never ARPs for a gateway.
  - With O(direct_routing), a peer whose public IP table main reaches without a gateway gets
    a plain route via its public IP instead, and no neighbour or FDB entry.
  - Unlike flanneld, it also reconciles - it changes MTU, MAC, txqueuelen, learning, local,
    the underlay and the up state in place; re-creates the device when the VNI, port or GBP
    differ (the kernel cannot change those); removes the objects of peers that left the
    inventory and the other kind's objects of a peer that switched between direct and
    tunnelled.
  - It owns only what it would create - on its device, permanent neighbours inside
    O(network), C(self permanent) FDB entries with a unicast MAC, and C(proto boot) routes
    inside O(network); on any device, C(proto boot) routes inside O(network) with a
    gateway and without onlink. Everything else (the all-zeros FDB entry, C(proto static)
    routes, objects on other devices) is left alone, and a route of someone else's that
    holds a planned peer's slot in table main is an error, not overwritten.
  - After writing, it reads the kernel again and fails, naming the field, if the kernel
    does not hold what was written (for example udev rewrote the MAC).
options:
  state:
    description: C(absent) deletes the device (its neighbours, FDB entries and onlink routes
      go with it) and, when O(network) is given, the direct routes.
    type: str
    choices: [present, absent]
    default: present
  vni:
    description: The VXLAN ID (flannel's C(VNI)). It also names the device, and a name has at
      most 15 characters, so at most 9999999 for IPv4 and 9999 for IPv6.
    type: int
    default: 1
  family:
    description: The address family of the tunnel - 4 (C(flannel.<vni>) over IPv4) or 6
      (C(flannel-v6.<vni>) over IPv6). O(local), O(subnet), O(network) and every peer's
      addresses must be of this family.
    type: int
    choices: [4, 6]
    default: 4
  port:
    description: The UDP port (flannel's C(Port)). 0 sends none, so the kernel default 8472
      applies.
    type: int
    default: 0
  gbp:
    description: VXLAN Group Based Policy (flannel's C(GBP)).
    type: bool
    default: false
  learning:
    description: Source-address learning on the device (flannel's C(Learning)).
    type: bool
    default: false
  dev:
    description: The underlay interface the tunnel runs over. Required when O(state=present).
    type: str
  local:
    description: This node's public IP of O(family); the VTEP's source address. Required when
      O(state=present).
    type: str
  mtu:
    description: The pod MTU, the device's MTU. At most the underlay MTU minus 50 (IPv4) or 70
      (IPv6). Required when O(state=present).
    type: int
  vtep_mac:
    description: The device's MAC address (unicast). Required when O(state=present).
    type: str
  subnet:
    description: This node's pod subnet, e.g. C(10.244.1.0/24); the device gets its network
      address as a /32 (/128). Required when O(state=present).
    type: str
  network:
    description: The cluster network of O(family), e.g. C(10.244.0.0/16). Bounds what the
      module owns. Required when O(state=present).
    type: str
  direct_routing:
    description: flannel's C(DirectRouting) - route peers reachable on the underlay without a
      gateway directly, without the tunnel.
    type: bool
    default: false
  peers:
    description: The other nodes of the fleet. A peer whose subnet is this node's own and
      whose public IP is O(local) is this node and is skipped.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The node's name, used in messages.
        type: str
        required: true
      subnet:
        description: The node's pod subnet, inside O(network).
        type: str
        required: true
      public_ip:
        description: The node's public IP of O(family), outside O(network).
        type: str
        required: true
      vtep_mac:
        description: The MAC of the node's VXLAN device.
        type: str
        required: true
  peer_table:
    description:
      - The other nodes of the fleet in a compact form, instead of O(peers) - one line per
        peer, C(<name> <subnet> <public_ip> <vtep_mac>) separated by spaces; blank lines are
        skipped. The node role passes this (the plan's table, the same string for every
        host), since at thousands of peers a dict per peer through Ansible's argument checks
        costs more than the kernel work.
      - Each line is checked exactly as an entry of O(peers) is, with the same messages
        (C(peers[<name>].<field>)); a line without four fields fails naming its number.
      - The node itself may be listed; it is skipped as in O(peers). Not together with
        O(peers).
    type: str
    version_added: "1.0.0"
attributes:
  check_mode:
    support: full
    details: Reads the kernel and reports the changes; writes nothing.
  diff_mode:
    support: full
    details: The device's attributes, addresses, neighbours, FDB entries and routes that the
      module owns, before and after.
  platform:
    platforms: linux
requirements:
  - pyroute2 >= 0.9 on the managed node (Python >= 3.9)
notes:
  - Runs as root on the node, in the network namespace it manages.
  - Bad input fails with every problem listed (the field, the value and the fix) before
    anything is read or written.
  - A second identical run reports no change and makes no netlink call that writes.
  - Where it differs from flanneld - it reconciles attributes and removes stale objects;
    direct-routing decisions are made from one dump of table main (longest prefix, no
    gateway) instead of one C(ip route get) per peer.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Tunnel to two peers over eth0, as flanneld's vxlan backend would
  podnet.fabric.vxlan:
    dev: eth0
    local: 192.0.2.11
    mtu: 1450
    vtep_mac: "0a:58:0a:f4:01:00"
    subnet: 10.244.1.0/24
    network: 10.244.0.0/16
    peers:
      - name: node2
        subnet: 10.244.2.0/24
        public_ip: 192.0.2.12
        vtep_mac: "0a:58:0a:f4:02:00"
      - name: node3
        subnet: 10.244.3.0/24
        public_ip: 198.51.100.13
        vtep_mac: "0a:58:0a:f4:03:00"

- name: IPv6 tunnel with DirectRouting for peers on the same segment
  podnet.fabric.vxlan:
    family: 6
    dev: eth0
    local: 2001:db8::11
    mtu: 1430
    vtep_mac: "0a:58:fd:00:01:00"
    subnet: fd00:10:244:1::/64
    network: fd00:10:244::/56
    direct_routing: true
    peers: "{{ podnet_plan.peers.ipv6 | rejectattr('name', 'equalto', inventory_hostname) }}"

- name: The same peers as one table (what the node role passes; the node itself is skipped)
  podnet.fabric.vxlan:
    dev: eth0
    local: 192.0.2.11
    mtu: 1450
    vtep_mac: "0a:58:0a:f4:01:00"
    subnet: 10.244.1.0/24
    network: 10.244.0.0/16
    peer_table: "{{ podnet_plan.peer_tables.ipv4 }}"
- name: Remove the IPv4 device and podnet's direct routes
  podnet.fabric.vxlan:
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
  sample: {state: present, vni: 1, family: 4, dev: eth0, local: 192.0.2.11, mtu: 1450}
ifname:
  description: The device's name.
  returned: always
  type: str
  sample: flannel.1
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
      description: C(link), C(addr), C(neigh), C(fdb) or C(route).
      type: str
    key:
      description: The object - C(flannel.1), C(10.244.1.0/32), C(10.244.2.0),
        C(<mac> dst <ip>), C(10.244.2.0/24).
      type: str
    reason:
      description: "Why - C(missing), C(<field>: <current> vs <wanted>), or C(not in the
        plan) followed by the cause, e.g. that the peer left the inventory."
      type: str
  sample:
    - op: replace
      kind: link
      key: flannel.1
      reason: "mtu: 1500 vs 1450"
    - op: add
      kind: route
      key: 10.244.2.0/24
      reason: "peer node2: missing"
diff:
  description: The owned objects before and after - C(device) (attributes), C(addresses),
    C(neighbours), C(fdb) and C(routes), one line per object.
  returned: in diff mode
  type: dict
  sample:
    before:
      device: null
      addresses: []
      neighbours: {}
      fdb: {}
      routes: {}
    after:
      device: {ifname: flannel.1, vni: 1, dev: eth0, local: 192.0.2.11, mtu: 1450}
      addresses: [10.244.1.0/32 scope 0]
      neighbours: {10.244.2.0: lladdr 0a:58:0a:f4:02:00 permanent}
      fdb: {"0a:58:0a:f4:02:00 dst 192.0.2.12": self permanent}
      routes: {10.244.2.0/24: via 10.244.2.0 dev flannel.1 onlink proto boot}
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.vxlan import entry  # noqa: E402

PEER_OPTIONS = {
    "name": {"type": "str", "required": True},
    "subnet": {"type": "str", "required": True},
    "public_ip": {"type": "str", "required": True},
    "vtep_mac": {"type": "str", "required": True},
}

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "vni": {"type": "int", "default": 1},
    "family": {"type": "int", "choices": [4, 6], "default": 4},
    "port": {"type": "int", "default": 0},
    "gbp": {"type": "bool", "default": False},
    "learning": {"type": "bool", "default": False},
    "dev": {"type": "str"},
    "local": {"type": "str"},
    "mtu": {"type": "int"},
    "vtep_mac": {"type": "str"},
    "subnet": {"type": "str"},
    "network": {"type": "str"},
    "direct_routing": {"type": "bool", "default": False},
    "peers": {"type": "list", "elements": "dict", "default": [], "options": PEER_OPTIONS},
    # One string, checked by module_utils/vxlan/input.py like `peers` (see its doc).
    "peer_table": {"type": "str"},
}

REQUIRED_IF = [("state", "present", ("dev", "local", "mtu", "vtep_mac", "subnet", "network"))]


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True
    )
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
