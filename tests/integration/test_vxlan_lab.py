"""VXLAN end to end on the namespace lab: site.yml, real kernels, real CNI plugins.

The tests run in file order against one lab, each building on the state the previous
one left (check mode on a fresh lab, first run, field-by-field comparison, second run,
--limit, bad input, a node leaving and coming back), as an operator would go.
"""

from __future__ import annotations

import json

import pytest
from conftest import (
    LEASE_FILE,
    REPO,
    converge,
    inventory_without,
    labkit,
    leases,
    node_json,
    node_text,
    run_playbook,
)

from podnet import ValidationError, parse_net_conf
from podnet.vtep import derive_vtep_mac

NODES = ("node1", "node2", "node3")
POD_MTU = 1450  # a 1500-byte underlay minus VXLAN's 50 bytes over IPv4
FOREIGN = {
    # (node, argv to plant, argv that lists it, text that must stay in the listing)
    "route on eth0": ("node1", ["ip", "route", "add", "198.18.0.0/24", "via", "192.0.2.1"],
                      ["ip", "route", "show", "198.18.0.0/24"], "198.18.0.0/24 via 192.0.2.1"),
    "neighbour on eth0": ("node1", ["ip", "neigh", "add", "192.0.2.99", "lladdr",
                                    "02:00:00:00:00:99", "dev", "eth0", "nud", "permanent"],
                          ["ip", "neigh", "show", "dev", "eth0"],
                          "192.0.2.99 lladdr 02:00:00:00:00:99"),
    "nat rule": ("node1", ["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "198.18.0.0/15",
                           "-m", "comment", "--comment", "foreign", "-j", "RETURN"],
                 ["iptables", "-t", "nat", "-S", "POSTROUTING"], "--comment foreign -j RETURN"),
    "forward rule": ("node1", ["iptables", "-A", "FORWARD", "-s", "198.18.0.0/15", "-m",
                               "comment", "--comment", "foreign", "-j", "ACCEPT"],
                     ["iptables", "-S", "FORWARD"], "--comment foreign -j ACCEPT"),
}  # fmt: skip
# Planted on flannel.1 once it exists: not podnet's by its ownership rules, so they stay.
FOREIGN_ON_DEVICE = {
    "flood FDB entry": ("node2", ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev",
                                  "flannel.1", "dst", "192.0.2.200", "self", "permanent"],
                        ["bridge", "fdb", "show", "dev", "flannel.1"],
                        "00:00:00:00:00:00 dst 192.0.2.200"),
    "static route in Network": ("node2", ["ip", "route", "add", "10.244.250.0/24", "dev",
                                          "flannel.1", "proto", "static"],
                                ["ip", "route", "show", "dev", "flannel.1"], "10.244.250.0/24"),
    "route outside Network": ("node2", ["ip", "route", "add", "198.18.1.0/24", "dev", "flannel.1"],
                              ["ip", "route", "show", "dev", "flannel.1"], "198.18.1.0/24"),
}  # fmt: skip


def snapshot(node: str) -> dict[str, object]:
    """What a run could change on a node: links, routes, neighbours, FDB, firewall, files.

    Routes the kernel makes itself (a fresh eth0's IPv6 link-local finishing DAD) and
    neighbours it learns come and go on their own, so only the others are compared.
    """
    routes = node_json(node, ["ip", "-j", "route", "show", "table", "all"])
    neighbours = node_json(node, ["ip", "-j", "neigh", "show", "nud", "permanent"])
    return {
        "links": sorted(link["ifname"] for link in node_json(node, ["ip", "-j", "link", "show"])),
        "routes": [route for route in routes if route.get("protocol") != "kernel"],
        "neighbours": neighbours,
        "fdb": node_json(node, ["bridge", "-j", "fdb", "show"]),
        "iptables": _rules(node_text(node, ["iptables-save"])),
        "ip6tables": _rules(node_text(node, ["ip6tables-save"])),
        "nft": node_text(node, ["nft", "list", "ruleset"]),
        "ip_forward": node_text(node, ["cat", "/proc/sys/net/ipv4/ip_forward"]),
        "files": node_text(node, ["find", "/run/flannel", "/etc/cni/net.d", "-type", "f"]),
    }


