"""The pyroute2 the role provides (`podnet_pyroute2_provide`), put first on sys.path.

The role copies the controller's pinned pyroute2 as one zip to
`<podnet_state_dir>/lib/pyroute2.zip` and names it in PODNET_PYROUTE2_ZIP for every module
task; the boot restore sets the same variable. Imported straight from a zip, pyroute2 is
compiled on every module run, since zipimport writes no bytecode: 0.49 s against 0.14 s
for `from pyroute2 import IPRoute`, measured on this project's lab. So the zip is unpacked
once, beside it, into a directory named after its checksum, where Python caches bytecode
as for any package. A new zip (another pyroute2) gets a new directory; older ones go. The
directory is podnet's own, like the zip; reset removes both with the state directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Mapping

ZIP_VARIABLE = "PODNET_PYROUTE2_ZIP"
PREFIX = "pyroute2-"


def put_first(environ: Mapping[str, str] | None = None) -> str | None:
    """Put the provided pyroute2 first on sys.path; the path used, None when none is named.

    `environ`: the process environment unless given. Where the zip cannot be unpacked (a
    read-only directory), the zip itself is used.
    """
    archive = (os.environ if environ is None else environ).get(ZIP_VARIABLE)
    if not archive or not os.path.isfile(archive):
        return None
    path = unpacked(archive) or archive
    if path not in sys.path:
        sys.path.insert(0, path)
    return path


def unpacked(archive: str) -> str | None:
    """The directory holding `archive`'s files, unpacked once; None if it cannot be made."""
    with open(archive, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:16]
    parent = os.path.dirname(os.path.abspath(archive))
    target = os.path.join(parent, PREFIX + digest)
    if os.path.isdir(target):
        return target
    staging = None
    try:
        staging = tempfile.mkdtemp(prefix=f".{PREFIX}", dir=parent)
        with zipfile.ZipFile(archive) as files:
            files.extractall(staging)
        # Atomic: a module of a concurrent run that got there first keeps its directory.
        os.rename(staging, target)
    except (OSError, zipfile.BadZipFile):
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        return target if os.path.isdir(target) else None
    for name in os.listdir(parent):  # the directories of earlier zips
        if name.startswith(PREFIX) and name != os.path.basename(target):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
    return target
