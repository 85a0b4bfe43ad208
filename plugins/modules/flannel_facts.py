#!/usr/bin/python
"""podnet.fabric.flannel_facts: what a running flannel (or an earlier podnet run) left on a
host that the plan must keep - the node's lease and its VXLAN devices' MACs. Read only.

Sources: /run/flannel/subnet.env (the lease, as flanneld wrote it) and the host's
flannel-named devices (their /32 or /128 is the lease's network address; a VXLAN
device's MAC is what every peer has programmed). The controller (podnet.fabric.plan)
turns them into the node's observed lease. One file read and one `ip -d -j addr show`,
whatever the fleet size; no pyroute2 (not even imported). The work lives in
module_utils/flannel_facts/; its entry.py is the adapter, and this file is the Ansible
shell around it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: flannel_facts
short_description: Read the pod subnet and VTEP MACs a running flannel left on a host
version_added: "1.0.0"
description:
  - Reads the node's current lease from flannel's C(subnet.env) (O(path)) - C(FLANNEL_SUBNET)
    and C(FLANNEL_IPV6_SUBNET), which hold the lease's first address and prefix, returned as
    the lease's network (C(10.244.7.1/24) gives C(10.244.7.0/24)).
  - Lists flannel's devices (C(flannel.<VNI>), C(flannel-v6.<VNI>), C(flannel-wg),
    C(flannel-wg-v6)) with their kind, VNI, MAC and addresses. A device's /32 (/128) is its
    node's lease's network address, which says the lease when C(subnet.env) is gone; the
    prefix length is the net-conf's C(SubnetLen), which M(podnet.fabric.plan) applies.
  - Changes nothing, in any mode; RV(changed) is always false. M(podnet.fabric.plan) reads
    the registered result of every host (the role registers it as C(podnet_flannel_facts))
    to keep, for nodes the lease file does not know yet, the subnet and VXLAN MAC they use
    now, so adopting a running flannel changes no pod IP and no peer entry.
options:
  network_facts:
    description:
      - Also return, as RV(ansible_facts), the network facts the plan reads in
        M(ansible.builtin.setup)'s shape - C(interfaces), each interface's C(device), C(mtu),
        C(macaddress), C(ipv4) (primary), C(ipv4_secondaries) and C(ipv6), C(default_ipv4)
        and C(default_ipv6) (found as setup finds them, with C(ip route get)) - and
        C(python.executable). The node role sets it, so an unchanged run gathers nothing
        but this module's one read.
    type: bool
    default: false
    version_added: "1.0.0"
  path:
    description: The subnet.env file flanneld writes (its C(--subnet-file)).
    type: path
    default: /run/flannel/subnet.env
  check_pyroute2:
    description:
      - Also fail, changing nothing, when the pyroute2 this Python imports cannot serve
        podnet's other modules (missing, or outside C(>=0.7.7,<0.10)), naming the version
        found, the version needed and the fix. The role sets it when it does not provide
        pyroute2 itself (C(podnet_pyroute2_provide=false)), so such a host stops before the
        plan. This module itself needs no pyroute2.
    type: bool
    default: false
  bridge:
    description:
      - The CNI bridge whose address networks to return in RV(bridge_networks). The role
        runs M(podnet.fabric.cni_bridge) only where one of them is not the node's subnet.
    type: str
    default: cni0
    version_added: "1.0.0"
  sysctls:
    description:
      - Kernel parameters (sysctl names, as M(podnet.fabric.sysctl) takes them) whose current
        values to return in RV(sysctls). The role asks for the forwarding ones, so an
        unchanged run skips setting them.
    type: list
    elements: str
    default: []
    version_added: "1.0.0"
  paths:
    description:
      - Paths whose state to return in RV(paths), read as M(podnet.fabric.files) reads them.
        The role asks for its provided pyroute2 copy, its boot restore program and every path
        its files call writes, so an unchanged run sends and writes none of them.
    type: list
    elements: path
    default: []
    version_added: "1.0.0"
attributes:
  check_mode:
    support: full
    details: Reads the same in check mode; it never changes anything.
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - iproute2 (C(ip))
notes:
  - A malformed subnet or network line in O(path) fails the task, naming the key and value;
    a missing file is no error (the host has no flannel, or /run was cleared by a reboot).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Read what a running flannel left on the host (read only)
  podnet.fabric.flannel_facts:
    path: /run/flannel/subnet.env
  register: podnet_flannel_facts
"""

