"""The host's network device names, as the kernel lists them in sysfs.

/sys/class/net shows the devices of the network namespace sysfs was mounted in, which is
the module's own (Ansible's interface facts read the same directory).
"""

from __future__ import annotations

import os

SYS_CLASS_NET = "/sys/class/net"


def read_ifnames(root: str = SYS_CLASS_NET) -> list[str]:
    """Every device name, sorted; none when sysfs has no such directory."""
    try:
        return sorted(os.listdir(root))
    except FileNotFoundError:
        return []
