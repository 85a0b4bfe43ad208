#!/usr/bin/python
"""podnet.fabric.wireguard: one node's WireGuard device and its peers, as flanneld's.

Objects, in apply order (deletes run first, in the reverse order):
  1. the device `flannel-wg` / `flannel-wg-v6` (kernel module, or wireguard-go's TUN where
     the kernel has none and userspace is allowed), MTU, txqueuelen 0 (500 for the TUN), up;
  2. wg's settings: the private key (from the key file, by path), listen port, no fwmark;
  3. its address(es), the node subnet's network address /32 (/128);
  4. the peers: public key, endpoint, allowed IPs, PSK, keepalive, all in one `wg set`;
  5. and last a route per cluster network through the device, scope link, proto boot.
Scale: one peer per other node, so O(peers) per host, O(fleet^2) in the fleet; a run
costs six reads whatever the fleet size and writes only what differs. The work lives in
module_utils/wireguard/; its entry.py is the adapter (the boot restore runs it too), and
this file is the Ansible shell around it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wireguard
short_description: Make a node's WireGuard device, peers and routes match its plan
version_added: "1.0.0"
description:
  - Creates and reconciles flanneld's WireGuard device (C(flannel-wg), and C(flannel-wg-v6)
    in flannel's C(separate) mode) with what flanneld gives it - the pod MTU, txqueuelen 0
    (wireguard-go's TUN keeps the tun driver's 500 - there it is the queue to wireguard-go,
    and 0 would drop every packet), the node's private key, the listen port, no fwmark,
    up - the node subnet's network address as a /32 (/128), and one route per cluster
    network through the device (C(scope link proto boot)).
  - Per peer, its public key, endpoint, allowed IPs (its pod subnets), the fleet's
    preshared key and the keepalive interval.
  - Uses the kernel's WireGuard where the host has it; otherwise, when O(userspace) is
    true, runs C(wireguard-go) for the device. With neither, it fails before changing
    anything, saying what the host lacks. A device that exists keeps its implementation.
  - Unlike flanneld, it reconciles instead of re-creating the device on every start (no
    tunnel outage on a re-run), removes peers that are not in O(peers), and removes the
    previous key of a peer whose key changed (flanneld leaves it behind).
  - It owns the device and everything on it - all of its addresses (but link-local ones)
    and the C(proto boot) routes through it in table main. Everything else on the host is
    left alone, and a route of someone else's that holds a planned route's place in table
    main is an error, not overwritten.
  - The current state is read from C(ip -j) and C(wg show <device> dump), not from a
    configuration file, so drift of any kind is seen. After writing, it reads again and
    fails if the device still differs from the plan.
options:
  state:
    description: V(absent) deletes the device (its addresses, peers and routes go with it;
      a C(wireguard-go) serving it exits, and its socket is removed). The key file stays;
      M(podnet.fabric.wireguard_key) removes it.
    type: str
    choices: [present, absent]
    default: present
  device:
    description: The device's name, C(flannel-wg) or C(flannel-wg-v6) as flanneld names them.
    type: str
    default: flannel-wg
  key_file:
    description:
      - The node's private key file, as M(podnet.fabric.wireguard_key) writes it. Read on the
        node; the key is handed to C(wg) by path and never returned. Required when
        O(state=present).
      - In check mode a key file that does not exist yet is reported as a key change.
    type: path
  listen_port:
    description: The UDP port the device listens on (flannel's C(ListenPort), or
      C(ListenPortV6) for C(flannel-wg-v6)).
    type: int
    default: 51820
  mtu:
    description: The device's MTU, the pod MTU (the underlay MTU minus the WireGuard overhead).
    type: int
    default: 1420
  addresses:
    description: The device's addresses, each the node subnet's network address as a /32 or
      /128. One per family; a single-device mode carries both families.
    type: list
    elements: str
  routes:
    description: The cluster networks routed through the device, e.g. C(10.244.0.0/16).
    type: list
    elements: str
    default: []
  psk:
    description: flannel's C(PSK) - a base64 preshared key, the same for every peer. Never
      logged or returned; passed to C(wg) through a 0600 temporary file.
    type: str
  persistent_keepalive:
    description: Seconds between keepalives to each peer (flannel's
      C(PersistentKeepaliveInterval)); 0 turns them off.
    type: int
    default: 0
  userspace:
    description: Whether C(wireguard-go) may be used when the kernel has no WireGuard.
    type: bool
    default: false
  wireguard_go:
    description: The C(wireguard-go) program, a name looked up on PATH or a path.
    type: str
    default: wireguard-go
  peers:
    description: The other nodes. A peer whose public key is this node's own is this node
      and is skipped, so the fleet's whole peer table may be passed.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The node's name, used in messages and in the diff.
        type: str
        required: true
      public_key:
        description: Its WireGuard public key (base64 of 32 bytes).
        type: str
        required: true
      endpoint:
        description: Where it listens, C(address:port) or C([address]:port) for IPv6. An IP
          address, not a host name.
        type: str
        required: true
      allowed_ips:
        description: Its pod subnets; traffic to them goes to this peer. No two peers may
          overlap, and none may hold this node's own address.
        type: list
        elements: str
        default: []
attributes:
  check_mode:
    support: full
    details: Reads the host and reports the changes; writes nothing and starts nothing.
  diff_mode:
    support: full
    details: The device's attributes, addresses, peers (by public key, with name, endpoint,
      allowed IPs, keepalive and whether the PSK matches) and routes, before and after.
      No secret is shown.
  platform:
    platforms: linux
requirements:
  - ip (iproute2) and wg (wireguard-tools) on the node; wireguard-go where it is used.
notes:
  - Runs as root on the node, in the network namespace it manages. wireguard-go keeps its
    UAPI socket in C(/var/run/wireguard), a fixed path - two namespaces on one machine that
    both run a C(flannel-wg) through wireguard-go each need their own mount namespace
    with a private C(/run/wireguard).
  - Bad input fails with every problem listed (the field, the value and the rule) before
    anything is read or written; a missing WireGuard implementation fails before any write.
  - A second identical run reports no change and runs only commands that read.
  - WireGuard moves a peer's endpoint to wherever its authenticated packets come from. A
    peer behind NAT therefore shows another endpoint than planned, and each run sets the
    planned one again (flanneld does the same on every lease event).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
seealso:
  - module: podnet.fabric.wireguard_key
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: The node's key (created once, kept across runs and reboots)
  podnet.fabric.wireguard_key:
    key_file: /etc/podnet/wireguard.key
    userspace: true
  register: wg_key

- name: Device, peers and route, as flanneld's wireguard backend would
  podnet.fabric.wireguard:
    device: flannel-wg
    key_file: /etc/podnet/wireguard.key
    listen_port: 51820
    mtu: 1420
    addresses: [10.244.1.0/32]
    routes: [10.244.0.0/16]
    userspace: true
    peers:
      - name: node2
        public_key: "pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI="
        endpoint: "192.0.2.12:51820"
        allowed_ips: [10.244.2.0/24]
      - name: node3
        public_key: "SEjOOauy9N+3ju15N9cXl+PCO7YSJgfCJm3E2VSIAic="
        endpoint: "[2001:db8::13]:51820"
        allowed_ips: [10.244.3.0/24]

- name: One device for both families (flannel's Mode auto/ipv4/ipv6), with a PSK
  podnet.fabric.wireguard:
    key_file: /etc/podnet/wireguard.key
    addresses: [10.244.1.0/32, "fd00:10:244:1::/128"]
    routes: [10.244.0.0/16, "fd00:10:244::/56"]
    psk: "{{ podnet_wireguard_psk }}"
    persistent_keepalive: 25
    peers: "{{ podnet_plan.peers.wireguard['flannel-wg'] }}"
  no_log: true  # the task's arguments hold the PSK

- name: Remove the device (the key file stays)
  podnet.fabric.wireguard:
    device: flannel-wg
    state: absent
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
    converted; no_log values masked), which is what the boot restore records and replays.
  returned: always
  type: dict
ifname:
  description: The device's name.
  returned: always
  type: str
  sample: flannel-wg
implementation:
  description: How the device runs - V(kernel) or V(userspace) (wireguard-go); null when
    there is no device (state=absent), and in check mode, the one that would be used.
  returned: always
  type: str
  sample: userspace
public_key:
  description: This node's public key, derived from O(key_file); null for state=absent
    and in check mode before the key file exists.
  returned: always
  type: str
  sample: "YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtRo="
changes:
  description: What was changed (or would be, in check mode), in the order it was applied.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: V(add), V(replace) or V(delete).
      type: str
    kind:
      description: V(link), V(wg) (private key, listen port, fwmark), V(addr), V(peer) or
        V(route).
      type: str
    key:
      description: The object - the device name, an address, a peer's public key, a route's
        destination.
      type: str
    reason:
      description: "Why - V(missing), V(<field>: <current> vs <wanted>), or V(not in the
        plan) followed by the cause, e.g. that the peer left the inventory or its key
        changed."
      type: str
  sample:
    - op: replace
      kind: peer
      key: "pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI="
      reason: "peer node2: endpoint: 192.0.2.99:51820 vs 192.0.2.12:51820"
    - op: add
      kind: route
      key: 10.244.0.0/16
      reason: missing
diff:
  description: The owned objects before and after - C(device) (attributes), C(addresses),
    C(peers) (by public key) and C(routes). No private or preshared key.
  returned: in diff mode
  type: dict
  sample:
    before:
      device: null
      addresses: []
      peers: {}
      routes: {}
    after:
      device: {ifname: flannel-wg, implementation: kernel, mtu: 1420, txqlen: 0, up: true,
               public_key: "YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtRo=",
               listen_port: 51820, fwmark: 0}
      addresses: [10.244.1.0/32]
      peers: {"pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI=": "node2: endpoint
              192.0.2.12:51820, allowed-ips 10.244.2.0/24, keepalive off, psk none"}
      routes: {10.244.0.0/16: dev flannel-wg scope link proto boot}
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.wireguard import entry  # noqa: E402

PEER_OPTIONS = {
    "name": {"type": "str", "required": True},
    "public_key": {"type": "str", "required": True},
    "endpoint": {"type": "str", "required": True},
    "allowed_ips": {"type": "list", "elements": "str", "default": []},
}

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "device": {"type": "str", "default": "flannel-wg"},
    "key_file": {"type": "path"},
    "listen_port": {"type": "int", "default": 51820},
    "mtu": {"type": "int", "default": 1420},
    "addresses": {"type": "list", "elements": "str"},
    "routes": {"type": "list", "elements": "str", "default": []},
    "psk": {"type": "str", "no_log": True},
    "persistent_keepalive": {"type": "int", "default": 0},
    "userspace": {"type": "bool", "default": False},
    "wireguard_go": {"type": "str", "default": "wireguard-go"},
    "peers": {"type": "list", "elements": "dict", "default": [], "options": PEER_OPTIONS},
}

REQUIRED_IF = [("state", "present", ("key_file", "addresses"))]


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True
    )
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
