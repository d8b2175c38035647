"""Outgoing e-mail: written to the outbox table, delivered by a job after commit."""
from __future__ import annotations

from facility.core.jobs import deliver_email
from facility.core.outbox import OutboundEmail
from facility.extensions import db

__all__ = ["OutboundEmail", "send_mail"]


def send_mail(*, to: str, subject: str, body: str) -> OutboundEmail:
    """Queue an e-mail: stored now, delivered by the `emails` job once this transaction commits."""
    message = OutboundEmail(to_address=to, subject=subject, body=body)
    db.session.add(message)
    db.session.flush()
    deliver_email.delay(message.id)
    return message
