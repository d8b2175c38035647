"""Challenge rules: drafting, submission, approval, deadline extensions, clarifications.

Services flush but never commit; the view, API handler or command that calls them commits once.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from facility.accounts.models import OrgType, Role, User
from facility.audit.services import record
from facility.challenges import sdg
from facility.challenges.models import (
    Challenge,
    ChallengeStatus,
    Clarification,
    Criterion,
    DeadlineExtension,
    FocusArea,
    Phase,
)
from facility.cities.models import City
from facility.cities.services import officials_of, valid_country
from facility.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from facility.core.mail import send_mail
from facility.core.models import utcnow
from facility.extensions import db
from facility.ledger.services import pool_account, post_transaction, unallocated_account

MAX_CRITERIA = 12
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


# --- validation -------------------------------------------------------------------------------
def _text(value: Any, field: str, errors: dict, *, max_len: int, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        errors[field] = [_("Give text.")]
    elif required and not text:
        errors[field] = [_("This field is required.")]
    elif len(text) > max_len:
        errors[field] = [_("Use at most %(n)d characters.", n=max_len)]
    return text


def _cents(value: Any, field: str, errors: dict) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PRIZE_POOL_CENTS:
        errors[field] = [_("Give a whole number of US cents greater than zero.")]
        return None
    return value


def _aware(value: Any, field: str, errors: dict) -> datetime | None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        errors[field] = [_("Give a date and time with its time zone offset.")]
        return None
    return value


def _code_list(value: Any, field: str, errors: dict, check: Callable[[str], str | None], message: str) -> list[str]:
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


def _criteria(value: Any, errors: dict) -> list[dict]:
    if not isinstance(value, list | tuple) or not value:
        errors["criteria"] = [_("Give at least one scoring criterion.")]
        return []
    if len(value) > MAX_CRITERIA:
        errors["criteria"] = [_("Use at most %(n)d criteria.", n=MAX_CRITERIA)]
        return []
    out = []
    for index, item in enumerate(value):
        item = item if isinstance(item, dict) else {}
        sub: dict[str, list[str]] = {}
        name = _text(item.get("name"), "name", sub, max_len=200)
        description = _text(item.get("description") or "", "description", sub, max_len=2000, required=False)
        weight = item.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
            sub["weight"] = [_("Give a whole number from 1 to 100.")]
        for key, messages in sub.items():
            errors[f"criteria.{index}.{key}"] = messages
        out.append({"name": name, "description": description, "weight": weight})
    if not any(key.startswith("criteria.") for key in errors):
        total = sum(c["weight"] for c in out)
        if total != 100:
            errors["criteria"] = [_("The weights must add up to 100 (they add up to %(n)d).", n=total)]
    return out


def clean_challenge_fields(data: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """Check every field of a challenge draft; raise ValidationFailed with all problems by field."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {
        "title": _text(data.get("title"), "title", errors, max_len=200),
        "summary": _text(data.get("summary"), "summary", errors, max_len=1000),
        "description": _text(data.get("description"), "description", errors, max_len=50_000),
    }
    try:
        clean["focus_area"] = FocusArea(data.get("focus_area"))
    except ValueError:
        errors["focus_area"] = [_("Choose inclusive_innovation or public_interest_tech.")]
    targets = _code_list(data.get("sdg_targets"), "sdg_targets", errors, _sdg,
                         _("These are not SDG targets (use codes like 11.2 or 11.a):"))
    if not targets and "sdg_targets" not in errors:
        errors["sdg_targets"] = [_("Give at least one SDG target, e.g. 11.1.")]
    clean["sdg_targets"] = sorted(targets, key=sdg.sort_key)
    clean["eligible_org_types"] = _code_list(data.get("eligible_org_types"), "eligible_org_types", errors, _org_type,
                                             _("Unknown organisation types:"))
    clean["eligible_countries"] = _code_list(data.get("eligible_countries"), "eligible_countries", errors,
                                             valid_country, _("Not ISO 3166-1 alpha-3 country codes:"))
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
    """Officials of a verified city draft challenges (fields as in FIELDS; weights sum to 100)."""
    if not city.is_official(actor):
        raise PermissionDenied(_("Only the city's officials draft its challenges."))
    if not city.is_verified:
        raise Conflict(_("The facility has not verified this city yet; challenges can be drafted once it has."))
    clean = clean_challenge_fields(fields)
    challenge = Challenge(city=city, created_by_id=actor.id, status=ChallengeStatus.DRAFT)
    summary = _audit_view(clean)
    _apply(challenge, clean)
    db.session.add(challenge)
    db.session.flush()
    record("challenge.created", actor=actor, obj=challenge, details={"title": summary["title"]})
    return challenge


