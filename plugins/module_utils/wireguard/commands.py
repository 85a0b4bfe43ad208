"""The commands a WireGuard module runs (`ip`, `wg`, `modprobe`, `wireguard-go`), through
one runner handed in by the module.

The runner is AnsibleModule.run_command with an argument list (never a shell), so nothing
here imports Ansible and a unit test passes a fake. Secrets reach a command only as
stdin (`data`, a `Secret`) or as a file path; they are never part of an argument list,
and a failure message quotes the arguments and the command's stderr, never its stdin or
stdout (`wg show dump` prints private keys).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from .keys import Secret, WgError

if TYPE_CHECKING:  # aliases for annotations only
    from collections.abc import Callable, Mapping

    from ..core.programs import Programs

    # run(args, stdin text or None, extra environment or None) -> (rc, stdout, stderr)
    # Optional, not `X | None`: an alias is an expression, and hosts run Python 3.9.
    Run = Callable[[list[str], Optional[str], Optional[Mapping[str, str]]], tuple[int, str, str]]
    # which(program name or path) -> absolute path, or None when it is not installed
    Which = Callable[[str], Optional[str]]

# program -> the Debian/Ubuntu package that ships it, for the hint in an error.
PACKAGES = {
    "ip": "iproute2",
    "wg": "wireguard-tools",
    "modprobe": "kmod",
    "wireguard-go": "wireguard-go",
}


class Commands:
    """The host's programs, each looked up once, and a way to run them."""

    def __init__(self, run: Run, which: Which) -> None:
        self._run = run
        self._which = which
        self._paths: dict[str, str | None] = {}

    def path(self, program: str) -> str | None:
        """The program's path, or None when it is not installed."""
        if program not in self._paths:
            self._paths[program] = self._which(program)
        return self._paths[program]

    def require(self, program: str) -> str:
        found = self.path(program)
        if found is None:
            package = PACKAGES.get(program)
            hint = f" (install the {package} package)" if package else ""
            raise WgError(f"{program} is not installed on this host{hint}")
        return found

    def run(
        self,
        program: str,
        *args: str,
        stdin: Secret | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> tuple[int, str, str]:
        """Run `program args...`; with check, a non-zero exit raises WgError."""
        argv = [self.require(program), *args]
        data = stdin.reveal() if stdin is not None else None
        rc, out, err = self._run(argv, data, env)
        if check and rc != 0:
            raise WgError(failure(argv, rc, err))
        return rc, out, err

    def ip(self, *args: str) -> str:
        return self.run("ip", *args)[1]

    def wg(self, *args: str, stdin: Secret | None = None) -> str:
        return self.run("wg", *args, stdin=stdin)[1]


def commands_of(programs: Programs) -> Commands:
    """The host's programs (a module's run_command, or subprocess at boot) as Commands."""
    return Commands(lambda argv, data, env: programs.run(argv, data, env, False), programs.which)


def failure(argv: list[str], rc: int, stderr: str) -> str:
    """`ip link add ...` failed (exit 2): Error: Unknown device type.

    >>> failure(["ip", "link", "del", "dev", "x"], 1, 'Cannot find device "x"\\n')
    '`ip link del dev x` failed (exit 1): Cannot find device "x"'
    """
    said = stderr.strip() or "no message"
    return f"`{' '.join(argv)}` failed (exit {rc}): {said}"
