"""The doctests of every file under plugins/module_utils, one test per file.

The examples in docstrings are part of each file's contract (the style guide asks for one
on every pure public function), so a file whose examples drift fails here, by name.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[2] / "plugins" / "module_utils"
FILES = sorted(
    path.relative_to(MODULE_UTILS).with_suffix("").as_posix().replace("/", ".")
    for path in MODULE_UTILS.rglob("*.py")
    if path.name != "__init__.py"
)


@pytest.mark.parametrize("name", FILES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(f"plugins.module_utils.{name}"))
    assert result.failed == 0


# Files whose examples are their documentation: they must keep having some.
DOCUMENTED_BY_EXAMPLES = {
    "kernel.ipnet",
    "vxlan.state",
    "vxlan.want",
    "host_gw.input",
    "host_gw.want",
    "host_gw.diff",
    "firewall.input",
    "firewall.lines",
    "firewall.iptables",
    "firewall.nftables",
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED_BY_EXAMPLES))
def test_documented_files_keep_their_examples(name: str) -> None:
    assert name in FILES
    assert doctest.testmod(importlib.import_module(f"plugins.module_utils.{name}")).attempted > 0
