"""Who may do what to a challenge or a clarification question, and when.

One `can_<action>(user, obj)` per action, covering the role and the challenge's state. The
services call them first (on the locked row), the pages and the API ask the same functions,
and templates ask through `may("challenges.<action>", challenge)`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.policy import (
    fund_manager_refusal,
    is_auditor,
    is_fund_manager,
    is_signed_in,
    mfa_refusal,
    read_only_reason,
    reads_everything,
    role_refusal,
)
from facility.challenges.models import PUBLIC_STATUSES, Challenge, ChallengeStatus, Clarification, Phase
from facility.cities.policy import is_official
from facility.core.labels import label
from facility.core.models import utcnow
from facility.core.policy import Decision, conflict, forbidden, hidden
from facility.extensions import db


def is_city_official(user: Any, challenge: Challenge) -> bool:
    """An official of the challenge's city."""
    return is_official(user, challenge.city)


def is_before_deadline(challenge: Challenge, now: datetime | None = None) -> bool:
    """Published and its deadline not yet passed (open or upcoming): questions and extensions."""
    return challenge.status == ChallengeStatus.PUBLISHED and challenge.phase_at(now or utcnow()) != Phase.CLOSED


def can_view(user: Any, challenge: Challenge) -> Decision:
    """Published and finished: anyone. Others (draft, pending, cancelled): the city's officials and
    facility staff and auditors; everyone else may not know the challenge exists."""
    if challenge.status in PUBLIC_STATUSES or is_city_official(user, challenge) or reads_everything(user):
        return None
    return hidden(_("There is no such challenge."))


def can_edit(user: Any, challenge: Challenge) -> Decision:
    """The city's officials edit a draft; after submission the rubric and deadline are fixed."""
    if not is_city_official(user, challenge):
        return role_refusal(user, _("Only the city's officials edit its challenges."))
    if challenge.status != ChallengeStatus.DRAFT:
        return conflict(_("Only drafts can be edited; this challenge is %(status)s.",
                          status=_status(challenge)))
    return None


def can_submit(user: Any, challenge: Challenge) -> Decision:
    """The city's officials send a draft whose deadline is still ahead to the facility."""
    if not is_city_official(user, challenge):
        return role_refusal(user, _("Only the city's officials submit its challenges."))
    if challenge.status != ChallengeStatus.DRAFT:
        return conflict(_("Only drafts can be submitted; this challenge is %(status)s.", status=_status(challenge)))
    if challenge.closes_at <= utcnow():
        return conflict(_("The deadline has passed; set a new one before submitting."))
    return None


def can_approve(user: Any, challenge: Challenge) -> Decision:
    """Fund managers approve (fund and publish) a pending challenge whose deadline is ahead."""
    if (refusal := fund_manager_refusal(user, _("Only fund managers approve challenges."))) is not None:
        return refusal
    if challenge.status != ChallengeStatus.PENDING_APPROVAL:
        return conflict(_("Only challenges waiting for approval can be approved; this one is %(status)s.",
                          status=_status(challenge)))
    if challenge.closes_at <= utcnow():
        return conflict(_("The deadline has already passed; send the challenge back to the city."))
    return None


def can_return(user: Any, challenge: Challenge) -> Decision:
    """Fund managers send a pending challenge back to the city as a draft."""
    if (refusal := fund_manager_refusal(user, _("Only fund managers review challenges."))) is not None:
        return refusal
    if challenge.status != ChallengeStatus.PENDING_APPROVAL:
        return conflict(_("Only challenges waiting for approval can be sent back."))
    return None


def can_finish(user: Any, challenge: Challenge) -> Decision:
    """Fund managers mark a published challenge finished once its deadline has passed."""
    if (refusal := fund_manager_refusal(user, _("Only fund managers finish challenges."))) is not None:
        return refusal
    if challenge.phase != Phase.CLOSED:
        return conflict(_("Only published challenges whose deadline has passed can be finished."))
    return None


