"""Which earmarked funds may pay for a challenge, and in which order its prize pool draws them.

An earmark (`EarmarkKind`, on a contribution and on its ledger `Fund`) says what the money may pay for:

- ``focus_area``: challenges of that focus area (`FocusArea` value);
- ``country_group``: challenges whose city's country is in the UN group (``LDC``, ``LLDC``, ``SIDS``)
  or in the Global South (``global_south``), as `facility.cities.countries` defines them;
- ``region``: challenges whose city's country is in that UN M49 region (``Africa``, ``Americas``,
  ``Asia``, ``Europe``, ``Oceania``; the M49 codes ``002``, ``019``, ``142``, ``150``, ``009`` are
  accepted and stored as the name);
- ``challenge``: that one challenge (co-funding).

The drawing order when a challenge is approved (`drawing_plan`), all in the approval's transaction:

1. funds earmarked for this very challenge (co-funding), oldest fund first;
2. every other fund this challenge is eligible for (focus area, country group, region), oldest first;
3. the general (unrestricted) fund.

The pool draws its prize pool in that order (`ledger.services.transfer(funds=...)` takes what each
holds, under the ledger's locks), and besides it any co-funding for this challenge beyond the prize
pool, since that money can pay for nothing else. The transaction's metadata (``funds``) says which
funds paid how much; `pool_funding` reads it back for the challenge page.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from facility.challenges.models import Challenge, ChallengeStatus, FocusArea
from facility.cities import countries
from facility.core.errors import ValidationFailed
from facility.core.labels import label, labelled
from facility.extensions import db
from facility.ledger.models import Fund, LedgerAccount, LedgerEntry, LedgerTransaction
from facility.ledger.services import GENERAL_FUND, UNALLOCATED, pool_code


@labelled({"focus_area": _l("Focus area"), "country_group": _l("Country group"), "region": _l("Region"),
           "challenge": _l("One challenge")})
class EarmarkKind(str, enum.Enum):
    FOCUS_AREA = "focus_area"
    COUNTRY_GROUP = "country_group"
    REGION = "region"
    CHALLENGE = "challenge"


EARMARK_KEYS = {"focus_area": EarmarkKind.FOCUS_AREA, "country_group": EarmarkKind.COUNTRY_GROUP,
                "region": EarmarkKind.REGION, "challenge_id": EarmarkKind.CHALLENGE}
"""The API's earmark keys and the kind each stands for."""
KEY_OF = {kind: key for key, kind in EARMARK_KEYS.items()}
GLOBAL_SOUTH = "global_south"
COUNTRY_GROUPS = (*countries.GROUPS, GLOBAL_SOUTH)
REGIONS = countries.REGIONS
M49_REGION_CODES = {"002": "Africa", "019": "Americas", "142": "Asia", "150": "Europe", "009": "Oceania"}
COFUNDABLE_STATUSES = (ChallengeStatus.PENDING_APPROVAL, ChallengeStatus.PUBLISHED)
"""A challenge money can still be earmarked for: waiting for approval (the money waits in its fund)
or published (the money goes straight to its pool)."""
COUNTRY_GROUP_LABELS = {"LDC": _l("Least developed countries (LDC)"),
                        "LLDC": _l("Landlocked developing countries (LLDC)"),
                        "SIDS": _l("Small island developing states (SIDS)"),
                        GLOBAL_SOUTH: _l("The Global South")}
REGION_LABELS = {"Africa": _l("Africa"), "Americas": _l("Americas"), "Asia": _l("Asia"), "Europe": _l("Europe"),
                 "Oceania": _l("Oceania")}


def _refuse(key: str, message: str) -> ValidationFailed:
    return ValidationFailed(_("The earmark needs attention."), errors={f"earmark.{key}": [message]})


