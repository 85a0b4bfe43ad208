#!/usr/bin/python
"""podnet.fabric.masquerade: flannel's masquerade and forward rules, owned by podnet.

What it owns, per family (IPv4: iptables, `ip flannel-ipv4`; IPv6: ip6tables, `ip6
flannel-ipv6`): in iptables mode the nat chain FLANNEL-POSTRTG with its one jump from
POSTROUTING and the filter chain FLANNEL-FWD with its one jump from FORWARD; in nftables
mode the whole table. Nothing else: a foreign rule in POSTROUTING or FORWARD, or in any
other chain or table, is never read into a script.

Order, and why: the wanted mode is written first and the other mode's leftovers are removed
after it, so a host switching modes always has rules; inside a transaction, jumps go before
the chain they point to is deleted (the kernel refuses otherwise) and come after the chain
they point to is built. The work lives in module_utils/firewall/; its entry.py is the
adapter (the boot restore runs it too), and this file is the Ansible shell around it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: masquerade
short_description: flannel's masquerade and forward rules, idempotent, never duplicated
version_added: "1.0.0"
description:
  - Installs exactly the firewall rules flanneld installs for pod traffic (masquerade of pods
    leaving the cluster network, accept rules for forwarded pod traffic), and keeps exactly
    one copy of them.
  - "In C(iptables) mode, per family: the nat chain C(FLANNEL-POSTRTG) with flannel's six
    rules (comment C(flanneld masq)) and one jump from C(POSTROUTING); the filter chain
    C(FLANNEL-FWD) with two ACCEPT rules (comment C(flanneld forward)) and one jump from
    C(FORWARD). IPv6 uses ip6tables and C(ff00::/8) in place of C(224.0.0.0/4)."
  - "In C(nftables) mode, per family: the table C(ip flannel-ipv4) or C(ip6 flannel-ipv6) with
    the chains C(postrtg) (nat, postrouting, srcnat) and C(forward) (filter, forward),
    byte for byte what flanneld's nftables mode lists, including flannel's own differences
    from its iptables mode (rule 4 matches C(saddr != subnet); the mark match is exact)."
  - The current rules are read (C(iptables-save), C(nft list table)) and compared as text
    with the wanted ones. Only when they differ are the owned chains or tables rewritten,
    atomically, with one C(iptables-restore --noflush --wait) transaction per family and
    table, or one C(nft -f) transaction. Stale rules (an old subnet, say) are replaced,
    duplicated jumps removed, a missing jump appended.
  - The rules of the other mode are removed (flannel's startup cleanup, done completely,
    with jumps removed before chains and C(FLANNEL-FWD) looked for in the filter table).
  - Rules of a family not in O(networks), and parts switched off with O(ip_masq) or
    O(forward), are removed if podnet or flanneld left them.
options:
  state:
    description:
      - V(present) makes the rules match; V(absent) removes the chains, jumps and tables
        podnet owns, in both modes, and nothing else.
    type: str
    choices: [present, absent]
    default: present
  backend:
    description:
      - Which tool holds the rules. The node role passes V(nftables) when net-conf.json's
        C(EnableNFTables) is true.
    type: str
    choices: [iptables, nftables]
    default: iptables
  networks:
    description:
      - One entry per enabled family (IPv4 and/or IPv6). Required with O(state=present).
    type: list
    elements: dict
    default: []
    suboptions:
      network:
        description:
          - The cluster pod network of the family (net-conf.json C(Network) or C(IPv6Network)).
        type: str
        required: true
      subnet:
        description: This node's pod subnet in that network (C(FLANNEL_SUBNET)).
        type: str
        required: true
  ip_masq:
    description:
      - Whether to install the masquerade rules (flanneld's C(--ip-masq)). V(false) removes
        them if they are there.
    type: bool
    default: true
  forward:
    description:
      - Whether to install the forward ACCEPT rules (flanneld's C(--iptables-forward-rules)).
        V(false) removes them if they are there.
    type: bool
    default: true
  random_fully:
    description:
      - Masquerade with fully random source ports (C(--random-fully), C(fully-random)) where
        the tool supports it, probed as flannel does (iptables 1.6.2 or later; C(nft --check)
        on a throw-away chain). Without support the rules are installed without it and the
        RV(random_fully) return value says so.
    type: bool
    default: true
requirements:
  - iptables, for the iptables mode (Debian package C(iptables))
  - nft, for the nftables mode (Debian package C(nftables))
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are the owned rules, in C(iptables -S) style and C(nft list) form.
  platform:
    platforms: linux
notes:
  - Rules of the other mode, or of a family not asked for, are only checked where the tool
    to read them is installed; otherwise a warning says what could not be checked.
  - Like flanneld, the jumps are appended at the end of C(POSTROUTING) and C(FORWARD); a
    C(DROP) rule earlier in C(FORWARD) still wins (flannel issue 2116).
  - flanneld creates both nftables tables even for a disabled family and leaves one empty;
    podnet creates a table only when it has a chain to hold.
  - A jump to an owned chain from a chain other than C(POSTROUTING)/C(FORWARD) is foreign
    and left alone; with one present, removing the chain fails with iptables' message.
  - The whole table C(ip flannel-ipv4)/C(ip6 flannel-ipv6) is podnet's, by name.
  - Rules are not persisted across reboots by this module.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Masquerade and forward pod traffic, IPv4 only (iptables)
  podnet.fabric.masquerade:
    networks:
      - network: 10.244.0.0/16
        subnet: 10.244.1.0/24

- name: Dual stack, nftables, no forward rules
  podnet.fabric.masquerade:
    backend: nftables
    forward: false
    networks:
      - network: 10.244.0.0/16
        subnet: 10.244.1.0/24
      - network: fd00:10:244::/56
        subnet: fd00:10:244:1::/64

- name: Remove every rule podnet or flanneld left, in both modes
  podnet.fabric.masquerade:
    state: absent
"""

