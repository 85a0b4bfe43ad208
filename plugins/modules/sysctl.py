#!/usr/bin/python
"""podnet.fabric.sysctl: kernel parameters set through /proc/sys, idempotently.

What it owns: the runtime value of each parameter it is given, nothing else (no file in
/etc/sysctl.d, no other parameter). Order: the order given, because some parameters act
on others (net.ipv6.conf.all.forwarding rewrites every interface's forwarding). The work
lives in module_utils/sysctl/; its entry.py is the adapter (the boot restore runs it too),
and this file is the Ansible shell around it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sysctl
short_description: Set kernel parameters at runtime through /proc/sys, idempotently
version_added: "1.0.0"
description:
  - Reads each parameter from C(/proc/sys), writes only those whose value differs, then
    reads them again and fails if the kernel reports another value than the one written.
  - Names are read as sysctl(8) reads them. In the dotted form C(.) separates levels and
    C(/) stands for a C(.) inside a level, so C(net.ipv6.conf.flannel/1.accept_ra) is
    C(/proc/sys/net/ipv6/conf/flannel.1/accept_ra). A name whose first separator is C(/)
    is a path in which dots are literal (C(net/ipv6/conf/flannel.1/accept_ra)).
  - Values are compared with runs of whitespace folded, so C(32768 60999) matches the
    kernel's tab-separated output.
  - Parameters are written in the order given.
options:
  values:
    description:
      - Parameter name to value (a number or a string; a boolean is refused, write 1 or 0).
    type: dict
    required: true
  ignore_missing:
    description:
      - Skip parameters that do not exist (and report them in RV(missing)) instead of failing.
        A parameter is missing when the module providing it is not loaded (C(net.bridge.*)
        needs C(br_netfilter)), the interface in its name does not exist yet, or IPv6 is
        disabled.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Before and after are C(name = value) lines for the parameters given.
  platform:
    platforms: linux
notes:
  - Runtime only. The values do not survive a reboot; persisting them (C(/etc/sysctl.d) or
    podnet's boot-time restore) is not done by this module yet.
  - Inside a network namespace, C(net.*) parameters are the namespace's own.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Forward IPv4 (and IPv6 in dual stack)
  podnet.fabric.sysctl:
    values:
      net.ipv4.ip_forward: 1
      net.ipv6.conf.all.forwarding: 1

- name: No router advertisements on the VXLAN device (a dot in the name is written as /)
  podnet.fabric.sysctl:
    values:
      net.ipv6.conf.flannel/1.accept_ra: 0
    ignore_missing: true
"""

RETURN = r"""
args:
  description: The module's arguments as Ansible normalised them (defaults filled, types
    converted; no_log values masked), which is what the boot restore records and replays.
  returned: always
  type: dict
changes:
  description: The parameters changed (or that would be, in check mode), in order.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: Always C(replace).
      type: str
    kind:
      description: Always C(sysctl).
      type: str
    key:
      description: The parameter's name as given.
      type: str
    reason:
      description: "C(value: <current> vs <wanted>)."
      type: str
  sample:
    - op: replace
      kind: sysctl
      key: net.ipv4.ip_forward
      reason: "value: 0 vs 1"
missing:
  description: Parameters that do not exist and were skipped (O(ignore_missing=true)).
  returned: always
  type: list
  elements: str
  sample: [net.ipv6.conf.flannel/1.accept_ra]
diff:
  description: C(name = value) lines before and after.
  returned: in diff mode
  type: dict
  sample:
    before: "net.ipv4.ip_forward = 0\n"
    after: "net.ipv4.ip_forward = 1\n"
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.sysctl import entry  # noqa: E402

ARGUMENT_SPEC = {
    "values": {"type": "dict", "required": True},
    "ignore_missing": {"type": "bool", "default": False},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
