"""Challenge rules: drafting, submission, approval, deadline extensions, clarifications.

Services flush but never commit; the view, API handler or command that calls them commits once.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.models import OrgType, User
from facility.audit.services import record
from facility.challenges import funding, policy, sdg
from facility.challenges.models import (
    CHALLENGE_TRANSITIONS,
    DESCRIPTOR_CHARS,
    Challenge,
    ChallengeStatus,
    Clarification,
    Criterion,
    DeadlineExtension,
    FocusArea,
)
from facility.cities import policy as city_policy
from facility.cities.models import City
from facility.cities.queries import officials_of
from facility.cities.services import valid_country
from facility.core.database import lock_row
from facility.core.errors import ValidationFailed
from facility.core.inputs import COMMENT_CHARS, NAME_CHARS, REASON_CHARS, clean_text
from facility.core.labels import label
from facility.core.models import utcnow
from facility.core.notify import Address, notify
from facility.core.policy import require
from facility.extensions import db
from facility.ledger.services import UNALLOCATED, pool_account, transfer, unallocated_account

MAX_CRITERIA = 12
SUMMARY_CHARS = 1000
DESCRIPTOR_FIELDS = ("descriptor_low", "descriptor_mid", "descriptor_high")
"""A criterion's optional descriptors of its low, middle and high scores (`Criterion.score_bands`)."""
DESCRIPTION_CHARS = 50_000
QUESTION_CHARS = COMMENT_CHARS
ANSWER_CHARS = COMMENT_CHARS
MAX_PRIZE_POOL_CENTS = 100_000_000_000  # USD 1 billion, the whole facility
FIELDS = ("title", "summary", "description", "focus_area", "sdg_targets", "prize_pool_cents", "max_award_cents",
          "opens_at", "closes_at", "eligible_org_types", "eligible_countries", "criteria")

# --- who hears about a deadline extension ----------------------------------------------------
# Challenges cannot import proposals (import order), so packages that know a challenge's
# applicants register a provider here: fn(challenge) -> set of e-mail addresses.
_extension_recipient_providers: list[Callable[[Challenge], set[str]]] = []


def register_extension_recipients(fn: Callable[[Challenge], set[str]]) -> Callable[[Challenge], set[str]]:
    """Register a provider of e-mail addresses to notify when a challenge's deadline moves (idempotent)."""
    if fn not in _extension_recipient_providers:
        _extension_recipient_providers.append(fn)
    return fn


def unregister_extension_recipients(fn: Callable[[Challenge], set[str]]) -> None:
    if fn in _extension_recipient_providers:
        _extension_recipient_providers.remove(fn)


def extension_recipients(challenge: Challenge) -> set[str]:
    """The city's officials plus every registered provider's addresses."""
    emails = {user.email for user in officials_of(challenge.city)}
    for provider in _extension_recipient_providers:
        emails |= set(provider(challenge))
    return emails


def _extension_audience(challenge: Challenge) -> list[Any]:
    """Who receives the extension notice: the officials (in their language), then the other addresses."""
    officials = officials_of(challenge.city)
    known = {user.email for user in officials}
    return [*officials, *(Address(email) for email in sorted(extension_recipients(challenge) - known))]


# --- validation -------------------------------------------------------------------------------
def _text(value: Any, field: str, errors: dict[str, list[str]], *, max_len: int, required: bool = True,
          multiline: bool = True, markdown: bool = False) -> str:
    """`core.inputs.clean_text`, its refusal collected into `errors` so that every field is reported at once.

    Markdown keeps its white space (indentation is meaning there); only its ends are stripped."""
    if value is not None and not isinstance(value, str):
        errors[field] = [_("Give text.")]
        return ""
    try:
        if markdown:
            text = (value or "").strip()
            if len(text) > max_len:
                message = _("At most %(n)s characters; this has %(got)s.", n=f"{max_len:,}", got=f"{len(text):,}")
                raise ValidationFailed(message, errors={field: [message]})
        else:
            text = clean_text(value, field, limit=max_len, multiline=multiline)
    except ValidationFailed as error:
        errors[field] = error.errors[field]
        return ""
    if required and not text:
        errors[field] = [_("This field is required.")]
    return text


