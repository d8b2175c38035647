"""Periodic work for grants: milestone reminders (due in 14 days, overdue) to the grantee and the fund managers."""
from __future__ import annotations

from facility.accounts.models import User
from facility.core.models import utcnow
from facility.core.reminders import send_once
from facility.core.schedule import PeriodicJob
from facility.extensions import db
from facility.grants import queries
from facility.grants.models import Tranche, TrancheStatus
from facility.queue import job

DUE_AHEAD_DAYS = 14


def _audience(tranche: Tranche, members: dict[int, list[User]], managers: list[User], *, overdue: bool
              ) -> list[User]:
    """The grantee's innovators and the fund managers; an overdue milestone whose report is under review
    waits on the fund managers only (the grantee has done their part)."""
    grantee = members.get(tranche.grant.organization_id, [])
    if overdue and tranche.status is not TrancheStatus.PENDING:
        grantee = []
    return grantee + [manager for manager in managers if manager not in grantee]


@job("reminders")
def milestone_reminders() -> int:
    """Rule: a milestone of an active grant is announced once 14 days before it is due (not yet reported), and
    once when its due date has passed without an accepted report, to the grantee's innovators and the fund
    managers; a moved due date is a new one."""
    today = utcnow().date()
    due = queries.milestones_due_within(today, DUE_AHEAD_DAYS)
    overdue = queries.milestones_overdue(today)
    members = queries.grantee_members({tranche.grant.organization_id for tranche in due + overdue})
    managers = queries.fund_managers()
    sent = 0
    for kind, tranches, template in (("grants.milestone_due", due, "grants/milestone_due"),
                                     ("grants.milestone_overdue", overdue, "grants/milestone_overdue")):
        for tranche in tranches:
            assert tranche.due_date is not None  # the queries select dated milestones only
            for person in _audience(tranche, members, managers, overdue=kind.endswith("overdue")):
                sent += send_once(kind=kind, obj=tranche, person=person, due=tranche.due_date, template=template,
                                  tranche=tranche)
    db.session.commit()
    return sent


PERIODIC = [
    PeriodicJob(name="grants.milestone_reminders", func=milestone_reminders, queue="reminders", at="06:00",
                config_key="MILESTONE_REMINDERS_SCHEDULE"),
]
"""This package's periodic jobs (`core.schedule`): daily, as due dates are days."""
