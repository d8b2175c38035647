"""The audit chain: writing it (`record`), anchoring its head (`anchor_head`) and checking it (`verify_chain`).

Each record is signed with the audit key (`audit.keys`) and linked to the one before; an anchor notes
the head (last id, its hash, how many records) so a chain cut short is noticed too.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app

from facility.audit.keys import LEGACY_KEY_ID, keys_from_config
from facility.audit.models import AuditAnchor, AuditEvent
from facility.core.context import current_client
from facility.core.database import lock_audit_chain
from facility.core.models import utcnow
from facility.extensions import db

GENESIS = "0" * 64

log = logging.getLogger("facility.audit")


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


def legacy_hash(prev_hash: str, event: AuditEvent) -> str:
    """The unkeyed SHA-256 of the rows written before the chain was keyed (key id "sha256-v1")."""
    return hashlib.sha256((prev_hash + _canonical(event)).encode()).hexdigest()


def keyed_hash(prev_hash: str, event: AuditEvent, key_id: str, key: bytes) -> str:
    """HMAC-SHA256 with `key` over the key id, the previous hash and the record's canonical content."""
    message = f"{key_id}|{prev_hash}{_canonical(event)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


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

    Signed with the first key of AUDIT_KEY (`audit.keys`).
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
    keys = keys_from_config(current_app.config)
    event.prev_hash = _last_hash()
    event.key_id = keys.signing_id
    event.hash = keyed_hash(event.prev_hash, event, keys.signing_id, keys.signing_key)
    db.session.add(event)
    db.session.flush()
    return event


# --- anchors ------------------------------------------------------------------------------

def anchor_head() -> AuditAnchor | None:
    """Rule: the chain's head is anchored (last record's id and hash, records up to it, time, key id) whenever
    it moved since the last anchor; None when nothing was recorded since (or ever).

    One INFO line goes to the "facility.audit" log with the head hash, count and time: the log is a copy
    the database's users cannot rewrite. Flushed, not committed (the job and the command commit)."""
    lock_audit_chain()  # the head cannot move while it is read
    head = db.session.execute(
        sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).one_or_none()
    if head is None:
        return None
    latest = db.session.execute(
        sa.select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(1)
    ).scalar_one_or_none()
    if latest is not None and latest.last_event_id == head.id and latest.head_hash == head.hash:
        return None
    count = db.session.execute(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.id <= head.id)).scalar_one()
    anchor = AuditAnchor(anchored_at=utcnow().replace(microsecond=0), last_event_id=head.id, row_count=int(count),
                         head_hash=head.hash, key_id=keys_from_config(current_app.config).signing_id)
    db.session.add(anchor)
    db.session.flush()
    log.info("audit anchor %d: head %s, %d records up to event %d, at %s (key %s)", anchor.id, anchor.head_hash,
             anchor.row_count, anchor.last_event_id, anchor.anchored_at.isoformat(), anchor.key_id)
    return anchor


@dataclass(frozen=True)
class AnchorClaim:
    """What an anchor says, from the database or from a published anchors file."""

    anchor_id: int | None
    last_event_id: int
    row_count: int
    head_hash: str
    source: str = "anchor"

    @property
    def label(self) -> str:
        return f"{self.source} {self.anchor_id}" if self.anchor_id is not None else self.source


def stored_anchors() -> list[AnchorClaim]:
    rows = db.session.execute(sa.select(AuditAnchor).order_by(AuditAnchor.id)).scalars()
    return [AnchorClaim(row.id, row.last_event_id, row.row_count, row.head_hash) for row in rows]


def anchors_from_json(data: Any) -> list[AnchorClaim]:
    """The anchors of a published file (`/opendata/audit-anchors.json`: an object with "anchors", or a list of
    anchors, or a list of such files); ValueError when it is not one."""
    pages = data if isinstance(data, list) and all(isinstance(p, dict) and "anchors" in p for p in data) else [data]
    claims: list[AnchorClaim] = []
    for page in pages:
        items = page.get("anchors") if isinstance(page, dict) else page
        if not isinstance(items, list):
            raise ValueError("not an anchors file: expected a list of anchors or an object with \"anchors\"")
        for item in items:
            try:
                claims.append(AnchorClaim(int(item["id"]) if item.get("id") is not None else None,
                                          int(item["last_event_id"]), int(item["row_count"]),
                                          str(item["head_hash"]), source="published anchor"))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"not an anchor: {item!r:.200}") from exc
    return claims