def update_challenge(*, challenge: Challenge, actor: User, **fields: Any) -> Challenge:
    """The city's officials edit a challenge while it is a draft; afterwards it is fixed."""
    if not challenge.is_city_official(actor):
        raise PermissionDenied(_("Only the city's officials edit its challenges."))
    if challenge.status != ChallengeStatus.DRAFT:
        raise Conflict(_("Only drafts can be edited; this challenge is %(status)s.", status=challenge.status.value))
    clean = clean_challenge_fields(fields)
    _apply(challenge, clean)
    db.session.flush()
    record("challenge.updated", actor=actor, obj=challenge)
    return challenge


def submit_challenge(*, challenge: Challenge, actor: User) -> Challenge:
    """The city's officials send a draft to the facility for approval (draft -> pending_approval)."""
    if not challenge.is_city_official(actor):
        raise PermissionDenied(_("Only the city's officials submit its challenges."))
    if challenge.status != ChallengeStatus.DRAFT:
        raise Conflict(_("Only drafts can be submitted; this challenge is %(status)s.", status=challenge.status.value))
    if challenge.closes_at <= utcnow():
        raise Conflict(_("The deadline has passed; set a new one before submitting."))
    challenge.status = ChallengeStatus.PENDING_APPROVAL
    challenge.submitted_at = utcnow()
    db.session.flush()
    record("challenge.submitted", actor=actor, obj=challenge)
    return challenge


