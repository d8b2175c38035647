"""Encryption at rest for payout bank details and second-factor secrets (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from `PAYOUT_ENCRYPTION_KEY` (one or more comma-separated
Fernet keys; the first encrypts, all decrypt, so keys can be rotated).
Production refuses to start without it (`facility._check_production`). In
development and tests a stable key is derived from `SECRET_KEY` with HKDF, so
demo data stays readable across restarts; never rely on that in production.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_HKDF_SALT = b"urban-innovation-facility/payout-accounts"
_HKDF_INFO = b"fernet-key-v1"


def derive_key(secret: str) -> bytes:
    """A Fernet key derived from a secret (development and tests only)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


def keys_from_config(config: Mapping[str, Any]) -> list[bytes]:
    """The configured keys, or one derived from SECRET_KEY outside production."""
    configured = config.get("PAYOUT_ENCRYPTION_KEY") or ""
    keys = [part.strip().encode() for part in str(configured).split(",") if part.strip()]
    if keys:
        return keys
    if config.get("ENV_NAME") == "production":
        raise RuntimeError("Production needs PAYOUT_ENCRYPTION_KEY set (a Fernet key).")
    return [derive_key(config.get("SECRET_KEY") or "dev-only-secret-key-change-me")]


def check_keys(config: Mapping[str, Any]) -> None:
    """Raise RuntimeError unless every configured key is a valid Fernet key."""
    try:
        for key in keys_from_config(config):
            Fernet(key)
    except (ValueError, TypeError) as exc:
        raise RuntimeError("PAYOUT_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes).") from exc


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys_from_config(current_app.config)])


def encrypt_json(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    try:
        data: dict = json.loads(_fernet().decrypt(token.encode()))
        return data
    except InvalidToken as exc:
        raise RuntimeError("Payout details cannot be decrypted with the configured key.") from exc
