"""Panels, invitations and rounds: who sits on a challenge's panel, and when it reviews.

Every function that changes something takes the acting user (`actor=`), asks `review.policy`
first, flushes and never commits.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from facility.accounts.models import Role, User
from facility.accounts.services import create_user, find_user_by_email, normalise_email
from facility.audit.services import record
from facility.challenges.models import Challenge
from facility.cities.policy import is_official
from facility.core.errors import Conflict as ConflictError
from facility.core.errors import ValidationFailed
from facility.core.inputs import NAME_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.notify import Address, notify
from facility.core.policy import require
from facility.extensions import db
from facility.review import facts, policy
from facility.review.models import PanelInvitation, PanelMember, PanelRole, ReviewRound, RoundKind
from facility.review.queries import rounds_of

INVITATION_MAX_AGE = 14 * 24 * 3600  # seconds an invitation link stays valid
_ROUND_DAYS = ((RoundKind.ELIGIBILITY, 14), (RoundKind.SCORING, 42))
SHORTLIST_DAYS = 28


def ensure_rounds(*, actor: User, challenge: Challenge) -> list[ReviewRound]:
    """Rule: every panel has an eligibility and a scoring round; both open when submissions close
    (eligibility for two weeks, scoring for six) and the fund manager may change the dates."""
    rounds = rounds_of(challenge)
    kinds = {r.kind for r in rounds}
    start = challenge.closes_at
    for kind, days in _ROUND_DAYS:
        if kind not in kinds:
            round_ = ReviewRound(challenge=challenge, kind=kind, opens_at=start, closes_at=start + timedelta(days=days))
            db.session.add(round_)
            rounds.append(round_)
    db.session.flush()
    return sorted(rounds, key=lambda r: list(RoundKind).index(r.kind))


def add_panel_member(*, actor: User, challenge: Challenge, user: User,
                     role: PanelRole = PanelRole.REVIEWER) -> PanelMember:
    """Rule: fund managers add reviewers (accounts with the reviewer role) to a panel, and the
    challenge city's officials as observers; nobody sits twice on one panel."""
    require(policy.can_manage_panel(actor, challenge))
    if role == PanelRole.REVIEWER and not user.has_role(Role.REVIEWER):
        raise ValidationFailed(_("That account is not a reviewer."),
                               errors={"user_id": [_("That account is not a reviewer; an admin can grant the role.")]})
    if role == PanelRole.OBSERVER and not is_official(user, challenge.city):
        raise ValidationFailed(_("Observers are the city's officials."),
                               errors={"user_id": [_("Only the challenge city's officials can observe its panel.")]})
    if facts.panel_membership(challenge, user) is not None:
        raise ConflictError(_("%(name)s already sits on this panel.", name=user.name))
    ensure_rounds(actor=actor, challenge=challenge)
    member = PanelMember(challenge=challenge, user=user, role=role, added_by_id=actor.id)
    db.session.add(member)
    db.session.flush()
    record("review.panel_member_added", actor=actor, obj=challenge,
           details={"user_id": user.id, "role": role.value})
    return member


def invite_reviewer(*, actor: User, challenge: Challenge, email: str, name: str = "") -> PanelMember | PanelInvitation:
    """Rule: an existing reviewer account is added at once; an address without an account gets an
    e-mailed, signed, single-use invitation (accepting creates a reviewer account on the panel)."""
    require(policy.can_manage_panel(actor, challenge))
    email = normalise_email(email or "")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ValidationFailed(_("Enter a valid e-mail address."), errors={"email": [_("Enter a valid e-mail address.")]})
    name = clean_text(name, "name", limit=NAME_CHARS)
    user = find_user_by_email(email)
    if user is not None:
        return add_panel_member(actor=actor, challenge=challenge, user=user)
    pending = db.session.execute(sa.select(PanelInvitation).where(
        PanelInvitation.challenge_id == challenge.id, PanelInvitation.email == email,
        PanelInvitation.accepted_at.is_(None))).scalar_one_or_none()
    if pending is not None:
        raise ConflictError(_("An invitation to %(email)s is already waiting.", email=email))
    ensure_rounds(actor=actor, challenge=challenge)
    invitation = PanelInvitation(challenge=challenge, email=email, name=name, invited_by_id=actor.id)
    db.session.add(invitation)
    db.session.flush()
    # core.notify.Recipient declares `email` settable, which the frozen Address is not (reported to infra).
    notify([Address(email, actor.locale)], "review/invitation", challenge=challenge,  # type: ignore[list-item]
           token=invitation_token(invitation))
    record("review.reviewer_invited", actor=actor, obj=challenge, details={"invitation_id": invitation.id})
    return invitation


