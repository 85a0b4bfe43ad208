"""ansible-doc on every plugin and role of an installed podnet.fabric; exit 1 on any failure.

Usage: check_docs.py COLLECTION_DIR (.../ansible_collections/podnet/fabric). The list comes from
the files, not from `ansible-doc --list`, which leaves out a plugin whose docs do not load.
Run with ANSIBLE_COLLECTIONS_PATH pointing at the tree that holds COLLECTION_DIR.
"""

import json
import subprocess
import sys
from pathlib import Path

# plugins/<dir> -> ansible-doc's plugin type. action plugins share their module's docs;
# module_utils have none.
PLUGIN_TYPES = {"modules": "module", "lookup": "lookup", "filter": "filter"}


def targets(collection: Path) -> list[tuple[str, str]]:
    found = []
    for directory, kind in PLUGIN_TYPES.items():
        for path in sorted((collection / "plugins" / directory).glob("*.py")):
            if path.name != "__init__.py":
                found.append((kind, f"podnet.fabric.{path.stem}"))
    for role in sorted(p.name for p in (collection / "roles").iterdir() if p.is_dir()):
        found.append(("role", f"podnet.fabric.{role}"))
    return found


def check(kind: str, name: str) -> str | None:
    """ansible-doc's problem with one plugin or role, or None when its docs render."""
    run = subprocess.run(
        ["ansible-doc", "--json", "-t", kind, name], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        return run.stderr.strip() or f"exit {run.returncode}"
    try:
        doc = json.loads(run.stdout).get(name)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    if not doc:
        return "no documentation"
    if kind == "role":
        entry = doc.get("entry_points", {}).get("main", {})
        return None if entry.get("options") else "role: no main entry point with options"
    # Text rendering too: it is what users see and it fails on things JSON does not check.
    text = subprocess.run(
        ["ansible-doc", "-t", kind, name], capture_output=True, text=True, check=False
    )
    return None if text.returncode == 0 else text.stderr.strip()


def main() -> int:
    failures = 0
    for kind, name in targets(Path(sys.argv[1])):
        problem = check(kind, name)
        print(f"{'ok  ' if problem is None else 'FAIL'} ansible-doc -t {kind} {name}")
        if problem is not None:
            failures += 1
            print(f"     {problem}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
