"""reset_facts: reset.yml's ownership decisions (module_utils/reset), from hand-built host
reads, and the host read itself over a temporary tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from plugins.module_utils.core.programs import SUBPROCESS
from plugins.module_utils.reset import entry, host
from plugins.module_utils.reset.decide import decide, is_own_state_dir

CONFLIST = (
    '{\n  "name": "cbr0",\n  "mtu": 1450,\n  "ipMasq": true,\n  "subnet": "10.244.1.0/24"\n}\n'
)
PARAMS: dict[str, Any] = {
    "state_dir": "/etc/podnet",
    "subnet_env_path": "/run/flannel/subnet.env",
    "cni_conf_dir": "/etc/cni/net.d",
    "conflist_name": "10-flannel.conflist",
    "conflist": CONFLIST,
    "unit_dir": "/etc/systemd/system",
    "key_file": "/etc/podnet/wireguard.key",
    "keep_key": True,
    "networks": ["10.244.0.0/16"],
}
MOUNTED = "1 0 0:1 / /etc/podnet rw - tmpfs x rw\n2 0 0:2 / /run/flannel rw - tmpfs x rw\n"


def found(**changes: Any) -> dict[str, Any]:
    """A host with podnet installed, nothing mounted; `changes` replaces what was read."""
    base: dict[str, Any] = {
        "entries": {
            "/etc/podnet": ["/etc/podnet/applied.json", "/etc/podnet/wireguard.key"],
            "/run/flannel": ["/run/flannel/subnet.env"],
        },
        "subnet_env": "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_IPV6_NETWORK=fd00::/56\n",
        "conflist": CONFLIST,
        "unit_files": [],
        "systemd_runs": False,
        "mountinfo": "",
        "ifnames": ["lo", "eth0", "flannel.1", "flannel-v6.1", "flannel-wg"],
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("state_dir", "owned"),
    [
        ("/etc/podnet", True),
        ("/opt/podnet/state", True),
        ("/etc", False),
        ("etc/podnet", False),
        ("/etc/podnet/", False),
        ("/etc/../podnet", False),
        ("/etc/cni/net.d", False),
        ("/etc/cni", False),  # holds the CNI configuration
        ("/run/flannel", False),
        ("/var/lib", False),
        ("/usr", False),
    ],
    ids=str,
)
def test_the_state_directory_must_be_podnets_own(state_dir: str, owned: bool) -> None:
    assert is_own_state_dir(state_dir, ["/etc/cni/net.d", "/run/flannel"]) is owned
    assert decide({**PARAMS, "state_dir": state_dir}, found())["state_dir_owned"] is owned


@pytest.mark.parametrize(
    ("conflist", "ours"),
    [
        (CONFLIST, True),
        (CONFLIST.replace("1450", "1500").replace("true", "false").replace(".1.", ".9."), True),
        (CONFLIST.replace('"cbr0"', '"mine"'), False),
        ("{}\n", False),
        (None, False),
    ],
    ids=["as-written", "mtu-ipmasq-subnet-changed", "edited", "foreign", "missing"],
)
def test_the_conflist_is_podnets_only_as_podnet_writes_it(conflist: str | None, ours: bool) -> None:
    answers = decide(PARAMS, found(conflist=conflist))
    assert answers["conflist_ours"] is ours
    assert answers["conflist_found"] is (conflist is not None)
    assert answers["conflist_path"] == "/etc/cni/net.d/10-flannel.conflist"


def test_networks_are_the_plans_then_subnet_envs_and_devices_take_their_familys() -> None:
    answers = decide(PARAMS, found())
    assert answers["networks"] == [
        {"family": 4, "network": "10.244.0.0/16"},
        {"family": 6, "network": "fd00::/56"},
    ]
    assert answers["devices"] == {
        "vxlan": [
            {"ifname": "flannel-v6.1", "family": 6, "vni": 1, "network": "fd00::/56"},
            {"ifname": "flannel.1", "family": 4, "vni": 1, "network": "10.244.0.0/16"},
        ],
        "wireguard": ["flannel-wg"],
    }
    no_env = decide(PARAMS, found(subnet_env=None, entries={}))
    assert no_env["networks"] == [{"family": 4, "network": "10.244.0.0/16"}]
    assert no_env["devices"]["vxlan"][0]["network"] is None  # no IPv6 network known


@pytest.mark.parametrize(
    ("keep_key", "mountinfo", "entries", "remove_dir"),
    [
        (True, "", ["/etc/podnet/applied.json"], False),
        (False, "", ["/etc/podnet/applied.json", "/etc/podnet/wireguard.key"], True),
        (False, MOUNTED, ["/etc/podnet/applied.json", "/etc/podnet/wireguard.key"], False),
    ],
    ids=["key-kept", "all-go", "mount-point-emptied"],
)
def test_state_directory_entries_go_except_a_kept_key(
    keep_key: bool, mountinfo: str, entries: list[str], remove_dir: bool
) -> None:
    answers = decide({**PARAMS, "keep_key": keep_key}, found(mountinfo=mountinfo))
    assert answers["state_dir_entries"] == entries
    assert answers["remove_state_dir"] is remove_dir


def test_a_key_outside_the_state_directory_keeps_nothing_in_it() -> None:
    answers = decide({**PARAMS, "key_file": "/root/wg.key"}, found())
    assert answers["state_dir_entries"] == [
        "/etc/podnet/applied.json",
        "/etc/podnet/wireguard.key",
    ]
    assert answers["remove_state_dir"] is True


@pytest.mark.parametrize(
    ("entries", "mountinfo", "remove"),
    [
        (["/run/flannel/subnet.env"], "", True),
        (["/run/flannel/subnet.env", "/run/flannel/other"], "", False),
        (["/run/flannel/subnet.env"], MOUNTED, False),
    ],
    ids=["only-subnet-env", "something-else-too", "mount-point"],
)
def test_subnet_envs_directory_goes_only_when_empty_and_unmounted(
    entries: list[str], mountinfo: str, remove: bool
) -> None:
    read = found(entries={"/run/flannel": entries}, mountinfo=mountinfo)
    answers = decide(PARAMS, read)
    assert answers["subnet_env_found"] is True
    assert answers["remove_subnet_env_dir"] is remove
    assert answers["state_dir_entries"] == [] and answers["remove_state_dir"] is False


def test_nothing_there_nothing_to_remove() -> None:
    read = found(entries={}, subnet_env=None, conflist=None, ifnames=["lo", "eth0"])
    answers = decide(PARAMS, read)
    assert (answers["subnet_env_found"], answers["remove_subnet_env_dir"]) == (False, False)
    assert answers["devices"] == {"vxlan": [], "wireguard": []}


def test_the_host_read_finds_entries_units_and_files(tmp_path: Path) -> None:
    state, run, units = tmp_path / "state", tmp_path / "run", tmp_path / "units"
    for directory in (state, run, units / "multi-user.target.wants", tmp_path / "cni"):
        directory.mkdir(parents=True)
    (state / ".hidden").write_text("")
    (run / "subnet.env").write_text("FLANNEL_NETWORK=10.245.0.0/16\n")
    (tmp_path / "cni" / "10-flannel.conflist").write_bytes(b'{"name": "\xff"}')
    (units / "podnet-restore.service").write_text("[Unit]\n")
    (units / "multi-user.target.wants" / "podnet-restore.service").symlink_to(
        units / "podnet-restore.service"
    )
    params = {
        **PARAMS,
        "state_dir": str(state),
        "subnet_env_path": str(run / "subnet.env"),
        "cni_conf_dir": str(tmp_path / "cni"),
        "unit_dir": str(units),
    }
    read = host.read_host(params)
    assert read["entries"] == {
        str(state): [str(state / ".hidden")],
        str(run): [str(run / "subnet.env")],
    }
    assert read["subnet_env"] == "FLANNEL_NETWORK=10.245.0.0/16\n"
    assert read["conflist"] == '{"name": "\ufffd"}'
    assert read["unit_files"] == [
        str(units / "multi-user.target.wants" / "podnet-restore.service"),
        str(units / "podnet-restore.service"),
    ]
    assert "lo" in read["ifnames"]
    applied = entry.run(params, True, SUBPROCESS)
    output = applied.output(diff=True)
    assert output["changed"] is False and output["changes"] == []
    assert [n["network"] for n in output["networks"]] == ["10.244.0.0/16", "10.245.0.0/16"]
    assert output["conflist_ours"] is False


def test_a_missing_tree_reads_as_nothing(tmp_path: Path) -> None:
    params = {
        **PARAMS,
        "state_dir": str(tmp_path / "state"),
        "subnet_env_path": str(tmp_path / "run" / "subnet.env"),
        "cni_conf_dir": str(tmp_path / "cni"),
        "unit_dir": str(tmp_path / "units"),
    }
    read = host.read_host(params)
    assert (read["entries"], read["subnet_env"], read["conflist"], read["unit_files"]) == (
        {},
        None,
        None,
        [],
    )
    assert read["systemd_runs"] is False
