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

    `hash` = SHA-256 over the previous record's hash and this record's
    canonical content, so changing, removing or reordering any record breaks
    every hash after it. `prev_hash` is unique: two records can never claim
    the same predecessor, so the chain cannot fork.
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

    __table_args__ = (sa.Index("ix_audit_events_object", "object_type", "object_id"),)


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(*_: Any) -> None:
    raise RuntimeError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(*_: Any) -> None:
    raise RuntimeError("audit events are append-only")
