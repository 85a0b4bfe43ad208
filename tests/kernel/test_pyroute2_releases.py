"""The modules on the pyroute2 a host may have: each release podnet claims runs them, the
distribution releases it does not claim are refused before anything changes, and the
copy the role provides (the controller's pinned pyroute2, zipped) wins over an old one.

Each release is installed once, from PyPI, into .venv/pyroute2-releases/<version>
(`pip install --target`), and put first on the module's path with PYTHONPATH, which is how
a host's own site-packages would offer it. The rest of the kernel suite runs the pinned
release (pyproject.toml), so it is not repeated here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ip, run_module
from plugins.lookup.pyroute2_zip import pack

REPO = Path(__file__).resolve().parents[2]
RELEASES = REPO / ".venv" / "pyroute2-releases"
# Debian 13 (0.7.7), Ubuntu 24.04 (0.7.11), the last 0.8.
CLAIMED = ["0.7.7", "0.7.11", "0.8.1"]
# Debian 11 (0.5.14), Debian 12 (0.7.2): IPRoute(groups=0) raises TypeError there.
REFUSED = ["0.5.14", "0.7.2"]
VXLAN = {
    "dev": "eth0",
    "local": "192.0.2.11",
    "mtu": 1450,
    "vtep_mac": "0a:00:00:00:01:01",
    "subnet": "10.244.1.0/24",
    "network": "10.244.0.0/16",
    "peers": [{"name": "node2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12",
               "vtep_mac": "0a:00:00:00:02:02"}],
}  # fmt: skip
HOST_GW = {
    "dev": "eth0",
    "network": "10.245.0.0/16",
    "peers": [{"name": "node3", "subnet": "10.245.3.0/24", "public_ip": "192.0.2.13"}],
}


def release(version: str) -> Path:
    """pyroute2 `version`, installed once into its own directory."""
    target = RELEASES / version
    if not (target / "pyroute2" / "__init__.py").is_file():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
             str(target), f"pyroute2=={version}"],
            check=True,
        )  # fmt: skip
    return target


def imported_version(netns: str, env: dict[str, str]) -> str:
    """The pyroute2 release (and its place) podnet's module code imports under `env`."""
    code = "from plugins.module_utils.kernel import handles as h; print(h.pyroute2.__version__)"
    settings = [f"{key}={value}" for key, value in env.items()]
    done = subprocess.run(
        ["ip", "netns", "exec", netns, "env", *settings, sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


def run(netns: str, name: str, args: dict[str, Any], path: str) -> dict[str, Any]:
    return run_module(netns, name, args, env={"PYTHONPATH": path})


@pytest.mark.parametrize("version", CLAIMED)
def test_a_claimed_release_runs_the_modules(underlay: tuple[str, str], version: str) -> None:
    ns, path = underlay[0], str(release(version))
    assert imported_version(ns, {"PYTHONPATH": path}) == version
    for name, args in (("vxlan", VXLAN), ("host_gw", HOST_GW)):
        first = run(ns, name, args, path)
        assert first.get("failed") is not True and first["changed"] is True, first
        again = run(ns, name, args, path)
        assert again["changed"] is False, again
    facts = run(ns, "flannel_facts", {"path": "/nonexistent/subnet.env"}, path)
    assert [d["ifname"] for d in facts["devices"]] == ["flannel.1"], facts
    boot_routes = ip("route", "show", "proto", "boot", netns=ns)
    assert "10.245.3.0/24 via 192.0.2.13 dev eth0" in boot_routes


@pytest.mark.parametrize("version", REFUSED)
def test_an_old_release_is_refused_before_any_change(
    underlay: tuple[str, str], version: str
) -> None:
    ns, path = underlay[0], str(release(version))
    # flannel_facts needs no pyroute2 (it runs before the plan on any host) unless asked to
    # check it, which the role does when it does not provide pyroute2.
    facts = run(ns, "flannel_facts", {"path": "/nonexistent/subnet.env"}, path)
    assert facts.get("failed") is not True and facts["devices"] == [], facts
    checked = ("flannel_facts", {"check_pyroute2": True})
    for name, args in (checked, ("vxlan", VXLAN), ("host_gw", HOST_GW)):
        result = run(ns, name, args, path)
        assert result.get("failed") is True, result
        assert f"pyroute2 {version} (" in result["msg"], result["msg"]
        assert "they need pyroute2 >=0.7.7,<0.10" in result["msg"]
        assert "podnet_pyroute2_provide" in result["msg"]
    assert "flannel.1" not in ip("link", netns=ns)
    assert ip("route", "show", "proto", "boot", netns=ns).strip() == ""


def test_the_provided_copy_wins_over_an_old_release(
    underlay: tuple[str, str], tmp_path: Path
) -> None:
    """What the role does on a Debian 12 host: the controller's pyroute2, zipped, named in
    PODNET_PYROUTE2_ZIP, wins over the distribution's 0.7.2 (here on PYTHONPATH, where a
    host's site-packages would offer it); it is unpacked once beside the zip."""
    import pyroute2  # noqa: PLC0415 - the test run's own, the release the role ships

    provided = tmp_path / "lib" / "pyroute2.zip"
    provided.parent.mkdir()
    pack(str(Path(pyroute2.__file__).parent), str(provided))
    env = {"PODNET_PYROUTE2_ZIP": str(provided), "PYTHONPATH": str(release("0.7.2"))}
    ns = underlay[0]
    assert imported_version(ns, env) == pyroute2.__version__
    unpacked = [path.name for path in provided.parent.iterdir() if path.is_dir()]
    assert len(unpacked) == 1 and unpacked[0].startswith("pyroute2-"), unpacked
    result = run_module(ns, "vxlan", VXLAN, env=env)
    assert result.get("failed") is not True and result["changed"] is True, result
    assert "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink" in ip("route", netns=ns)