def _invitation_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="review-invitation")


def invitation_token(invitation: PanelInvitation) -> str:
    return _invitation_serializer().dumps({"i": invitation.id, "e": invitation.email})


def invitation_for_token(token: str) -> PanelInvitation | None:
    """The pending invitation a signed, unexpired token names; None otherwise (or once accepted)."""
    try:
        data = _invitation_serializer().loads(token, max_age=INVITATION_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    invitation = db.session.get(PanelInvitation, data.get("i"))
    if invitation is None or invitation.email != data.get("e") or invitation.accepted_at is not None:
        return None
    return invitation


def accept_invitation(*, invitation: PanelInvitation, name: str, password: str, actor: User | None = None) -> User:
    """Rule: someone signed out accepts (`policy.can_accept_invitation`): that creates the account
    with the reviewer role (password rules apply) and seats it on the panel; the invitation is
    then used up."""
    require(policy.can_accept_invitation(actor, invitation))
    name = clean_text(name, "name", limit=NAME_CHARS)
    if not name:
        raise ValidationFailed(_("Some fields need your attention."), errors={"name": [_("Enter your name.")]})
    user = create_user(email=invitation.email, password=password, name=name, roles=[Role.REVIEWER.value])
    invitation.accepted_at = utcnow()
    invitation.accepted_user_id = user.id
    db.session.add(PanelMember(challenge_id=invitation.challenge_id, user=user, role=PanelRole.REVIEWER,
                               added_by_id=invitation.invited_by_id))
    db.session.flush()
    record("review.invitation_accepted", actor=user, obj=invitation.challenge,
           details={"invitation_id": invitation.id})
    return user


# --- rounds --------------------------------------------------------------------------------------


def add_shortlist_round(*, actor: User, challenge: Challenge) -> ReviewRound:
    """Rule: a fund manager adds one shortlist round, after the scoring round, for 4 weeks."""
    require(policy.can_manage_rounds(actor, challenge))
    rounds = {r.kind: r for r in ensure_rounds(actor=actor, challenge=challenge)}
    if RoundKind.SHORTLIST in rounds:
        raise ConflictError(_("This challenge already has a shortlist round."))
    start = rounds[RoundKind.SCORING].closes_at
    round_ = ReviewRound(challenge=challenge, kind=RoundKind.SHORTLIST, opens_at=start,
                         closes_at=start + timedelta(days=SHORTLIST_DAYS))
    db.session.add(round_)
    db.session.flush()
    record("review.round_added", actor=actor, obj=challenge, details={"round_id": round_.id, "kind": "shortlist"})
    return round_


def update_round(*, actor: User, round_: ReviewRound, opens_at: datetime, closes_at: datetime,
                 can_review: bool, can_see_others: bool) -> ReviewRound:
    """Rule: fund managers set a round's dates (opens before it closes) and permissions."""
    require(policy.can_edit_round(actor, round_))
    if opens_at is None or closes_at is None or opens_at >= closes_at:
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"closes_at": [_("The round must close after it opens.")]})
    round_.opens_at, round_.closes_at = opens_at, closes_at
    round_.can_review, round_.can_see_others = bool(can_review), bool(can_see_others)
    if round_.closed_at is not None and closes_at > utcnow():
        round_.closed_at = None  # new dates reopen a round closed early
    db.session.flush()
    record("review.round_updated", actor=actor, obj=round_,
           details={"opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat(),
                    "can_review": round_.can_review, "can_see_others": round_.can_see_others})
    return round_


def close_round(*, actor: User, round_: ReviewRound) -> ReviewRound:
    """Rule: a fund manager may close a round early; reviews can no longer be written."""
    require(policy.can_close_round(actor, round_))
    round_.closed_at = utcnow()
    db.session.flush()
    record("review.round_closed", actor=actor, obj=round_)
    return round_