RETURN = r"""
changed:
  description: Always false - the module only reads.
  returned: always
  type: bool
  sample: false
args:
  description: The module's arguments as Ansible normalised them (defaults filled, types
    converted).
  returned: always
  type: dict
changes:
  description: Always empty - the module only reads (every podnet module returns it).
  returned: always
  type: list
  elements: dict
subnet:
  description: The IPv4 lease from FLANNEL_SUBNET, as a network CIDR; null without one.
  returned: always
  type: str
  sample: 10.244.7.0/24
ipv6_subnet:
  description: The IPv6 lease from FLANNEL_IPV6_SUBNET, as a network CIDR; null without one.
  returned: always
  type: str
  sample: fd00:10:244:7::/64
network:
  description: FLANNEL_NETWORK, the cluster network flannel ran with; null without one.
  returned: always
  type: str
  sample: 10.244.0.0/16
ipv6_network:
  description: FLANNEL_IPV6_NETWORK; null without one.
  returned: always
  type: str
subnet_env:
  description: The file as read - C(path), C(found) (whether it exists) and C(values), every
    C(KEY=value) line.
  returned: always
  type: dict
  sample:
    path: /run/flannel/subnet.env
    found: true
    values: {FLANNEL_NETWORK: 10.244.0.0/16, FLANNEL_SUBNET: 10.244.7.1/24,
             FLANNEL_MTU: "1450", FLANNEL_IPMASQ: "true"}
ansible_facts:
  description: With O(network_facts), the host's interfaces, default interfaces and Python as
    M(ansible.builtin.setup) names them (the subset the plan reads).
  returned: when O(network_facts) is true
  type: dict
  sample:
    interfaces: [eth0, lo]
    default_ipv4: {interface: eth0, address: 192.0.2.11}
    eth0: {device: eth0, mtu: 1500, ipv4: {address: 192.0.2.11, network: 192.0.2.0,
           netmask: 255.255.255.0, prefix: "24", broadcast: 192.0.2.255}}
    python: {executable: /usr/bin/python3}
paths:
  description: What each path of O(paths) holds, by path; null where there is nothing.
  returned: always
  type: dict
  sample:
    /run/flannel/subnet.env: {kind: file, mode: "0644", sha256: 3f1c0b0e...}
    /run/flannel: {kind: dir, mode: "0755", sha256: null}
    /etc/podnet/wireguard.psk: null
  contains:
    kind:
      description: C(file) (a regular file), C(dir), or C(other) (a link, a device, ...).
      type: str
    mode:
      description: The permission bits, as octal text.
      type: str
    sha256:
      description: A regular file's SHA-256 (hex); null for anything else.
      type: str
sysctls:
  description: The value of each parameter of O(sysctls) (runs of whitespace folded); null
    where the parameter does not exist.
  returned: always
  type: dict
  sample: {net.ipv4.ip_forward: "1", net.ipv6.conf.all.forwarding: "0"}
bridge_networks:
  description: The networks of O(bridge)'s addresses (link-local ones aside), sorted; empty
    when there is no such bridge (no pod has started).
  returned: always
  type: list
  elements: str
  sample: [10.244.7.0/24]
devices:
  description: flannel's devices on the host, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    ifname:
      description: The device's name.
      type: str
    kind:
      description: C(vxlan) or C(wireguard).
      type: str
    vni:
      description: The VXLAN ID; null for WireGuard.
      type: int
    mac:
      description: The VXLAN device's MAC (flannel's random VTEP MAC); null for WireGuard.
      type: str
    addresses:
      description: Its addresses other than link-local ones, as C(address/prefix).
      type: list
      elements: str
  sample:
    - ifname: flannel.1
      kind: vxlan
      vni: 1
      mac: 5e:2d:81:0c:3b:7a
      addresses: [10.244.7.0/32]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.flannel_facts import entry  # noqa: E402

ARGUMENT_SPEC = {
    "path": {"type": "path", "default": "/run/flannel/subnet.env"},
    "check_pyroute2": {"type": "bool", "default": False},
    "paths": {"type": "list", "elements": "path", "default": []},
    "network_facts": {"type": "bool", "default": False},
    "bridge": {"type": "str", "default": "cni0"},
    "sysctls": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
