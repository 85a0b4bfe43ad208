"""reset.yml on the lab: nothing podnet made remains, foreign objects do.

One lab, tests in file order, each installing a backend over what the previous reset left
(a reset node must take a fresh install): VXLAN with DirectRouting (check mode first, then
the reset, then a second one that changes nothing), WireGuard on wireguard-go (the key
kept, then removed on request; a conflist edited by hand stays), host-gw with nftables
(--limit, with the cni0 bridge). Every reset runs with the lab's own net-conf.json (vxlan):
a reset must find what another backend left. Every node is read back from its kernel and
files.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import time

from conftest import (
    LEASE_FILE,
    _failure,
    converge,
    labkit,
    node_json,
    node_text,
    run_playbook,
    with_backend,
)

RECORDS_BOOT_STATE = True  # conftest: these tests need what a run records for boot
NODES = ("node1", "node2", "node3")
VXLAN_DIRECT = with_backend({"Type": "vxlan", "DirectRouting": True})
WIREGUARD = with_backend({"Type": "wireguard"})
HOST_GW_NFT = with_backend({"Type": "host-gw"}, EnableNFTables=True)
USERSPACE = json.dumps({"podnet_wireguard_userspace": True})
KEY_FILE = "/etc/podnet/wireguard.key"
CLUSTER = ipaddress.ip_network("10.244.0.0/16")
PODNET_FILES = ("/run/flannel/subnet.env", "/etc/cni/net.d/10-flannel.conflist")

# Objects a person or another tool made; every reset must leave them as they are.
FOREIGN_COMMANDS = (
    ["ip", "route", "add", "198.18.5.0/24", "via", "192.0.2.1", "dev", "eth0"],
    # Inside the pod network, but proto static: never podnet's.
    ["ip", "route", "add", "10.244.200.0/24", "via", "192.0.2.1", "proto", "static"],
    ["ip", "neigh", "add", "192.0.2.99", "lladdr", "02:00:00:00:00:99", "dev", "eth0",
     "nud", "permanent"],
    ["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "198.18.0.0/15", "-m", "comment",
     "--comment", "foreign masq", "-j", "MASQUERADE"],
    ["iptables", "-A", "FORWARD", "-s", "198.18.0.0/15", "-m", "comment", "--comment",
     "foreign forward", "-j", "ACCEPT"],
    ["nft", "add", "table", "inet", "foreign"],
    ["sh", "-c", "echo '{}' > /etc/cni/net.d/99-foreign.conflist"],
)  # fmt: skip


LIST_FILES = (
    "find /etc/podnet /etc/cni/net.d /run/flannel -printf '%p %m\\n' -type f"
    " -exec sha256sum {} + | sort"
)


def reset(*args: str):
    """reset.yml, which must succeed on every host."""
    started = time.monotonic()
    result = run_playbook(*args, playbook="reset.yml")
    print(f"reset.yml {' '.join(args)}: {time.monotonic() - started:.1f} s")
    assert result.rc == 0 and not any(result.failed().values()), _failure(result.output)
    return result


def snapshot(node: str) -> dict[str, object]:
    """Everything a reset could touch on a node, without what a freshly attached pod still
    changes by itself (link-local addresses leaving DAD, bridge timers, learned entries)."""
    links = node_json(node, ["ip", "-d", "-j", "link", "show"])
    return {
        "links": [
            (
                link["ifname"],
                link.get("linkinfo", {}).get("info_kind"),
                link["mtu"],
                link.get("address"),
                link.get("txqlen"),
                link.get("master"),
                link["flags"],
                link.get("linkinfo", {}).get("info_data") if link["ifname"] != "cni0" else None,
            )
            for link in links
        ],
        **{
            name: stable(node_text(node, argv))
            for name, argv in (
                ("addresses", ["ip", "addr", "show"]),
                ("routes", ["ip", "-d", "route", "show", "table", "all"]),
                ("routes6", ["ip", "-6", "-d", "route", "show", "table", "all"]),
                ("neighbours", ["ip", "neigh", "show", "nud", "permanent"]),
                ("fdb", ["bridge", "fdb", "show"]),
                ("iptables", ["iptables-save"]),
                ("nft", ["nft", "--stateless", "list", "ruleset"]),  # no counters
                ("files", ["sh", "-c", LIST_FILES]),
            )
        },
        "processes": sorted(p.comm for p in labkit.lab_processes() if p.netns.endswith(node)),
    }


def stable(text: str) -> list[str]:
    """Lines without link-local addresses, address lifetimes, learned FDB entries and
    iptables-save's timestamps and counters."""
    return [
        re.sub(r"\[\d+:\d+\]", "", line.replace(" tentative", ""))  # iptables-save's counters
        for line in text.splitlines()
        if "fe80::" not in line
        and "_lft" not in line
        and not line.startswith("#")
        and not (" master " in line and "permanent" not in line)  # learned FDB entries
    ]