def _rules(save: str) -> list[str]:
    # Comment lines carry timestamps; counters change as packets pass.
    return [line for line in save.splitlines() if line and not line.startswith(("#", ":"))]


def subnet_of(node: str) -> str:
    record = leases()[node]
    return record["subnet"] if isinstance(record, dict) else record


def test_check_mode_on_a_fresh_lab_reports_changes_and_touches_nothing(lab) -> None:
    before = {node: snapshot(node) for node in NODES}
    result = run_playbook("--check")
    assert result.rc == 0, result.output[-6000:]
    assert all(result.changed()[node] > 0 for node in NODES), result.recap
    assert {node: snapshot(node) for node in NODES} == before
    assert not LEASE_FILE.exists(), "check mode must not record leases"


def test_first_run_connects_pods_across_nodes_with_an_exact_mtu(lab) -> None:
    for _, (node, plant, _, _) in FOREIGN.items():
        labkit.node_run(node, plant)
    result = converge()
    assert all(result.changed()[node] > 0 for node in NODES), result.recap
    for node in NODES:
        labkit.attach_pod(node)
    report = labkit.check(expected_mtu=POD_MTU)
    assert report.ok, report
    assert {labkit.pod_mtu(node) for node in NODES} == {POD_MTU}
    # The MTU boundary, pod to pod across nodes: MTU - 28 bytes of ICMP payload passes with
    # DF set, one byte more does not.
    target = labkit.read_pod("node2")["ip"]
    assert labkit.ping("node1", target, size=POD_MTU - 28, dont_fragment=True)
    assert not labkit.ping("node1", target, size=POD_MTU - 27, dont_fragment=True)


def test_kernel_objects_match_flannels_field_by_field(lab) -> None:
    for node in NODES:
        [link] = node_json(node, ["ip", "-d", "-j", "link", "show", "flannel.1"])
        vxlan = link["linkinfo"]["info_data"]
        own = subnet_of(node)
        assert link["linkinfo"]["info_kind"] == "vxlan"
        assert (vxlan["id"], vxlan["local"], vxlan["link"]) == (1, labkit_ip(node), "eth0")
        assert (vxlan["port"], vxlan["learning"], vxlan["ttl"]) == (8472, False, 0)
        assert link["mtu"] == POD_MTU and "UP" in link["flags"]
        assert link["address"] == derive_vtep_mac(node, 4)
        assert node_text(node, ["cat", "/sys/class/net/flannel.1/tx_queue_len"]).strip() == "0"
        accept_ra = ["cat", "/proc/sys/net/ipv6/conf/flannel.1/accept_ra"]
        assert node_text(node, accept_ra).strip() == "0"
        [addresses] = node_json(node, ["ip", "-j", "-4", "addr", "show", "flannel.1"])
        assert [(a["local"], a["prefixlen"]) for a in addresses["addr_info"]] == [
            (own.split("/")[0], 32)
        ]
        peers = [peer for peer in NODES if peer != node]
        neigh = node_json(node, ["ip", "-j", "neigh", "show", "dev", "flannel.1"])
        assert sorted((n["dst"], n["lladdr"], n["state"]) for n in neigh) == sorted(
            (gateway(peer), derive_vtep_mac(peer, 4), ["PERMANENT"]) for peer in peers
        )
        fdb = node_json(node, ["bridge", "-j", "fdb", "show", "dev", "flannel.1"])
        assert sorted((f["mac"], f["dst"], f["flags"], f["state"]) for f in fdb) == sorted(
            (derive_vtep_mac(peer, 4), labkit_ip(peer), ["self"], "permanent") for peer in peers
        )
        routes = node_json(node, ["ip", "-j", "-d", "route", "show", "dev", "flannel.1"])
        assert sorted(
            (r["dst"], r["gateway"], r["protocol"], r["flags"], r["scope"]) for r in routes
        ) == sorted(
            (subnet_of(peer), gateway(peer), "boot", ["onlink"], "global") for peer in peers
        )
        assert node_text(node, ["cat", "/run/flannel/subnet.env"]) == (
            "FLANNEL_NETWORK=10.244.0.0/16\n"
            f"FLANNEL_SUBNET={own.split('/')[0][:-1]}1/24\n"
            f"FLANNEL_MTU={POD_MTU}\n"
            "FLANNEL_IPMASQ=true\n"
        )
        conflist = json.loads(node_text(node, ["cat", "/etc/cni/net.d/10-flannel.conflist"]))
        assert conflist["plugins"][0]["ipam"]["ranges"] == [[{"subnet": own}]]
        assert '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG' in (
            node_text(node, ["iptables", "-t", "nat", "-S", "POSTROUTING"])
        )
        assert node_text(node, ["cat", "/proc/sys/net/ipv4/ip_forward"]).strip() == "1"


