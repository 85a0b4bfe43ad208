#!/usr/bin/python
"""podnet.fabric.files: podnet's files on a node and their directories, in one run.

Objects, in apply order: the directories (created, or their mode set), then the files
(each one atomic, durable write: core.files), then the files that must go. Only the paths
given are read or written. One run whatever the number of files, so an unchanged node
costs one module call instead of a stat per file and directory. The work lives in
module_utils/files/; this file is the Ansible shell.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: files
short_description: Write podnet's files on a node (subnet.env, the conflist, boot restore's)
version_added: "1.0.0"
description:
  - Makes each directory of O(directories) exist with its mode, then each file of O(files)
    and O(secret_files) hold exactly its content with its mode, then removes each file of
    O(absent). Only what differs is written.
  - A file is written atomically and durably (a temporary file in the same directory with
    the mode set first, fsynced, renamed over the target, the directory fsynced), so a
    reader sees the old content or the new, never a part.
  - After writing, it reads the paths again and fails if they still differ.
  - A path that holds another kind of object (a directory where a file is wanted, a
    symbolic link, a device) is refused before anything is written.
options:
  directories:
    description: Directories that must exist, with their mode. Missing parents are made.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: str
        required: true
      mode:
        description: Its mode, octal, as a string (C("0755")).
        type: str
        required: true
  files:
    description: Files and their content; their directory must exist or be in
      O(directories).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file.
        type: str
        required: true
      mode:
        description: Its mode, octal, as a string (C("0644")).
        type: str
        required: true
      content:
        description: Its whole content.
        type: str
        required: true
  secret_files:
    description: Like O(files), but the content is never logged or shown in a diff.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file.
        type: str
        required: true
      mode:
        description: Its mode, octal, as a string (C("0600")).
        type: str
        required: true
      content:
        description: Its whole content (no_log).
        type: str
        required: true
  absent:
    description: Files that must not exist.
    type: list
    elements: str
    default: []
  read_before:
    description:
      - What an earlier read of this host found at these paths, as M(podnet.fabric.flannel_facts)
        returns it in its RV(podnet.fabric.flannel_facts#module:paths) (kind, mode, SHA-256 by
        path). When it names every path of this call and each already holds what is wanted
        (the same comparison the module makes, on checksums), the action plugin reports no
        change without running the module on the host. A path it does not name, or any
        difference, runs the module as usual.
      - The node role passes what C(flannel_facts) read before the plan, so an unchanged run
        costs no module run here. Something that changed a file since that read is found by
        the next run.
    type: dict
    version_added: "1.0.0"
attributes:
  check_mode:
    support: full
    details: Reads the paths and reports the changes; writes nothing.
  diff_mode:
    support: full
    details: Each path's mode and content (a secret's content hidden), before and after.
  action:
    support: full
    details: Only the O(read_before) comparison runs on the controller.
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    platforms: linux
notes:
  - Owner and group are those of the user the module runs as (root on a node).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
author:
  - podnet maintainers (@podnet)
"""

EXAMPLES = r"""
- name: Subnet.env and its directory
  podnet.fabric.files:
    directories:
      - path: /run/flannel
        mode: "0755"
    files:
      - path: /run/flannel/subnet.env
        mode: "0644"
        content: "{{ podnet_plan.nodes[inventory_hostname].subnet_env }}"
"""

RETURN = r"""
args:
  description: The module's arguments as Ansible normalised them (secret contents masked).
  returned: always
  type: dict
changes:
  description: What was changed (or would be, in check mode), in the order applied.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: C(add), C(replace) or C(delete).
      type: str
    kind:
      description: C(directory) or C(file).
      type: str
    key:
      description: The path.
      type: str
    reason:
      description: "C(missing), C(content differs), C(mode: <current> vs <wanted>) or
        C(not wanted)."
      type: str
  sample:
    - op: replace
      kind: file
      key: /run/flannel/subnet.env
      reason: content differs
diff:
  description: Each path's mode and content (null when missing), before and after.
  returned: in diff mode
  type: dict
"""

# Ansible wants the documentation strings above the imports.
from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ..module_utils.core.programs import module_programs  # noqa: E402
from ..module_utils.core.shell import finish  # noqa: E402
from ..module_utils.files import entry  # noqa: E402


def file_options(secret: bool) -> dict[str, object]:
    return {
        "path": {"type": "str", "required": True},
        "mode": {"type": "str", "required": True},
        "content": {"type": "str", "required": True, "no_log": secret},
    }


ARGUMENT_SPEC = {
    "directories": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "path": {"type": "str", "required": True},
            "mode": {"type": "str", "required": True},
        },
    },
    "files": {"type": "list", "elements": "dict", "default": [], "options": file_options(False)},
    # Only each file's content is secret (its no_log above); the paths and modes are not, and
    # stay in the output and the diff.
    "secret_files": {
        "no_log": False,
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": file_options(True),
    },
    "absent": {"type": "list", "elements": "str", "default": []},
    # Read by the action plugin only (plugins/action/files.py); the module ignores it.
    "read_before": {"type": "dict"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, lambda: entry.run(module.params, module.check_mode, module_programs(module)))


if __name__ == "__main__":
    main()
