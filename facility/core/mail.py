"""Outgoing e-mail: written to an outbox table, delivered by a job after commit."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from facility.core.models import utcnow
from facility.extensions import db


class OutboundEmail(db.Model):
    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(sa.String(320), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0, nullable=False)
    last_error: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)


def send_mail(*, to: str, subject: str, body: str) -> OutboundEmail:
    """Queue an e-mail: stored now, delivered by the `emails` job once this transaction commits."""
    from facility.core.jobs import deliver_email

    message = OutboundEmail(to_address=to, subject=subject, body=body)
    db.session.add(message)
    db.session.flush()
    deliver_email.delay(message.id)
    return message