def labkit_ip(node: str) -> str:
    return str(labkit.layout.node(node).ip)


def gateway(node: str) -> str:
    """A peer's VTEP address: its subnet's network address (flannel's .0)."""
    return subnet_of(node).split("/")[0]


def test_a_second_run_changes_nothing(lab) -> None:
    for _, (node, plant, _, _) in FOREIGN_ON_DEVICE.items():
        labkit.node_run(node, plant)
    result = converge()
    assert result.changed() == dict.fromkeys(NODES, 0), result.output[-6000:]


def skipped_hosts(output: str) -> dict[str, set[str]]:
    """Per task name (the role's prefix dropped), the hosts the default callback skipped."""
    skipped: dict[str, set[str]] = {}
    task = ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK [") : line.rindex("]")].split(" : ", 1)[-1]
        elif line.startswith("skipping: ["):
            skipped.setdefault(task, set()).add(line[len("skipping: [") : line.index("]")])
    return skipped


def test_an_unchanged_run_skips_what_the_first_read_shows_done_and_repairs_drift(lab) -> None:
    """flannel_facts' read before the plan decides: forwarding already on, a CNI bridge with
    no address outside the node's subnet, and files (subnet.env, the conflist, the boot
    record) that hold what is wanted make no module run; forwarding turned off and a file
    edited behind podnet's back are set right by the next run, on those nodes only."""
    result = converge("-v")
    skipped = skipped_hosts(result.output)
    assert skipped["Enable forwarding"] == set(NODES)
    assert skipped["Remove the CNI bridge's old gateway once no pod uses it"] == set(NODES)
    matched = [line for line in result.output.splitlines() if '"matched_read_before": true' in line]
    assert sorted(line.split("]")[0] for line in matched) == [f"ok: [{n}" for n in NODES]
    labkit.node_run("node2", ["sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"])
    labkit.node_run("node3", ["sh", "-c", "echo '# edited' >> /run/flannel/subnet.env"])
    result = converge()
    assert result.changed() == {"node1": 0, "node2": 1, "node3": 1}, result.output[-6000:]
    assert skipped_hosts(result.output)["Enable forwarding"] == {"node1", "node3"}
    assert node_text("node2", ["cat", "/proc/sys/net/ipv4/ip_forward"]).strip() == "1"
    assert "# edited" not in node_text("node3", ["cat", "/run/flannel/subnet.env"])


def test_check_mode_on_a_converged_lab_reports_no_change(lab) -> None:
    result = run_playbook("--check", "--diff")
    assert result.rc == 0, result.output[-6000:]
    assert result.changed() == dict.fromkeys(NODES, 0), result.output[-6000:]


def test_limit_to_one_node_keeps_every_peer_of_that_node(lab) -> None:
    routes_before = node_json("node1", ["ip", "-j", "route", "show", "dev", "flannel.1"])
    result = converge("--limit", "node1")
    assert result.changed() == {"node1": 0}, result.output[-6000:]
    assert node_json("node1", ["ip", "-j", "route", "show", "dev", "flannel.1"]) == routes_before
    assert labkit.check(expected_mtu=POD_MTU).ok


