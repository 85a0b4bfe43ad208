#!/usr/bin/python
# Copyright: podnet authors
# Apache License 2.0 (see LICENSE)
"""Documentation of the podnet.fabric.plan action; the work runs on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: plan
short_description: Plan a podnet fleet once, on the controller
version_added: "1.0.0"
description:
  - Reads flannel's net-conf.json, the variables and facts of every host of an inventory
    group, and the lease file, then computes every node's pod subnet(s), VTEP MAC(s) and the
    fleet's one pod MTU with the podnet library. The fleet is the inventory group, not the
    hosts of the play, so C(--limit) never drops a peer or moves a subnet.
  - A node's underlay interface, address and MTU come from C(podnet_iface),
    C(podnet_public_ip), C(podnet_public_ipv6) and C(podnet_mtu) when set, otherwise from its
    gathered network facts (the default-route interface, its primary address and MTU),
    otherwise from the lease file's record of where the node was last seen.
  - A node's subnet comes from its pin (C(podnet_subnet), C(podnet_ipv6_subnet)), else the
    lease file, else what the host uses now - the registered result of
    M(podnet.fabric.flannel_facts) (C(podnet_flannel_facts)), read from its C(subnet.env)
    or its flannel device's /32 - else the lowest free subnet, in node-name order. A
    current subnet podnet cannot keep (outside the range, or held by another node) is an
    error naming both nodes and the fix, never a silent renumbering.
  - With VXLAN, a node's VTEP MAC comes from the lease file (C(vtep_mac), C(vtep_mac_v6)),
    else from the host's C(flannel.<VNI>) / C(flannel-v6.<VNI>) device (flannel's random
    MAC, which every peer has programmed), else it is derived from the node's name. MACs
    that are not the derived ones are recorded in the lease file.
  - When the play read its hosts with M(podnet.fabric.flannel_facts), a node it did not read
    (left out by C(--limit), or unreachable) that has neither a pin nor a lease line stops
    the plan, naming the node, since the subnet it may already use cannot be known.
  - Records the allocation, where each node was seen and the adopted MACs in the lease file
    (atomically; only when something changed; not in check mode).
  - Any problem (bad net-conf, a node nobody can place, exhausted range, overlaps, host-gw
    nodes on different L2 segments, host-gw behind NAT) fails the task with every problem
    listed, before any host is changed. Run it with C(run_once).
  - With WireGuard, each node's public key comes from its C(podnet_wireguard_public_key)
    fact (set from M(podnet.fabric.wireguard_key)), else from the lease file, which records
    it. Private keys never reach the controller, and the PSK is never part of the plan.
options:
  net_conf:
    description: flannel's net-conf.json, as a dict or the path of a JSON file on the controller.
    type: raw
    required: true
  group:
    description: The inventory group whose hosts form the fleet.
    type: str
    default: podnet_nodes
  lease_file:
    description:
      - The lease file on the controller. Default C(podnet-leases.yml) beside the inventory.
    type: path
  service_cidrs:
    description: The cluster's service ranges; the pod network may not overlap them.
    type: list
    elements: str
    default: []
  ip_masq:
    description: Whether nodes masquerade pod traffic leaving the pod network (C(FLANNEL_IPMASQ)).
    type: bool
    default: true
  cni_mode:
    description:
      - C(bridge) renders a self-contained conflist for the stock bridge/host-local/portmap
        plugins; C(flannel) renders flannel's own C(10-flannel.conflist).
    type: str
    choices: [bridge, flannel]
    default: bridge
  require_keys:
    description:
      - With WireGuard, fail naming every node whose public key is unknown (neither a fact
        of this run nor in the lease file). Without it such a node is left out of the peer
        tables (check mode on hosts that have no key yet).
    type: bool
    default: false
  psk_only:
    description:
      - Return only C(psk), the WireGuard PSK of O(net_conf) (null when unset), and plan
        nothing. Use it in a task with C(no_log), so the secret reaches the WireGuard task
        without appearing in any output.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: The plan is computed; the lease file is not written.
  diff_mode:
    support: full
    details: Shows the lease file before and after.
  action:
    support: full
    details: Everything runs in the action plugin, on the controller.
  async:
    support: none
  bypass_host_loop:
    support: none
    details: Run it with C(run_once); it plans every host of O(group) whatever the play's hosts.
  platform:
    platforms: posix
notes:
  - The library (C(podnet)) is imported from the controller's Python, or from the C(library/)
    directory shipped inside the collection.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Plan the fleet
  podnet.fabric.plan:
    net_conf: "{{ podnet_net_conf }}"
    lease_file: "{{ inventory_dir }}/podnet-leases.yml"
  run_once: true
  register: podnet_plan
"""

RETURN = r"""
mtu:
  description: The pod MTU of the whole fleet.
  returned: success
  type: int
  sample: 1450
backend:
  description:
    - The backend and its settings - C(type), VXLAN's C(vni), C(port), C(gbp), C(learning),
      C(direct_routing), WireGuard's C(persistent_keepalive_interval), C(wireguard_devices)
      (device names) and C(psk) (a bool - whether a PSK is set, never its value).
  returned: success
  type: dict
families:
  description: The enabled address families.
  returned: success
  type: list
  elements: int
  sample: [4]
nodes:
  description:
    - Per node name, what that node applies - C(iface); C(vxlan) (vxlan backend), one entry
      per family with C(state), C(network), C(subnet), C(local), C(vtep_mac); C(host_gw), one
      entry per family with C(family), C(network), C(state) (present for host-gw, absent for
      WireGuard, empty for vxlan, whose module owns the same routes); C(wireguard), one entry
      per device with C(device), C(listen_port), C(addresses), C(routes);
      C(wireguard_public_key); C(masquerade), the families' networks and subnets; the text of
      C(subnet_env) and C(cni_conflist).
  returned: success
  type: dict
peers:
  description:
    - Per family (C(ipv4), C(ipv6)), every node's name, subnet, public_ip and vtep_mac; under
      C(wireguard), per device, every node with a known key - name, public_key, endpoint,
      allowed_ips. Each host filters itself out.
  returned: success
  type: dict
psk:
  description: Only with O(psk_only) - the PSK, or null.
  returned: when psk_only
  type: str
lease_file:
  description: The lease file's path.
  returned: success
  type: str
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

# The options above as an argument spec, only so that a run that reaches a host fails the
# usual way (ansible-test checks that it matches DOCUMENTATION).
ARGUMENT_SPEC = {
    "net_conf": {"type": "raw", "required": True},
    "group": {"type": "str", "default": "podnet_nodes"},
    "lease_file": {"type": "path"},
    "service_cidrs": {"type": "list", "elements": "str", "default": []},
    "ip_masq": {"type": "bool", "default": True},
    "cni_mode": {"type": "str", "choices": ["bridge", "flannel"], "default": "bridge"},
    "require_keys": {"type": "bool", "default": False},
    "psk_only": {"type": "bool", "default": False},
}


def main() -> None:
    # Only the action plugin of the same name does anything; reaching a host means the
    # collection's action plugins were not found.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="podnet.fabric.plan runs on the controller only")


if __name__ == "__main__":
    main()