def return_to_draft(*, challenge: Challenge, actor: User, reason: str) -> Challenge:
    """A fund manager sends a pending challenge back to the city with a reason (pending -> draft)."""
    if not challenge.can_approve(actor):
        raise PermissionDenied(_("Only fund managers review challenges."))
    if challenge.status != ChallengeStatus.PENDING_APPROVAL:
        raise Conflict(_("Only challenges waiting for approval can be sent back."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Say why."), errors={"reason": [_("Say what the city should change.")]})
    challenge.status = ChallengeStatus.DRAFT
    challenge.submitted_at = None
    db.session.flush()
    record("challenge.returned", actor=actor, obj=challenge, details={"reason": reason})
    for email in sorted(u.email for u in officials_of(challenge.city)):
        send_mail(to=email, subject=_("Challenge returned: %(title)s", title=challenge.title),
                  body=_("The facility sent the challenge back for changes:\n\n%(reason)s", reason=reason))
    return challenge


def approve_challenge(*, challenge: Challenge, actor: User) -> Challenge:
    """A fund manager approves a pending challenge: its prize pool is funded from the facility's
    unallocated money and it is published, in one transaction.

    Not enough unallocated money is a Conflict (409): nothing is written and the challenge stays
    pending. The challenge row is locked first so two approvals cannot both pass the status check.
    """
    if not challenge.can_approve(actor):
        raise PermissionDenied(_("Only fund managers approve challenges."))
    challenge = _lock(challenge)
    if challenge.status != ChallengeStatus.PENDING_APPROVAL:
        raise Conflict(_("Only challenges waiting for approval can be approved; this one is %(status)s.",
                         status=challenge.status.value))
    if challenge.closes_at <= utcnow():
        raise Conflict(_("The deadline has already passed; send the challenge back to the city."))
    _fund_prize_pool(challenge=challenge, actor=actor)
    challenge.status = ChallengeStatus.PUBLISHED
    challenge.approved_at = utcnow()
    challenge.approved_by_id = actor.id
    db.session.flush()
    record("challenge.approved", actor=actor, obj=challenge,
           details={"prize_pool_cents": challenge.prize_pool_cents, "closes_at": challenge.closes_at.isoformat()})
    return challenge


def _lock(challenge: Challenge) -> Challenge:
    """Re-read the challenge under a row lock (FOR UPDATE on PostgreSQL; SQLite already holds the write lock)."""
    return db.session.execute(
        sa.select(Challenge).where(Challenge.id == challenge.id).with_for_update(of=Challenge)
        .execution_options(populate_existing=True)
    ).scalar_one()


def _fund_prize_pool(*, challenge: Challenge, actor: User) -> None:
    """Move the prize pool from unallocated money to the challenge's pool (the ledger refuses if short)."""
    pool = pool_account(challenge.id, name=_("Prize pool: %(title)s", title=challenge.title)[:200])
    post_transaction(
        key=f"approve-challenge:{challenge.id}",
        entries=[(pool, challenge.prize_pool_cents), (unallocated_account(), -challenge.prize_pool_cents)],
        actor=actor, kind="challenge_approval",
        description=f"Prize pool of challenge {challenge.id}",
        metadata={"challenge_id": challenge.id},
    )


def finish_challenge(*, challenge: Challenge, actor: User) -> Challenge:
    """A fund manager marks a published challenge finished once its deadline has passed."""
    if not challenge.can_approve(actor):
        raise PermissionDenied(_("Only fund managers finish challenges."))
    if challenge.phase != Phase.CLOSED:
        raise Conflict(_("Only published challenges whose deadline has passed can be finished."))
    challenge.status = ChallengeStatus.FINISHED
    db.session.flush()
    record("challenge.finished", actor=actor, obj=challenge)
    return challenge


def extend_deadline(*, challenge: Challenge, actor: User, new_closes_at: datetime, reason: str) -> DeadlineExtension:
    """A fund manager or the city's official moves an open or upcoming challenge's deadline later, never
    earlier, with a reason; it is audited and everyone concerned is e-mailed."""
    if not challenge.can_extend_deadline(actor):
        raise PermissionDenied(_("Only fund managers and the city's officials extend deadlines."))
    if challenge.status != ChallengeStatus.PUBLISHED:
        raise Conflict(_("Only published challenges have deadlines to extend."))
    if challenge.phase == Phase.CLOSED:
        raise Conflict(_("The deadline has already passed; a closed challenge cannot be reopened."))
    errors: dict[str, list[str]] = {}
    new_closes_at = _aware(new_closes_at, "new_closes_at", errors)
    if new_closes_at is not None and new_closes_at <= challenge.closes_at:
        errors["new_closes_at"] = [_("The new deadline must be later than the current one.")]
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        errors["reason"] = [_("Say why the deadline moves; applicants will read it.")]
    elif len(reason) > 2000:
        errors["reason"] = [_("Use at most %(n)d characters.", n=2000)]
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    extension = DeadlineExtension(challenge=challenge, old_closes_at=challenge.closes_at,
                                  new_closes_at=new_closes_at, reason=reason, actor_id=actor.id)
    db.session.add(extension)
    challenge.closes_at = new_closes_at
    db.session.flush()
    record("challenge.deadline_extended", actor=actor, obj=challenge, details={
        "old_closes_at": extension.old_closes_at.isoformat(), "new_closes_at": new_closes_at.isoformat(),
        "reason": reason})
    for email in sorted(extension_recipients(challenge)):
        send_mail(
            to=email,
            subject=_("Deadline extended: %(title)s", title=challenge.title),
            body=_("The deadline of \"%(title)s\" moved from %(old)s to %(new)s (UTC).\n\nReason: %(reason)s",
                   title=challenge.title, old=extension.old_closes_at.strftime("%Y-%m-%d %H:%M"),
                   new=new_closes_at.strftime("%Y-%m-%d %H:%M"), reason=reason),
        )
    return extension


# --- clarifications ---------------------------------------------------------------------------
def ask_clarification(*, challenge: Challenge, actor: User, question: str) -> Clarification:
    """Any signed-in user asks about a published challenge before its deadline; the city is e-mailed."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("Sign in to ask a question."))
    if not challenge.can_view(actor):
        raise NotFound(_("There is no such challenge."))
    if challenge.status != ChallengeStatus.PUBLISHED or challenge.phase == Phase.CLOSED:
        raise Conflict(_("Questions can be asked only while the challenge is published and before its deadline."))
    errors: dict[str, list[str]] = {}
    question = _text(question, "question", errors, max_len=4000)
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    clarification = Clarification(challenge=challenge, asked_by_id=actor.id, question=question)
    db.session.add(clarification)
    db.session.flush()
    record("clarification.asked", actor=actor, obj=clarification, details={"challenge_id": challenge.id})
    for official in officials_of(challenge.city):
        send_mail(to=official.email, subject=_("New question on %(title)s", title=challenge.title),
                  body=_("Someone asked:\n\n%(question)s\n\nAnswer it on the challenge page.", question=question))
    return clarification


def answer_clarification(*, clarification: Clarification, actor: User, answer: str) -> Clarification:
    """The city's officials answer a question once; the answer is then public."""
    if not clarification.can_view(actor):
        raise NotFound(_("There is no such question."))
    if not clarification.can_answer(actor):
        raise PermissionDenied(_("Only the city's officials answer questions."))
    if clarification.is_answered:
        raise Conflict(_("This question is already answered."))
    errors: dict[str, list[str]] = {}
    answer = _text(answer, "answer", errors, max_len=8000)
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    clarification.answer = answer
    clarification.answered_by_id = actor.id
    clarification.answered_at = utcnow()
    db.session.flush()
    record("clarification.answered", actor=actor, obj=clarification,
           details={"challenge_id": clarification.challenge_id})
    return clarification


# --- queries ----------------------------------------------------------------------------------
def get_visible_challenge(challenge_id: int, user) -> Challenge:
    """The challenge, or NotFound when it does not exist or the caller may not see it."""
    challenge = db.session.get(Challenge, challenge_id, options=[selectinload(Challenge.criteria)])
    if challenge is None or not challenge.can_view(user):
        raise NotFound(_("There is no such challenge."))
    return challenge


def visible_clarifications(challenge: Challenge, user) -> list[Clarification]:
    """Answered questions for everyone; unanswered ones for the asker, the city and fund managers."""
    return [c for c in challenge.clarifications if c.can_view(user)]


def public_challenges(*, status: str | None = None, country: str | None = None, focus_area: str | None = None,
                      sdg_target: str | None = None, q: str | None = None) -> sa.Select:
    """Published (and finished) challenges filtered; status is published, upcoming, open, closed or finished."""
    now = utcnow()
    query = (sa.select(Challenge).join(Challenge.city)
             .options(selectinload(Challenge.criteria))
             .order_by(Challenge.closes_at.asc(), Challenge.id.asc()))
    if status == "upcoming":
        query = query.where(Challenge.status == ChallengeStatus.PUBLISHED, Challenge.opens_at > now)
    elif status == "open":
        query = query.where(Challenge.status == ChallengeStatus.PUBLISHED, Challenge.opens_at <= now,
                            Challenge.closes_at > now)
    elif status == "closed":
        query = query.where(Challenge.status == ChallengeStatus.PUBLISHED, Challenge.closes_at <= now)
    elif status == "finished":
        query = query.where(Challenge.status == ChallengeStatus.FINISHED)
    elif status == "published":
        query = query.where(Challenge.status == ChallengeStatus.PUBLISHED)
    else:
        query = query.where(Challenge.status.in_([ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED]))
    if country:
        query = query.where(City.country == country.upper())
    if focus_area:
        query = query.where(Challenge.focus_area == FocusArea(focus_area))
    if sdg_target:
        # JSON lists are stored as text on SQLite and json on PostgreSQL; match the quoted code.
        query = query.where(sa.cast(Challenge.sdg_targets, sa.Text).contains(f"\"{sdg_target}\"", autoescape=True))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(Challenge.title.ilike(pattern, escape="\\"),
                                   Challenge.summary.ilike(pattern, escape="\\")))
    return query


def approval_queue() -> list[Challenge]:
    """Challenges waiting for approval, the highest city priority first."""
    pending = db.session.execute(
        sa.select(Challenge).where(Challenge.status == ChallengeStatus.PENDING_APPROVAL).order_by(Challenge.id)
    ).scalars().all()
    return sorted(pending, key=lambda c: (-c.city.priority_score, c.submitted_at or c.created_at))


def challenges_of_city(city: City) -> list[Challenge]:
    return list(db.session.execute(
        sa.select(Challenge).where(Challenge.city_id == city.id).order_by(Challenge.id.desc())
    ).scalars())


def get_clarification(clarification_id: int, user) -> Clarification:
    clarification = db.session.get(Clarification, clarification_id)
    if clarification is None or not clarification.can_view(user):
        raise NotFound(_("There is no such question."))
    return clarification


def is_fund_manager(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_role(Role.FUND_MANAGER))
