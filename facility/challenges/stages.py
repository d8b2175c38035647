"""Staged prizes: a challenge's next stage (e.g. "Pilot" then "Scale") is a challenge of its own.

A stage has its own prize pool (funded through the ledger when a fund manager approves it, its unused money
returned when it finishes, as for any challenge), dates, rubric and panel; `previous_stage_id` links it to
the stage before. Invitations to an invitation-only stage are made from the previous stage's grants
(`grants.stages`). Services flush but never commit.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.challenges import policy
from facility.challenges.models import Challenge, ChallengeStatus, Criterion
from facility.challenges.services import DESCRIPTOR_FIELDS, clean_challenge_fields, lock_challenge
from facility.core.errors import ValidationFailed
from facility.core.inputs import NAME_CHARS, clean_text
from facility.core.policy import require
from facility.extensions import db

STAGE_NAME_CHARS = 80
"""The longest stage name ("Pilot", "Scale", "Replication")."""



def _stage_name(value: Any, field: str, errors: dict[str, list[str]], *, required: bool) -> str:
    if value is not None and not isinstance(value, str):
        errors[field] = [_("Give text.")]
        return ""
    try:
        name = clean_text(value or "", field, limit=STAGE_NAME_CHARS, multiline=False)
    except ValidationFailed as error:
        errors[field] = error.errors[field]
        return ""
    if required and not name:
        errors[field] = [_("Name the stage, e.g. Scale.")]
    return name


def next_stage_title(challenge: Challenge, stage_name: str) -> str:
    """The previous stage's title with its stage name (if it ends with it) replaced by `stage_name`:
    "Clean water kiosks: Pilot" -> "Clean water kiosks: Scale"; cut to fit the title column."""
    base = challenge.title
    suffix = f": {challenge.stage_name}" if challenge.stage_name else ""
    if suffix and base.endswith(suffix):
        base = base[: -len(suffix)]
    ending = f": {stage_name}"
    return base[: NAME_CHARS - len(ending)] + ending


def add_next_stage(*, actor: User, challenge: Challenge, stage_name: str, prize_pool_cents: Any,
                   max_award_cents: Any, opens_at: Any, closes_at: Any, invitation_only: bool = True,
                   previous_stage_name: str = "") -> Challenge:
    """Rule `policy.can_add_stage`: the city's officials or a fund manager add a next stage to an approved
    stage that has none; it opens no earlier than the previous stage's deadline.

    The new stage is a draft pre-filled from `challenge` (summary, description, focus area, SDG targets,
    eligibility, rubric), titled with `stage_name`, with its own pool, largest award and dates; it then
    goes through the usual submission and approval (which funds its pool). `previous_stage_name` names
    `challenge` itself when it has no stage name yet (e.g. "Pilot")."""
    require(policy.can_add_stage(actor, challenge))  # the role before the lock
    challenge = lock_challenge(challenge)  # two requests cannot both add the next stage
    require(policy.can_add_stage(actor, challenge))
    errors: dict[str, list[str]] = {}
    name = _stage_name(stage_name, "stage_name", errors, required=True)
    previous_name = _stage_name(previous_stage_name, "previous_stage_name", errors, required=False)
    data = {
        "title": next_stage_title(challenge, name) if name else challenge.title,
        "summary": challenge.summary, "description": challenge.description,
        "focus_area": challenge.focus_area.value, "sdg_targets": list(challenge.sdg_targets),
        "prize_pool_cents": prize_pool_cents, "max_award_cents": max_award_cents,
        "opens_at": opens_at, "closes_at": closes_at,
        "eligible_org_types": list(challenge.eligible_org_types),
        "eligible_countries": list(challenge.eligible_countries),
        "criteria": [{"name": c.name, "description": c.description, "weight": c.weight,
                      **{key: getattr(c, key) for key in DESCRIPTOR_FIELDS}} for c in challenge.criteria],
    }
    try:
        clean = clean_challenge_fields(data)
    except ValidationFailed as error:
        errors = {**error.errors, **errors}
        clean = {}
    if isinstance(opens_at, datetime) and opens_at.tzinfo is not None and opens_at < challenge.closes_at:
        errors.setdefault("opens_at", []).append(
            _("The next stage opens once the previous one has closed, on %(date)s or later.",
              date=challenge.closes_at.date().isoformat()))
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    named = bool(previous_name and not challenge.stage_name)
    if named:
        challenge.stage_name = previous_name
    criteria = clean.pop("criteria")
    stage = Challenge(city=challenge.city, created_by_id=actor.id, status=ChallengeStatus.DRAFT,
                      previous_stage_id=challenge.id, stage_name=name, invitation_only=bool(invitation_only), **clean)
    stage.criteria = [Criterion(position=i, **c) for i, c in enumerate(criteria)]
    db.session.add(stage)
    db.session.flush()
    record("challenge.stage_added", actor=actor, obj=stage, details={
        "previous_stage_id": challenge.id, "stage_name": name, "invitation_only": stage.invitation_only,
        "prize_pool_cents": stage.prize_pool_cents,
        **({"previous_stage_named": challenge.stage_name} if named else {})})
    return stage