# --- verification -------------------------------------------------------------------------

@dataclass
class ChainProblem:
    """One problem the walk found: the record it concerns, what is wrong (English, for the command and the log)
    and its kind, for pages that explain it in the reader's language: "link", "content", "unkeyed_after_keyed",
    "unknown_key", "anchor_missing", "anchor_hash" or "anchor_count"."""

    event_id: int
    problem: str
    kind: str = "content"


@dataclass
class _Walk:
    """What the walk saw of the records the anchors name: their hash and their position in the chain."""

    wanted: set[int]
    seen: dict[int, tuple[str, int]] = field(default_factory=dict)
    count: int = 0


def _check_event(event: Any, expected_prev: str, keyed_seen: bool, keys: dict[str, bytes]
                 ) -> list[ChainProblem]:
    """What is wrong with one record (an AuditEvent, or a row of its `_CHAIN_COLUMNS`)."""
    problems = []
    if event.prev_hash != expected_prev:
        problems.append(ChainProblem(event.id, "link broken: a record before it was changed, removed or inserted",
                                     "link"))
    if event.key_id == LEGACY_KEY_ID:
        if keyed_seen:
            problems.append(ChainProblem(event.id, "unkeyed (sha256-v1) record after keyed ones: rewritten without "
                                         "the key", "unkeyed_after_keyed"))
        elif legacy_hash(event.prev_hash, event) != event.hash:
            problems.append(ChainProblem(event.id, "content does not match its hash"))
    elif event.key_id not in keys:
        problems.append(ChainProblem(event.id, f"signed with key {event.key_id!r}, which is not in AUDIT_KEY",
                                     "unknown_key"))
    elif not hmac.compare_digest(keyed_hash(event.prev_hash, event, event.key_id, keys[event.key_id]), event.hash):
        problems.append(ChainProblem(event.id, "content does not match its signature (HMAC)"))
    return problems


def _check_anchors(claims: list[AnchorClaim], walk: _Walk) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    for claim in claims:
        found = walk.seen.get(claim.last_event_id)
        if found is None:
            problems.append(ChainProblem(claim.last_event_id, f"{claim.label}: the anchored record is missing "
                                         f"(the trail was cut short or the record removed)", "anchor_missing"))
            continue
        hash_now, position = found
        if not hmac.compare_digest(hash_now, claim.head_hash):
            problems.append(ChainProblem(claim.last_event_id, f"{claim.label}: the record no longer has the "
                                         f"anchored hash", "anchor_hash"))
        if position < claim.row_count:
            problems.append(ChainProblem(claim.last_event_id, f"{claim.label}: {position} records up to it, "
                                         f"{claim.row_count} anchored (records were removed)", "anchor_count"))
    return problems


_CHAIN_COLUMNS = (AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.actor_label, AuditEvent.action,
                  AuditEvent.object_type, AuditEvent.object_id, AuditEvent.ip_address, AuditEvent.details,
                  AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.key_id)


def verify_chain(batch_size: int = 5000, published: list[AnchorClaim] | None = None) -> list[ChainProblem]:
    """Walk the chain in id order and report every record whose link or signature is wrong, and every anchor
    (stored, and `published` ones an outsider kept) whose record is missing, changed or has fewer records up
    to it than when it was anchored: changed, inserted, reordered, removed and cut-off records all show."""
    keys = keys_from_config(current_app.config).by_id
    claims = stored_anchors() + list(published or [])
    walk = _Walk(wanted={claim.last_event_id for claim in claims})
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    keyed_seen = False
    last_id = 0
    while True:
        # Plain rows of the columns the hash covers, not ORM objects: the stored values, read at half the cost.
        rows = db.session.execute(
            sa.select(*_CHAIN_COLUMNS).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch_size)
        ).all()
        if not rows:
            break
        for event in rows:
            problems.extend(_check_event(event, expected_prev, keyed_seen, keys))
            keyed_seen = keyed_seen or event.key_id != LEGACY_KEY_ID
            walk.count += 1
            if event.id in walk.wanted:
                walk.seen[event.id] = (event.hash, walk.count)
            expected_prev = event.hash
            last_id = event.id
    return problems + _check_anchors(claims, walk)
