"""WireGuard key text, and a wrapper that keeps secret keys out of every printed string.

A WireGuard key (private, public or preshared) is 32 bytes, written as standard base64:
44 characters ending in one `=`. Public keys are safe to show; private keys and
preshared keys never leave the host, so once read they live in a `Secret`, whose str(),
repr() and format() say only that a secret is there. The few places that must hand
the text to `wg` call `reveal()`, which makes them easy to find and review.
"""

from __future__ import annotations

import base64
import binascii

from ..core.errors import PodnetError

KEY_BYTES = 32
KEY_RULE = "base64 of 32 bytes (44 characters ending in '=', as `wg genkey` prints)"


class WgError(PodnetError):
    """Anything a WireGuard module reports to the user; the module fails with its text.

    `problems` lists every problem found (input errors), one sentence each.
    """


def is_wireguard_key(text: object) -> bool:
    """Whether `text` is base64 of exactly 32 bytes.

    >>> is_wireguard_key("YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtRo=")
    True
    >>> is_wireguard_key("YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtR=="), is_wireguard_key(42)
    (False, False)
    """
    if not isinstance(text, str) or len(text) != 44:
        return False
    try:
        return len(base64.b64decode(text, validate=True)) == KEY_BYTES
    except (binascii.Error, ValueError):
        return False


class Secret:
    """A private or preshared key: compared and revealed on purpose, never printed.

    >>> secret = Secret("c2VjcmV0")
    >>> f"{secret}", repr(secret), secret == Secret("c2VjcmV0")
    ('<secret>', '<secret>', True)
    """

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def reveal(self) -> str:
        return self._text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<secret>"
