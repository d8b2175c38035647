"""Every read of proposals that a page or the API needs."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.models import Organization, Role, User, UserRole
from facility.accounts.policy import has_role, is_signed_in, reads_everything
from facility.challenges.models import Challenge, ChallengeStatus
from facility.challenges.queries import get_visible_challenge, is_open_at, open_challenges
from facility.cities.models import City
from facility.core.dashboard import Waiting, waiting
from facility.core.errors import NotFound
from facility.core.models import utcnow
from facility.core.search import narrow
from facility.extensions import db
from facility.proposals import policy
from facility.proposals.models import COMPETING_STATUSES, Attachment, Proposal, ProposalStatus


def get_visible_proposal(user: Any, proposal_id: int, *, full: bool = False) -> Proposal:
    """The proposal if `user` may see it (`policy.can_view`); NotFound otherwise (also when it exists).

    `full` loads its milestones, files and snapshots in one statement each (the API's whole proposal).
    """
    options = [selectinload(Proposal.milestones), selectinload(Proposal.attachments),
               selectinload(Proposal.snapshots)] if full else []
    proposal = db.session.get(Proposal, proposal_id, options=options)
    if proposal is None or policy.can_view(user, proposal) is not None:
        raise NotFound(_("There is no such proposal."))
    return proposal


def get_visible_attachment(user: Any, proposal_id: int, attachment_id: int) -> Attachment:
    """A file of a proposal `user` may see (`policy.can_see_attachments`); NotFound otherwise."""
    proposal = get_visible_proposal(user, proposal_id)
    attachment = db.session.get(Attachment, attachment_id)
    if (attachment is None or attachment.proposal_id != proposal.id
            or policy.can_see_attachments(user, proposal) is not None):
        raise NotFound(_("There is no such file."))
    return attachment


def get_listable_challenge(user: Any, challenge_id: int) -> Challenge:
    """The challenge whose proposals `user` may list (`policy.can_list`); NotFound otherwise."""
    challenge = get_visible_challenge(user, challenge_id)
    if policy.can_list(user, challenge) is not None:
        raise NotFound(_("There is no such challenge."))
    return challenge


_SUBMISSION_ORDER = (Proposal.submitted_at.is_(None), Proposal.submitted_at, Proposal.id)


def challenge_proposals(user: Any, challenge: Challenge, *, q: str | None = None) -> sa.Select[tuple[Proposal]]:
    """A challenge's proposals as `user` may list them: every status for staff, the competing ones
    for the city; those matching `q` (if given) the best match first, then submitted first, in order of submission."""
    query = (sa.select(Proposal).where(Proposal.challenge_id == challenge.id)
             .options(joinedload(Proposal.organization), selectinload(Proposal.milestones)))
    if not policy.sees_every_status(user, challenge):
        query = query.where(Proposal.status.in_(COMPETING_STATUSES))
    query, rank = narrow(query, table="proposals", id_column=Proposal.id, q=q)
    return query.order_by(*rank, *_SUBMISSION_ORDER)


def viewable_by(user: Any) -> sa.ColumnElement[bool]:
    """SQL for `policy.can_view(user, proposal)`, the same rule for a list: the applicant organisation's
    members and facility staff and auditors see a proposal; the city's officials once the challenge has
    closed (published past its deadline, or finished), the proposals in the competition only; nobody else."""
    if reads_everything(user):
        return sa.true()
    if not is_signed_in(user) or user.organization_id is None:
        return sa.false()
    member: sa.ColumnElement[bool] = Proposal.organization_id == user.organization_id
    if not has_role(user, Role.CITY_OFFICIAL):
        return member
    now = utcnow()
    closed = sa.or_(Challenge.status == ChallengeStatus.FINISHED,
                    sa.and_(Challenge.status == ChallengeStatus.PUBLISHED, Challenge.closes_at <= now))
    of_the_city = Proposal.challenge_id.in_(
        sa.select(Challenge.id).join(City, City.id == Challenge.city_id)
        .where(City.organization_id == user.organization_id, closed))
    return sa.or_(member, sa.and_(Proposal.status.in_(COMPETING_STATUSES), of_the_city))


def search_proposals(user: Any, q: str | None) -> sa.Select[tuple[Proposal]]:
    """The proposals `user` may see (`viewable_by`) matching every word of `q` (title, summary, approach;
    any order, case and Latin accents ignored), the best match first, then by submission; an empty `q`:
    every proposal `user` may see, by submission."""
    query = sa.select(Proposal).where(viewable_by(user)).options(joinedload(Proposal.organization))
    query, rank = narrow(query, table="proposals", id_column=Proposal.id, q=q)
    return query.order_by(*rank, *_SUBMISSION_ORDER)


def org_proposal(challenge: Challenge, organization_id: int) -> Proposal | None:
    """The organisation's live (not withdrawn) proposal to the challenge, if any."""
    return db.session.execute(
        sa.select(Proposal).where(
            Proposal.challenge_id == challenge.id,
            Proposal.organization_id == organization_id,
            Proposal.status != ProposalStatus.WITHDRAWN,
        ).limit(1)
    ).scalar_one_or_none()


def open_challenges_without_proposal(organization_id: int, *, limit: int = 5) -> list[Challenge]:
    """Open challenges the organisation has no live proposal to yet and may apply to (an invitation-only stage
    only when it was invited)."""
    taken = sa.select(Proposal.challenge_id).where(
        Proposal.organization_id == organization_id, Proposal.status != ProposalStatus.WITHDRAWN)
    return open_challenges(excluding=taken, limit=limit, invited=organization_id)


def applicant_emails(challenge: Challenge) -> set[str]:
    """E-mail addresses of the active users of every organisation with a live (draft or submitted)
    proposal to the challenge (for deadline-extension notices)."""
    rows = db.session.execute(
        sa.select(User.email).join(Organization, User.organization_id == Organization.id)
        .join(Proposal, Proposal.organization_id == Organization.id)
        .where(Proposal.challenge_id == challenge.id,
               Proposal.status.in_([ProposalStatus.DRAFT, ProposalStatus.SUBMITTED]),
               User.active.is_(True))
    ).scalars()
    return set(rows)


# --- dashboard ---


def drafts_of(organization_id: int, *, limit: int = 10) -> list[Proposal]:
    """The organisation's drafts, the nearest challenge deadline first (one query, challenge joined)."""
    return list(db.session.execute(
        sa.select(Proposal).join(Challenge, Challenge.id == Proposal.challenge_id)
        .where(Proposal.organization_id == organization_id, Proposal.status == ProposalStatus.DRAFT)
        .options(joinedload(Proposal.challenge)).order_by(Challenge.closes_at, Proposal.id).limit(limit)
    ).scalars())


def drafts_waiting(organization_id: int) -> Waiting:
    """How many drafts the organisation has, and the nearest challenge deadline among them."""
    return waiting(Proposal.id, Challenge.closes_at,
                   Proposal.organization_id == organization_id, Proposal.status == ProposalStatus.DRAFT,
                   joins=((Challenge, Challenge.id == Proposal.challenge_id),))
# --- reminders ---

def drafts_closing_within(now: datetime, within: timedelta) -> list[Proposal]:
    """Draft proposals to challenges open now whose deadline is at most `within` away (the deadline reminders)."""
    return list(db.session.execute(
        sa.select(Proposal).join(Challenge, Proposal.challenge_id == Challenge.id)
        .where(Proposal.status == ProposalStatus.DRAFT, is_open_at(now), Challenge.closes_at <= now + within)
        .options(joinedload(Proposal.challenge)).order_by(Proposal.id)
    ).scalars())


def innovators_by_organization(organization_ids: set[int]) -> dict[int, list[User]]:
    """The active innovators of each organisation (who may finish its drafts), in one query."""
    people: dict[int, list[User]] = {}
    if not organization_ids:
        return people
    rows = db.session.execute(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(User.organization_id.in_(organization_ids), User.active.is_(True), UserRole.role == Role.INNOVATOR)
        .order_by(User.id)
    ).scalars()
    for user in rows:
        people.setdefault(user.organization_id or 0, []).append(user)
    return people
