"""Authority to commit money: approval tiers and the approvers' personal limits (pure rules, no database).

The tiers are configuration data (`APPROVAL_TIERS`), read in ascending order of their bound:

    [{"up_to_cents": 5_000_000, "approvals": 1},                      # up to USD 50,000: one approver
     {"up_to_cents": 50_000_000, "approvals": 2},                     # up to USD 500,000: two
     {"up_to_cents": None, "approvals": 3, "senior": 1}]              # above: three, one of them senior

An amount falls in the first tier whose bound it does not exceed. Each approval counts only when

- the approver is not the requester (who never counts),
- the approver has not counted already (the same person never counts twice), and
- the amount is within the approver's personal limit (`Approver.limit_cents`).

A tier's `senior` approvals must come from approvers whose limit reaches `SENIOR_APPROVAL_LIMIT_CENTS`.
Disbursements, awards and amendments all ask `approval_state`; the packages that own them store the
approvals and turn an `Approver` out of a user (`approver_for`). Before recording an approval they ask
`approval_refusal`: an approval that would not bring the amount closer to approved (the requester's, a
second one by the same person, one above the approver's limit, or one more ordinary approval when only
senior ones are missing) is refused with its reason rather than silently recorded.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from facility.core.templating import money

DEFAULT_APPROVAL_TIERS: tuple[Mapping[str, Any], ...] = (
    {"up_to_cents": 5_000_000, "approvals": 1},
    {"up_to_cents": 50_000_000, "approvals": 2},
    {"up_to_cents": None, "approvals": 3, "senior": 1},
)
DEFAULT_APPROVAL_LIMIT_CENTS = 50_000_000  # USD 500,000: a fund manager's limit until an admin sets another
DEFAULT_SENIOR_APPROVAL_LIMIT_CENTS = 500_000_000  # USD 5,000,000


@dataclass(frozen=True)
class Tier:
    """Amounts up to `up_to_cents` (None: no bound) need `approvals` approvals, `senior` of them senior."""

    up_to_cents: int | None
    approvals: int
    senior: int = 0


@dataclass(frozen=True)
class Approver:
    """A person who approved (or may approve): their id, personal limit and whether it is a senior limit."""

    user_id: int
    limit_cents: int
    senior: bool = False
    name: str = ""


@dataclass(frozen=True)
class ApprovalState:
    """Where an amount's approval stands: its tier, the approvals that count, those that do not (and why),
    how many more are needed (`missing`, of which `missing_senior` must be senior) and the reasons."""

    amount_cents: int
    tier: Tier
    counted: tuple[Approver, ...]
    not_counted: tuple[tuple[Approver, str], ...] = ()
    missing: int = 0
    missing_senior: int = 0
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return self.missing == 0

    def as_json(self) -> dict[str, Any]:
        """`approvals_needed` in the API: how many more, how many of them senior, and why."""
        return {"count": self.missing, "senior": self.missing_senior, "required": self.tier.approvals,
                "tier_up_to_cents": self.tier.up_to_cents, "reasons": list(self.reasons)}


def tiers(config: Mapping[str, Any] | None = None) -> list[Tier]:
    """The configured tiers (`APPROVAL_TIERS`), sorted by bound, the unbounded one last."""
    raw: Iterable[Mapping[str, Any]] = (config if config is not None else current_app.config).get(
        "APPROVAL_TIERS") or DEFAULT_APPROVAL_TIERS
    parsed = [Tier(up_to_cents=None if row.get("up_to_cents") is None else int(row["up_to_cents"]),
                   approvals=max(1, int(row.get("approvals", 1))), senior=max(0, int(row.get("senior", 0))))
              for row in raw]
    parsed.sort(key=lambda tier: (tier.up_to_cents is None, tier.up_to_cents or 0))
    if not parsed or parsed[-1].up_to_cents is not None:
        last = parsed[-1] if parsed else Tier(None, 1)
        parsed.append(Tier(None, last.approvals, last.senior))  # amounts above every bound: as the last tier
    return parsed


def tier_for(amount_cents: int, config: Mapping[str, Any] | None = None) -> Tier:
    """The first tier whose bound `amount_cents` does not exceed."""
    return next(tier for tier in tiers(config) if tier.up_to_cents is None or amount_cents <= tier.up_to_cents)


def default_limit_cents(config: Mapping[str, Any] | None = None) -> int:
    return int((config if config is not None else current_app.config).get(
        "DEFAULT_APPROVAL_LIMIT_CENTS", DEFAULT_APPROVAL_LIMIT_CENTS))


def senior_limit_cents(config: Mapping[str, Any] | None = None) -> int:
    return int((config if config is not None else current_app.config).get(
        "SENIOR_APPROVAL_LIMIT_CENTS", DEFAULT_SENIOR_APPROVAL_LIMIT_CENTS))


def approver_for(user: Any, limit_cents: int | None = None) -> Approver:
    """The `Approver` a user is: their personal limit (`approval_limit_cents`, else the default)."""
    limit = limit_cents if limit_cents is not None else getattr(user, "approval_limit_cents", None)
    limit = default_limit_cents() if limit is None else int(limit)
    return Approver(user_id=int(user.id), limit_cents=limit, senior=limit >= senior_limit_cents(),
                    name=str(getattr(user, "name", "") or ""))


def approval_state(*, amount_cents: int, requester_id: int | None, approvers: Sequence[Approver],
                   config: Mapping[str, Any] | None = None) -> ApprovalState:
    """Rule: an amount needs its tier's approvals, each within the approver's limit, never the requester's,
    never the same person twice, with the tier's senior approvals from senior limits."""
    tier = tier_for(amount_cents, config)
    counted: list[Approver] = []
    not_counted: list[tuple[Approver, str]] = []
    seen: set[int] = set()
    for approver in approvers:
        if approver.user_id == requester_id:
            not_counted.append((approver, _("the requester's approval never counts")))
        elif approver.user_id in seen:
            not_counted.append((approver, _("the same person counts once")))
        elif amount_cents > approver.limit_cents:
            not_counted.append((approver, _("above their approval limit of %(limit)s", limit=money(approver.limit_cents))))
        else:
            counted.append(approver)
        seen.add(approver.user_id)
    senior_counted = sum(1 for approver in counted if approver.senior)
    missing_senior = max(0, tier.senior - senior_counted)
    missing = max(tier.approvals - len(counted), missing_senior)
    return ApprovalState(amount_cents=amount_cents, tier=tier, counted=tuple(counted), not_counted=tuple(not_counted),
                         missing=missing, missing_senior=missing_senior,
                         reasons=tuple(_reasons(amount_cents, tier, missing, missing_senior, senior_limit_cents(config))))


