"""What a real fleet's hosts have, on the lab: a Python whose pyroute2 is Debian 12's
python3-pyroute2 (0.7.2, which crashes the modules), and a controller installed from the
offline bundle with no network.

The nodes' Python here is not the checkout's venv: `.venv/host-debian12` is a venv of
Debian's /usr/bin/python3 with pyroute2 0.7.2 in its site-packages and nothing else (no
Ansible: AnsiballZ carries what modules need), run inside each node's namespaces by a
wrapper like the lab's own.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from conftest import REPO, converge, labkit, run_playbook

NODES = ("node1", "node2", "node3")
POD_MTU = 1450
HOST_VENV = REPO / ".venv" / "host-debian12"
DEBIAN12_PYROUTE2 = "0.7.2"
BUNDLE_CHECK = REPO / "build" / "bundle-check"  # where `make bundle-check` installs it


@pytest.fixture(scope="module")
def debian12_hosts(lab) -> str:
    """`-e` JSON that makes every node run modules with the Debian 12 host Python."""
    python = HOST_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(HOST_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps",
             f"pyroute2=={DEBIAN12_PYROUTE2}"],
            check=True,
        )  # fmt: skip
    for node in NODES:
        wrapper = labkit.node(node).python
        host_python = wrapper.with_name("host-python")
        text = wrapper.read_text().replace(str(labkit.layout.VENV_PYTHON), str(python))
        host_python.write_text(text)
        host_python.chmod(0o755)
    return json.dumps(
        {"ansible_python_interpreter": "/run/podnet-lab/{{ inventory_hostname }}/host-python"}
    )


def node_has(node: str, *argv: str) -> str:
    return labkit.node_run(node, list(argv)).stdout


def test_the_host_python_really_has_debian12s_pyroute2(debian12_hosts) -> None:
    probe = labkit.node(NODES[0]).python.with_name("host-python")
    done = subprocess.run(
        [str(probe), "-c", "import pyroute2, ansible"], capture_output=True, text=True, check=False
    )
    assert "No module named 'ansible'" in done.stderr, done.stderr
    version = subprocess.run(
        [str(probe), "-c", "import pyroute2; print(pyroute2.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert version == DEBIAN12_PYROUTE2


def test_without_the_provided_copy_every_host_stops_before_any_change(debian12_hosts) -> None:
    result = run_playbook("-e", debian12_hosts, "-e", '{"podnet_pyroute2_provide": false}')
    assert result.rc != 0
    assert result.failed() == dict.fromkeys(NODES, 1), result.recap
    assert not any(result.changed().values()), result.recap
    assert result.output.count(f"pyroute2 {DEBIAN12_PYROUTE2} (") >= len(NODES)
    assert "they need pyroute2 >=0.7.7,<0.10" in result.output
    assert "podnet_pyroute2_provide" in result.output
    for node in NODES:
        assert "flannel" not in node_has(node, "ip", "-o", "link", "show")
        assert node_has(node, "ls", "-A", "/etc/podnet").strip() == ""


def test_with_the_provided_copy_the_role_works_on_debian12s_pyroute2(debian12_hosts) -> None:
    first = converge("-e", debian12_hosts)
    assert all(first.changed()[node] > 0 for node in NODES), first.recap
    for node in NODES:
        # The zip, and its files unpacked once beside it (named after its checksum).
        provided = sorted(node_has(node, "ls", "/etc/podnet/lib").split())
        assert len(provided) == 2 and provided[1] == "pyroute2.zip", provided
        assert re.fullmatch(r"pyroute2-[0-9a-f]{16}", provided[0]), provided
        labkit.attach_pod(node)
    report = labkit.check(expected_mtu=POD_MTU)
    assert report.ok, report
    again = converge("-e", debian12_hosts)
    assert again.changed() == dict.fromkeys(NODES, 0), again.output[-4000:]


def test_the_offline_bundle_runs_site_check_on_the_lab_with_no_network(lab) -> None:
    """The controller a user gets from the air-gapped install (`make bundle-check` installs
    the bundle into a fresh venv with no network), in a network namespace with no route
    out, runs the installed collection's site playbook in check mode on the lab."""
    venv = BUNDLE_CHECK / "venv"
    if not (venv / "bin" / "ansible-playbook").exists():
        subprocess.run(["make", "-s", "bundle-check"], cwd=REPO, check=True)
    env = {
        "HOME": str(BUNDLE_CHECK),
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "ANSIBLE_COLLECTIONS_PATH": str(BUNDLE_CHECK / "collections"),
        "ANSIBLE_NOCOLOR": "1",
    }
    done = subprocess.run(
        ["unshare", "--net", str(venv / "bin" / "ansible-playbook"),
         "-i", str(REPO / "inventories" / "lab"), "podnet.fabric.site", "--check"],
        cwd=BUNDLE_CHECK, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    recap = dict(re.findall(r"^(node\d)\s+: ok=\d+ .*? failed=(\d+)", output, re.MULTILINE))
    assert recap == dict.fromkeys(NODES, "0"), output[-4000:]
