"""Periodic work for proposals: the challenge-deadline reminders to people with drafts.

It lives here, not in `challenges`, because it reads drafts: `challenges` sits below
`proposals` and never imports it.
"""
from __future__ import annotations

from datetime import timedelta

from facility.core.models import utcnow
from facility.core.reminders import send_once
from facility.core.schedule import PeriodicJob
from facility.extensions import db
from facility.proposals import queries
from facility.queue import job

# The reminders before a deadline: a week ahead, then a day ahead (the nearest window wins).
WINDOWS = (("1d", timedelta(days=1)), ("7d", timedelta(days=7)))


def window_for(left: timedelta) -> str | None:
    """Which reminder is due with `left` before the deadline: '1d' within a day, '7d' within a week, else none."""
    for name, width in WINDOWS:
        if left <= width:
            return name
    return None


@job("reminders")
def deadline_reminders() -> int:
    """Rule: a week and again a day before a challenge closes, the innovators of each organisation with a
    draft for it are reminded, once per window and deadline (an extended deadline is a new one)."""
    now = utcnow()
    drafts = queries.drafts_closing_within(now, WINDOWS[-1][1])
    people = queries.innovators_by_organization({draft.organization_id for draft in drafts})
    sent = 0
    for draft in drafts:
        challenge = draft.challenge
        window = window_for(challenge.closes_at - now)
        if window is None:
            continue
        for person in people.get(draft.organization_id, []):
            sent += send_once(kind="challenges.deadline", obj=draft, person=person,
                              due=f"{window}:{challenge.closes_at:%Y-%m-%dT%H:%M}",
                              template="proposals/deadline_reminder", proposal=draft, challenge=challenge,
                              window=window)
    db.session.commit()
    return sent


PERIODIC = [
    PeriodicJob(name="challenges.deadline_reminders", func=deadline_reminders, queue="reminders", every=3600,
                config_key="DEADLINE_REMINDERS_SCHEDULE"),
]
"""This package's periodic jobs (`core.schedule`)."""
