"""podnet.fabric.files on a temporary tree: written once, then nothing to do; check mode
writes nothing; modes, contents and removals as changes; secrets never shown; a path of
another kind refused before any write."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from plugins.module_utils.core.errors import PodnetError
from plugins.module_utils.core.programs import SUBPROCESS
from plugins.module_utils.files import entry


def params(root: Path, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "directories": [
            {"path": str(root / "state"), "mode": "0700"},
            {"path": str(root / "run" / "flannel"), "mode": "0755"},
        ],
        "files": [
            {"path": str(root / "run" / "flannel" / "subnet.env"), "mode": "0644",
             "content": "FLANNEL_MTU=1450\n"},
            {"path": str(root / "state" / "applied.json"), "mode": "0600", "content": "{}\n"},
        ],
        "secret_files": [],
        "absent": [str(root / "state" / "wireguard.psk")],
    }  # fmt: skip
    return {**base, **changes}


def run(p: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
    return entry.run(p, check_mode, SUBPROCESS).output(diff=True)


def changes(output: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["op"], c["kind"], c["key"].rsplit("/", 1)[-1]) for c in output["changes"]]


def test_written_once_then_nothing_to_do(tmp_path: Path) -> None:
    first = run(params(tmp_path))
    assert changes(first) == [
        ("add", "directory", "state"),
        ("add", "directory", "flannel"),
        ("add", "file", "subnet.env"),
        ("add", "file", "applied.json"),
    ]
    assert (tmp_path / "run" / "flannel" / "subnet.env").read_text() == "FLANNEL_MTU=1450\n"
    assert oct(os.stat(tmp_path / "state").st_mode & 0o777) == "0o700"
    assert oct(os.stat(tmp_path / "state" / "applied.json").st_mode & 0o777) == "0o600"
    again = run(params(tmp_path))
    assert again["changed"] is False and again["changes"] == []


def test_check_mode_writes_nothing_and_shows_the_after(tmp_path: Path) -> None:
    checked = run(params(tmp_path), check_mode=True)
    assert checked["changed"] is True
    assert not (tmp_path / "state").exists()
    after = checked["diff"]["after"]
    assert after[str(tmp_path / "run" / "flannel" / "subnet.env")] == "0644\nFLANNEL_MTU=1450\n"
    assert checked["diff"]["before"][str(tmp_path / "state")] is None


@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        (lambda root: (root / "state" / "applied.json").write_text("[]\n"),
         ("replace", "file", "applied.json", "content differs")),
        (lambda root: os.chmod(root / "state" / "applied.json", 0o644),
         ("replace", "file", "applied.json", "mode: 0644 vs 0600")),
        (lambda root: os.chmod(root / "state", 0o755),
         ("replace", "directory", "state", "mode: 0755 vs 0700")),
        (lambda root: (root / "state" / "wireguard.psk").write_text("old"),
         ("delete", "file", "wireguard.psk", "not wanted")),
    ],
    ids=["content", "file-mode", "directory-mode", "absent"],
)  # fmt: skip
def test_drift_is_exactly_one_change_and_repaired(
    tmp_path: Path, drift: Any, expected: Any
) -> None:
    run(params(tmp_path))
    drift(tmp_path)
    output = run(params(tmp_path))
    (change,) = output["changes"]
    assert (change["op"], change["kind"], change["key"].rsplit("/", 1)[-1], change["reason"]) == (
        expected
    )
    assert run(params(tmp_path))["changes"] == []


def test_a_secret_is_written_but_never_shown(tmp_path: Path) -> None:
    psk = tmp_path / "state" / "wireguard.psk"
    secret = [{"path": str(psk), "mode": "0600", "content": "s3cret"}]
    output = run(params(tmp_path, secret_files=secret, absent=[]))
    assert psk.read_text() == "s3cret"
    assert "s3cret" not in repr(output)
    assert output["diff"]["after"][str(psk)] == "0600 (secret)"


def test_another_kind_of_object_is_refused_before_any_write(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where a directory is wanted")
    (tmp_path / "run" / "flannel" / "subnet.env").mkdir(parents=True)
    with pytest.raises(PodnetError) as raised:
        run(params(tmp_path))
    assert raised.value.problems == [
        f"{tmp_path}/state: is not a directory; move it away, podnet wants a directory there",
        f"{tmp_path}/run/flannel/subnet.env: is not a regular file; move it away, podnet "
        "writes a file there",
    ]
    assert not (tmp_path / "state").is_dir()


def test_bad_modes_are_all_reported(tmp_path: Path) -> None:
    bad = params(tmp_path, directories=[{"path": str(tmp_path / "d"), "mode": "rwx"}])
    bad["files"][0]["mode"] = "99999"
    with pytest.raises(PodnetError) as raised:
        run(bad)
    assert raised.value.problems == [
        "directories[0].mode: 'rwx' is not an octal mode such as '0644'",
        "files[0].mode: '99999' is not an octal mode such as '0644'",
    ]
