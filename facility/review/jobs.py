"""Periodic work for review: reminders to reviewers whose reviews are due."""
from __future__ import annotations

from datetime import timedelta

from facility.core.models import utcnow
from facility.core.reminders import send_once
from facility.core.schedule import PeriodicJob
from facility.extensions import db
from facility.queue import job
from facility.review import queries

DUE_SOON = timedelta(days=2)  # the round closes within two days: "due soon"
STILL_LATE = timedelta(days=7)  # up to a week after the round closed: "overdue" (later, nobody is waiting on it)


@job("reminders")
def review_due_reminders() -> int:
    """Rule: a reviewer with reviews not submitted hears once when the round closes within two days, and once
    more after it closed without them; a moved deadline is a new one."""
    now = utcnow()
    sent = 0
    for round_, reviewer, pending in queries.pending_reviews_due(now, soon=DUE_SOON, late=STILL_LATE):
        passed = round_.closes_at <= now
        sent += send_once(kind="review.due", obj=round_, person=reviewer,
                          due=f"{'passed' if passed else 'soon'}:{round_.closes_at:%Y-%m-%dT%H:%M}",
                          template="review/due_reminder", round=round_, pending=pending, passed=passed)
    db.session.commit()
    return sent


PERIODIC = [
    PeriodicJob(name="review.due_reminders", func=review_due_reminders, queue="reminders", every=3600,
                config_key="REVIEW_REMINDERS_SCHEDULE"),
]
"""This package's periodic jobs (`core.schedule`)."""
