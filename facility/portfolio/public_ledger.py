"""The public ledger: every facility-level movement (contributions received, money allocated to
challenge pools and returned from them, awards and what cancelled grants returned, disbursements, refunds
from grantees) with dates, amounts, the running
balances and a link to its object; filterable, paginated, CSV.

The movements and their running balances come from `ledger.movements` (window sums in SQL); this
module filters them (kind, date range, challenge, grant), pages them and names each one: the donor
(or "anonymous donor" when they chose so at pledge time), the challenge, the grant and its tranche.
A page costs a fixed handful of queries whatever its number and size.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from facility.accounts.models import Organization, User
from facility.challenges.models import Challenge
from facility.core.exports import Column
from facility.core.inputs import MAX_ID
from facility.core.pages import Page
from facility.extensions import db
from facility.grants.models import Contribution, Grant, GrantRefund
from facility.ledger import movements
from facility.ledger.balances import facility_totals
from facility.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from facility.ledger.services import COMMITMENT_PATTERN, POOL_PATTERN, commitment_code, pool_code

KIND_LABELS = {
    movements.CONTRIBUTION: _l("Contribution received"),
    movements.ALLOCATION: _l("Allocated to a challenge pool"),
    movements.RETURN: _l("Returned from a challenge pool"),
    movements.AWARD: _l("Grant awarded"),
    movements.GRANT_RETURN: _l("Returned from a grant to its challenge pool"),
    movements.DISBURSEMENT: _l("Tranche paid"),
    movements.REFUND: _l("Refund from a grantee"),
    movements.OTHER: _l("Other movement"),
}
_CHALLENGE_CODE = re.compile(r"^challenge:(\d+):pool$")
_GRANT_CODE = re.compile(r"^grant:(\d+):commitment$")
CSV_BATCH = 500


class LedgerForm(FlaskForm):
    """The public ledger's filters (GET, no CSRF)."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Kind of movement"), validators=[Optional()],
                       choices=[("", _l("Any")), *KIND_LABELS.items()])
    date_from = DateField(_l("From (date)"), validators=[Optional()])
    date_to = DateField(_l("To (date)"), validators=[Optional()])
    challenge = IntegerField(_l("Challenge number"), validators=[Optional(), NumberRange(1, MAX_ID)])
    grant = IntegerField(_l("Grant number"), validators=[Optional(), NumberRange(1, MAX_ID)])
    fund = IntegerField(_l("Earmarked fund number"), validators=[Optional(), NumberRange(1, MAX_ID)],
                        description=_l("The movements of one earmarked fund (see the funds table)."))


@dataclass(frozen=True)
class LedgerFilter:
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    challenge: int | None = None
    grant: int | None = None
    fund: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> tuple[LedgerFilter, LedgerForm]:
        """The valid filters in `args` and the form to show; a bad value is reported and ignored."""
        form = LedgerForm(args if hasattr(args, "getlist") else MultiDict(args))
        form.validate()

        def good(name: str) -> Any:
            f = getattr(form, name)
            return f.data if f.data not in (None, "") and not f.errors else None

        return cls(kind=good("kind"), date_from=good("date_from"), date_to=good("date_to"),
                   challenge=good("challenge"), grant=good("grant"), fund=good("fund")), form

    def args(self) -> dict[str, str]:
        return {k: v.isoformat() if isinstance(v, date) else str(v)
                for k, v in vars(self).items() if v is not None}


def _touching(codes: Sequence[str]) -> Any:
    """Ids of the transactions with an entry on any of the purpose accounts `codes` (any fund's share)."""
    return (sa.select(LedgerEntry.transaction_id).join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerAccount.base_code.in_(list(codes))))


