#!/usr/bin/python
"""podnet.fabric.reset_facts: what reset.yml may remove on a node, decided on the node.

Read only. One read of the host (podnet's paths, the entries of its directories,
subnet.env, the conflist, the boot unit, /run/systemd/system, /proc/self/mountinfo and
/sys/class/net), then the ownership rules of module_utils/reset/decide.py; reset.yml only
acts on the answers. This file is the Ansible shell.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: reset_facts
short_description: Decide what reset.yml may remove on a node (read only)
version_added: "1.0.0"
description:
  - Reads what podnet may have left on the node and answers, by podnet's ownership rules,
    what a reset removes. Changes nothing.
  - The state directory is podnet's own only when it is an absolute, normalised path at
    least two levels deep that is no shared configuration directory and holds none.
  - The CNI conflist is podnet's only when it is the file podnet writes with these
    settings, give or take the MTU, C(ipMasq) and the node's subnet.
  - A directory goes only when it is empty once podnet's entries are gone and is no mount
    point (a mounted directory is emptied, not removed).
options:
  state_dir:
    description: podnet's state directory (C(podnet_state_dir)).
    type: str
    required: true
  subnet_env_path:
    description: Where subnet.env is written.
    type: str
    required: true
  cni_conf_dir:
    description: The CNI configuration directory.
    type: str
    required: true
  conflist_name:
    description: The conflist's file name in O(cni_conf_dir).
    type: str
    required: true
  conflist:
    description: The conflist podnet writes for this node now.
    type: str
    required: true
  unit_dir:
    description: The directory of the boot unit C(podnet-restore.service).
    type: str
    required: true
  key_file:
    description: The WireGuard private key file.
    type: str
    required: true
  keep_key:
    description: Keep the key file (and the state directory's entry that holds it).
    type: bool
    default: true
  networks:
    description: The plan's cluster networks; those subnet.env recorded are added.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    details: Read only in any mode.
  diff_mode:
    support: none
  platform:
    platforms: linux
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Decide what the reset removes
  podnet.fabric.reset_facts:
    state_dir: /etc/podnet
    subnet_env_path: /run/flannel/subnet.env
    cni_conf_dir: /etc/cni/net.d
    conflist_name: 10-flannel.conflist
    conflist: "{{ podnet_plan.nodes[inventory_hostname].cni_conflist }}"
    unit_dir: /etc/systemd/system
    key_file: /etc/podnet/wireguard.key
    networks: [10.244.0.0/16]
  register: podnet_reset
"""

RETURN = r"""
args:
  description: The module's arguments as Ansible normalised them.
  returned: always
  type: dict
state_dir_owned:
  description: Whether O(state_dir) is a directory of podnet's own, safe to remove.
  returned: always
  type: bool
conflist_path:
  description: The conflist's path.
  returned: always
  type: str
conflist_found:
  description: Whether the conflist exists.
  returned: always
  type: bool
conflist_ours:
  description: Whether the conflist is the one podnet writes (so it goes).
  returned: always
  type: bool
subnet_env_found:
  description: Whether subnet.env exists.
  returned: always
  type: bool
subnet_env_dir:
  description: subnet.env's directory.
  returned: always
  type: str
networks:
  description: The cluster networks whose routes go (C(family), C(network)) - the plan's,
    then those subnet.env recorded at install.
  returned: always
  type: list
  elements: dict
devices:
  description: The flannel devices on the node - C(vxlan) (ifname, family, vni, the network
    of the family or null) and C(wireguard) (names).
  returned: always
  type: dict
unit_files:
  description: The boot unit and its enablement links under O(unit_dir), sorted.
  returned: always
  type: list
  elements: str
systemd_runs:
  description: Whether systemd runs the host (checked only when the unit exists).
  returned: always
  type: bool
state_dir_entries:
  description: The state directory's entries that go (all but a kept key's), sorted.
  returned: always
  type: list
  elements: str
remove_state_dir:
  description: Whether the state directory itself goes (no mount point, no kept key).
  returned: always
  type: bool
remove_subnet_env_dir:
  description: Whether subnet.env's directory goes (no mount point, nothing else in it).
  returned: always
  type: bool
changes:
  description: Always empty.
  returned: always
  type: list
  elements: dict
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.reset import entry  # noqa: E402

ARGUMENT_SPEC = {
    "state_dir": {"type": "str", "required": True},
    "subnet_env_path": {"type": "str", "required": True},
    "cni_conf_dir": {"type": "str", "required": True},
    "conflist_name": {"type": "str", "required": True},
    "conflist": {"type": "str", "required": True},
    "unit_dir": {"type": "str", "required": True},
    "key_file": {"type": "str", "required": True},
    "keep_key": {"type": "bool", "default": True},
    "networks": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
