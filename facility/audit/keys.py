"""The audit chain's keys: HMAC-SHA256 secrets from the environment, never stored in the database.

`AUDIT_KEY` lists one or more keys, comma-separated, each `id:secret` with the secret in base64
(standard or URL-safe), newest first: the first signs new records, all of them verify, so a key is
rotated by putting the new one in front and keeping the old ones for as long as rows they signed
exist (forever, in practice). A single key may be given without an id; it then takes the id in
`AUDIT_KEY_ID` (default "k1"). Each record stores the id of the key that signed it (`key_id`).

Rows written before the chain was keyed carry `key_id` "sha256-v1" (migration 0016): their hash is
the old unkeyed SHA-256 and they are accepted only before the first keyed row (`services.verify_chain`).

Production refuses to start without `AUDIT_KEY`, or with a secret shorter than 32 bytes or visibly
not random (`check_production`). Elsewhere, without `AUDIT_KEY`, a key with id "dev" is derived from
`SECRET_KEY` (HKDF, like `core.crypto`), so development data stays verifiable across restarts.
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LEGACY_KEY_ID = "sha256-v1"
DEV_KEY_ID = "dev"
DEFAULT_KEY_ID = "k1"
MIN_KEY_BYTES = 32
MIN_DISTINCT_BYTES = 16  # 32 random bytes have ~30 distinct values; "aaaa..." or a short word repeated has few
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
_HKDF_SALT = b"urban-innovation-facility/audit-chain"
_HKDF_INFO = b"hmac-sha256-v1"


class AuditKeyError(RuntimeError):
    """AUDIT_KEY is missing or malformed (the message says how; it never contains a secret)."""


@dataclass(frozen=True)
class AuditKeys:
    """The keys in force: `signing_id` signs new records; `by_id` verifies (the signing key included)."""

    signing_id: str
    by_id: dict[str, bytes]

    @property
    def signing_key(self) -> bytes:
        return self.by_id[self.signing_id]


def _decode(secret: str, key_id: str) -> bytes:
    text = secret.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AuditKeyError(f"AUDIT_KEY: the secret of key {key_id!r} is not base64.") from exc
    if not raw:
        raise AuditKeyError(f"AUDIT_KEY: the secret of key {key_id!r} is empty.")
    return raw


def parse_keys(text: str, default_id: str = DEFAULT_KEY_ID) -> AuditKeys:
    """Parse an `AUDIT_KEY` value ("k2:secret,k1:older" or one bare secret); AuditKeyError when malformed."""
    entries = [part.strip() for part in text.split(",") if part.strip()]
    if not entries:
        raise AuditKeyError("AUDIT_KEY is empty.")
    keys: dict[str, bytes] = {}
    for entry in entries:
        key_id, sep, secret = entry.partition(":")
        if not sep:
            if len(entries) > 1:
                raise AuditKeyError("AUDIT_KEY: with several keys, write each as id:secret.")
            key_id, secret = default_id, entry
        key_id = key_id.strip()
        if not KEY_ID.match(key_id) or key_id == LEGACY_KEY_ID:
            raise AuditKeyError(f"AUDIT_KEY: {key_id!r} is not a usable key id (letters, digits, . _ -; "
                                f"not {LEGACY_KEY_ID!r}).")
        if key_id in keys:
            raise AuditKeyError(f"AUDIT_KEY: key id {key_id!r} is given twice.")
        keys[key_id] = _decode(secret, key_id)
    return AuditKeys(signing_id=next(iter(keys)), by_id=keys)


def derive_dev_key(secret_key: str) -> bytes:
    """A key derived from SECRET_KEY, for development and tests only."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(secret_key.encode())


def keys_from_config(config: Mapping[str, Any]) -> AuditKeys:
    """The configured keys; outside production, without AUDIT_KEY, the development key derived from SECRET_KEY."""
    configured = str(config.get("AUDIT_KEY") or "").strip()
    if configured:
        return parse_keys(configured, str(config.get("AUDIT_KEY_ID") or DEFAULT_KEY_ID))
    if config.get("ENV_NAME") == "production":
        raise AuditKeyError("Production needs AUDIT_KEY set (at least 32 random bytes, base64) to sign the audit trail.")
    secret = str(config.get("SECRET_KEY") or "dev-only-secret-key-change-me")
    return AuditKeys(signing_id=DEV_KEY_ID, by_id={DEV_KEY_ID: derive_dev_key(secret)})


def check_production(config: Mapping[str, Any]) -> None:
    """Rule: production signs the audit trail with AUDIT_KEY only, every secret at least 32 random bytes."""
    if not str(config.get("AUDIT_KEY") or "").strip():
        raise AuditKeyError("Production needs AUDIT_KEY set (at least 32 random bytes, base64) to sign the audit trail.")
    for key_id, secret in keys_from_config(config).by_id.items():
        if len(secret) < MIN_KEY_BYTES or len(set(secret)) < MIN_DISTINCT_BYTES:
            raise AuditKeyError(f"AUDIT_KEY: key {key_id!r} must be at least {MIN_KEY_BYTES} random bytes "
                                "(e.g. `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`).")