def test_bad_input_fails_the_play_before_any_host_changes(lab) -> None:
    bad = {"Network": "10.244.0.0/16", "SubnetLen": 8, "Backend": {"Type": "vxlan"}}
    with pytest.raises(ValidationError) as expected:
        parse_net_conf(bad)
    before = {node: snapshot(node) for node in NODES}
    result = run_playbook("-e", json.dumps({"podnet_net_conf": bad}))
    assert result.rc != 0
    # The library's own message, as the play shows it, and no host went past planning.
    assert f"nothing was changed on any host:\n  - {expected.value.problems[0]}" in result.output
    assert "Enable forwarding" not in result.output
    assert not any(result.changed().values())
    assert {node: snapshot(node) for node in NODES} == before


def test_a_node_that_leaves_is_removed_everywhere_and_returns_with_its_subnet(
    lab, tmp_path
) -> None:
    gone_subnet, gone_mac = subnet_of("node3"), derive_vtep_mac("node3", 4)
    converge(inventory=inventory_without(tmp_path, "node3"))
    for node in ("node1", "node2"):
        routes = node_json(node, ["ip", "-j", "route", "show", "dev", "flannel.1"])
        assert gone_subnet not in [r["dst"] for r in routes]
        neigh = node_json(node, ["ip", "-j", "neigh", "show", "dev", "flannel.1"])
        assert gone_mac not in [n.get("lladdr") for n in neigh]
        fdb = node_json(node, ["bridge", "-j", "fdb", "show", "dev", "flannel.1"])
        assert gone_mac not in [f["mac"] for f in fdb]
    assert labkit.ping("node1", labkit.read_pod("node2")["ip"])
    assert labkit.ping("node2", labkit.read_pod("node1")["ip"])
    assert subnet_of("node3") == gone_subnet, "the departed node's lease stays reserved"

    converge()
    assert subnet_of("node3") == gone_subnet
    assert labkit.check(expected_mtu=POD_MTU).ok


def test_foreign_objects_on_the_device_survive_its_reconciliation(lab) -> None:
    # Checked before the VNI test: deleting a replaced device takes everything on it.
    for what, (node, _, listing, expected) in FOREIGN_ON_DEVICE.items():
        assert expected in node_text(node, listing), f"{what} was removed"


def test_a_new_vni_replaces_the_device_and_leaves_no_old_one(lab) -> None:
    conf = json.loads((REPO / "inventories" / "lab" / "net-conf.json").read_text())
    conf["Backend"] = {"Type": "vxlan", "VNI": 2}
    converge("-e", json.dumps({"podnet_net_conf": conf}))
    for node in NODES:
        links = [link["ifname"] for link in node_json(node, ["ip", "-j", "link", "show"])]
        assert "flannel.2" in links and "flannel.1" not in links
        [link] = node_json(node, ["ip", "-d", "-j", "link", "show", "flannel.2"])
        assert link["linkinfo"]["info_data"]["id"] == 2
    assert labkit.check(expected_mtu=POD_MTU).ok

    converge()
    for node in NODES:
        links = [link["ifname"] for link in node_json(node, ["ip", "-j", "link", "show"])]
        assert "flannel.1" in links and "flannel.2" not in links
    assert labkit.check(expected_mtu=POD_MTU).ok


def test_switching_to_nftables_and_back_leaves_one_set_of_rules(lab) -> None:
    nft_conf = json.loads((REPO / "inventories" / "lab" / "net-conf.json").read_text())
    nft_conf["EnableNFTables"] = True
    converge("-e", json.dumps({"podnet_net_conf": nft_conf}))
    for node in NODES:
        table = node_text(node, ["nft", "list", "table", "ip", "flannel-ipv4"])
        assert "ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade" in table
        assert "FLANNEL-POSTRTG" not in node_text(node, ["iptables-save", "-t", "nat"])
    assert labkit.check(expected_mtu=POD_MTU).ok

    converge()
    for node in NODES:
        assert "flannel-ipv4" not in node_text(node, ["nft", "list", "tables"])
        assert "-j FLANNEL-POSTRTG" in node_text(node, ["iptables-save", "-t", "nat"])


def test_foreign_objects_survive_every_run(lab) -> None:
    for what, (node, _, listing, expected) in FOREIGN.items():
        assert expected in node_text(node, listing), f"{what} was removed"