def assert_nothing_of_podnet(node: str, files: tuple[str, ...] = PODNET_FILES) -> None:
    links = [link["ifname"] for link in node_json(node, ["ip", "-j", "link", "show"])]
    assert not [name for name in links if name.startswith("flannel")], (node, links)
    # The lab's own routes (default, the foreign one) are proto boot too: only the cluster
    # network's are podnet's.
    boot = node_json(node, ["ip", "-j", "route", "show", "table", "all", "proto", "boot"])
    assert not [r for r in boot if in_cluster(r["dst"])], (node, boot)
    neighbours = node_json(node, ["ip", "-j", "neigh", "show", "nud", "permanent"])
    assert [(n["dst"], n["dev"]) for n in neighbours] == [("192.0.2.99", "eth0")], neighbours
    fdb = node_json(node, ["bridge", "-j", "fdb", "show"])
    assert not [f for f in fdb if f.get("ifname", "").startswith("flannel")], fdb
    rules = node_text(node, ["iptables-save"]) + node_text(node, ["ip6tables-save"])
    assert "FLANNEL" not in rules and "flanneld" not in rules, rules
    assert "PODNET-OVERLAY" not in rules, rules
    tables = node_text(node, ["nft", "list", "tables"])
    assert "flannel" not in tables and "podnet-overlay" not in tables, tables
    for path in files:
        assert not_there(node, path), path
    assert node_text(node, ["ls", "-A", "/run/flannel"]) == ""
    assert not [p for p in labkit.lab_processes() if p.netns.endswith(node)], node


def assert_foreign_objects_remain(node: str) -> None:
    routes = node_text(node, ["ip", "route", "show"])
    assert "198.18.5.0/24 via 192.0.2.1 dev eth0" in routes, routes
    assert "10.244.200.0/24 via 192.0.2.1 dev eth0 proto static" in routes, routes
    assert "192.0.2.99 dev eth0 lladdr 02:00:00:00:00:99 PERMANENT" in node_text(
        node, ["ip", "neigh", "show", "nud", "permanent"]
    )
    rules = node_text(node, ["iptables-save"])
    assert '-A POSTROUTING -s 198.18.0.0/15 -m comment --comment "foreign masq"' in rules
    assert '-A FORWARD -s 198.18.0.0/15 -m comment --comment "foreign forward"' in rules
    assert "table inet foreign" in node_text(node, ["nft", "list", "tables"])
    assert node_text(node, ["cat", "/etc/cni/net.d/99-foreign.conflist"]) == "{}\n"


def differences(before: dict[str, dict[str, object]], after: dict[str, dict[str, object]]) -> str:
    return "\n".join(
        f"{node} {key}:\n"
        + "\n".join(
            difflib.unified_diff(
                [str(x) for x in old], [str(x) for x in after[node][key]], lineterm=""
            )
        )
        for node, snap in before.items()
        for key, old in snap.items()
        if after[node][key] != old
    )


def in_cluster(dst: str) -> bool:
    return dst != "default" and ipaddress.ip_network(dst).subnet_of(CLUSTER)


def not_there(node: str, path: str) -> bool:
    return labkit.node_run(node, ["test", "-e", path], check=False).returncode != 0