def _reasons(amount_cents: int, tier: Tier, missing: int, missing_senior: int, senior_limit: int) -> list[str]:
    if tier.up_to_cents is None:
        why = ngettext("Amounts of %(amount)s need %(num)d approval", "Amounts of %(amount)s need %(num)d approvals",
                       tier.approvals, amount=money(amount_cents))
    else:
        why = ngettext("Amounts up to %(bound)s need %(num)d approval", "Amounts up to %(bound)s need %(num)d approvals",
                       tier.approvals, bound=money(tier.up_to_cents))
    reasons = [why + "."]
    if tier.senior:
        reasons.append(ngettext("%(num)d of them from an approver with a senior limit (%(limit)s or more).",
                                "%(num)d of them from approvers with a senior limit (%(limit)s or more).",
                                tier.senior, limit=money(senior_limit)))
    if missing:
        reasons.append(ngettext("%(num)d more approval is needed, within the approver's limit.",
                                "%(num)d more approvals are needed, each within the approver's limit.", missing))
    if missing_senior:
        reasons.append(ngettext("%(num)d of them must come from a senior limit.",
                                "%(num)d of them must come from senior limits.", missing_senior))
    return reasons


def approval_refusal(*, amount_cents: int, requester_id: int | None, approvers: Sequence[Approver],
                     candidate: Approver, config: Mapping[str, Any] | None = None) -> str | None:
    """Why `candidate`'s approval would not count (None when it would bring the amount closer to approved).

    Rule: an approval is worth recording only when it lowers the number still missing; each refusal names the
    rule (the requester, the same person, the approver's limit, the tier's senior approvals)."""
    before = approval_state(amount_cents=amount_cents, requester_id=requester_id, approvers=approvers, config=config)
    if candidate.user_id == requester_id:
        return _("You requested this; your approval never counts.")
    if any(approver.user_id == candidate.user_id for approver in approvers):
        return _("You have already approved this; the same person counts once.")
    if amount_cents > candidate.limit_cents:
        return _("%(amount)s is above your approval limit of %(limit)s; an approver whose limit covers it must "
                 "approve.", amount=money(amount_cents), limit=money(candidate.limit_cents))
    if before.complete:  # enough count already (the tiers changed since): one more valid approval completes it
        return None
    after = approval_state(amount_cents=amount_cents, requester_id=requester_id,
                           approvers=[*approvers, candidate], config=config)
    if after.missing >= before.missing:
        return ngettext("The approval still missing must come from an approver with a senior limit "
                        "(%(limit)s or more); yours is %(yours)s.",
                        "The approvals still missing must come from approvers with a senior limit "
                        "(%(limit)s or more); yours is %(yours)s.", before.missing,
                        limit=money(senior_limit_cents(config)), yours=money(candidate.limit_cents))
    return None
