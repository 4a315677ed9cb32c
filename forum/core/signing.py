"""Secret links without accounts: values signed with the instance's key, one key per purpose.

A participant's agenda, their calendar feed, their RSVP answer and an event's calendar are
reached by links carrying ``<value>.<signature>``. The signature is an HMAC-SHA256 of the
value under a key derived from SECRET_KEY and the link's purpose, so a feed link (which
calendar services such as Google's fetch and keep) cannot be turned into an RSVP link.
Links are stable (the same person always gets the same link, so emails can repeat it)
and revocable: the value carries a version that the owner of the link can raise.
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature
from itsdangerous import Signer

PURPOSES = ("agenda", "feed", "rsvp", "event-calendar", "session-file")


def _signer(secret_key: str, purpose: str) -> Signer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return Signer(
        secret_key,
        salt=f"forum.link.{purpose}",
        sep=".",
        key_derivation="hmac",
        digest_method=hashlib.sha256,
    )


def sign(secret_key: str, purpose: str, value: str) -> str:
    """``value`` with its signature: URL-safe, 256-bit signature."""
    if "." in value:
        raise ValueError("a signed value cannot contain '.'")
    return _signer(secret_key, purpose).sign(value).decode("ascii")


def unsign(secret_key: str, purpose: str, token: str) -> str | None:
    """The value of a genuine token for ``purpose``; None for anything else."""
    if not token or len(token) > 300 or not token.isascii():
        return None
    try:
        return _signer(secret_key, purpose).unsign(token).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None
