"""Pods: one network namespace per node, attached by the node's own CNI config.

A pod is what a container runtime on the node would make: an empty network namespace
(podnet-lab-pod-<node>, lo up as the runtime's loopback step leaves it) handed to the
first CNI config in the node's /etc/cni/net.d. The plugins run inside the node's network
namespace (the bridge, veth host end and routes land there) and its mount namespace (the
node's own config, subnet.env and host-local leases). Their ADD result is kept in
/run/podnet-lab/<node>/pod.json, like the runtime's result cache, and DEL uses it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .cni import (
    CniError,
    Invocation,
    NetworkList,
    Runner,
    add_network_list,
    del_network_list,
    load_network_list,
    parse_network_list,
    result_ips,
)
from .layout import CNI_BIN_DIR, CNI_CONF_DIR, POD_IFNAME, Node, Topology, node
from .nodes import pod_netns_command, run_in_node
from .system import LabError, lab_lock, require_cni_plugins, run, write_atomic


def _invocation(pod: Node) -> Invocation:
    # CNI_ARGS as kubelet's runtimes pass them; IgnoreUnknown lets plugins skip the K8S_*.
    args = f"IgnoreUnknown=1;K8S_POD_NAMESPACE=podnet-lab;K8S_POD_NAME={pod.pod_netns}"
    return Invocation(
        container_id=pod.pod_netns,
        netns=pod.pod_netns_in_node,
        ifname=POD_IFNAME,
        cni_path=str(CNI_BIN_DIR),
        args=f"{args};K8S_POD_INFRA_CONTAINER_ID={pod.pod_netns}",
    )


def _cni_bin_dir(pod: Node) -> Path:
    """The node's plugin directory as this machine sees it: a hosts-lab machine has its
    distribution's plugins; a namespace node uses this machine's."""
    if pod.topology is Topology.HOSTS:
        return pod.host_path(str(CNI_BIN_DIR))
    return CNI_BIN_DIR


def _runner(pod: Node) -> Runner:
    def run_plugin(
        argv: list[str], stdin: str, env: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]:
        return run_in_node(pod, argv, check=False, stdin=stdin, env=env)

    return run_plugin


def _primary_ip(addresses: Sequence[str]) -> str:
    """The address tests ping: the first IPv4 one, else the first."""
    parsed = [ipaddress.ip_interface(a).ip for a in addresses]
    if not parsed:
        raise LabError("the CNI result has no IP address")
    return str(next((a for a in parsed if a.version == 4), parsed[0]))


def read_pod(name: str) -> dict[str, Any] | None:
    """The node's pod.json (what attach_pod recorded), or None when it has no pod."""
    try:
        record: dict[str, Any] = json.loads(node(name).pod_json.read_text())
    except FileNotFoundError:
        return None
    return record


def attach_pod(name: str) -> str:
    """Attach the node's pod (CNI ADD) and return its IP; an attached pod is kept as is."""
    pod = node(name)
    if not pod.netns_path.exists():
        raise LabError(f"{name} does not exist: run `tests/lab/lab.py up` first")
    with lab_lock():
        record = read_pod(name)
        if record is not None and pod.pod_netns_path.exists():
            return str(record["ip"])
        try:
            netlist = load_network_list(pod.host_path(CNI_CONF_DIR), CNI_CONF_DIR)
            require_cni_plugins([p["type"] for p in netlist.plugins], _cni_bin_dir(pod))
        except LabError as err:
            raise LabError(f"{name}: {err}") from err
        if pod.pod_netns_path.exists():  # a namespace without pod.json: a crashed attach
            pod_netns_command(pod, "del", pod.pod_netns)
        pod_netns_command(pod, "add", pod.pod_netns)
        pod_netns_command(pod, "exec", pod.pod_netns, "ip", "link", "set", "lo", "up")
        try:
            result = add_network_list(_runner(pod), netlist, _invocation(pod))
        except CniError as err:
            _teardown_failed_add(pod, netlist)
            raise CniError(f"{name}: {err}") from err
        ips = result_ips(result)
        record = {
            "node": name,
            "netns": pod.pod_netns,
            "ip": _primary_ip(ips),
            "ips": ips,
            "network": netlist.to_json(),
            "conf_file": netlist.path,
            "result": result,
        }
        write_atomic(pod.pod_json, json.dumps(record, indent=2) + "\n")
        return str(record["ip"])


def _teardown_failed_add(pod: Node, netlist: NetworkList) -> None:
    # What a runtime does when sandbox networking fails: DEL the list (errors ignored, the
    # ADD error is the one that matters) and drop the namespace.
    with contextlib.suppress(CniError):
        del_network_list(_runner(pod), netlist, _invocation(pod), None)
    with contextlib.suppress(LabError):
        pod_netns_command(pod, "del", pod.pod_netns)


def detach_pod(name: str, *, netns_gone: bool = False) -> None:
    """CNI DEL of the node's pod (with the config used at ADD) and remove its namespace.

    A failing DEL leaves the pod in place, so it can be retried after the fix. netns_gone:
    the pod died with its machine (a reboot); the DEL names no namespace, as a runtime's
    does then, and only releases what lives on (host-local's lease on disk).
    """
    pod = node(name)
    with lab_lock():
        record = read_pod(name)
        if record is not None:
            netlist = parse_network_list(record["network"], record["conf_file"])
            who = _invocation(pod)
            if netns_gone:
                who = dataclasses.replace(who, netns="")
            try:
                del_network_list(_runner(pod), netlist, who, record["result"])
            except CniError as err:
                raise CniError(f"{name}: {err}") from err
        if pod.pod_netns_path.exists():
            pod_netns_command(pod, "del", pod.pod_netns)
        pod.pod_json.unlink(missing_ok=True)


def pod_run(
    name: str, argv: Sequence[str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside the node's pod network namespace (the host's filesystem)."""
    pod = node(name)
    if not pod.pod_netns_path.exists():
        raise LabError(f"{name} has no pod: run `tests/lab/lab.py pods` (or attach_pod)")
    return run(["nsenter", f"--net={pod.pod_netns_path}", "--", *argv], check=check, where=name)


def ping(
    src_node_pod: str,
    dst_ip: str,
    size: int | None = None,
    dont_fragment: bool = False,
    *,
    count: int = 2,
) -> bool:
    """Whether `dst_ip` answers a ping from the node's pod (any of `count` packets).

    size is ICMP payload bytes (the packet is size + 28 for IPv4); dont_fragment sets DF
    (`-M do`), so a packet above any MTU on the path is refused instead of fragmented.
    """
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1"]
    argv += ["-M", "do"] if dont_fragment else []
    argv += ["-s", str(size)] if size is not None else []
    return pod_run(src_node_pod, [*argv, dst_ip], check=False).returncode == 0


def pod_mtu(name: str) -> int:
    """The MTU of the pod's eth0, as the kernel reports it."""
    shown = pod_run(name, ["ip", "-j", "link", "show", "dev", POD_IFNAME], check=False)
    links = json.loads(shown.stdout) if shown.returncode == 0 else []
    if not links:
        raise LabError(f"{name}: the pod has no {POD_IFNAME}: run `tests/lab/lab.py pods`")
    return int(links[0]["mtu"])
