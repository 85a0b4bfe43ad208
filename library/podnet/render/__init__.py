"""Renderers: the files a podnet node carries, as text, from a fleet plan.

Pure functions returning ``str``; writing them (atomically, with check and diff
mode) is the Ansible side's job.

- `render_subnet_env`: /run/flannel/subnet.env, byte for byte as flanneld writes it.
- `render_cni_conflist`: /etc/cni/net.d/10-flannel.conflist, flannel's or a
  self-contained bridge/host-local/portmap one.
- `render_net_conf`: net-conf.json in flannel's spelling.
- `render_kubeadm`: the networking part of a kubeadm ClusterConfiguration.
"""

from .cni import CNI_MODES, render_cni_conflist
from .kubeadm import render_kubeadm
from .net_conf import render_net_conf
from .subnet_env import render_subnet_env

__all__ = [
    "CNI_MODES",
    "render_cni_conflist",
    "render_kubeadm",
    "render_net_conf",
    "render_subnet_env",
]
