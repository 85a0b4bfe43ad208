"""Which WireGuard this host can run: the kernel module, wireguard-go, or none (and why).

The probe only looks: /sys/module/wireguard (the module is loaded or built in), then
`modprobe --dry-run wireguard` (it could be loaded; --dry-run resolves the module and
its dependencies without inserting anything), then, only where userspace is allowed,
the wireguard-go program and /dev/net/tun (wireguard-go needs a TUN device). `wg` is
needed either way: podnet configures both implementations through it (it speaks
netlink to the kernel module and the UAPI socket to wireguard-go).

The decision is a pure function of the facts, so every sentence is unit-tested.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from .commands import Commands

KERNEL = "kernel"
USERSPACE = "userspace"
SYS_MODULE = "/sys/module/wireguard"
TUN_DEVICE = "/dev/net/tun"


@dataclass(frozen=True)
class ProbeFacts:
    """What the host has.

    Attributes:
        wg: the `wg` program is installed.
        kernel_loaded: /sys/module/wireguard exists.
        kernel_loadable: `modprobe --dry-run wireguard` succeeded; None when modprobe is
            not installed or was not asked (the module is loaded already).
        userspace: wireguard-go may be used (the module's `userspace` option).
        wireguard_go: the option's value (a program name or a path), for messages.
        wireguard_go_path: where it was found; None when it is not installed (or not
            looked for, userspace being off).
        tun: /dev/net/tun exists.
    """

    wg: bool
    kernel_loaded: bool
    kernel_loadable: bool | None
    userspace: bool
    wireguard_go: str = "wireguard-go"
    wireguard_go_path: str | None = None
    tun: bool = True

    @property
    def kernel(self) -> bool:
        return self.kernel_loaded or bool(self.kernel_loadable)


@dataclass(frozen=True)
class Probe:
    """implementation: KERNEL, USERSPACE or None; missing: why None, as one sentence."""

    implementation: str | None
    missing: str | None
    wireguard_go_path: str | None = None


def choose_implementation(facts: ProbeFacts) -> Probe:
    """The kernel module where there is one, else wireguard-go where allowed, else None.

    >>> choose_implementation(ProbeFacts(wg=True, kernel_loaded=False, kernel_loadable=True,
    ...                                  userspace=False)).implementation
    'kernel'
    >>> print(choose_implementation(ProbeFacts(wg=True, kernel_loaded=False,
    ...                                        kernel_loadable=False, userspace=False)).missing)
    no WireGuard kernel module (modprobe --dry-run wireguard failed, /sys/module/wireguard \
absent) and userspace is not allowed (set podnet_wireguard_userspace: true to use wireguard-go)
    """
    problems = []
    implementation: str | None = None
    if facts.kernel:
        implementation = KERNEL
    elif facts.userspace and facts.wireguard_go_path is not None and facts.tun:
        implementation = USERSPACE
    else:
        problems.append(f"{_no_kernel(facts)} and {_no_userspace(facts)}")
    if not facts.wg:
        problems.append(
            "wg is not installed (package wireguard-tools); podnet configures WireGuard with it"
        )
        implementation = None
    go = facts.wireguard_go_path if implementation == USERSPACE else None
    return Probe(implementation, "; ".join(problems) or None, go)


def _no_kernel(facts: ProbeFacts) -> str:
    modprobe = (
        "modprobe is not installed"
        if facts.kernel_loadable is None
        else "modprobe --dry-run wireguard failed"
    )
    return f"no WireGuard kernel module ({modprobe}, {SYS_MODULE} absent)"


def _no_userspace(facts: ProbeFacts) -> str:
    if not facts.userspace:
        return "userspace is not allowed (set podnet_wireguard_userspace: true to use wireguard-go)"
    if facts.wireguard_go_path is None:
        where = (
            f"nothing executable at {facts.wireguard_go}"
            if "/" in facts.wireguard_go
            else f"no {facts.wireguard_go!r} on PATH"
        )
        return f"wireguard-go is not installed ({where})"
    return f"wireguard-go cannot run: {TUN_DEVICE} is missing (load the tun kernel module)"


def probe_host(
    commands: Commands,
    *,
    userspace: bool,
    wireguard_go: str,
    exists: Callable[[str], bool] = os.path.exists,
) -> Probe:
    """Gather the facts (reading only) and decide."""
    loaded = exists(SYS_MODULE)
    loadable: bool | None = None
    if not loaded and commands.path("modprobe") is not None:
        rc = commands.run("modprobe", "--dry-run", "wireguard", check=False)[0]
        loadable = rc == 0
    go_path = None
    tun = True
    if userspace and not loaded and not loadable:
        go_path = commands.path(wireguard_go)
        tun = exists(TUN_DEVICE)
    facts = ProbeFacts(
        wg=commands.path("wg") is not None,
        kernel_loaded=loaded,
        kernel_loadable=loadable,
        userspace=userspace,
        wireguard_go=wireguard_go,
        wireguard_go_path=go_path,
        tun=tun,
    )
    return choose_implementation(facts)
