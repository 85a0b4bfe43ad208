"""Flannel devices the plan no longer names (another VNI or family's VXLAN device, another
WireGuard Mode's device), found on the host and removed through their backend's own entry.

want.py: which present devices are stale (pure); host.py: the host's device names;
entry.py: the stale_devices module's one adapter.
"""
