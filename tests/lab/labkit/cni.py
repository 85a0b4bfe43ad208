"""Calling a CNI network list the way a container runtime does (libcni's semantics).

What libcni (containernetworking/cni, libcni/api.go) does, and so what this does:
- the config is the first file of the config directory in lexical order among .conf,
  .conflist and .json; a single-plugin .conf is wrapped into a list of one;
- ADD calls the plugins in list order; each gets on stdin its own config plus the list's
  `name` and `cniVersion`, and `prevResult` = the previous plugin's result (none for the
  first); the last result is the network's result;
- DEL calls them in reverse order; from cniVersion 0.4.0 on each gets the cached ADD
  result as `prevResult`, before that none;
- `runtimeConfig` is only added for capabilities the runtime has arguments for; the lab
  passes none (no port mappings), so a plugin's config goes out as written;
- the environment is the caller's plus CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
  CNI_IFNAME, CNI_ARGS and CNI_PATH; a failing plugin prints a JSON error on stdout.
The processes themselves are started by a `Runner`, which puts them in the node's
namespaces; this file knows nothing of namespaces.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .system import LabError

# (argv, stdin, env) -> the finished process; never raises on a non-zero exit.
Runner = Callable[[list[str], str, Mapping[str, str]], subprocess.CompletedProcess[str]]

CONF_SUFFIXES = (".conf", ".conflist", ".json")


class CniError(LabError):
    """A plugin failed; the message carries its JSON error (code, msg, details)."""


@dataclass(frozen=True, slots=True)
class NetworkList:
    """A parsed conflist: what the runtime hands to the plugins."""

    name: str
    cni_version: str
    plugins: tuple[dict[str, Any], ...]
    path: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "cniVersion": self.cni_version, "plugins": list(self.plugins)}


@dataclass(frozen=True, slots=True)
class Invocation:
    """Who the plugins are called for (the runtime's RuntimeConf)."""

    container_id: str
    netns: str
    ifname: str
    cni_path: str
    args: str = ""


def parse_network_list(raw: dict[str, Any], path: str) -> NetworkList:
    """Check and parse a conflist (or a single-plugin .conf) as libcni does."""
    if "plugins" not in raw and "type" in raw:  # libcni ConfListFromConf
        raw = {"name": raw.get("name"), "cniVersion": raw.get("cniVersion"), "plugins": [raw]}
    problems = []
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        problems.append("no network `name`")
    plugins = raw.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        problems.append("`plugins` is missing or empty")
        plugins = []
    problems += [
        f"plugins[{i}] has no `type`"
        for i, p in enumerate(plugins)
        if not isinstance(p, dict) or not isinstance(p.get("type"), str)
    ]
    if problems:
        raise LabError(f"{path}: " + "; ".join(problems))
    version = str(raw.get("cniVersion") or "0.1.0")  # libcni's default for a missing one
    return NetworkList(raw["name"], version, tuple(plugins), path)


def load_network_list(conf_dir: Path, shown_dir: str) -> NetworkList:
    """The first config in `conf_dir` (lexical order), as a runtime picks it.

    `shown_dir` is the directory's name as the node sees it, for messages.
    """
    files = sorted(p for p in conf_dir.glob("*") if p.suffix in CONF_SUFFIXES and p.is_file())
    if not files:
        raise LabError(
            f"no CNI config in {shown_dir}: run `ansible-playbook site.yml` first "
            "(or put a .conflist there)"
        )
    shown = f"{shown_dir}/{files[0].name}"
    try:
        raw = json.loads(files[0].read_text())
    except json.JSONDecodeError as err:
        raise LabError(f"{shown}: not JSON: {err}") from err
    return parse_network_list(raw, shown)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def plugin_stdin(
    netlist: NetworkList, plugin: Mapping[str, Any], prev_result: dict[str, Any] | None
) -> str:
    """One plugin's stdin: its config with the list's name/cniVersion and prevResult.

    >>> nl = NetworkList("cbr0", "0.3.1", ({"type": "portmap"},), "x")
    >>> plugin_stdin(nl, nl.plugins[0], {"ips": []})
    '{"type": "portmap", "name": "cbr0", "cniVersion": "0.3.1", "prevResult": {"ips": []}}'
    """
    conf = copy.deepcopy(dict(plugin))
    conf["name"] = netlist.name
    conf["cniVersion"] = netlist.cni_version
    if prev_result is not None:
        conf["prevResult"] = prev_result
    return json.dumps(conf)


def _invoke(
    runner: Runner,
    command: str,
    netlist: NetworkList,
    plugin: Mapping[str, Any],
    *,
    who: Invocation,
    prev_result: dict[str, Any] | None,
) -> dict[str, Any]:
    env = {
        **os.environ,
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": who.container_id,
        "CNI_NETNS": who.netns,
        "CNI_IFNAME": who.ifname,
        "CNI_ARGS": who.args,
        "CNI_PATH": who.cni_path,
    }
    binary = str(Path(who.cni_path) / plugin["type"])
    proc = runner([binary], plugin_stdin(netlist, plugin, prev_result), env)
    if proc.returncode != 0:
        raise CniError(_describe_failure(command, netlist, plugin["type"], proc))
    if command != "ADD":
        return {}
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise CniError(
            f"CNI ADD of {netlist.name}: plugin {plugin['type']} printed no JSON result: "
            f"{proc.stdout.strip()!r}"
        ) from err
    return result


def _describe_failure(
    command: str, netlist: NetworkList, plugin: str, proc: subprocess.CompletedProcess[str]
) -> str:
    head = f"CNI {command} of network {netlist.name} ({netlist.path}): plugin {plugin} failed"
    try:
        error = json.loads(proc.stdout)
    except json.JSONDecodeError:
        error = None
    if isinstance(error, dict) and "msg" in error:
        details = f": {error['details']}" if error.get("details") else ""
        return f"{head} (code {error.get('code')}): {error['msg']}{details}"
    output = (proc.stderr or proc.stdout).strip()
    return f"{head} (exit {proc.returncode}): {output or 'no output'}"


def add_network_list(runner: Runner, netlist: NetworkList, who: Invocation) -> dict[str, Any]:
    """CNI ADD through the whole list; returns the last plugin's result."""
    result: dict[str, Any] | None = None
    for plugin in netlist.plugins:
        result = _invoke(runner, "ADD", netlist, plugin, who=who, prev_result=result)
    assert result is not None  # parse_network_list guarantees at least one plugin
    return result


def del_network_list(
    runner: Runner, netlist: NetworkList, who: Invocation, cached: dict[str, Any] | None
) -> None:
    """CNI DEL through the list in reverse; stops at the first error, as libcni does."""
    prev = cached if _version(netlist.cni_version) >= (0, 4, 0) else None
    for plugin in reversed(netlist.plugins):
        _invoke(runner, "DEL", netlist, plugin, who=who, prev_result=prev)


def result_ips(result: Mapping[str, Any]) -> list[str]:
    """The interface addresses ("10.244.1.2/24") of a result, any CNI version.

    >>> result_ips({"cniVersion": "0.2.0", "ip4": {"ip": "10.244.1.2/24"}})
    ['10.244.1.2/24']
    >>> result_ips({"ips": [{"address": "fd00::2/64"}, {"address": "10.244.1.2/24"}]})
    ['fd00::2/64', '10.244.1.2/24']
    """
    if "ips" in result:  # 0.3.0 and later
        return [str(entry["address"]) for entry in result["ips"]]
    return [str(result[key]["ip"]) for key in ("ip4", "ip6") if key in result]
