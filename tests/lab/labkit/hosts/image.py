"""The hosts lab's machine images: Debian 11, 12 and 13 as a minimal server installs them.

No registry is reachable from here, so each image is built from Debian's repositories:
`debootstrap` (the required and important packages, what a minimal server has) plus sshd,
sudo, python3 and systemd-networkd's boot-time addressing; then `podman import`. What podnet
needs beyond that is only what the README's "What hosts need" lists (iproute2, iptables;
wireguard-tools and wireguard-go for the WireGuard backend); pyroute2 is not installed: the
role provides it. Plus the lab's own pieces: the `podnet` user with passwordless sudo, and
a stand-in kubelet.service that records what pod networking looked like when it started.

Images are a cache: tagged with a digest of this recipe, kept by `lab.py down` (a rebuild
costs minutes), removed by `lab.py down --images`. A changed recipe builds a new tag. The
downloaded packages are kept in /var/cache/podnet-lab/debs (about 60 MB per release).
"""

from __future__ import annotations

import hashlib
import inspect
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..system import LabError
from .podman import PODMAN_FLAGS, exists, names, podman

HERE = Path(__file__).resolve().parent
FILES = HERE / "image_files"
BUILD_DIR = Path("/var/cache/podnet-lab")
MIRROR = "http://deb.debian.org/debian"
IMAGE_REPOSITORY = "localhost/podnet-lab-host"
USER = "podnet"

# What the image has beyond debootstrap's default set: a server reached over SSH with sudo,
# addressed at boot by systemd-networkd, and podnet's documented host prerequisites.
PACKAGES = (
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "sudo",
    "python3",
    "iproute2",
    "iptables",
    "wireguard-tools",
    # What a Kubernetes node has for its pods (the lab attaches pods with them); the
    # distribution's own, since this machine's builds need a newer glibc than Debian 11's.
    "containernetworking-plugins",
)


@dataclass(frozen=True, slots=True)
class Release:
    name: str  # "debian12": also the image tag's prefix
    suite: str  # Debian's code name, what debootstrap takes
    # wireguard-go (userspace WireGuard, which this machine's kernel needs) where Debian has
    # it: bullseye ships none (its kernel has the module), so a Debian 11 node cannot run
    # the WireGuard backend here.
    extra: tuple[str, ...] = ()

    @property
    def userspace_wireguard(self) -> bool:
        return "wireguard-go" in self.extra


RELEASES = (
    Release("debian11", "bullseye"),
    Release("debian12", "bookworm", ("wireguard-go",)),
    Release("debian13", "trixie", ("wireguard-go",)),
)
RELEASE_BY_NAME = {r.name: r for r in RELEASES}


def recipe_digest(release: Release) -> str:
    """A digest of what the image is built from: packages, the customizing code, its files.

    Not this whole file: a comment edited here should not cost a rebuild.
    """
    digest = hashlib.sha256(repr((release, PACKAGES, MIRROR)).encode())
    digest.update(inspect.getsource(_customize).encode())
    for path in sorted(FILES.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def image_name(release: Release) -> str:
    return f"{IMAGE_REPOSITORY}:{release.name}-{recipe_digest(release)}"


def _chroot(root: Path, *argv: str) -> None:
    subprocess.run(["chroot", str(root), *argv], check=True, capture_output=True, text=True)


def _install(root: Path, source: str, target: str, mode: int = 0o644) -> None:
    path = root / target.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FILES / source, path)
    path.chmod(mode)


def _customize(root: Path) -> None:
    _chroot(root, "useradd", "--create-home", "--shell", "/bin/bash", "--user-group", USER)
    sudoers = root / "etc/sudoers.d" / USER
    sudoers.write_text(f"{USER} ALL=(ALL:ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    _install(root, "kubelet.service", "/etc/systemd/system/kubelet.service")
    _install(root, "kubelet-record", "/usr/local/lib/podnet-lab/kubelet-record", 0o755)
    # Each machine gets its own host key when it is created (known_hosts can then be strict).
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/ssh/sshd_config.d").mkdir(exist_ok=True)
    (root / "etc/ssh/sshd_config.d/podnet-lab.conf").write_text(
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    )
    units = ("systemd-networkd.service", "systemd-networkd-wait-online.service", "kubelet.service")
    subprocess.run(
        ["systemctl", f"--root={root}", "enable", *units], check=True, capture_output=True
    )
    for cached in (root / "var/cache/apt/archives").glob("*.deb"):
        cached.unlink()


def _build(release: Release) -> str:
    name = image_name(release)
    root = BUILD_DIR / "rootfs" / release.name
    log = BUILD_DIR / f"build-{release.name}.log"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    # Downloaded packages are kept per suite: a recipe change rebuilds without downloading.
    debs = BUILD_DIR / "debs" / release.suite
    debs.mkdir(parents=True, exist_ok=True)
    argv = [
        "debootstrap",
        f"--cache-dir={debs}",
        f"--include={','.join(PACKAGES + release.extra)}",
        release.suite,
        str(root),
        MIRROR,
    ]
    with log.open("w") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise LabError(f"{release.name}: debootstrap failed (full log: {log}):\n{tail}")
    try:
        _customize(root)
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], stdout=subprocess.PIPE
        )
        subprocess.run(
            ["podman", *PODMAN_FLAGS, "import", "--change", 'CMD ["/sbin/init"]', "-", name],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
        )
        if tar.wait() != 0:
            raise LabError(f"{release.name}: tar of {root} failed")
    except subprocess.CalledProcessError as err:
        raise LabError(f"{release.name}: `{' '.join(err.cmd)}` failed: {err.stderr}") from err
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return name


def ensure_images(releases: tuple[Release, ...] = RELEASES) -> dict[str, str]:
    """Each release's image name, building the missing ones (in parallel: mostly I/O)."""
    if shutil.which("debootstrap") is None:
        raise LabError(
            "the hosts lab builds its images with debootstrap: apt-get install debootstrap"
        )
    missing = [r for r in releases if not exists("image", image_name(r))]
    with ThreadPoolExecutor(max_workers=len(missing) or 1) as pool:
        list(pool.map(_build, missing))
    return {r.name: image_name(r) for r in releases}


def remove_images() -> list[str]:
    """Every image of the lab's repository, of any recipe: what `down --images` removes."""
    found = names("images", IMAGE_REPOSITORY)
    for name in found:
        podman("rmi", name)
    return found
