#!/usr/bin/python
"""podnet.fabric.wireguard_key: the node's WireGuard private key file, and what the host can run.

The key is generated on the node and stays there (0600, stable across runs and reboots,
unlike flanneld's /run/flannel/wgkey); only its public key is returned, for the plan to
hand to the other nodes. The same run reports whether the node can run WireGuard at all
(kernel module, or wireguard-go where allowed), so a play can stop early and say why.
The work lives in module_utils/wireguard/ (key_entry.py, keystate.py, keyfile.py, probe.py).
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wireguard_key
short_description: Keep a node's WireGuard private key on the node; return its public key
version_added: "1.0.0"
description:
  - Creates the node's WireGuard private key (C(wg genkey)) in O(key_file) when there is
    none, keeps it on later runs, and returns its public key (C(wg pubkey)). The private
    key never leaves the node - it is not returned, not shown in the diff and not logged.
  - The file is mode 0600 from the moment it exists, written atomically (a temporary file
    in the same directory, fsync, rename); a missing parent directory is created 0700. An
    existing key file with other permissions is set to 0600.
  - Also reports which WireGuard the node can run - V(kernel) when C(/sys/module/wireguard)
    exists or C(modprobe --dry-run wireguard) succeeds, else V(userspace) when O(userspace)
    is true and C(wireguard-go) and C(/dev/net/tun) are there - or, when it can run none,
    a sentence naming what is missing. The probe changes nothing (no module is loaded).
options:
  key_file:
    description: The private key file (base64, one line).
    type: path
    required: true
  state:
    description:
      - V(query) reads only - it returns the public key when the file exists and never
        reports a change.
      - V(present) creates the key when the file does not exist and keeps an existing one.
      - V(rotated) always writes a new key (the peers need the new public key; run
        M(podnet.fabric.wireguard) on every node afterwards).
      - V(absent) deletes the key file.
    type: str
    choices: [query, present, rotated, absent]
    default: present
  userspace:
    description: Whether wireguard-go may be used where the kernel has no WireGuard; decides
      the RV(implementation) reported.
    type: bool
    default: false
  wireguard_go:
    description: The C(wireguard-go) program, a name looked up on PATH or a path.
    type: str
    default: wireguard-go
attributes:
  check_mode:
    support: full
    details: Reports what would change and writes nothing; RV(public_key) is null when a
      key would be created or rotated (it does not exist yet).
  diff_mode:
    support: full
    details: "One line before and after, e.g. C(key file: absent) then C(key file: present
      (public key ...)). Never the private key."
  platform:
    platforms: linux
requirements:
  - wg (wireguard-tools) on the node to create a key or derive its public key.
notes:
  - An existing file that does not hold a WireGuard key is an error (its content is not
    shown); it is not overwritten unless O(state=rotated).
  - podnet keeps the key under C(podnet_state_dir), by default
    C(/etc/podnet/wireguard.key); flanneld keeps it in C(/run/flannel/wgkey), which a
    reboot loses.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
seealso:
  - module: podnet.fabric.wireguard
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Create the key once (kept across runs), learn the public key and the implementation
  podnet.fabric.wireguard_key:
    key_file: /etc/podnet/wireguard.key
    userspace: "{{ podnet_wireguard_userspace | default(false) }}"
  register: wg_key

- name: Stop when the node cannot run WireGuard
  ansible.builtin.fail:
    msg: "{{ inventory_hostname }}: {{ wg_key.missing }}"
  when: wg_key.implementation is none

- name: Only read the public key
  podnet.fabric.wireguard_key:
    key_file: /etc/podnet/wireguard.key
    state: query

- name: Rotate the key (then run podnet.fabric.wireguard on every node)
  podnet.fabric.wireguard_key:
    key_file: /etc/podnet/wireguard.key
    state: rotated
"""

RETURN = r"""
args:
  description: The module's arguments as Ansible normalised them (defaults filled, types
    converted; no_log values masked), which is what the boot restore records and replays.
  returned: always
  type: dict
public_key:
  description: The public key of the key in O(key_file); null when there is no key, when
    C(wg) is not installed to derive it, and in check mode when one would be created or
    rotated.
  returned: always
  type: str
  sample: "YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtRo="
key_created:
  description: Whether a new key was written (in check mode - would be).
  returned: always
  type: bool
  sample: false
key_file:
  description: The key file's path.
  returned: always
  type: str
  sample: /etc/podnet/wireguard.key
implementation:
  description: The WireGuard the node can run - V(kernel), V(userspace) (wireguard-go,
    only when O(userspace) is true), or null when none.
  returned: always
  type: str
  sample: userspace
missing:
  description: When RV(implementation) is null, what the node lacks, as one sentence; null
    otherwise.
  returned: always
  type: str
  sample: "no WireGuard kernel module (modprobe --dry-run wireguard failed,
    /sys/module/wireguard absent) and userspace is not allowed (set
    podnet_wireguard_userspace: true to use wireguard-go)"
changes:
  description: What was changed (or would be, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: V(add), V(replace) or V(delete).
      type: str
    kind:
      description: V(key) (the key itself) or V(mode) (the file's permissions).
      type: str
    key:
      description: The key file's path.
      type: str
    reason:
      description: "Why, e.g. V(missing), V(mode: 0644 vs 0600), V(state=rotated: a new key)."
      type: str
  sample:
    - op: add
      kind: key
      key: /etc/podnet/wireguard.key
      reason: missing
diff:
  description: The key file before and after, as one line each - whether it exists, its
    public key and a mode other than 0600. Never the private key.
  returned: in diff mode
  type: dict
  sample:
    before: "key file: absent\n"
    after: "key file: present (public key YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtRo=)\n"
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.wireguard import key_entry  # noqa: E402

ARGUMENT_SPEC = {
    "key_file": {"type": "path", "required": True},
    "state": {
        "type": "str",
        "choices": ["query", "present", "rotated", "absent"],
        "default": "present",
    },
    "userspace": {"type": "bool", "default": False},
    "wireguard_go": {"type": "str", "default": "wireguard-go"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: key_entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
