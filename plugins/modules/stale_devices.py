#!/usr/bin/python
"""podnet.fabric.stale_devices: remove the flannel devices a node's plan no longer names.

Objects: flannel's VXLAN devices of another VNI (`flannel.<VNI>`, `flannel-v6.<VNI>`) and
WireGuard devices of another Mode (`flannel-wg`, `flannel-wg-v6`), with what hangs on them
(neighbours, FDB entries, on-device routes, wireguard-go). VXLAN devices go first, then
WireGuard's, each removed by its backend's own entry with state=absent, exactly as the
vxlan and wireguard modules remove it. Cost: one sysfs listing; nothing more when no
device is stale. The work lives in module_utils/devices/; this file is the Ansible shell.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stale_devices
short_description: Remove the flannel devices that are not in a node's plan
version_added: "1.0.0"
description:
  - Lists the host's network devices and removes every device named as flannel names its
    devices (C(flannel.<vni>), C(flannel-v6.<vni>), C(flannel-wg), C(flannel-wg-v6)) that
    the plan does not keep - a VXLAN device of another VNI, any VXLAN device when the
    backend is not vxlan, a WireGuard device of another Mode or backend.
  - Each device is removed as the M(podnet.fabric.vxlan) or M(podnet.fabric.wireguard)
    module removes it with C(state=absent), so its neighbours,
    FDB entries and on-device routes go with it, and a wireguard-go process stops.
  - Devices with other names are never touched.
options:
  vni:
    description:
      - The VNI of the plan's VXLAN devices; C(flannel.<vni>) and C(flannel-v6.<vni>) are
        kept (the vxlan module itself removes the one of a family the plan dropped).
      - Omit it when the backend is not vxlan, so that no VXLAN device is kept.
    type: int
  wireguard_devices:
    description: The WireGuard devices the plan uses (none unless the backend is wireguard).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    details: Lists the devices and reports what would be removed; removes nothing.
  diff_mode:
    support: full
    details: Per stale device, its backend module's view before and after.
  platform:
    platforms: linux
requirements:
  - pyroute2 >= 0.9 on the managed node when a VXLAN device is stale
notes:
  - Runs as root on the node, in the network namespace it manages.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Remove the devices of another VNI or backend, keeping the plan's VXLAN devices
  podnet.fabric.stale_devices:
    vni: 1

- name: Under WireGuard (Mode dual-stack), keep its two devices and remove any VXLAN device
  podnet.fabric.stale_devices:
    wireguard_devices: [flannel-wg, flannel-wg-v6]
"""

RETURN = r"""
args:
  description: The module's arguments as Ansible normalised them.
  returned: always
  type: dict
stale:
  description: The devices removed (or that would be, in check mode), VXLAN first.
  returned: always
  type: list
  elements: str
  sample: [flannel.2, flannel-wg]
changes:
  description: The backends' changes, in the order applied.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: Always C(delete).
      type: str
    kind:
      description: The object's kind, e.g. C(link).
      type: str
    key:
      description: The object, e.g. C(flannel.2).
      type: str
    reason:
      description: Why it goes.
      type: str
diff:
  description: Per stale device, its backend module's --diff view before and after.
  returned: in diff mode
  type: dict
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.devices import entry  # noqa: E402

ARGUMENT_SPEC = {
    "vni": {"type": "int"},
    "wireguard_devices": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
