from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from facility.core.models import utcnow
from facility.extensions import db


class AuditEvent(db.Model):
    """One audited action. Rows are never updated or deleted.

    `hash` = HMAC-SHA256, with the key named by `key_id` (`audit.keys`: from the environment, never
    stored here), over the key id, the previous record's hash and this record's canonical content, so
    changing, removing or reordering any record breaks every hash after it, and nobody without the key
    can recompute them. Rows from before the chain was keyed have `key_id` "sha256-v1" and a plain
    SHA-256. `prev_hash` is unique: two records can never claim the same predecessor, so the chain
    cannot fork.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(sa.String(320), default="", nullable=False)
    action: Mapped[str] = mapped_column(sa.String(80), nullable=False, index=True)
    object_type: Mapped[str] = mapped_column(sa.String(60), default="", nullable=False)
    object_id: Mapped[str] = mapped_column(sa.String(60), default="", nullable=False)
    ip_address: Mapped[str] = mapped_column(sa.String(64), default="", nullable=False)
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict, nullable=False)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    key_id: Mapped[str] = mapped_column(sa.String(40), nullable=False)

    __table_args__ = (sa.Index("ix_audit_events_object", "object_type", "object_id"),)


class AuditAnchor(db.Model):
    """The chain's head at one moment: the last record's id and hash, and how many records led to it.

    Recorded periodically (`audit.jobs`) and on demand (`audit-anchor`), logged and published at
    `/opendata/audit-anchors.json`, so that cutting records off the end of the chain, which leaves a
    shorter chain that still verifies, is noticed: the anchored record must still exist with that hash,
    with at least `row_count` records up to it (`services.verify_chain`). Never updated or deleted.
    """

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(primary_key=True)
    anchored_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    last_event_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    row_count: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    head_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    key_id: Mapped[str] = mapped_column(sa.String(40), nullable=False)


def _refuse_change(*_: Any) -> None:
    raise RuntimeError("the audit trail is append-only")


for _model in (AuditEvent, AuditAnchor):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
