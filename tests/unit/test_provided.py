"""The role's provided pyroute2: the controller's zip (lookup pyroute2_zip), reproducible
and named by its checksum; on a host (module_utils/kernel/provided.py), unpacked once
beside its zip and put first on sys.path; a new zip replaces the old directory; a zip that
cannot be unpacked is used as it is; no variable, nothing happens."""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugins.module_utils.kernel import provided


def make_zip(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pyroute2/__init__.py", f"__version__ = {version!r}\n")
    return path


@pytest.fixture(autouse=True)
def _clean_sys_path() -> Iterator[None]:
    before = list(sys.path)
    yield
    sys.path[:] = before


def test_unpacked_once_beside_the_zip_and_put_first(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "lib" / "pyroute2.zip", "0.9.7")
    first = provided.put_first({provided.ZIP_VARIABLE: str(archive)})
    assert first is not None and sys.path[0] == first
    assert Path(first).parent == archive.parent and Path(first).name.startswith("pyroute2-")
    assert (Path(first) / "pyroute2" / "__init__.py").read_text() == "__version__ = '0.9.7'\n"
    marker = Path(first) / "pyroute2" / "__pycache__"
    marker.mkdir()  # what Python leaves there: a second run must keep it
    assert provided.put_first({provided.ZIP_VARIABLE: str(archive)}) == first
    assert marker.is_dir()
    assert sys.path.count(first) == 1


def test_a_new_zip_gets_a_new_directory_and_the_old_one_goes(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "pyroute2.zip", "0.9.6")
    old = provided.unpacked(str(archive))
    make_zip(archive, "0.9.7")
    new = provided.unpacked(str(archive))
    assert old is not None and new is not None and old != new
    assert not Path(old).exists() and Path(new).is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["pyroute2.zip", Path(new).name])


def test_a_directory_it_cannot_write_uses_the_zip_itself(tmp_path: Path, monkeypatch) -> None:
    """(Root writes into a 0555 directory anyway, so the refusal is made to happen.)"""
    archive = make_zip(tmp_path / "lib" / "pyroute2.zip", "0.9.7")

    def refused(**_kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(provided.tempfile, "mkdtemp", refused)
    assert provided.put_first({provided.ZIP_VARIABLE: str(archive)}) == str(archive)
    assert [p.name for p in archive.parent.iterdir()] == ["pyroute2.zip"]


def test_a_broken_zip_is_used_as_it_is_for_the_version_check_to_say_so(tmp_path: Path) -> None:
    archive = tmp_path / "pyroute2.zip"
    archive.write_bytes(b"not a zip")
    assert provided.unpacked(str(archive)) is None
    assert [p.name for p in tmp_path.iterdir()] == ["pyroute2.zip"]


@pytest.mark.parametrize("environ", [{}, {"PODNET_PYROUTE2_ZIP": "/nonexistent/x.zip"}])
def test_nothing_named_or_nothing_there_changes_nothing(environ: dict[str, str]) -> None:
    before = list(sys.path)
    assert provided.put_first(environ) is None
    assert sys.path == before


def test_the_pyroute2_zip_is_the_same_bytes_each_time_and_its_sha256_says_so(tmp_path) -> None:
    """The role skips the copy when the host's checksum equals the lookup's: both must
    describe the same, reproducible file."""
    import hashlib  # noqa: PLC0415

    import pyroute2  # noqa: PLC0415
    from ansible.plugins.loader import init_plugin_loader, lookup_loader  # noqa: PLC0415
    from plugins.lookup.pyroute2_zip import pack  # noqa: PLC0415

    package = str(Path(pyroute2.__file__).parent)
    pack(package, str(tmp_path / "a.zip"))
    pack(package, str(tmp_path / "b.zip"))
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    # As Ansible loads it (its DOCUMENTATION holds the options), from the checkout's
    # collection (ansible.cfg: collections_path .venv, where bootstrap links it).
    init_plugin_loader([str(Path(__file__).resolve().parents[2] / ".venv")])
    lookup = lookup_loader.get("podnet.fabric.pyroute2_zip")
    assert lookup is not None
    path = lookup.run([], {}, cache_dir=str(tmp_path / "cache"))[0]
    digest = lookup.run([], {}, cache_dir=str(tmp_path / "cache"), output="sha256")[0]
    assert Path(path).name == "pyroute2.zip"
    assert digest == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert Path(path).read_bytes() == (tmp_path / "a.zip").read_bytes()
