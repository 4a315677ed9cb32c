"""Secrets at rest: provider credentials and webhook secrets, encrypted with a configured key.

Fernet (AES-128-CBC with HMAC-SHA256, from the ``cryptography`` package). The key is
FORUM_ENCRYPTION_KEY when set (a Fernet key: 32 url-safe base64 bytes); otherwise it is
derived from SECRET_KEY with HKDF, so changing SECRET_KEY without setting the old value as
FORUM_ENCRYPTION_KEY makes stored secrets unreadable (they must then be entered again).
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretsUnreadable(Exception):
    """Stored secrets cannot be decrypted with the configured key."""


@functools.lru_cache(maxsize=8)
def _fernet(encryption_key: str, secret_key: str) -> Fernet:
    if encryption_key:
        return Fernet(encryption_key.encode())
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"forum secrets at rest"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(values: dict[str, Any], *, encryption_key: str, secret_key: str) -> str:
    """The values as one encrypted token (JSON inside)."""
    payload = json.dumps(values, separators=(",", ":"), sort_keys=True).encode()
    return _fernet(encryption_key, secret_key).encrypt(payload).decode()


def decrypt(token: str, *, encryption_key: str, secret_key: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        payload = _fernet(encryption_key, secret_key).decrypt(token.encode())
    except InvalidToken:
        raise SecretsUnreadable(
            "stored secrets cannot be decrypted: FORUM_ENCRYPTION_KEY (or SECRET_KEY) changed"
        ) from None
    return json.loads(payload)


def check_key(value: str) -> str:
    """Raise ValueError unless ``value`` is empty or a usable Fernet key."""
    if value:
        Fernet(value.encode())
    return value
