"""The boot restore's replay without a kernel: the record, the PSK, files, the report, the
runner, missing tools and libraries, and the restore program the role renders.

Replays against real netlink and firewalls are in tests/kernel/test_replay.py, a whole
simulated reboot in tests/integration/test_restore_lab.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

from plugins.lookup import restore_program  # noqa: E402
from plugins.module_utils.core import programs  # noqa: E402
from plugins.module_utils.core.changes import Change  # noqa: E402
from plugins.module_utils.kernel import handles  # noqa: E402
from plugins.module_utils.restore import replay  # noqa: E402

PSK = "cHJlc2hhcmVkIGtleSBmb3IgdGhlIHJlcGxheSB0ZXN0Lg=="


def record(tmp_path: Path, **fields: Any) -> Path:
    document = {"format": 1, "steps": [], "files": [], "wireguard_psk_file": None, **fields}
    (tmp_path / "applied.json").write_text(json.dumps(document))
    return tmp_path


def run_main(state_dir: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = replay.main(list(argv), str(state_dir), out, err)
    return status, out.getvalue(), err.getvalue()


# --- files ---------------------------------------------------------------------------------


def test_a_file_is_written_once_with_its_mode_and_directory(tmp_path: Path) -> None:
    target = tmp_path / "run" / "flannel" / "subnet.env"
    spec = {"path": str(target), "mode": "0644", "content": "FLANNEL_MTU=1450\n"}
    state = record(tmp_path, files=[spec])

    assert run_main(state, "--check")[1].splitlines()[0] == (
        f"file {target}: changed: add file {target}"
    )
    assert not target.exists(), "check mode wrote"
    status, out, _ = run_main(state)
    assert status == 0 and f"file {target}: changed: add file {target}" in out
    assert target.read_text() == "FLANNEL_MTU=1450\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o755
    assert run_main(state)[1].splitlines() == [
        f"file {target}: unchanged",
        "restore: nothing to change (1 steps)",
    ]
    assert [p.name for p in target.parent.iterdir()] == ["subnet.env"], "a temporary file left"


@pytest.mark.parametrize(
    ("content", "mode", "reason"),
    [("OTHER\n", 0o644, "content differs"), ("A=1\n", 0o600, "mode: 0600 vs 0644")],
    ids=["content", "mode"],
)
def test_a_drifted_file_is_replaced(tmp_path: Path, content: str, mode: int, reason: str) -> None:
    target = tmp_path / "file"
    target.write_text(content)
    target.chmod(mode)
    outcome = replay.run_step(
        "file", {"path": str(target), "mode": "0644", "content": "A=1\n"}, False
    )
    assert [(c.op, c.reason) for c in outcome.changes] == [("replace", reason)]
    assert target.read_text() == "A=1\n" and stat.S_IMODE(target.stat().st_mode) == 0o644


# --- the PSK -------------------------------------------------------------------------------


def test_the_masked_psk_is_read_from_its_file(tmp_path: Path) -> None:
    psk_file = tmp_path / "wireguard.psk"
    psk_file.write_text(PSK)
    args = replay.with_psk({"device": "flannel-wg", "psk": replay.MASKED}, str(psk_file))
    assert args["psk"] == PSK
    assert replay.with_psk({"psk": None}, None) == {"psk": None}


@pytest.mark.parametrize("psk_file", [None, "/nonexistent/wireguard.psk"], ids=["none", "gone"])
def test_a_masked_psk_without_its_file_says_what_to_do(psk_file: str | None) -> None:
    with pytest.raises(replay.ReplayError, match="run the playbook again") as caught:
        replay.with_psk({"psk": replay.MASKED}, psk_file)
    assert replay.MASKED not in str(caught.value)


# --- the record ------------------------------------------------------------------------------


def test_a_missing_record_fails_naming_it(tmp_path: Path) -> None:
    status, out, err = run_main(tmp_path)
    assert status == 1 and out == ""
    assert err == (
        f"restore: FAILED: {tmp_path}/applied.json does not exist: run the playbook "
        "(site.yml) on this host first\n"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"format": 2}, "format 2, but this restore reads format 1"),
        ({"steps": [{"module": "tunnel", "runs": []}]}, "unknown steps ['tunnel']"),
    ],
    ids=["format", "module"],
)
def test_a_record_it_cannot_read_is_refused(tmp_path: Path, fields: dict, message: str) -> None:
    status, _, err = run_main(record(tmp_path, **fields))
    assert status == 1 and message in err


def test_a_failed_step_does_not_stop_the_others(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "subnet.env"
    state = record(
        tmp_path,
        steps=[{"module": "sysctl", "runs": [{"values": {"net.ipv4.no_such": 1},
                                              "ignore_missing": False}]}],
        files=[{"path": str(target), "mode": "0644", "content": "A=1\n"}],
    )  # fmt: skip
    status, out, err = run_main(state)
    assert status == 1
    assert err.splitlines()[0].startswith("sysctl: FAILED: ")
    assert "net.ipv4.no_such" in err
    assert err.splitlines()[-1] == ("restore: FAILED: 1 of 2 steps failed (sysctl); 1 changes made")
    assert target.read_text() == "A=1\n" and f"file {target}: changed" in out


# --- missing tools and libraries -------------------------------------------------------------


def test_without_pyroute2_the_netlink_steps_fail_saying_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(handles, "IPRoute", None)
    monkeypatch.setattr(handles, "PYROUTE2_ERROR", "ImportError: No module named 'pyroute2'")
    vxlan = replay.run_step("vxlan", {"family": 4, "vni": 1, "state": "present"}, False)
    host_gw = replay.run_step("host_gw", {"family": 4, "state": "present"}, False)
    assert vxlan.label == "vxlan flannel.1" and host_gw.label == "host-gw IPv4"
    for outcome in (vxlan, host_gw):
        assert outcome.error is not None
        assert "pyroute2 is not installed for" in outcome.error
        # Not the distribution's package: Debian 11/12 ship releases the modules cannot use.
        assert "pip install 'pyroute2>=0.9,<0.10'" in outcome.error
        assert "podnet_pyroute2_provide" in outcome.error


@pytest.mark.parametrize("version", ["0.7.2", "0.5.14", "0.7.6", "0.10.1"])
def test_a_pyroute2_of_another_release_is_refused_naming_both_versions(
    monkeypatch, version: str
) -> None:
    """Debian 12's python3-pyroute2 (0.7.2) imports, then crashes on IPRoute(groups=0):
    the steps stop before any read, saying what was found, what is needed and the fix."""
    found = types.SimpleNamespace(__version__=version, __file__="/usr/lib/python3/x/__init__.py")
    monkeypatch.setattr(handles, "pyroute2", found)
    outcome = replay.run_step("vxlan", {"family": 4, "vni": 1, "state": "absent"}, True)
    assert outcome.error == (
        f"pyroute2 {version} (/usr/lib/python3/x) is not a version podnet's modules can use: "
        f"they need pyroute2 >=0.7.7,<0.10, for {sys.executable}; {handles.FIX}"
    )


def test_without_wg_the_wireguard_step_names_the_package(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there; the sbin directories lack wg
    outcome = replay.run_step(
        "wireguard",
        {"state": "present", "device": "flannel-wg", "key_file": str(tmp_path / "key"),
         "addresses": ["10.244.1.0/32"], "peers": []},
        check_mode=True,
    )  # fmt: skip
    assert outcome.error == (
        "wg is not installed on this host (install the wireguard-tools package)"
    )


def test_without_iptables_the_masquerade_step_names_the_package(monkeypatch, tmp_path) -> None:
    nothing_installed = programs.Programs(programs.run_command, lambda program: None)
    outcome = replay.run_step(
        "masquerade",
        {"state": "present", "backend": "iptables", "ip_masq": True, "forward": True,
         "random_fully": True,
         "networks": [{"network": "10.244.0.0/16", "subnet": "10.244.1.0/24"}]},
        check_mode=True,
        programs=nothing_installed,
    )  # fmt: skip
    assert outcome.error is not None and "apt-get install iptables" in outcome.error


# --- the runner and the report -------------------------------------------------------------


def test_the_runner_is_run_commands(tmp_path: Path) -> None:
    """data gets a newline unless binary_data; no data means stdin /dev/null; env adds."""
    echo = [sys.executable, "-c", "import os, sys; print(repr(sys.stdin.read()), os.environ['X'])"]
    assert programs.run_command(echo, "key", {"X": "1"}) == (0, "'key\\n' 1\n", "")
    assert programs.run_command(echo, "key", {"X": "2"}, binary_data=True)[1] == "'key' 2\n"
    assert programs.run_command(echo, None, {"X": "3"})[1] == "'' 3\n"
    failing = [sys.executable, "-c", "import sys; sys.exit('no')"]
    assert programs.run_command(failing) == (1, "", "no\n")


def test_which_looks_in_the_sbin_directories_as_get_bin_path_does(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    found = programs.which("ip")
    assert found is not None and os.path.dirname(found) in programs.SBIN
    assert programs.which("no-such-program-podnet") is None


def test_one_line_per_step_and_the_totals() -> None:
    outcomes = [
        replay.Outcome("sysctl"),
        replay.Outcome("vxlan flannel.1", [Change("add", "route", str(n), "") for n in range(5)]),
        replay.Outcome("masquerade iptables", warnings=["nft: not checked"]),
    ]
    out, err = io.StringIO(), io.StringIO()
    assert replay.report(outcomes, out, err) == 0
    assert out.getvalue().splitlines() == [
        "sysctl: unchanged",
        "vxlan flannel.1: changed: add route x5",
        "masquerade iptables: unchanged",
        "restore: 5 changes in 1 of 3 steps",
    ]
    assert err.getvalue() == "masquerade iptables: warning: nft: not checked\n"


# --- the restore program the role renders ---------------------------------------------------


def render_restore(state_dir: Path) -> Path:
    """The restore program as the role gets it (the lookup podnet.fabric.restore_program),
    made executable."""
    text = restore_program.render_program(sys.executable, str(state_dir))
    program = state_dir / "restore"
    program.write_text(text)
    program.chmod(0o755)
    return program


def test_the_restore_program_runs_alone_from_its_embedded_code(tmp_path: Path) -> None:
    target = tmp_path / "out" / "subnet.env"
    state = record(tmp_path, files=[{"path": str(target), "mode": "0644", "content": "A=1\n"}])
    program = render_restore(state)
    assert program.read_text().startswith(f"#!{sys.executable}\n")
    # From /: no checkout on the path, and a Python that must not find plugins/ by chance.
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [str(program)], cwd="/", env=env, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == "restore: 1 changes in 1 of 1 steps"
    assert target.read_text() == "A=1\n"
    again = subprocess.run(
        [str(program)], cwd="/", env=env, capture_output=True, text=True, check=False
    )
    assert again.stdout.splitlines() == [
        f"file {target}: unchanged",
        "restore: nothing to change (1 steps)",
    ]
    helped = subprocess.run([str(program), "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0 and "--check" in helped.stdout


def test_a_traceback_from_the_embedded_code_shows_its_lines(tmp_path: Path) -> None:
    program = render_restore(record(tmp_path))
    script = (
        f"import runpy, sys; sys.argv = [{str(program)!r}]; "
        f"ns = runpy.run_path({str(program)!r}); "
        "sys.meta_path.insert(0, ns['EmbeddedSources']()); "
        "from podnet_restore.restore.replay import summarize\n"
        "try:\n    summarize([object()])\n"
        "except AttributeError:\n    import traceback; traceback.print_exc()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd="/", capture_output=True, text=True, check=False
    )
    assert 'File "podnet_restore/restore/replay.py"' in done.stderr
    assert "groups.setdefault((change.op, change.kind), []).append(change)" in done.stderr


def test_the_restore_program_imports_the_provided_pyroute2_first(tmp_path: Path) -> None:
    """With <state_dir>/lib/pyroute2.zip there (podnet_pyroute2_provide), the program imports
    that pyroute2 before the host's own, as the role's modules do: here a stand-in whose
    version the modules refuse, so the step's message shows which one was imported."""
    state = record(
        tmp_path, steps=[{"module": "vxlan", "runs": [{"family": 4, "vni": 1, "state": "absent"}]}]
    )
    (tmp_path / "lib").mkdir()
    with zipfile.ZipFile(tmp_path / "lib" / "pyroute2.zip", "w") as provided:
        provided.writestr("pyroute2/__init__.py", "__version__ = '0.5.0'\nIPRoute = object\n")
        provided.writestr("pyroute2/netlink/__init__.py", "")
        provided.writestr("pyroute2/netlink/exceptions.py", "NetlinkError = OSError\n")
    program = render_restore(state)
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [str(program), "--check"], cwd="/", env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    # Unpacked once beside the zip (module_utils/kernel/provided.py), then imported.
    unpacked = f"{tmp_path}/lib/pyroute2-[0-9a-f]{{16}}/pyroute2"
    assert re.search(rf"pyroute2 0\.5\.0 \({unpacked}\)", done.stderr), done.stderr


def test_the_program_is_rendered_again_only_when_an_input_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The role asks the lookup once or twice per host: an unchanged input renders nothing."""
    sources = tmp_path / "module_utils"
    shutil.copytree(REPO / "plugins" / "module_utils", sources)
    monkeypatch.setattr(restore_program, "MODULE_UTILS", str(sources))
    cache = str(tmp_path / "cache")
    first = restore_program.cached_program(cache, sys.executable, "/etc/podnet")
    assert first[1] == hashlib.sha256(Path(first[0]).read_bytes()).hexdigest()

    def no_render(*_args: object) -> str:
        raise AssertionError("rendered although nothing changed")

    with monkeypatch.context() as unchanged:
        unchanged.setattr(restore_program, "render_program", no_render)
        assert restore_program.cached_program(cache, sys.executable, "/etc/podnet") == first
    (sources / "names.py").write_text((sources / "names.py").read_text() + "# changed\n")
    second = restore_program.cached_program(cache, sys.executable, "/etc/podnet")
    assert second[1] != first[1] and "# changed" in Path(second[0]).read_text()
