"""Migration 0016: records written before the chain was keyed are marked 'sha256-v1' and still verify."""
from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from facility.audit.keys import DEV_KEY_ID, LEGACY_KEY_ID
from facility.audit.models import AuditEvent
from facility.audit.services import GENESIS, legacy_hash, record, verify_chain
from facility.core.models import utcnow
from facility.extensions import db


def _old_record(action: str, prev_hash: str) -> str:
    """A record as the code before 0016 wrote it: unkeyed SHA-256, no key id column."""
    values = dict(occurred_at=utcnow().replace(microsecond=0), actor_label="system", action=action, object_type="",
                  object_id="", ip_address="", details={"old": True}, prev_hash=prev_hash)
    digest = legacy_hash(prev_hash, AuditEvent(**values))
    db.session.execute(sa.insert(AuditEvent.__table__).values(**values, hash=digest))
    return digest


def test_existing_rows_become_legacy_and_verify_before_keyed_ones(app):
    db.session.commit()
    downgrade(revision="0013")
    first = _old_record("old.first", GENESIS)
    _old_record("old.second", first)
    db.session.commit()
    upgrade()
    key_ids = db.session.execute(sa.select(AuditEvent.key_id).order_by(AuditEvent.id)).scalars().all()
    assert key_ids == [LEGACY_KEY_ID, LEGACY_KEY_ID]
    assert verify_chain() == []
    record("new.keyed")
    db.session.commit()
    assert db.session.execute(sa.select(AuditEvent.key_id).order_by(AuditEvent.id.desc()).limit(1)).scalar() == DEV_KEY_ID
    assert verify_chain() == []