def parse_earmark(earmark: Any) -> tuple[EarmarkKind, str] | None:
    """Rule: an earmark is absent (None or {}) or exactly one of focus_area, country_group, region,
    challenge_id with a value this module knows; a challenge must be waiting for approval or published.

    Returns (kind, stored value) or None; bad input is a ValidationFailed naming ``earmark.<key>``.
    """
    if earmark is None or earmark == {}:
        return None
    if not isinstance(earmark, Mapping):
        raise ValidationFailed(_("The earmark needs attention."),
                               errors={"earmark": [_("Give an object with one of focus_area, country_group, "
                                                     "region or challenge_id.")]})
    unknown = sorted(str(key) for key in earmark if key not in EARMARK_KEYS)
    if unknown:
        raise ValidationFailed(_("The earmark needs attention."),
                               errors={f"earmark.{key}": [_("Unknown earmark.")] for key in unknown})
    given = [key for key in EARMARK_KEYS if key in earmark and earmark[key] not in (None, "")]
    if len(given) != 1:
        raise ValidationFailed(_("The earmark needs attention."),
                               errors={"earmark": [_("Give exactly one of focus_area, country_group, region or "
                                                     "challenge_id.")]})
    key = given[0]
    value = earmark[key]
    kind = EARMARK_KEYS[key]
    if kind == EarmarkKind.CHALLENGE:
        return kind, str(_challenge_id(value))
    if not isinstance(value, str):
        raise _refuse(key, _("Give a text value."))
    value = value.strip()
    if kind == EarmarkKind.FOCUS_AREA:
        if value not in {area.value for area in FocusArea}:
            raise _refuse(key, _("Choose one of: %(values)s.", values=", ".join(a.value for a in FocusArea)))
        return kind, value
    if kind == EarmarkKind.COUNTRY_GROUP:
        found = {group.lower(): group for group in COUNTRY_GROUPS}.get(value.lower())
        if found is None:
            raise _refuse(key, _("Choose one of: %(values)s.", values=", ".join(COUNTRY_GROUPS)))
        return kind, found
    region = M49_REGION_CODES.get(value) or {name.lower(): name for name in REGIONS}.get(value.lower())
    if region is None:
        raise _refuse(key, _("Choose one of: %(values)s (or their UN M49 codes).", values=", ".join(REGIONS)))
    return kind, region


def _challenge_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise _refuse("challenge_id", _("Give a challenge number."))
    challenge = db.session.get(Challenge, value)
    if challenge is None:
        raise _refuse("challenge_id", _("No challenge %(id)s.", id=value))
    if challenge.status not in COFUNDABLE_STATUSES:
        raise _refuse("challenge_id", _("Challenge %(id)s is %(status)s; only a challenge waiting for approval or "
                                        "published can be co-funded.", id=value, status=label(challenge.status)))
    return value


def earmark_json(kind: Any, value: str | None) -> dict[str, Any] | None:
    """The API's form of an earmark (`{"focus_area": ...}`, `{"challenge_id": 3}`), None for none."""
    if kind is None or value is None:
        return None
    kind = EarmarkKind(kind)
    return {KEY_OF[kind]: int(value) if kind == EarmarkKind.CHALLENGE else value}


def earmark_text(kind: Any, value: str | None) -> str:
    """An earmark in words, for pages ("" for the general fund)."""
    if kind is None or value is None:
        return ""
    kind = EarmarkKind(kind)
    if kind == EarmarkKind.FOCUS_AREA:
        try:
            return _("Focus area: %(area)s", area=label(FocusArea(value)))
        except ValueError:
            return _("Focus area: %(area)s", area=value)
    if kind == EarmarkKind.COUNTRY_GROUP:
        return _("Country group: %(group)s", group=COUNTRY_GROUP_LABELS.get(value, value))
    if kind == EarmarkKind.REGION:
        return _("Region: %(region)s", region=REGION_LABELS.get(value, value))
    return _("Challenge %(id)s", id=value)


# --- eligibility -------------------------------------------------------------------------------