def can_extend_deadline(user: Any, challenge: Challenge) -> Decision:
    """Fund managers and the city's officials move a published challenge's deadline later, before it passes."""
    if not (is_city_official(user, challenge) or is_fund_manager(user)):
        return role_refusal(user, _("Only fund managers and the city's officials extend deadlines."))
    if challenge.status != ChallengeStatus.PUBLISHED:
        return conflict(_("Only published challenges have deadlines to extend."))
    if challenge.phase == Phase.CLOSED:
        return conflict(_("The deadline has already passed; a closed challenge cannot be reopened."))
    return None


MAX_STAGES = 5
"""The most stages a chain may have (pilot, scale, ...): `queries.stages_of` loads at most this many."""


def has_next_stage(challenge: Challenge) -> bool:
    """Some challenge (of any status) names `challenge` as its previous stage."""
    return bool(db.session.execute(
        sa.select(sa.exists().where(Challenge.previous_stage_id == challenge.id))).scalar())


def stage_number(challenge: Challenge) -> int:
    """1 for a first (or only) stage, 2 for the stage after it, ...: counted up the chain (at most MAX_STAGES)."""
    number, previous = 1, challenge.previous_stage_id
    while previous is not None and number <= MAX_STAGES:
        number += 1
        previous = db.session.execute(
            sa.select(Challenge.previous_stage_id).where(Challenge.id == previous)).scalar()
    return number


def can_add_stage(user: Any, challenge: Challenge) -> Decision:
    """The city's officials and fund managers add the next stage to an approved (published or finished)
    challenge that has no next stage yet, up to MAX_STAGES stages in a chain."""
    if not (is_city_official(user, challenge) or is_fund_manager(user)):
        return role_refusal(user, _("Only fund managers and the city's officials add stages to a challenge."))
    if not is_city_official(user, challenge) and (refusal := mfa_refusal(user)) is not None:
        return refusal
    if challenge.status not in PUBLIC_STATUSES:
        return conflict(_("A next stage follows an approved challenge; this one is %(status)s.",
                          status=_status(challenge)))
    if has_next_stage(challenge):
        return conflict(_("This stage already has a next stage; add one after the last stage."))
    if stage_number(challenge) >= MAX_STAGES:
        return conflict(_("A challenge has at most %(n)d stages.", n=MAX_STAGES))
    return None


def can_ask(user: Any, challenge: Challenge) -> Decision:
    """Anyone signed in who sees the challenge (auditors excepted: they change nothing) asks about it
    while it is published and before its deadline."""
    if not is_signed_in(user):
        return forbidden(_("Sign in to ask a question."))
    if is_auditor(user):
        return forbidden(read_only_reason())
    refusal = can_view(user, challenge)
    if refusal is not None:
        return refusal
    if not is_before_deadline(challenge):
        return conflict(_("Questions can be asked only while the challenge is published and before its deadline."))
    return None


def sees_unanswered(user: Any, challenge: Challenge) -> bool:
    """Unanswered questions: the city's officials, facility staff and auditors (askers see their own)."""
    return is_city_official(user, challenge) or reads_everything(user)


def can_view_clarification(user: Any, clarification: Clarification) -> Decision:
    """Answered: whoever sees the challenge. Unanswered: the asker, the city's officials, facility staff."""
    refusal = can_view(user, clarification.challenge)
    if refusal is not None:
        return refusal
    if clarification.is_answered or (is_signed_in(user) and user.id == clarification.asked_by_id):
        return None
    if sees_unanswered(user, clarification.challenge):
        return None
    return hidden(_("There is no such question."))


def can_answer(user: Any, clarification: Clarification) -> Decision:
    """The city's officials answer a question they can see, once."""
    refusal = can_view_clarification(user, clarification)
    if refusal is not None:
        return hidden(_("There is no such question."))
    if not is_city_official(user, clarification.challenge):
        return role_refusal(user, _("Only the city's officials answer questions."))
    if clarification.is_answered:
        return conflict(_("This question is already answered."))
    return None


def _status(challenge: Challenge) -> str:
    return str(label(challenge.status))
