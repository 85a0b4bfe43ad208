#!/usr/bin/python
# Copyright: podnet authors
# Apache License 2.0 (see LICENSE)
"""Documentation of the podnet.fabric.verify action; the work runs on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: verify
short_description: verify.yml's controller side - the peers to probe, and the report
version_added: "1.0.0"
description:
  - C(step=targets) chooses the peers each node's probe pings (every peer, or
    O(max_peers) going round the inventory) from what M(podnet.fabric.probe) registered.
  - C(step=report) turns every host's registered probe results and drift into a table of
    ok/FAIL and one sentence per failure (nodes, measured value, likely cause, fix), writes
    it as JSON to O(output), and fails when any check fails.
  - Used by the role's C(tasks_from=verify); it reads the role's registered variables.
options:
  step:
    description: Which step.
    type: str
    choices: [targets, report]
    required: true
  hosts:
    description: The play's hosts.
    type: list
    elements: str
    required: true
  max_peers:
    description: Peers each node probes; 0 for all.
    type: int
    default: 0
  output:
    description: A file on the controller for the JSON report.
    type: path
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Report
  podnet.fabric.verify:
    step: report
    hosts: "{{ ansible_play_hosts_all }}"
    output: verify.json
  run_once: true
"""

RETURN = r"""
report:
  description: The table and the sentences, as printed.
  returned: step report
  type: str
findings:
  description: One sentence per failure.
  returned: step report
  type: list
  elements: str
targets:
  description: Per node, the peers its probe pings.
  returned: step targets
  type: dict
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

# The options above as an argument spec, only so that a run that reaches a host fails the
# usual way (ansible-test checks that it matches DOCUMENTATION).
ARGUMENT_SPEC = {
    "step": {"type": "str", "required": True, "choices": ["targets", "report"]},
    "hosts": {"type": "list", "elements": "str", "required": True},
    "max_peers": {"type": "int", "default": 0},
    "output": {"type": "path"},
}


def main() -> None:
    # Only the action plugin of the same name does anything.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="podnet.fabric.verify runs on the controller only")


if __name__ == "__main__":
    main()
