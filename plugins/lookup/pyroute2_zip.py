# Copyright: podnet maintainers
# Apache License 2.0 (see LICENSE)
"""The controller's pyroute2 as one importable zip, for hosts whose own is missing or old."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pyroute2_zip
author: podnet maintainers (@podnet)
short_description: the controller's pyroute2 packed as one zip that a host's Python imports
version_added: 1.0.0
description:
  - Packs the pyroute2 package installed next to Ansible on the controller (the version
    podnet pins, installed from PyPI or from the offline bundle) into one zip file and
    returns its path. Python imports a pure-Python package straight from a zip on its
    path (zipimport), so the role copies this file to a host and the podnet modules and the
    boot restore import pyroute2 from it, whatever the distribution ships (Debian 12's
    0.7.2 lacks what the modules use).
  - The zip is built once per pyroute2 version, as C(<cache_dir>/pyroute2-<version>/pyroute2.zip),
    with fixed timestamps and file order, so its checksum is stable and the copy to a host
    is unchanged on later runs.
  - Nothing is downloaded.
options:
  cache_dir:
    description: Where the zip is kept on the controller.
    type: path
    default: ~/.cache/podnet
  output:
    description:
      - C(path) returns the zip's path; C(sha256) its SHA-256 (hex), which the role compares
        with the host's copy (read by M(podnet.fabric.flannel_facts)) to skip the copy task
        on an unchanged run.
    type: str
    choices: [path, sha256]
    default: path
"""

EXAMPLES = r"""
- name: Pinned pyroute2 for the modules (makes /etc/podnet/lib/pyroute2.zip)
  ansible.builtin.copy:
    src: "{{ lookup('podnet.fabric.pyroute2_zip') }}"
    dest: /etc/podnet/lib/
    mode: "0644"
"""

RETURN = r"""
_raw:
  description: The path of the zip on the controller, or its SHA-256 (O(output)).
  type: list
  elements: str
"""

import hashlib  # noqa: E402 - Ansible wants the docs first
import importlib.metadata  # noqa: E402 - Ansible wants the docs first
import importlib.util  # noqa: E402 - Ansible wants the docs first
import os  # noqa: E402 - Ansible wants the docs first
import zipfile  # noqa: E402 - Ansible wants the docs first
from typing import Any  # noqa: E402 - Ansible wants the docs first

from ansible.errors import AnsibleLookupError  # noqa: E402 - Ansible wants the docs first
from ansible.plugins.lookup import LookupBase  # noqa: E402 - Ansible wants the docs first

# zip's earliest timestamp: the same bytes on every controller for one pyroute2 version.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class LookupModule(LookupBase):  # type: ignore[misc]  # Ansible ships no type information
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        # Found, not imported: importing pyroute2 costs ~0.2 s in every worker that
        # evaluates this lookup, and only its files are needed.
        spec = importlib.util.find_spec("pyroute2")
        if spec is None or not spec.origin:
            raise AnsibleLookupError(
                "pyroute2 is not installed on the controller: install podnet's dependencies "
                "there (pip install podnet, or the offline bundle)"
            )
        try:
            version = importlib.metadata.version("pyroute2")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        cache = os.path.expanduser(str(self.get_option("cache_dir")))
        # One directory per version, one fixed file name: the role copies it into a
        # directory, so a host holds pyroute2.zip whatever the version (no stale copies).
        target = os.path.join(cache, f"pyroute2-{version}", "pyroute2.zip")
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            pack(os.path.dirname(os.path.abspath(spec.origin)), target)
        if self.get_option("output") == "sha256":
            with open(target, "rb") as handle:
                return [hashlib.sha256(handle.read()).hexdigest()]
        return [target]


def pack(package_dir: str, target: str) -> None:
    """Zip `package_dir` (a package) with its name at the top, deterministically."""
    parent = os.path.dirname(package_dir)
    entries: list[str] = []
    for root, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        entries.extend(
            os.path.join(root, name) for name in sorted(files) if not name.endswith(".pyc")
        )
    temporary = f"{target}.{os.getpid()}.tmp"
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in entries:
            info = zipfile.ZipInfo(os.path.relpath(path, parent), FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read())
    os.replace(temporary, target)
