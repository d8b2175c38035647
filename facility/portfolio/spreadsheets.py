"""The portfolio's exports: grants, tranches, payments, contributions and proposals as CSV or XLSX.

Each table is its columns (`core.exports.Column`: money in cents written as USD, counts as
integers, dates as dates; a payment made in the grantee's currency also has its local amount, in that
currency's major units, and the rate in local units per US dollar) and one select of plain values,
narrowed by the portfolio filter and read with `yield_per`, so rows go out as the database sends them and memory stays bounded.

What is left out, on purpose: bank details of any kind (payout accounts, payment instructions,
bank references) and draft or withdrawn proposals (a draft is its authors' private work).
Contributions belong to no city, so the city filters do not narrow them (the page says so).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from facility.accounts.models import Organization
from facility.challenges.models import Challenge
from facility.cities.models import City
from facility.core.exports import Column
from facility.disbursements.models import Disbursement, local_amount_major_sql
from facility.extensions import db
from facility.grants.models import Contribution, Grant, Tranche
from facility.grants.paid import net_paid_by_grant
from facility.ledger.balances import commitment_code_sql, purpose_balance
from facility.portfolio.filters import PortfolioFilter
from facility.proposals.models import COMPETING_STATUSES, Proposal

YIELD_PER = 500

_PLACE = [Column("challenge_id", "int"), Column("challenge_title"), Column("city"), Column("country"),
          Column("focus_area")]


def _place() -> list[Any]:
    return [Challenge.id, Challenge.title, City.name, City.country, Challenge.focus_area]


def _in_city(query: Any, challenge_of: Any) -> Any:
    return query.join(Challenge, challenge_of == Challenge.id).join(City, Challenge.city_id == City.id)


def _grants(flt: PortfolioFilter) -> Any:
    net_paid = net_paid_by_grant()  # every grant's net paid read from the ledger once, not once per row
    query = (sa.select(Grant.id, Grant.proposal_id, *_place(), Organization.name, Grant.status, Grant.amount_cents,
                       purpose_balance(commitment_code_sql(Grant.id)), sa.func.coalesce(net_paid.c.net_paid_cents, 0),
                       Grant.awarded_at, Grant.accepted_at)
             .join(Organization, Grant.organization_id == Organization.id)
             .outerjoin(net_paid, net_paid.c.grant_id == Grant.id))
    return flt.apply(_in_city(query, Grant.challenge_id)).order_by(Grant.id)


def _tranches(flt: PortfolioFilter) -> Any:
    query = (sa.select(Tranche.id, Tranche.grant_id, Tranche.position, Tranche.title, Tranche.due_date,
                       Tranche.amount_cents, Tranche.status, Organization.name, *_place())
             .join(Grant, Tranche.grant_id == Grant.id).join(Organization, Grant.organization_id == Organization.id))
    return flt.apply(_in_city(query, Grant.challenge_id)).order_by(Tranche.grant_id, Tranche.position)


def _payments(flt: PortfolioFilter) -> Any:
    # Paid in the grantee's currency: the amount received in its major units and the rate beside the USD amount.
    query = (sa.select(Disbursement.id, Disbursement.grant_id, Disbursement.tranche_id, Organization.name,
                       Disbursement.amount_cents, Disbursement.local_currency, local_amount_major_sql(),
                       Disbursement.exchange_rate, Disbursement.exchange_rate_source, Disbursement.rail,
                       Disbursement.status, Disbursement.attempts, Disbursement.created_at, Disbursement.paid_at,
                       *_place())
             .join(Grant, Disbursement.grant_id == Grant.id)
             .join(Organization, Grant.organization_id == Organization.id))
    return flt.apply(_in_city(query, Grant.challenge_id)).order_by(Disbursement.id)


def _contributions(flt: PortfolioFilter) -> Any:
    # No city: the filters do not apply (see the module docstring).
    return (sa.select(Contribution.id, Organization.name, Contribution.method, Contribution.status,
                      Contribution.amount_cents, Contribution.received_cents, Contribution.received_on,
                      Contribution.created_at)
            .outerjoin(Organization, Contribution.donor_organization_id == Organization.id)
            .order_by(Contribution.id))


def _proposals(flt: PortfolioFilter) -> Any:
    query = (sa.select(Proposal.id, *_place(), Organization.name, Organization.org_type, Proposal.title,
                       Proposal.status, Proposal.requested_cents, Proposal.submitted_at)
             .join(Organization, Proposal.organization_id == Organization.id)
             .where(Proposal.status.in_(COMPETING_STATUSES)))
    return flt.apply(_in_city(query, Proposal.challenge_id)).order_by(Proposal.id)


@dataclass(frozen=True)
class Table:
    """One export: its columns and the select giving one row of values per line, in column order."""

    key: str
    columns: Sequence[Column]
    query: Callable[[PortfolioFilter], Any]
    filtered: bool = True  # False: the city filters do not apply to it


TABLES = {t.key: t for t in (
    Table("grants", [Column("grant_id", "int"), Column("proposal_id", "int"), *_PLACE, Column("grantee"),
                     Column("status"), Column("amount_usd", "money"), Column("committed_unpaid_usd", "money"),
                     Column("disbursed_net_usd", "money"), Column("awarded_at", "datetime"),
                     Column("accepted_at", "datetime")], _grants),
    Table("tranches", [Column("tranche_id", "int"), Column("grant_id", "int"), Column("position", "int"),
                       Column("title"), Column("due_date", "date"), Column("amount_usd", "money"), Column("status"),
                       Column("grantee"), *_PLACE], _tranches),
    Table("payments", [Column("disbursement_id", "int"), Column("grant_id", "int"), Column("tranche_id", "int"),
                       Column("grantee"), Column("amount_usd", "money"), Column("local_currency"),
                       Column("local_amount", "number"), Column("exchange_rate", "number"),
                       Column("exchange_rate_source"), Column("rail"), Column("status"),
                       Column("attempts", "int"), Column("requested_at", "datetime"), Column("paid_at", "datetime"),
                       *_PLACE], _payments),
    Table("contributions", [Column("contribution_id", "int"), Column("donor_organization"), Column("method"),
                            Column("status"), Column("pledged_usd", "money"), Column("received_usd", "money"),
                            Column("received_on", "date"), Column("pledged_at", "datetime")], _contributions,
          filtered=False),
    Table("proposals", [Column("proposal_id", "int"), *_PLACE, Column("organization"), Column("organization_type"),
                        Column("title"), Column("status"), Column("requested_usd", "money"),
                        Column("submitted_at", "datetime")], _proposals),
)}


def rows(table: Table, flt: PortfolioFilter) -> Iterator[Sequence[Any]]:
    """Rule: the table's rows under the filter, streamed from the database `YIELD_PER` at a time."""
    result = db.session.execute(table.query(flt).execution_options(yield_per=YIELD_PER))
    try:
        yield from result
    finally:
        result.close()
