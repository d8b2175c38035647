"""Periodic work for the audit trail: anchor the chain's head (hourly unless AUDIT_ANCHOR_SCHEDULE says otherwise)."""
from __future__ import annotations

from facility.audit.services import anchor_head
from facility.core.schedule import PeriodicJob
from facility.extensions import db
from facility.queue import job


@job("default")
def anchor_audit_chain() -> int | None:
    """Rule: the chain's head is anchored every period in which it moved (`services.anchor_head`); the anchor's
    id, or None when nothing was recorded since the last one."""
    anchor = anchor_head()
    db.session.commit()
    return anchor.id if anchor is not None else None


PERIODIC = [
    PeriodicJob(name="audit.anchor", func=anchor_audit_chain, queue="default", every=3600,
                config_key="AUDIT_ANCHOR_SCHEDULE"),
]
"""This package's periodic jobs (`core.schedule`)."""
