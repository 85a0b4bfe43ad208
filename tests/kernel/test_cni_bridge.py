"""podnet.fabric.cni_bridge against a real bridge in a throwaway namespace."""

from __future__ import annotations

from pathlib import Path

from conftest import ip, run_module

ARGS = {"subnets": ["10.244.77.0/24"], "networks": ["10.244.0.0/16"]}


def test_the_old_gateway_stays_while_a_pod_holds_an_old_address_then_goes(
    netns: str, tmp_path: Path
) -> None:
    ip("link", "add", "cni0", "type", "bridge", netns=netns)
    ip("addr", "add", "10.244.1.1/24", "dev", "cni0", netns=netns)
    ip("addr", "add", "192.168.9.1/24", "dev", "cni0", netns=netns)  # not podnet's concern
    ip("link", "set", "cni0", "up", netns=netns)
    held = tmp_path / "10.244.1.7"
    held.write_text("c0ffee00c0ffee00\neth0\n")
    args = {**ARGS, "ipam_dir": str(tmp_path)}

    waiting = run_module(netns, "cni_bridge", args)
    assert not waiting["changed"], waiting
    assert "container c0ffee00c0ff: 10.244.1.7" in waiting["warnings"][0]["event"]["msg"]
    assert "10.244.1.1/24" in ip("addr", "show", "cni0", netns=netns)

    held.unlink()  # the pod was drained
    check = run_module(netns, "cni_bridge", {**args, "_ansible_check_mode": True})
    assert [c["key"] for c in check["changes"]] == ["cni0 10.244.1.1/24"]
    assert "10.244.1.1/24" in ip("addr", "show", "cni0", netns=netns)
    done = run_module(netns, "cni_bridge", args)
    assert done["changed"] and done["changes"] == check["changes"]
    shown = ip("addr", "show", "cni0", netns=netns)
    assert "10.244.1.1/24" not in shown and "192.168.9.1/24" in shown
    assert not run_module(netns, "cni_bridge", args)["changed"]


def test_no_bridge_is_nothing_to_do(netns: str, tmp_path: Path) -> None:
    result = run_module(netns, "cni_bridge", {**ARGS, "ipam_dir": str(tmp_path)})
    assert (result.get("failed"), result["changed"]) == (None, False), result
