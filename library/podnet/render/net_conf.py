"""net-conf.json back out, in flannel's spelling, for flannel or for the next podnet run.

Only the keys the user gave are written, with normalised values (canonical key
case, host bits masked, SubnetLen 0 resolved), so the file reads like the user's
own. Keys of a disabled family are dropped: NetConf keeps no value for them.
Two keys are always written, so that flannel reads what podnet planned:
``EnableNFTables`` (flannel's default is the same, but the choice is then visible)
and ``Backend`` with its ``Type``: podnet's missing Backend means vxlan, flannel's
means udp.
"""

from __future__ import annotations

import json

from ..config import BACKEND_FIELDS, BACKEND_KEYS, FAMILY_KEYS, TOP_LEVEL_KEYS, Backend, NetConf
from ..pool import SubnetPool


def render_net_conf(conf: NetConf) -> str:
    """Render ``conf`` as flannel's net-conf.json.

    Keys come in TOP_LEVEL_KEYS order (Backend's in BACKEND_KEYS order), so the
    shipped kube-flannel-cfg value comes back byte for byte. A ``PSK`` is written
    as given: treat the output as a secret when the backend has one.

    Returns:
        JSON with a 2-space indent and a trailing newline, as in kube-flannel.yml.

    >>> from podnet import parse_net_conf
    >>> print(render_net_conf(parse_net_conf({"network": "10.244.7.0/16"})), end="")
    {
      "Network": "10.244.0.0/16",
      "EnableNFTables": false,
      "Backend": {
        "Type": "vxlan"
      }
    }
    """
    values: dict[str, object] = {}
    for family, pool in ((4, conf.ipv4), (6, conf.ipv6)):
        if pool is not None:
            values.update(_pool_values(pool, FAMILY_KEYS[family], conf.given))
    for key, enabled, flannel_default in (
        ("EnableIPv4", conf.ipv4 is not None, True),
        ("EnableIPv6", conf.ipv6 is not None, False),
    ):
        # As given; also when flannel's default would read otherwise (a hand-built
        # NetConf: parse_net_conf's output always has a non-default flag in `given`).
        if key in conf.given or enabled != flannel_default:
            values[key] = enabled
    values["EnableNFTables"] = conf.enable_nftables
    values["Backend"] = _backend_values(conf.backend)
    ordered = {key: values[key] for key in TOP_LEVEL_KEYS if key in values}
    return json.dumps(ordered, indent=2) + "\n"


def _pool_values(
    pool: SubnetPool, keys: tuple[str, ...], given: frozenset[str]
) -> dict[str, object]:
    """Network always (flannel needs it); SubnetLen/Min/Max when given, as resolved."""
    network_key, len_key, min_key, max_key = keys
    values: dict[str, object] = {network_key: str(pool.network)}
    if len_key in given:
        values[len_key] = pool.subnet_len
    if min_key in given:
        values[min_key] = str(pool.address(pool.first))
    if max_key in given:
        values[max_key] = str(pool.address(pool.last))
    return values


def _backend_values(backend: Backend) -> dict[str, object]:
    values: dict[str, object] = {"Type": backend.type.value}
    for key in BACKEND_KEYS[backend.type]:
        if key == "Type" or key not in backend.given:
            continue
        value = getattr(backend, BACKEND_FIELDS[key])
        values[key] = value.value if key == "Mode" else value
    return values
