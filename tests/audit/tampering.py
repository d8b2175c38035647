"""What an attacker with the database's rights (but not AUDIT_KEY) does to the trail, as test helpers."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from facility.audit.keys import LEGACY_KEY_ID
from facility.audit.models import AuditEvent
from facility.audit.services import _canonical, legacy_hash
from facility.extensions import db

Hasher = Callable[[str, AuditEvent, str], str]


@contextmanager
def unguarded(backend: str) -> Iterator[None]:
    """The no-change triggers of audit_events and audit_anchors off (as their owner or a superuser could)."""
    tables = ("audit_events", "audit_anchors")
    if backend == "postgresql":
        for table in tables:
            db.session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change"))
    else:
        for table in tables:
            for verb in ("update", "delete"):
                db.session.execute(sa.text(f"DROP TRIGGER {table}_no_{verb}"))
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        if backend == "postgresql":  # SQLite: every test starts from the migrated file again
            for table in tables:
                db.session.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_change"))
            db.session.commit()


def unkeyed(prev_hash: str, event: AuditEvent, _key_id: str) -> str:
    """The old chain's hash: plain SHA-256, which anyone can recompute."""
    return legacy_hash(prev_hash, event)


def with_key(key: bytes) -> Hasher:
    """HMAC-SHA256 as the application computes it, with a key of the attacker's choosing."""
    def hasher(prev_hash: str, event: AuditEvent, key_id: str) -> str:
        return hmac.new(key, f"{key_id}|{prev_hash}{_canonical(event)}".encode(), hashlib.sha256).hexdigest()
    return hasher


def rewrite(event_id: int, details: dict, hasher: Hasher, *, relabel: bool = False) -> None:
    """Change one record's details and recompute the chain from there on with `hasher` (every later record's
    link and hash), optionally marking the rewritten records as legacy (unkeyed) ones. Triggers must be off."""
    events = db.session.execute(sa.select(AuditEvent).where(AuditEvent.id >= event_id - 1)
                                .order_by(AuditEvent.id)).scalars().all()
    snapshot = [dict(id=e.id, occurred_at=e.occurred_at, actor_id=e.actor_id, actor_label=e.actor_label,
                     action=e.action, object_type=e.object_type, object_id=e.object_id, ip_address=e.ip_address,
                     details=e.details, prev_hash=e.prev_hash, hash=e.hash, key_id=e.key_id) for e in events]
    db.session.expunge_all()
    prev = None
    for row in snapshot:
        if row["id"] < event_id:
            prev = row["hash"]
            continue
        if row["id"] == event_id:
            row["details"] = details
        key_id = LEGACY_KEY_ID if relabel else row["key_id"]
        copy = AuditEvent(**{k: v for k, v in row.items() if k not in {"id", "prev_hash", "hash", "key_id"}})
        prev_hash = prev if prev is not None else row["prev_hash"]
        new_hash = hasher(prev_hash, copy, key_id)
        db.session.execute(sa.text("UPDATE audit_events SET details = :d, prev_hash = :p, hash = :h, key_id = :k "
                                   "WHERE id = :i"),
                           {"d": _json(row["details"]), "p": prev_hash, "h": new_hash, "k": key_id, "i": row["id"]})
        prev = new_hash
    db.session.commit()


def _json(value: dict) -> str:
    return json.dumps(value)


def cut_tail(keep: int) -> None:
    """Delete every record after the first `keep` (the newest ones). Triggers must be off."""
    ids = db.session.execute(sa.select(AuditEvent.id).order_by(AuditEvent.id)).scalars().all()
    db.session.execute(sa.delete(AuditEvent.__table__).where(AuditEvent.__table__.c.id.in_(ids[keep:])))
    db.session.commit()
