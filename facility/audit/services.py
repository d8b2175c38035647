"""Writing and checking the audit chain."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.core.context import current_client
from facility.core.database import lock_audit_chain
from facility.core.models import utcnow
from facility.extensions import db

GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> str:
    content = {
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "ip_address": event.ip_address,
        "details": event.details,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + _canonical(event)).encode()).hexdigest()


def _last_hash() -> str:
    lock_audit_chain()  # held to the end of the transaction: concurrent appends queue up instead of forking
    last = db.session.execute(
        sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return last or GENESIS


def record(
    action: str,
    *,
    actor: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one audit record in the caller's transaction (flushed, not committed).

    `ip_address` defaults to the address of the request being served (`core.context`), "" in a
    job or a command.
    """
    if obj is not None:
        object_type = object_type or obj.__class__.__name__
        object_id = object_id or getattr(obj, "id", "")
    ip = current_client().address if ip_address is None else ip_address
    actor_id = getattr(actor, "id", None)
    event = AuditEvent(
        occurred_at=utcnow().replace(microsecond=0),
        actor_id=actor_id,
        actor_label=getattr(actor, "email", "") or ("system" if actor is None else ""),
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        ip_address=ip,
        details=json.loads(json.dumps(details or {}, default=str)),
    )
    db.session.flush()  # earlier records of this transaction get their ids first
    event.prev_hash = _last_hash()
    event.hash = compute_hash(event.prev_hash, event)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass
class ChainProblem:
    event_id: int
    problem: str


def verify_chain(batch_size: int = 5000) -> list[ChainProblem]:
    """Walk the chain in id order and report every record whose link or hash is wrong."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    last_id = 0
    while True:
        rows = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch_size)
        ).scalars().all()
        if not rows:
            break
        for event in rows:
            if event.prev_hash != expected_prev:
                problems.append(ChainProblem(event.id, "link broken: a record before it was changed, removed or inserted"))
            if compute_hash(event.prev_hash, event) != event.hash:
                problems.append(ChainProblem(event.id, "content does not match its hash"))
            expected_prev = event.hash
            last_id = event.id
    return problems
