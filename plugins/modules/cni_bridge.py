#!/usr/bin/python
# Copyright: podnet authors
# Apache License 2.0 (see LICENSE)
"""podnet.fabric.cni_bridge: the CNI bridge's old gateway after a node's subnet changed.

What it may change: one kind of object only, an address of the bridge inside a cluster
network but outside the node's subnet (an old gateway), and only once no pod holds an
address of that old subnet. The bridge itself is the CNI bridge plugin's; nothing else of
it is touched. The work lives in module_utils/cni_bridge/.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cni_bridge
short_description: Remove the CNI bridge's old gateway once no pod uses the old subnet
version_added: "1.0.0"
description:
  - >-
    After a node's pod subnet changed (a pin, a renumbering), the CNI bridge plugin refuses
    every new pod (C(failed to set bridge addr: "cni0" already has an IP address different
    from ...)) because the bridge keeps the old subnet's gateway. flannel's users delete
    C(cni0) by hand.
  - This module reads the bridge's addresses and host-local's reservations
    (O(ipam_dir)). An address inside O(networks) but outside O(subnets) is an old gateway.
    When no pod holds an address of its subnet it is deleted, and the bridge plugin adds
    the new gateway when the next pod starts; otherwise it stays, and a warning names the
    containers still holding old addresses (drain the node, then run again).
options:
  bridge:
    description: The CNI bridge (the conflist's C(bridge)).
    type: str
    default: cni0
  subnets:
    description: This node's pod subnets now, one per family (C(FLANNEL_SUBNET)).
    type: list
    elements: str
    required: true
  networks:
    description: The cluster networks (net-conf.json C(Network), C(IPv6Network)).
    type: list
    elements: str
    required: true
  ipam_dir:
    description: host-local's store for the conflist's network (C(/var/lib/cni/networks/<name>)).
    type: path
    default: /var/lib/cni/networks/cbr0
requirements:
  - ip (iproute2)
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are the bridge's global addresses.
  platform:
    platforms: linux
notes:
  - No bridge (no pod started yet) is nothing to do. Addresses outside O(networks) are never
    touched.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Drop cni0's old gateway after node1 was renumbered to 10.244.77.0/24
  podnet.fabric.cni_bridge:
    subnets: [10.244.77.0/24]
    networks: [10.244.0.0/16]
"""

RETURN = r"""
args:
  description: The module's arguments as Ansible normalised them.
  returned: always
  type: dict
changes:
  description: The old gateways deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - op: delete
      kind: addr
      key: cni0 10.244.1.1/24
      reason: >-
        the old gateway: the node's subnet is 10.244.77.0/24 now, and no pod holds an
        address in 10.244.1.0/24
bridge:
  description: The bridge looked at.
  returned: always
  type: str
  sample: cni0
runtime:
  description: The Python the module ran with.
  returned: always
  type: dict
diff:
  description: The bridge's global addresses before and after.
  returned: in diff mode
  type: dict
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.cni_bridge import entry  # noqa: E402
from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402

ARGUMENT_SPEC = {
    "bridge": {"type": "str", "default": "cni0"},
    "subnets": {"type": "list", "elements": "str", "required": True},
    "networks": {"type": "list", "elements": "str", "required": True},
    "ipam_dir": {"type": "path", "default": "/var/lib/cni/networks/cbr0"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
