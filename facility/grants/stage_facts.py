"""Who may advance from one stage of a staged prize to the next: the facts `stage_policy.can_invite` and the
"Invite grantees" page read (`grants.stages` makes the invitations)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from facility.challenges.models import Challenge, ChallengeInvitation
from facility.core.labels import label
from facility.extensions import db
from facility.grants.models import Grant, GrantStatus, TrancheStatus

DONE_TRANCHE_STATUSES = frozenset({TrancheStatus.ACCEPTED, TrancheStatus.DISBURSING, TrancheStatus.PAID})
"""A tranche whose milestone report was accepted (paid or being paid, or still to be paid)."""


@dataclass(frozen=True)
class Candidate:
    """A grant of the previous stage and, when it may not advance, why (empty when it may)."""

    grant: Grant
    problem: str

    @property
    def eligible(self) -> bool:
        return not self.problem


def invited_organization_ids(stage: Challenge) -> set[int]:
    """The organisations already invited to `stage`."""
    return set(db.session.execute(
        sa.select(ChallengeInvitation.organization_id).where(ChallengeInvitation.challenge_id == stage.id)).scalars())


def advancement_problem(grant: Grant, stage: Challenge, invited: set[int] | None = None) -> str:
    """Why the grant's organisation may not be invited to `stage` (empty: it may). The rule: the grant belongs
    to the stage before `stage`, is not cancelled, every tranche of it not cancelled has its milestone
    accepted (accepted, being paid or paid), and the organisation is not invited yet. `invited` (the
    organisations already invited) saves a query per grant on a list."""
    if stage.previous_stage_id is None or grant.challenge_id != stage.previous_stage_id:
        return str(_("This grant is not from the previous stage of this challenge."))
    if grant.status == GrantStatus.CANCELLED:
        return str(_("The grant was cancelled."))
    tranches = [t for t in grant.tranches if t.status != TrancheStatus.CANCELLED]
    if not tranches:
        return str(_("The grant has no milestone to accept."))
    waiting = [t for t in tranches if t.status not in DONE_TRANCHE_STATUSES]
    if waiting:
        return str(_("Milestone “%(title)s” is not accepted yet (%(status)s); every milestone must be accepted "
                     "first.", title=waiting[0].title, status=label(waiting[0].status)))
    if grant.organization_id in (invited_organization_ids(stage) if invited is None else invited):
        return str(_("%(org)s is already invited to this stage.", org=grant.organization.name))
    return ""


def candidates(stage: Challenge) -> list[Candidate]:
    """The previous stage's grants (largest first) with whether each may advance into `stage` and why not:
    three queries whatever the number of grants (grants with their organisation, their tranches, invitations)."""
    if stage.previous_stage_id is None:
        return []
    grants = db.session.execute(
        sa.select(Grant).where(Grant.challenge_id == stage.previous_stage_id)
        .options(joinedload(Grant.organization), joinedload(Grant.proposal), selectinload(Grant.tranches))
        .order_by(Grant.amount_cents.desc(), Grant.id)).unique().scalars().all()
    invited = invited_organization_ids(stage)
    return [Candidate(grant, advancement_problem(grant, stage, invited)) for grant in grants]