def _conditions(m: Any, filters: LedgerFilter) -> list[Any]:
    out: list[Any] = []
    if filters.kind:
        out.append(m.c.kind == filters.kind)
    if filters.date_from:
        out.append(m.c.created_at >= datetime.combine(filters.date_from, time.min, tzinfo=UTC))
    if filters.date_to:
        out.append(m.c.created_at < datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=UTC))
    if filters.challenge:
        grants = db.session.execute(sa.select(Grant.id).where(Grant.challenge_id == filters.challenge)).scalars()
        codes = [pool_code(filters.challenge), *(commitment_code(gid) for gid in grants)]
        refunds = (sa.select(GrantRefund.ledger_transaction_id).join(Grant, Grant.id == GrantRefund.grant_id)
                   .where(Grant.challenge_id == filters.challenge))
        out.append(sa.or_(m.c.id.in_(_touching(codes)), m.c.id.in_(refunds)))
    if filters.grant:
        # A refund touches no commitment (Dr pool or unallocated / Cr disbursed): found by its refund row.
        refunds = sa.select(GrantRefund.ledger_transaction_id).where(GrantRefund.grant_id == filters.grant)
        out.append(sa.or_(m.c.id.in_(_touching([commitment_code(filters.grant)])), m.c.id.in_(refunds)))
    if filters.fund:
        out.append(m.c.id.in_(_touching_fund(filters.fund)))
    return out


def _touching_fund(fund_id: int) -> Any:
    """Ids of the transactions with an entry on any share of the earmarked fund `fund_id`."""
    return (sa.select(LedgerEntry.transaction_id).join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerAccount.fund_id == fund_id))


@dataclass
class Movement:
    """One row of the public ledger, named and linked."""

    id: int
    created_at: datetime
    kind: str
    amount_cents: int
    reversal: bool
    balances: dict[str, int]
    who: str
    link: str | None
    link_text: str

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))


LedgerPage = Page[Movement]  # a page of movements, newest first


def ledger_page(filters: LedgerFilter, *, page: int, per_page: int) -> LedgerPage:
    """The movements matching `filters`, newest first, one page of them with running balances.

    The kind of a movement is read from its entries, so a kind filter reads every movement; every other
    filter is a condition on the transactions themselves, so the page's transactions are found (and
    counted) on their table and only they are read as movements (`movements.movements_of`)."""
    if filters.kind:
        m = movements.running_movements()
        conditions = _conditions(m, filters)
        total = db.session.execute(sa.select(sa.func.count()).select_from(m).where(*conditions)).scalar_one()
        rows = db.session.execute(sa.select(m).where(*conditions).order_by(m.c.id.desc())
                                  .limit(per_page).offset((page - 1) * per_page)).all()
        return LedgerPage(items=_named(rows), page=page, per_page=per_page, total=int(total))
    t = LedgerTransaction.__table__
    conditions = _conditions(t, filters)
    total = db.session.execute(sa.select(sa.func.count()).select_from(t).where(*conditions)).scalar_one()
    ids = db.session.execute(sa.select(t.c.id).where(*conditions).order_by(t.c.id.desc())
                             .limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return LedgerPage(items=_named(movements.movements_of(ids)), page=page, per_page=per_page, total=int(total))


def csv_rows(filters: LedgerFilter) -> Iterator[tuple[Any, ...]]:
    """Every matching movement, oldest first, as CSV rows: one query streamed in batches (a server-side
    cursor on PostgreSQL), each batch named with a fixed handful of queries, so memory stays bounded."""
    m = movements.running_movements()
    result = db.session.execute(sa.select(m).where(*_conditions(m, filters)).order_by(m.c.id)
                                .execution_options(yield_per=CSV_BATCH))
    for rows in result.partitions():
        for item in _named(rows, external=True):  # a downloaded file's links work outside the site
            yield (item.id, item.created_at, item.kind_label, item.who, item.link_text, item.amount_cents,
                   *(item.balances[name] for name in movements.FIGURES), item.link or "")


CSV_COLUMNS = [
    Column("transaction"), Column("date", "datetime"), Column("kind"), Column("donor"), Column("object"),
    Column("amount_usd", "money"), Column("raised_usd", "money"), Column("unallocated_usd", "money"),
    Column("allocated_usd", "money"), Column("committed_usd", "money"), Column("disbursed_usd", "money"),
    Column("link"),
]


def ledger_totals() -> dict[str, int]:
    """The figures of `/facility`, which the ledger's running balances end at."""
    return facility_totals()


# --- naming the movements of a page (a fixed number of queries) ---------------------------------

def _named(rows: Sequence[Any], *, external: bool = False) -> list[Movement]:
    ids = [row.id for row in rows]
    if not ids:
        return []
    challenge_of, grant_of = _objects_of(ids)
    meta: dict[int, dict[str, Any]] = {
        int(row[0]): row[1] for row in db.session.execute(
            sa.select(LedgerTransaction.id, LedgerTransaction.meta).where(LedgerTransaction.id.in_(ids)))}
    donors = _donors(ids)
    challenges = _by_id(Challenge, set(challenge_of.values()))
    grants = _grants(set(grant_of.values()))
    return [_movement(row, donors, challenges.get(challenge_of.get(row.id, 0)),
                      grants.get(grant_of.get(row.id, 0)), meta.get(row.id) or {}, external) for row in rows]


def _objects_of(ids: Sequence[int]) -> tuple[dict[int, int], dict[int, int]]:
    """The challenge pool and grant commitment each transaction touched, from its accounts' codes."""
    rows = db.session.execute(
        sa.select(LedgerEntry.transaction_id, LedgerAccount.base_code)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id.in_(ids),
               sa.or_(LedgerAccount.base_code.like(POOL_PATTERN), LedgerAccount.base_code.like(COMMITMENT_PATTERN)))
    ).all()
    challenge_of: dict[int, int] = {}
    grant_of: dict[int, int] = {}
    for transaction_id, code in rows:
        if (match := _CHALLENGE_CODE.match(code)) is not None:
            challenge_of[transaction_id] = int(match.group(1))
        elif (match := _GRANT_CODE.match(code)) is not None:
            grant_of[transaction_id] = int(match.group(1))
    # A refund names its grant by its refund row (it touches no commitment).
    grant_of.update({int(transaction_id): int(grant_id) for transaction_id, grant_id in db.session.execute(
        sa.select(GrantRefund.ledger_transaction_id, GrantRefund.grant_id)
        .where(GrantRefund.ledger_transaction_id.in_(ids)))})
    return challenge_of, grant_of


