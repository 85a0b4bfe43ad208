"""flannel's iptables-mode rules: render, parse `iptables-save`, diff, build a restore script.

Pure functions, no commands run here (firewall_host.py runs them). podnet owns two chains
per family, each with exactly one jump from a built-in chain (reference 7.1):

- nat `FLANNEL-POSTRTG`, jumped to from `POSTROUTING`, comment "flanneld masq";
- filter `FLANNEL-FWD`, jumped to from `FORWARD`, comment "flanneld forward".

Rules are kept in `iptables-save` form (`-A CHAIN ...`), which is also what iptables-restore
reads, so the wanted rules are written exactly as iptables-save prints them and compared as
text: the order of options and the address forms below are iptables' own canonical output.
Every jump to an owned chain in its built-in chain is podnet's; any other rule in the
built-in chains is foreign and never named in a script.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.changes import ADD, DELETE, REPLACE, Change
from .input import Family, FamilyNetwork
from .lines import explain_difference

# kube-proxy marks packets it wants masqueraded with this bit (KubeProxyMark in flannel's
# trafficmngr.go); flannel leaves them to kube-proxy's own masquerade rule.
KUBE_PROXY_MARK = "0x4000/0x4000"


@dataclass(frozen=True)
class OwnedChain:
    """A chain podnet owns and the built-in chain that jumps to it.

    Attributes:
        match: what the jump matches before its comment, in iptables-save form ("": all).
        first: a missing jump is inserted as the built-in chain's first rule (a filter
            that drops: a rule before it could accept what it is there to refuse);
            otherwise it is appended, as flannel does. An existing jump stays where it is,
            as kube-proxy leaves its own: moving it back on top at every run would fight
            every other tool that inserts at the top.
    """

    table: str
    chain: str
    hook: str
    comment: str
    match: str = ""
    first: bool = False

    @property
    def jump(self) -> str:
        """The one jump podnet keeps, in iptables-save form."""
        match = f"{self.match} " if self.match else ""
        return f'-A {self.hook} {match}-m comment --comment "{self.comment}" -j {self.chain}'


MASQ_CHAIN = OwnedChain("nat", "FLANNEL-POSTRTG", "POSTROUTING", "flanneld masq")
FORWARD_CHAIN = OwnedChain("filter", "FLANNEL-FWD", "FORWARD", "flanneld forward")
OWNED_CHAINS = (MASQ_CHAIN, FORWARD_CHAIN)


def render_masquerade_rules(net: FamilyNetwork, random_fully: bool) -> list[str]:
    """flannel's nat rules for one family, in flannel's order (reference 7.1).

    N is the cluster network, P this node's subnet. In order: leave kube-proxy's marked
    packets alone; no NAT inside the pod network (P->N, N->P, and rule 4: anything else to
    P); masquerade pods leaving the network, except multicast; masquerade outsiders
    entering the network (so replies come back through this host).

    >>> from .input import parse_networks
    >>> nets, _ = parse_networks([{"network": "10.244.0.0/16", "subnet": "10.244.1.0/24"}])
    >>> print("\\n".join(render_masquerade_rules(nets[0], random_fully=False)))
    -A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
    -A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
    -A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
    -A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
    -A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE
    -A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE
    """  # noqa: E501 (the doctest shows whole rules)
    n, p = net.network, net.subnet
    tag = f'-m comment --comment "{MASQ_CHAIN.comment}"'
    masquerade = "MASQUERADE --random-fully" if random_fully else "MASQUERADE"
    head = f"-A {MASQ_CHAIN.chain}"
    return [
        f"{head} -m mark --mark {KUBE_PROXY_MARK} {tag} -j RETURN",
        f"{head} -s {p} -d {n} {tag} -j RETURN",
        f"{head} -s {n} -d {p} {tag} -j RETURN",
        f"{head} ! -s {n} -d {p} {tag} -j RETURN",
        f"{head} -s {n} ! -d {net.family.multicast} {tag} -j {masquerade}",
        f"{head} ! -s {n} -d {n} {tag} -j {masquerade}",
    ]


def render_forward_rules(net: FamilyNetwork) -> list[str]:
    """flannel's filter rules for one family: accept pod traffic both ways (reference 7.1).

    flannel never changes the FORWARD policy; these rules only matter where it is DROP.
    """
    tag = f'-m comment --comment "{FORWARD_CHAIN.comment}"'
    head = f"-A {FORWARD_CHAIN.chain}"
    return [
        f"{head} -s {net.network} {tag} -j ACCEPT",
        f"{head} -d {net.network} {tag} -j ACCEPT",
    ]


def parse_save(text: str) -> dict[str, list[str]]:
    """The chains of one table in `iptables-save -t <table>` output, with their rules.

    A chain declared with no rules maps to an empty list, so "exists" is `name in result`.

    >>> parse_save(":POSTROUTING ACCEPT [0:0]\\n:X - [0:0]\\n-A POSTROUTING -j X\\nCOMMIT\\n")
    {'POSTROUTING': ['-A POSTROUTING -j X'], 'X': []}
    """
    chains: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(":"):
            chains.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            chains.setdefault(line.split()[1], []).append(line)
    return chains


def jump_target(rule: str) -> str | None:
    """The chain a rule jumps or goes to (`-j`/`-g`), if any.

    >>> jump_target('-A FORWARD -m comment --comment "x -j Y" -j FLANNEL-FWD')
    'FLANNEL-FWD'
    """
    try:
        words = shlex.split(rule)
    except ValueError:  # unbalanced quotes in a foreign rule: not ours either way
        return None
    for index, word in enumerate(words[:-1]):
        if word in ("-j", "-g", "--jump", "--goto"):
            return words[index + 1]
    return None


def owned_jumps(chains: dict[str, list[str]], owned: OwnedChain) -> list[str]:
    """The rules of the owned chain's built-in chain that jump to it."""
    return [rule for rule in chains.get(owned.hook, []) if jump_target(rule) == owned.chain]