def _cents(value: Any, field: str, errors: dict[str, list[str]]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PRIZE_POOL_CENTS:
        errors[field] = [_("Give a whole number of US cents greater than zero.")]
        return None
    return value


def _aware(value: Any, field: str, errors: dict[str, list[str]]) -> datetime | None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        errors[field] = [_("Give a date and time with its time zone offset.")]
        return None
    return value


def _code_list(value: Any, field: str, errors: dict[str, list[str]], check: Callable[[str], str | None],
               message: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors[field] = [_("Give a list.")]
        return []
    out: list[str] = []
    bad = []
    for item in value:
        clean = check(item) if isinstance(item, str) else None
        if clean is None:
            bad.append(str(item)[:20])
        elif clean not in out:
            out.append(clean)
    if bad:
        errors[field] = [message + " " + ", ".join(bad)]
    return out


def _sdg(code: str) -> str | None:
    code = code.strip().lower()
    return code if sdg.is_target(code) else None


def _org_type(value: str) -> str | None:
    return value if value in {t.value for t in OrgType} else None


def _criteria(value: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple) or not value:
        errors["criteria"] = [_("Give at least one scoring criterion.")]
        return []
    if len(value) > MAX_CRITERIA:
        errors["criteria"] = [ngettext("Use at most %(n)d criterion.",
                                       "Use at most %(n)d criteria.", MAX_CRITERIA, n=MAX_CRITERIA)]
        return []
    out: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        item = item if isinstance(item, dict) else {}
        sub: dict[str, list[str]] = {}
        name = _text(item.get("name"), "name", sub, max_len=NAME_CHARS, multiline=False)
        description = _text(item.get("description") or "", "description", sub, max_len=REASON_CHARS,
                            required=False)
        descriptors = {key: _text(item.get(key) or "", key, sub, max_len=DESCRIPTOR_CHARS, required=False,
                                  multiline=False) for key in DESCRIPTOR_FIELDS}
        weight = item.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
            sub["weight"] = [_("Give a whole number from 1 to 100.")]
        for key, messages in sub.items():
            errors[f"criteria.{index}.{key}"] = messages
        out.append({"name": name, "description": description, "weight": weight, **descriptors})
    if not any(key.startswith("criteria.") for key in errors):
        total = sum(c["weight"] for c in out)
        if total != 100:
            errors["criteria"] = [_("The weights must add up to 100 (they add up to %(n)d).", n=total)]
    return out


def clean_challenge_fields(data: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """Check every field of a challenge draft; raise ValidationFailed with all problems by field."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {
        "title": _text(data.get("title"), "title", errors, max_len=NAME_CHARS, multiline=False),
        "summary": _text(data.get("summary"), "summary", errors, max_len=SUMMARY_CHARS),
        "description": _text(data.get("description"), "description", errors, max_len=DESCRIPTION_CHARS,
                             markdown=True),
    }
    try:
        clean["focus_area"] = FocusArea(data.get("focus_area"))
    except ValueError:
        errors["focus_area"] = [_("Choose a focus area: %(areas)s.",
                                   areas=", ".join(f"{area.value} ({label(area)})" for area in FocusArea))]
    targets = _code_list(data.get("sdg_targets"), "sdg_targets", errors, _sdg,
                         _("These are not SDG targets (use codes like 11.2 or 11.a):"))
    if not targets and "sdg_targets" not in errors:
        errors["sdg_targets"] = [_("Give at least one SDG target, e.g. 11.1.")]
    clean["sdg_targets"] = sorted(targets, key=sdg.sort_key)
    clean["eligible_org_types"] = _code_list(data.get("eligible_org_types"), "eligible_org_types", errors, _org_type,
                                             _("Unknown organisation types:"))
    clean["eligible_countries"] = _code_list(data.get("eligible_countries"), "eligible_countries", errors,
                                             valid_country, _("These are not three-letter country codes (like UGA for Uganda):"))
    pool = _cents(data.get("prize_pool_cents"), "prize_pool_cents", errors)
    award = _cents(data.get("max_award_cents"), "max_award_cents", errors)
    if pool is not None and award is not None and award > pool:
        errors["max_award_cents"] = [_("The largest award cannot exceed the prize pool.")]
    clean["prize_pool_cents"], clean["max_award_cents"] = pool, award
    opens_at = _aware(data.get("opens_at"), "opens_at", errors)
    closes_at = _aware(data.get("closes_at"), "closes_at", errors)
    if opens_at and closes_at:
        if opens_at >= closes_at:
            errors["closes_at"] = [_("The deadline must be after the opening time.")]
        elif closes_at <= (now or utcnow()):
            errors["closes_at"] = [_("The deadline must be in the future.")]
    clean["opens_at"], clean["closes_at"] = opens_at, closes_at
    clean["criteria"] = _criteria(data.get("criteria"), errors)
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    return clean


def _apply(challenge: Challenge, clean: dict[str, Any]) -> None:
    criteria = clean.pop("criteria")
    for key, value in clean.items():
        setattr(challenge, key, value)
    challenge.criteria = [Criterion(position=i, **c) for i, c in enumerate(criteria)]


def _audit_view(clean: dict[str, Any]) -> dict[str, Any]:
    return {key: (value.value if hasattr(value, "value") else value) for key, value in clean.items()}


# --- lifecycle --------------------------------------------------------------------------------
def create_challenge(*, actor: User, city: City, **fields: Any) -> Challenge:
    """Rule `cities.policy.can_draft_challenge`: officials of a verified city draft challenges
    (fields as in FIELDS; weights sum to 100)."""
    require(city_policy.can_draft_challenge(actor, city))
    clean = clean_challenge_fields(fields)
    challenge = Challenge(city=city, created_by_id=actor.id, status=ChallengeStatus.DRAFT)
    summary = _audit_view(clean)
    _apply(challenge, clean)
    db.session.add(challenge)
    db.session.flush()
    record("challenge.created", actor=actor, obj=challenge, details={"title": summary["title"]})
    return challenge


def update_challenge(*, challenge: Challenge, actor: User, **fields: Any) -> Challenge:
    """Rule `policy.can_edit`: the city's officials edit a draft; afterwards it is fixed."""
    challenge = lock_challenge(challenge)
    require(policy.can_edit(actor, challenge))
    clean = clean_challenge_fields(fields)
    _apply(challenge, clean)
    db.session.flush()
    record("challenge.updated", actor=actor, obj=challenge)
    return challenge


def submit_challenge(*, challenge: Challenge, actor: User) -> Challenge:
    """Rule `policy.can_submit`: the city's officials send a draft to the facility (draft -> pending_approval)."""
    challenge = lock_challenge(challenge)
    require(policy.can_submit(actor, challenge))
    CHALLENGE_TRANSITIONS.move(challenge, ChallengeStatus.PENDING_APPROVAL)
    challenge.submitted_at = utcnow()
    db.session.flush()
    record("challenge.submitted", actor=actor, obj=challenge)
    return challenge


def return_to_draft(*, challenge: Challenge, actor: User, reason: str) -> Challenge:
    """Rule `policy.can_return`: a fund manager sends a pending challenge back to the city with a
    reason (pending -> draft); the city's officials are e-mailed."""
    challenge = lock_challenge(challenge)
    require(policy.can_return(actor, challenge))
    errors: dict[str, list[str]] = {}
    reason = _text(reason or "", "reason", errors, max_len=REASON_CHARS, required=False)
    if not reason and not errors:
        errors["reason"] = [_("Say what the city should change.")]
    if errors:
        raise ValidationFailed(_("Say why."), errors=errors)
    CHALLENGE_TRANSITIONS.move(challenge, ChallengeStatus.DRAFT)
    challenge.submitted_at = None
    db.session.flush()
    record("challenge.returned", actor=actor, obj=challenge, details={"reason": reason})
    notify(officials_of(challenge.city), "challenges/returned", challenge=challenge, reason=reason)
    return challenge


def approve_challenge(*, challenge: Challenge, actor: User) -> Challenge:
    """Rule `policy.can_approve`: a fund manager approves a pending challenge: its prize pool is
    funded from the facility's unallocated money and it is published, in one transaction.

    Not enough unallocated money is a Conflict (409): nothing is written and the challenge stays
    pending. The challenge row is locked first so two approvals cannot both pass the status check.
    """
    require(policy.can_approve(actor, challenge))  # the role before the lock: a stranger waits for nothing
    challenge = lock_challenge(challenge)
    require(policy.can_approve(actor, challenge))
    _fund_prize_pool(challenge=challenge, actor=actor)
    CHALLENGE_TRANSITIONS.move(challenge, ChallengeStatus.PUBLISHED)
    challenge.approved_at = utcnow()
    challenge.approved_by_id = actor.id
    db.session.flush()
    record("challenge.approved", actor=actor, obj=challenge,
           details={"prize_pool_cents": challenge.prize_pool_cents, "closes_at": challenge.closes_at.isoformat()})
    return challenge


def lock_challenge(challenge: Challenge) -> Challenge:
    """Re-read the challenge under a row lock on its own row (`core.database.lock_row`)."""
    locked: Challenge = lock_row(Challenge, challenge.id, missing=_("No such challenge."))
    return locked


def _fund_prize_pool(*, challenge: Challenge, actor: User) -> None:
    """Move the prize pool from unallocated money to the challenge's pool (the ledger refuses if short),
    drawing the funds the challenge is eligible for in `funding.drawing_plan`'s order; the transaction's
    metadata (``funds``) says which funds paid."""
    pool = pool_account(challenge.id, name=_pool_name(challenge))
    unallocated_account()
    plan = funding.drawing_plan(challenge)
    transfer(
        key=f"approve-challenge:{challenge.id}", source=UNALLOCATED, target=pool,
        amount_cents=plan.amount_cents, funds=plan.funds,
        actor=actor, kind="challenge_approval",
        description=f"Prize pool of challenge {challenge.id}",
        metadata={"challenge_id": challenge.id},
    )


def _pool_name(challenge: Challenge) -> str:
    """The pool account's name; a long title is shortened with an ellipsis to fit the account's name column."""
    name = str(_("Prize pool: %(title)s", title=challenge.title))
    return name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…"


def finish_challenge(*, challenge: Challenge, actor: User) -> Challenge:
    """Rule `policy.can_finish`: a fund manager marks a published challenge finished once its deadline has passed."""
    challenge = lock_challenge(challenge)
    require(policy.can_finish(actor, challenge))
    CHALLENGE_TRANSITIONS.move(challenge, ChallengeStatus.FINISHED)
    db.session.flush()
    record("challenge.finished", actor=actor, obj=challenge)
    return challenge


def extend_deadline(*, challenge: Challenge, actor: User, new_closes_at: datetime, reason: str) -> DeadlineExtension:
    """Rule `policy.can_extend_deadline`: a fund manager or the city's official moves an open or upcoming
    challenge's deadline later, never earlier, with a reason; it is audited and everyone concerned is e-mailed."""
    challenge = lock_challenge(challenge)
    require(policy.can_extend_deadline(actor, challenge))
    errors: dict[str, list[str]] = {}
    checked = _aware(new_closes_at, "new_closes_at", errors)
    if checked is not None and checked <= challenge.closes_at:
        errors["new_closes_at"] = [_("The new deadline must be later than the current one.")]
    reason = _text(reason if isinstance(reason, str) else "", "reason", errors, max_len=REASON_CHARS,
                   required=False)
    if not reason and "reason" not in errors:
        errors["reason"] = [_("Say why the deadline moves; applicants will read it.")]
    if errors or checked is None:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    extension = DeadlineExtension(challenge=challenge, old_closes_at=challenge.closes_at,
                                  new_closes_at=checked, reason=reason, actor_id=actor.id)
    db.session.add(extension)
    challenge.closes_at = checked
    db.session.flush()
    record("challenge.deadline_extended", actor=actor, obj=challenge, details={
        "old_closes_at": extension.old_closes_at.isoformat(), "new_closes_at": checked.isoformat(),
        "reason": reason})
    notify(_extension_audience(challenge), "challenges/deadline_extended", challenge=challenge, extension=extension)
    return extension


# --- clarifications ---------------------------------------------------------------------------
def ask_clarification(*, challenge: Challenge, actor: User, question: str) -> Clarification:
    """Rule `policy.can_ask`: anyone signed in asks about a published challenge before its deadline;
    the city's officials are e-mailed."""
    require(policy.can_ask(actor, challenge))
    errors: dict[str, list[str]] = {}
    question = _text(question, "question", errors, max_len=QUESTION_CHARS)
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    clarification = Clarification(challenge=challenge, asked_by_id=actor.id, question=question)
    db.session.add(clarification)
    db.session.flush()
    record("clarification.asked", actor=actor, obj=clarification, details={"challenge_id": challenge.id})
    notify(officials_of(challenge.city), "challenges/question_asked", challenge=challenge, clarification=clarification)
    return clarification


def answer_clarification(*, clarification: Clarification, actor: User, answer: str) -> Clarification:
    """Rule `policy.can_answer`: the city's officials answer a question once; the answer is then public."""
    db.session.refresh(clarification, with_for_update=True)
    require(policy.can_answer(actor, clarification))
    errors: dict[str, list[str]] = {}
    answer = _text(answer, "answer", errors, max_len=ANSWER_CHARS)
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    clarification.answer = answer
    clarification.answered_by_id = actor.id
    clarification.answered_at = utcnow()
    db.session.flush()
    record("clarification.answered", actor=actor, obj=clarification,
           details={"challenge_id": clarification.challenge_id})
    return clarification