def _donors(ids: Sequence[int]) -> dict[int, str]:
    """The public name of each contribution's donor: their organisation, else the person; or "anonymous
    donor" when they chose so. Keyed by the contribution's ledger transaction; names only (one query)."""
    c = Contribution
    rows = db.session.execute(
        sa.select(c.ledger_transaction_id, c.anonymous, Organization.name, User.name)
        .outerjoin(Organization, Organization.id == c.donor_organization_id)
        .join(User, User.id == c.pledged_by_id)
        .where(c.ledger_transaction_id.in_(ids))
    ).all()
    return {int(transaction_id or 0): _("anonymous donor") if anonymous else (org_name or person)
            for transaction_id, anonymous, org_name, person in rows}


# Always one query each, even for an empty set: a page costs the same whatever it shows.
def _by_id(model: Any, ids: set[int]) -> dict[int, Any]:
    return {obj.id: obj for obj in db.session.execute(sa.select(model).where(model.id.in_(ids))).scalars()}


def _grants(ids: set[int]) -> dict[int, Grant]:
    found = db.session.execute(sa.select(Grant).where(Grant.id.in_(ids))
                               .options(joinedload(Grant.proposal), joinedload(Grant.organization))).scalars()
    return {grant.id: grant for grant in found}


def _movement(row: Any, donors: dict[int, str], challenge: Challenge | None, grant: Grant | None,
              meta: dict[str, Any], external: bool) -> Movement:
    link, text = None, ""
    if grant is not None:
        text = _("Grant %(id)s: %(title)s (%(org)s)", id=grant.id, title=grant.proposal.title,
                 org=grant.organization.name)
        tranche = meta.get("tranche_id")
        link = url_for("grants.grant", grant_id=grant.id, _external=external,
                       _anchor=f"tranche-{int(tranche)}" if isinstance(tranche, int) else None)
    elif challenge is not None:
        text = _("Challenge %(id)s: %(title)s", id=challenge.id, title=challenge.title)
        link = url_for("challenges.show", challenge_id=challenge.id, _external=external)
    who = donors.get(row.id, _("donor not recorded") if row.kind == movements.CONTRIBUTION else "")
    return Movement(id=row.id, created_at=row.created_at, kind=row.kind, amount_cents=int(row.amount),
                    reversal=row.reverses_id is not None,
                    balances={name: int(getattr(row, f"{name}_balance")) for name in movements.FIGURES},
                    who=who, link=link, link_text=text)