def diff_chain(
    family: Family,
    owned: OwnedChain,
    wanted: Sequence[str] | None,
    why_absent: str,
    chains: dict[str, list[str]],
) -> list[Change]:
    """The changes that make one owned chain and its jump match `wanted`.

    Args:
        family: the chain's family.
        owned: which chain.
        wanted: its rules, or None when it must not exist.
        why_absent: the reason given for deleting it when `wanted` is None.
        chains: the table as read by `parse_save`.

    Returns:
        At most one change for the chain and one for its jumps; the apply step orders them.
    """
    spec = chain_spec(family, owned)
    key = f"{family.iptables} {owned.table} {owned.chain}"
    current = chains.get(owned.chain)
    if wanted is None:
        changes = diff_jump(family, owned, why_absent, chains)
        if current is not None:
            changes.append(
                Change(DELETE, "iptables-chain", key, why_absent, {**spec, "rules": current})
            )
        return changes

    changes = []
    if current is None:
        changes.append(Change(ADD, "iptables-chain", key, "missing", {**spec, "rules": wanted}))
    else:
        reason = explain_difference(current, wanted)
        if reason:
            changes.append(
                Change(REPLACE, "iptables-chain", key, reason, {**spec, "rules": list(wanted)})
            )
    return changes + diff_jump(family, owned, None, chains)


def chain_spec(family: Family, owned: OwnedChain) -> dict[str, object]:
    """What every change of one owned chain carries for the apply step."""
    return {"family": family.version, "table": owned.table, "chain": owned.chain}


def diff_jump(
    family: Family, owned: OwnedChain, why_absent: str | None, chains: dict[str, list[str]]
) -> list[Change]:
    """The change (if any) that leaves exactly the one wanted jump to an owned chain.

    Args:
        why_absent: None when the jump is wanted, else the reason every jump goes.
    """
    spec = {**chain_spec(family, owned), "first": owned.first}
    key = f"{family.iptables} {owned.table} {owned.hook} -j {owned.chain}"
    jumps = owned_jumps(chains, owned)
    if why_absent is not None:
        if not jumps:
            return []
        return [
            Change(DELETE, "iptables-jump", key, why_absent, {**spec, "delete": jumps, "add": None})
        ]
    extra = list(jumps)
    add: str | None = owned.jump
    if owned.jump in extra:
        extra.remove(owned.jump)  # the first exact jump stays where it is
        add = None
    if not extra and not add:
        return []
    # e.g. "unexpected '-A POSTROUTING ... -j FLANNEL-POSTRTG'" for a duplicated jump
    reason = explain_difference(jumps, [owned.jump]) if jumps else "missing"
    op = REPLACE if jumps else ADD
    return [Change(op, "iptables-jump", key, reason, {**spec, "delete": extra, "add": add})]


def render_restore_script(table: str, changes: Sequence[Change]) -> str:
    """One `iptables-restore --noflush` transaction for one table's changes.

    Order inside the transaction, each for a reason:
    1. unwanted jumps go first: the kernel refuses to delete a chain something jumps to
       (flannel's 7.3 cleanup fails exactly there);
    2. owned chains are declared and flushed, then filled: declaring creates a missing
       chain, and `-F` empties an existing one (iptables-restore --noflush flushes a
       declared chain too, but only by convention);
    3. the jump is appended after its chain exists, at the end of the built-in chain as
       flannel does it (#2116);
    4. chains no longer wanted are emptied and deleted.

    >>> spec = {"table": "filter", "chain": "FLANNEL-FWD", "rules": ["-A FLANNEL-FWD -j ACCEPT"]}
    >>> c = Change(ADD, "iptables-chain", "iptables filter FLANNEL-FWD", "missing", spec)
    >>> print(render_restore_script("filter", [c]), end="")
    *filter
    :FLANNEL-FWD - [0:0]
    -F FLANNEL-FWD
    -A FLANNEL-FWD -j ACCEPT
    COMMIT
    """
    mine = [change for change in changes if change.spec["table"] == table]
    jumps = [change for change in mine if change.kind == "iptables-jump"]
    deleted = [c for c in mine if c.kind == "iptables-chain" and c.op == DELETE]
    # A member change (overlay filter) rewrites its whole chain too: one flush and fill in
    # the transaction, whatever number of members came or went.
    rewritten: dict[str, list[str]] = {}
    for change in mine:
        if change.kind == "iptables-member" or (
            change.kind == "iptables-chain" and change.op != DELETE
        ):
            rewritten.setdefault(change.spec["chain"], change.spec["rules"])
    lines = [f"*{table}"]
    for change in jumps:
        lines.extend("-D" + rule[2:] for rule in change.spec["delete"])
    for chain, rules in rewritten.items():
        lines.extend([f":{chain} - [0:0]", f"-F {chain}", *rules])
    for change in jumps:
        add = change.spec["add"]
        if add and change.spec.get("first"):
            hook = add.split()[1]  # "-A INPUT ..." -> "-I INPUT 1 ..."
            add = f"-I {hook} 1 " + add[len(f"-A {hook} ") :]
        if add:
            lines.append(add)
    for change in deleted:
        chain = change.spec["chain"]
        lines.extend([f"-F {chain}", f"-X {chain}"])
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def render_listing(
    owned: OwnedChain, jumps: Sequence[str], rules: Sequence[str] | None
) -> list[str]:
    """An owned chain in `iptables -S` style for --diff: its jumps, `-N`, its rules."""
    if rules is None:
        return list(jumps)
    return [*jumps, f"-N {owned.chain}", *rules]