RETURN = r"""
args:
  description: The module's arguments as Ansible normalised them (defaults filled, types
    converted; no_log values masked), which is what the boot restore records and replays.
  returned: always
  type: dict
changes:
  description: What was changed (or would be, in check mode), in apply order.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: add, replace or delete.
      type: str
    kind:
      description: iptables-chain, iptables-jump or nft-table.
      type: str
    key:
      description: The object, e.g. C(iptables nat FLANNEL-POSTRTG) or C(ip flannel-ipv4).
      type: str
    reason:
      description: Why, e.g. C(missing), C(backend is nftables) or the rules that differ.
      type: str
  sample:
    - op: replace
      kind: iptables-chain
      key: iptables nat FLANNEL-POSTRTG
      reason: >-
        unexpected '-A FLANNEL-POSTRTG -s 10.244.9.0/24 -d 10.244.0.0/16 -m comment
        --comment "flanneld masq" -j RETURN'; missing '...'
random_fully:
  description:
    - Whether the masquerade rules use fully random port mapping (the option, where the tool
      supports it). V(false) when no masquerade rule is wanted.
  returned: always
  type: bool
  sample: true
backend:
  description: The mode whose rules were made to match.
  returned: always
  type: str
  sample: iptables
diff:
  description: The owned rules before and after, in C(iptables -S) style and C(nft list) form.
  returned: in diff mode
  type: dict
  sample:
    before: ""
    after: |
      # iptables -t nat
      -A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
      -N FLANNEL-POSTRTG
      ...
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.firewall import entry  # noqa: E402

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "backend": {"type": "str", "choices": ["iptables", "nftables"], "default": "iptables"},
    "networks": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "network": {"type": "str", "required": True},
            "subnet": {"type": "str", "required": True},
        },
    },
    "ip_masq": {"type": "bool", "default": True},
    "forward": {"type": "bool", "default": True},
    "random_fully": {"type": "bool", "default": True},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
