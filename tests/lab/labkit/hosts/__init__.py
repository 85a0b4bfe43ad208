"""The hosts lab: each node a systemd machine (a podman container) reached over SSH.

`labkit.up(topology="hosts")` builds it through `up_hosts`; `labkit.down()` removes it
through `remove_hosts` (the images stay: see image.py). The namespace lab's names hold for
it too (podnet-lab-<node> is the machine's network namespace and its container; node<i>
is 192.0.2.(10+i) on the underlay), plus the management segment Ansible uses
(198.18.0.(10+i), inventories/hosts-lab). Releases go round Debian 11, 12, 13 unless
given: node1 is Debian 11, node2 Debian 12, node3 Debian 13.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import LabError
from ..layout import REPO, Node
from ..layout import node as find_node
from ..pods import detach_pod, read_pod
from ..system import write_atomic
from .image import RELEASE_BY_NAME, RELEASES, Release, ensure_images
from .machines import (
    create_machine,
    ensure_mgmt_bridge,
    kubelet_records,
    machine_containers,
    machine_exec,
    machine_is_complete,
    remove_machine,
    remove_mgmt_bridge,
)
from .machines import reboot as power_cycle

INVENTORY_DIR = REPO / "inventories" / "hosts-lab"
EXTRA_INVENTORY = INVENTORY_DIR / "zz-lab-extra-nodes.yml"
INVENTORY_NODES = 3

__all__ = [
    "INVENTORY_DIR",
    "RELEASES",
    "kubelet_records",
    "machine_exec",
    "reboot",
    "releases_for",
    "remove_hosts",
    "up_hosts",
]


def releases_for(count: int, names: Sequence[str] | None = None) -> list[Release]:
    """The release of each of node1..node<count>: `names` in order, else round the list.

    >>> [r.name for r in releases_for(4)]
    ['debian11', 'debian12', 'debian13', 'debian11']
    """
    if names is None:
        return [RELEASES[i % len(RELEASES)] for i in range(count)]
    unknown = sorted(set(names) - set(RELEASE_BY_NAME))
    if unknown or len(names) != count:
        raise LabError(
            f"releases: {', '.join(names)}: give one of {', '.join(RELEASE_BY_NAME)} "
            f"for each of the {count} nodes"
        )
    return [RELEASE_BY_NAME[n] for n in names]


def up_hosts(wanted: Sequence[Node], releases: Sequence[Release], stale: Sequence[Node]) -> None:
    """Machines for `wanted` (complete ones kept, as a running server is), none for `stale`.

    The caller holds the lab lock and has made the underlay bridge.
    """
    images = ensure_images(tuple(dict.fromkeys(releases)))
    ensure_mgmt_bridge()
    for extra in stale:
        remove_machine(extra)
    for each, release in zip(wanted, releases, strict=True):
        image = images[release.name]
        if not machine_is_complete(each, image):
            remove_machine(each)
            create_machine(each, image)
    _write_extra_inventory(wanted)


def remove_hosts() -> list[str]:
    """Every machine of the lab (container, links, namespace), the management bridge and
    the extra inventory; the images stay. Returns what was removed."""
    removed = []
    for name in machine_containers():
        remove_machine(find_node(name.removeprefix("podnet-lab-")))
        removed.append(name)
    removed += remove_mgmt_bridge()
    if EXTRA_INVENTORY.exists():
        EXTRA_INVENTORY.unlink()
        removed.append(str(EXTRA_INVENTORY))
    return removed


def reboot(node: Node) -> float:
    """Power-cycle the machine; then what its container runtime does at start for the pod
    sandbox that died with it: CNI DEL with the recorded result (host-local's lease on disk
    is released; the namespace is already gone). Seconds taken by the power cycle."""
    seconds = power_cycle(node)
    if read_pod(node.name) is not None:
        detach_pod(node.name, netns_gone=True)
    return seconds


def _write_extra_inventory(wanted: Sequence[Node]) -> None:
    extra = [n for n in wanted if n.index > INVENTORY_NODES]
    if not extra:
        EXTRA_INVENTORY.unlink(missing_ok=True)
        return
    hosts = "".join(f"    {n.name}:\n      ansible_host: {n.mgmt_ip}\n" for n in extra)
    write_atomic(
        EXTRA_INVENTORY,
        "# Written by tests/lab/lab.py up --topology hosts --nodes N (N > 3); removed by\n"
        "# `lab.py down`; gitignored. hosts.yml lists node1..node3 and the group's variables.\n"
        f"podnet_nodes:\n  hosts:\n{hosts}",
    )
