#!/usr/bin/python
# Copyright: podnet authors
# Apache License 2.0 (see LICENSE)
"""podnet.fabric.probe: verify.yml's probe on one node (module_utils/probe/)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: probe
short_description: A throwaway pod-like probe on a node, for verify.yml
version_added: "1.0.0"
description:
  - C(state=present) makes the network namespace C(podnet-probe), attached like a pod (a
    veth C(podnet-probe) whose host end routes one address of the node's pod subnet per
    family to it), and reads the counters verify compares later.
  - C(state=probe) pings each peer's probe from it (reachability, the pod MTU's DF boundary,
    and the largest DF packet that crosses when the boundary fails) and each peer's public
    address over the underlay, peers in parallel.
  - C(state=absent) reads the counters again, the forwarding and rp_filter sysctls, the
    underlay MTU, WireGuard handshakes and underlay neighbours, then removes the probe.
  - Nothing else on the node changes; the result is never C(changed). In check mode it does
    nothing.
options:
  state:
    description: Which step (see above).
    type: str
    choices: [present, probe, absent]
    required: true
  subnets:
    description: The node's pod subnets (one per family); the probe takes the highest
      address of each that no pod holds (host-local's reservations are read).
    type: list
    elements: str
    default: []
  netns:
    description:
      - The probe's network namespace. The namespace lab's nodes share one C(/run/netns),
        so its inventory names one per node.
    type: str
    default: podnet-probe
  mtu:
    description: The pod MTU (the probe's, and the DF boundary's).
    type: int
  peers:
    description: The peers to probe.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The peer's inventory name.
        type: str
        required: true
      address:
        description: The peer's probe address.
        type: str
        required: true
      public_ip:
        description: The peer's public (underlay) address.
        type: str
        required: true
  iface:
    description: The underlay interface.
    type: str
  overlay:
    description: The backend's device (C(flannel.1), C(flannel-wg)); none for host-gw.
    type: str
  families:
    description: The pod network's address families.
    type: list
    elements: int
    default: [4]
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Make the probe
  podnet.fabric.probe:
    state: present
    subnets: [10.244.1.0/24]
    mtu: 1450
    overlay: flannel.1
"""

RETURN = r"""
addresses:
  description: The probe's addresses (state present).
  returned: success
  type: list
  elements: str
peers:
  description: Per peer, the checks (state probe).
  returned: success
  type: list
  elements: dict
before:
  description: Counters when the probe was made.
  returned: success
  type: dict
after:
  description: Counters before the probe was removed.
  returned: success
  type: dict
sysctls:
  description: Forwarding and the effective rp_filter per device (state absent).
  returned: success
  type: dict
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.probe import entry  # noqa: E402

ARGUMENT_SPEC = {
    "state": {"type": "str", "required": True, "choices": ["present", "probe", "absent"]},
    "subnets": {"type": "list", "elements": "str", "default": []},
    "netns": {"type": "str", "default": "podnet-probe"},
    "mtu": {"type": "int"},
    "peers": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "address": {"type": "str", "required": True},
            "public_ip": {"type": "str", "required": True},
        },
    },
    "iface": {"type": "str"},
    "overlay": {"type": "str"},
    "families": {"type": "list", "elements": "int", "default": [4]},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
