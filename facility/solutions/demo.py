"""Demo for `seed-demo` (after the portfolio's): the Kathmandu pilot's finished grant (the staged prize's
pilot, every milestone accepted) is a solution; its accepted milestones get public summaries, and Lyon
replicates it in a challenge the facility approved and published, inviting the original grantee. (Suva's
grant, whose last indicator value awaits verification, is not a solution yet: the library shows only what
was proven.)"""
from __future__ import annotations

import sqlalchemy as sa

from facility.accounts.models import User
from facility.challenges import services as challenge_services
from facility.extensions import db
from facility.grants import summaries
from facility.grants.models import Grant, ReportStatus
from facility.solutions import queries, replication

SUMMARIES = (
    "Twelve water kiosks in three wards, run by ward committees, sell safe water at a tenth of the trucked price.",
    "2,400 households buy their water at the kiosks; the committees' accounts are published every month.",
)


def seed(state: dict) -> None:
    users, cities = state.get("users") or {}, state.get("cities") or {}
    manager, official = users.get("fund.manager@demo.facility"), users.get("official@lyon.demo")
    pilot = (state.get("stages") or {}).get("pilot")
    if manager is None or official is None or pilot is None or "Lyon" not in cities:
        return
    grant = next((g for g in db.session.execute(sa.select(Grant).where(Grant.challenge_id == pilot.id)
                                                .order_by(Grant.id)).scalars() if queries.is_solution(g.id)), None)
    if grant is None:
        return
    grantee = db.session.execute(sa.select(User).where(User.organization_id == grant.organization_id)
                                 .order_by(User.id)).scalars().first()
    if grantee is None:
        return
    for tranche, text in zip(grant.tranches, SUMMARIES, strict=False):
        report = next((r for r in reversed(tranche.reports) if r.status == ReportStatus.ACCEPTED), None)
        if report is not None and not report.public_summary:
            summaries.write_public_summary(report=report, actor=grantee, text=text)
    db.session.flush()
    made = replication.start_replication(
        actor=official, grant=grant, city=cities["Lyon"], title="Safe water kiosks for Lyon's informal camps",
        summary="Water kiosks run with residents, as piloted in Kathmandu, for the camps on Lyon's edge.")
    challenge_services.submit_challenge(challenge=made.challenge, actor=official)
    challenge_services.approve_challenge(challenge=made.challenge, actor=manager)
    state["replication"] = made
