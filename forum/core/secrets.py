"""Random tokens for API access and secret links, and how they are stored."""

from __future__ import annotations

import hashlib
import secrets

API_TOKEN_PREFIX = "fm_"  # noqa: S105  (a label, not a secret)


def new_token(prefix: str = "") -> str:
    """A random token with 256 bits of entropy, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest a token is stored as.

    Tokens are long random strings, so a plain hash is enough: there is no dictionary to
    guess from, and lookups stay a single indexed query.
    """
    return hashlib.sha256(token.encode()).hexdigest()
