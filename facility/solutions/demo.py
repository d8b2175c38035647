"""Demo for `seed-demo` (after the portfolio's): Suva's open flood and heat data grant becomes a solution (both
its milestones reported, accepted and summarised for the public), and Lyon replicates it in a challenge the
facility approved and published, inviting the original grantee (Pacific Data Works)."""
from __future__ import annotations

import sqlalchemy as sa

from facility.accounts.models import Organization, User
from facility.challenges import services as challenge_services
from facility.extensions import db
from facility.grants import milestones, summaries
from facility.grants.demo import planned_spending
from facility.grants.models import Grant, TrancheStatus
from facility.portfolio.demo import SME
from facility.solutions import replication

SUMMARIES = (
    "Flood and heat maps of ten settlements, drawn with their residents, are open data the city uses to plan drains.",
    "The city's open data portal publishes flood and heat readings for every settlement, updated daily.",
)


def seed(state: dict) -> None:
    users, cities = state.get("users") or {}, state.get("cities") or {}
    manager, official = users.get("fund.manager@demo.facility"), users.get("official@lyon.demo")
    grant = db.session.execute(sa.select(Grant).join(Organization, Organization.id == Grant.organization_id)
                               .where(Organization.name == SME["name"]).order_by(Grant.id)).scalars().first()
    if manager is None or official is None or grant is None or "Lyon" not in cities:
        return
    grantee = db.session.execute(sa.select(User).where(User.organization_id == grant.organization_id)
                                 .order_by(User.id)).scalars().first()
    if grantee is None:
        return
    for tranche, text in zip(grant.tranches, SUMMARIES, strict=False):
        if tranche.status != TrancheStatus.PENDING:
            continue
        report = milestones.submit_milestone_report(tranche=tranche, actor=grantee, spending=planned_spending(tranche),
                                                    text="Delivered as planned; the maps and data are attached.")
        milestones.accept_milestone_report(report=report, actor=manager)
        summaries.write_public_summary(report=report, actor=grantee, text=text)
    db.session.flush()
    made = replication.start_replication(
        actor=official, grant=grant, city=cities["Lyon"], title="Open heat data for Lyon's hottest neighbourhoods",
        summary="Open, shared heat and flood data so that Lyon's most exposed neighbourhoods are cooled first.")
    challenge_services.submit_challenge(challenge=made.challenge, actor=official)
    challenge_services.approve_challenge(challenge=made.challenge, actor=manager)
    state["replication"] = made
