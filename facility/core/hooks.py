"""Run work only after the database transaction that caused it has committed.

Jobs and e-mails must never go out for a change that was rolled back, and a
worker must never pick up a job before the row it reads is visible. Callbacks
registered with `after_commit` run once the session commits and are dropped
if it rolls back.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from facility.extensions import db

log = logging.getLogger(__name__)
_KEY = "facility_after_commit"


def after_commit(callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call `callback(*args, **kwargs)` after the current session commits."""
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback, even before any SQL, drops the callback
    session.info.setdefault(_KEY, []).append((callback, args, kwargs))


def after_commit_once(session: Session, callback: Callable[[], Any]) -> None:
    """Call `callback()` once after `session` commits, however often it is asked for before then: for
    session listeners (they have the session at hand and may fire on every flush of the transaction)."""
    pending = session.info.setdefault(_KEY, [])
    if not any(entry[0] is callback for entry in pending):
        pending.append((callback, (), {}))


def _run_pending(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    for callback, args, kwargs in pending:
        try:
            callback(*args, **kwargs)
        except Exception:  # one failed enqueue must not hide the others
            log.exception("after-commit callback %r failed", callback)


def _drop_pending(session: Session, previous_transaction: Any) -> None:
    # Only the outermost rollback drops the work; a rolled-back savepoint keeps the rest.
    if previous_transaction.parent is None:
        session.info.pop(_KEY, None)


def install(session_class: type[Session] = Session) -> None:
    if not event.contains(session_class, "after_commit", _run_pending):
        event.listen(session_class, "after_commit", _run_pending)
        event.listen(session_class, "after_soft_rollback", _drop_pending)
