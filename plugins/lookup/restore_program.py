# Copyright: podnet authors
# Apache License 2.0 (see LICENSE)
"""The boot restore program, rendered on the controller: its path, or its SHA-256."""

from __future__ import annotations

DOCUMENTATION = r"""
name: restore_program
author: podnet maintainers (@podnet)
short_description: the boot restore program a host gets, rendered once on the controller
version_added: 1.0.0
description:
  - Renders the node role's C(templates/restore.j2) - the collection's C(plugins/module_utils)
    embedded as text, the shebang of the host's Python and its state directory - into a file
    on the controller and returns its path, or the program's SHA-256.
  - The role compares the SHA-256 with the host's C(<podnet_state_dir>/restore) (read by
    M(podnet.fabric.flannel_facts)) and copies the file only where it differs, so an
    unchanged run neither sends nor compares the program (about 250 kB) with a task of
    its own.
  - The file is kept as C(<cache_dir>/restore-<sha256>/restore) (written once, atomically),
    and indexed by its inputs' names, sizes and modification times, so a later call renders
    nothing unless a source, the template, the Python or the state directory changed.
options:
  python:
    description: The Python the host's modules run with (the program's shebang).
    type: str
    required: true
  state_dir:
    description: The host's podnet_state_dir (where the program finds C(applied.json)).
    type: str
    required: true
  cache_dir:
    description: Where the rendered program is kept on the controller.
    type: path
    default: ~/.cache/podnet
  output:
    description: C(path) returns the rendered file's path; C(sha256) its SHA-256 (hex).
    type: str
    choices: [path, sha256]
    default: path
"""

EXAMPLES = r"""
- name: The restore program, only where the host's copy differs
  ansible.builtin.copy:
    src: "{{ lookup('podnet.fabric.restore_program', python=py, state_dir='/etc/podnet') }}"
    dest: /etc/podnet/restore
    mode: "0755"
  vars:
    py: "{{ ansible_facts['python']['executable'] }}"
"""

RETURN = r"""
_raw:
  description: The path of the rendered program on the controller, or its SHA-256 (O(output)).
  type: list
  elements: str
"""

import hashlib  # noqa: E402 - Ansible wants the docs first
import json  # noqa: E402 - Ansible wants the docs first
import os  # noqa: E402 - Ansible wants the docs first
from typing import Any  # noqa: E402 - Ansible wants the docs first

import jinja2  # noqa: E402 - Ansible wants the docs first
from ansible.plugins.lookup import LookupBase  # noqa: E402 - Ansible wants the docs first

# This file's place in the collection: plugins/lookup/.
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_UTILS = os.path.join(COLLECTION, "plugins", "module_utils")
TEMPLATES = os.path.join(COLLECTION, "roles", "node", "templates")


class LookupModule(LookupBase):  # type: ignore[misc]  # Ansible ships no type information
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        python, state_dir = str(self.get_option("python")), str(self.get_option("state_dir"))
        cache = os.path.expanduser(str(self.get_option("cache_dir")))
        target, digest = cached_program(cache, python, state_dir)
        return [digest if self.get_option("output") == "sha256" else target]


def cached_program(cache: str, python: str, state_dir: str) -> tuple[str, str]:
    """(the rendered program's path, its SHA-256), rendering only when an input changed.

    The role asks once per host (and once more where it copies), so an unchanged run must
    not render ~250 kB per host: the inputs' names, sizes and mtimes, with the shebang and
    state directory, key an index file holding the digest of what they rendered last.
    """
    stamp = "\n".join([python, state_dir, *_source_stamps()]).encode()
    index = os.path.join(cache, "restore-index", hashlib.sha256(stamp).hexdigest())
    try:
        with open(index, encoding="utf-8") as handle:
            digest = handle.read().strip()
        target = os.path.join(cache, f"restore-{digest}", "restore")
        if os.path.exists(target):
            return target, digest
    except FileNotFoundError:
        pass
    program = render_program(python, state_dir)
    digest = hashlib.sha256(program.encode()).hexdigest()
    target = os.path.join(cache, f"restore-{digest}", "restore")
    _write_atomically(target, program)
    _write_atomically(index, digest + "\n")
    return target, digest


def _source_stamps() -> list[str]:
    """Every input of render_program as `path size mtime_ns`, sorted."""
    stamps = []
    template = os.path.join(TEMPLATES, "restore.j2")
    for path in [template, *_sources(MODULE_UTILS)]:
        info = os.stat(path)
        stamps.append(f"{path} {info.st_size} {info.st_mtime_ns}")
    return sorted(stamps)


def _sources(module_utils: str) -> list[str]:
    found: list[str] = []
    for root, dirs, files in os.walk(module_utils):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found.extend(os.path.join(root, name) for name in files if name.endswith(".py"))
    return found


def _write_atomically(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def render_program(python: str, state_dir: str, module_utils: str | None = None) -> str:
    """restore.j2 with `module_utils`'s *.py files embedded, sorted by path below it.

    Plain Jinja (ansible.builtin.template's trim_blocks), so the same bytes come out
    wherever it runs: the role through this lookup, and the unit tests.
    """
    module_utils = module_utils or MODULE_UTILS
    sources = []
    for path in _sources(module_utils):
        with open(path, encoding="utf-8") as handle:
            sources.append((os.path.relpath(path, module_utils), handle.read()))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["to_json"] = json.dumps
    template = env.get_template("restore.j2")
    return template.render(python=python, state_dir=state_dir, sources=sorted(sources))