def state_dir(node: str) -> list[str]:
    return node_text(node, ["ls", "-A", "/etc/podnet"]).split()


def test_vxlan_check_mode_changes_nothing_then_reset_removes_every_trace(lab) -> None:
    converge("-e", VXLAN_DIRECT)
    for node in NODES:
        labkit.attach_pod(node)
        for command in FOREIGN_COMMANDS:
            labkit.node_run(node, command)
        # podnet's own directory (documented): whatever is in it goes with it.
        labkit.node_run(node, ["sh", "-c", "echo mine > /etc/podnet/notes.txt"])
        routes = node_text(node, ["ip", "route", "show", "proto", "boot"])
        assert "dev eth0" in routes and "dev flannel.1" not in routes  # DirectRouting's
        assert state_dir(node)  # boot restore's files, at least
    leases = LEASE_FILE.read_bytes()
    before = {node: snapshot(node) for node in NODES}

    checked = reset("--check", "--diff")
    assert all(checked.changed()[node] > 0 for node in NODES), checked.output[-4000:]
    after = {node: snapshot(node) for node in NODES}
    assert after == before, differences(before, after)

    reset()
    for node in NODES:
        assert_nothing_of_podnet(node)
        assert_foreign_objects_remain(node)
        assert state_dir(node) == []  # a mount point in the lab: emptied, not removed
        assert "cni0" in node_text(node, ["ip", "link", "show"])  # not asked to go
    assert not_there("node1", "/etc/systemd/system/podnet-restore.service")
    assert LEASE_FILE.read_bytes() == leases

    again = reset()
    assert again.changed() == dict.fromkeys(NODES, 0), again.output[-6000:]


def test_wireguard_reset_keeps_the_key_unless_asked_and_an_edited_conflist(lab) -> None:
    converge("-e", WIREGUARD, "-e", USERSPACE)
    keys = {node: node_text(node, ["cat", KEY_FILE]) for node in NODES}
    assert "wireguard-go" in {p.comm for p in labkit.lab_processes()}
    leases = LEASE_FILE.read_bytes()  # with every node's public key
    # Edited by hand: no longer the file podnet writes, so no longer podnet's to remove.
    labkit.node_run("node3", ["sed", "-i", 's/"cbr0"/"mine"/', PODNET_FILES[1]])

    result = reset()
    assert LEASE_FILE.read_bytes() == leases
    assert f"{PODNET_FILES[1]} is not the file podnet writes" in result.output
    assert '"name": "mine"' in node_text("node3", ["cat", PODNET_FILES[1]])
    for node in NODES:
        # Also: no wireguard-go left in the node.
        assert_nothing_of_podnet(node, PODNET_FILES[:1] if node == "node3" else PODNET_FILES)
        assert_foreign_objects_remain(node)
        assert state_dir(node) == ["wireguard.key"]
        assert node_text(node, ["stat", "-c", "%a", KEY_FILE]).strip() == "600"
        assert node_text(node, ["cat", KEY_FILE]) == keys[node]

    reset("-e", "podnet_reset_keys=true")
    for node in NODES:
        assert state_dir(node) == []


def test_host_gw_reset_with_limit_and_the_cni_bridge(lab) -> None:
    converge("-e", HOST_GW_NFT)
    for node in NODES:
        assert "flannel-ipv4" in node_text(node, ["nft", "list", "tables"])

    reset("--limit", "node1", "-e", "podnet_reset_cni_bridge=true")
    assert_nothing_of_podnet("node1")
    assert_foreign_objects_remain("node1")
    assert "cni0" not in node_text("node1", ["ip", "link", "show"])
    for node in ("node2", "node3"):  # outside the play: untouched
        assert [r for r in node_json(node, ["ip", "-j", "route", "show", "proto", "boot"])
                if in_cluster(r["dst"])]  # fmt: skip
        assert not not_there(node, "/run/flannel/subnet.env")
        assert "cni0" in node_text(node, ["ip", "link", "show"])