def eligible(kind: Any, value: str, challenge: Challenge) -> bool:
    """Rule: may money earmarked (`kind`, `value`) pay for `challenge`? (the module docstring)"""
    try:
        kind = EarmarkKind(kind)
    except ValueError:
        return False  # an earmark this module does not know pays for nothing
    if kind == EarmarkKind.CHALLENGE:
        return value == str(challenge.id)
    if kind == EarmarkKind.FOCUS_AREA:
        return value == FocusArea(challenge.focus_area).value
    country = challenge.city.country
    if kind == EarmarkKind.COUNTRY_GROUP:
        if value == GLOBAL_SOUTH:
            return countries.is_global_south(country)
        return value in countries.country_groups(country)
    return bool(value) and countries.region_of(country) == value


@dataclass(frozen=True)
class FundHolding:
    """An earmarked fund and what its unallocated share holds now."""

    fund: Fund
    unallocated_cents: int


def unallocated_funds() -> list[FundHolding]:
    """Every earmarked fund with money not yet allocated, oldest first (one query)."""
    rows = db.session.execute(
        sa.select(Fund, LedgerAccount.balance_cents).join(LedgerAccount, LedgerAccount.fund_id == Fund.id)
        .where(LedgerAccount.base_code == UNALLOCATED, LedgerAccount.balance_cents > 0)
        .order_by(Fund.created_at, Fund.id)).all()
    return [FundHolding(fund, int(cents)) for fund, cents in rows]


@dataclass(frozen=True)
class DrawingPlan:
    """What approving a challenge moves into its pool, and from which funds in which order."""

    amount_cents: int
    funds: list[int | None]  # fund ids, GENERAL_FUND last


def drawing_plan(challenge: Challenge) -> DrawingPlan:
    """Rule: the pool draws the challenge's own earmarks, then other eligible earmarks oldest first, then
    the general fund; it draws the prize pool, and all of the challenge's own earmarks if they hold more."""
    own: list[FundHolding] = []
    other: list[FundHolding] = []
    for holding in unallocated_funds():
        if not eligible(holding.fund.earmark_kind, holding.fund.earmark_value, challenge):
            continue
        (own if holding.fund.earmark_kind == EarmarkKind.CHALLENGE.value else other).append(holding)
    amount = max(int(challenge.prize_pool_cents), sum(holding.unallocated_cents for holding in own))
    return DrawingPlan(amount_cents=amount, funds=[*(h.fund.id for h in own), *(h.fund.id for h in other),
                                                    GENERAL_FUND])


# --- which funds paid ------------------------------------------------------------------------

FUNDING_KINDS = ("challenge_approval", "cofunding")
"""The ledger kinds that bring money into a pool from unallocated funds."""


@dataclass(frozen=True)
class PoolFunding:
    """What one fund put into a challenge's pool."""

    fund_id: int | None
    name: str
    earmark: str
    amount_cents: int


def pool_funding(challenge: Challenge) -> list[PoolFunding]:
    """Which funds paid into the challenge's pool and how much (approval and co-funding), from the ledger
    entries on the pool's fund shares: one query. The general fund comes last."""
    a, e, t = LedgerAccount, LedgerEntry, LedgerTransaction
    rows = db.session.execute(
        sa.select(a.fund_id, Fund.name, Fund.earmark_kind, Fund.earmark_value, sa.func.sum(e.amount_cents))
        .select_from(e).join(a, a.id == e.account_id).join(t, t.id == e.transaction_id)
        .outerjoin(Fund, Fund.id == a.fund_id)
        .where(a.base_code == pool_code(challenge.id), t.kind.in_(FUNDING_KINDS))
        .group_by(a.fund_id, Fund.name, Fund.earmark_kind, Fund.earmark_value)
    ).all()
    out = [PoolFunding(fund_id, name or str(_("General fund")), earmark_text(kind, value), int(cents))
           for fund_id, name, kind, value, cents in rows if int(cents) != 0]
    return sorted(out, key=lambda item: (item.fund_id is None, item.fund_id or 0))


def split_of(meta: Mapping[str, Any] | None) -> Sequence[tuple[int | None, int]]:
    """The fund split `transfer` stated in a transaction's metadata: [(fund id or None, cents), ...]."""
    out = []
    for pair in (meta or {}).get("funds") or []:
        if isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[1], int):
            out.append((pair[0] if isinstance(pair[0], int) else None, pair[1]))
    return out
