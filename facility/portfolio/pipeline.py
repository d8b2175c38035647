"""The pipeline: how many challenges, proposals and grants are at each step, and the money at each step.

Every figure is one aggregate query (a page's query count does not grow with the facility), and
every amount of money comes from the ledger's stored balances:

- unfiltered, the money is `ledger.services.facility_totals()` itself, so the portfolio shows the
  same amounts as `/facility` and the API;
- filtered (country, region, group, size, focus area, SDG target), the money that belongs to a
  city is summed over the matching accounts: prize pools (`challenge:<id>:pool`), grant
  commitments (`grant:<id>:commitment`) and what was paid from those commitments (the
  `facility:disbursed` entries of the transactions that credit them). Money raised and not yet
  allocated belongs to no city, so a filtered view shows it facility-wide and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from facility.challenges.models import Challenge, ChallengeStatus
from facility.cities.models import City
from facility.extensions import db
from facility.grants.models import Grant, GrantRefund, GrantStatus
from facility.ledger.balances import facility_totals
from facility.ledger.models import LedgerAccount, LedgerEntry
from facility.ledger.services import DISBURSED
from facility.portfolio.filters import PortfolioFilter
from facility.proposals.models import COMPETING_STATUSES, Proposal, ProposalStatus
from facility.review.models import SCORED_KINDS, Assignment, Decision, DecisionKind, Review, ReviewRound, ReviewStatus, RoundKind

FUNNEL_STEPS = ("submitted", "eligible", "reviewed", "shortlisted", "awarded")
MONEY_STEPS = ("raised", "unallocated", "allocated", "committed", "disbursed")


@dataclass(frozen=True)
class Money:
    """The money at each step, in cents. `scoped` is False when raised/unallocated are facility-wide
    figures shown beside a filtered view (they belong to no city)."""

    raised: int
    unallocated: int
    allocated: int
    committed: int
    disbursed: int
    scoped: bool = False

    def steps(self) -> list[tuple[str, int]]:
        return [(step, getattr(self, step)) for step in MONEY_STEPS]


def _sum(value: Any) -> Any:
    return sa.func.coalesce(sa.func.sum(value), 0)


def _count_if(condition: Any) -> Any:
    return _sum(sa.case((condition, 1), else_=0))


def challenges_by_status(flt: PortfolioFilter) -> dict[ChallengeStatus, int]:
    """Rule: every challenge counts once, under its status (drafts included: they are the start of the pipeline)."""
    grouped: Any = (sa.select(Challenge.status, sa.func.count()).join(City, Challenge.city_id == City.id)
                    .group_by(Challenge.status))
    query = flt.apply(grouped)
    counts = {status: 0 for status in ChallengeStatus}
    counts.update({ChallengeStatus(status): int(n) for status, n in db.session.execute(query)})
    return counts


def _review_exists(*conditions: Any) -> Any:
    return sa.exists(sa.select(Review.id).join(Assignment, Review.assignment_id == Assignment.id)
                     .join(ReviewRound, Assignment.round_id == ReviewRound.id)
                     .where(Assignment.proposal_id == Proposal.id, Review.status == ReviewStatus.SUBMITTED,
                            *conditions))


def proposal_funnel(flt: PortfolioFilter) -> dict[str, int]:
    """Rule: the proposal funnel, one query.

    submitted: in the competition (submitted and beyond; drafts and withdrawals are not);
    eligible: passed a submitted eligibility review; reviewed: has a submitted scoring review;
    shortlisted: shortlisted now, or by a released decision before its later standing;
    awarded: awarded.
    """
    competing = Proposal.status.in_(COMPETING_STATUSES)
    shortlisted = sa.or_(Proposal.status == ProposalStatus.SHORTLISTED, sa.exists(
        sa.select(Decision.id).where(Decision.proposal_id == Proposal.id, Decision.kind == DecisionKind.SHORTLIST,
                                     Decision.released_at.is_not(None))))
    query = flt.apply(sa.select(
        _count_if(competing),
        _count_if(sa.and_(competing, _review_exists(ReviewRound.kind == RoundKind.ELIGIBILITY,
                                                    Review.eligible.is_(True)))),
        _count_if(sa.and_(competing, _review_exists(ReviewRound.kind.in_(SCORED_KINDS)))),
        _count_if(sa.and_(competing, shortlisted)),
        _count_if(Proposal.status == ProposalStatus.AWARDED),
    ).select_from(Proposal).join(Challenge, Proposal.challenge_id == Challenge.id)
        .join(City, Challenge.city_id == City.id))
    row = db.session.execute(query).one()
    return dict(zip(FUNNEL_STEPS, (int(v) for v in row), strict=True))


def grants_by_status(flt: PortfolioFilter) -> dict[GrantStatus, tuple[int, int]]:
    """Rule: every grant counts once under its status, with its awarded amount: {status: (count, cents)}."""
    query = flt.apply(sa.select(Grant.status, sa.func.count(), _sum(Grant.amount_cents))
                      .join(Challenge, Grant.challenge_id == Challenge.id).join(City, Challenge.city_id == City.id)
                      .group_by(Grant.status))
    out = {status: (0, 0) for status in GrantStatus}
    out.update({GrantStatus(status): (int(n), int(cents)) for status, n, cents in db.session.execute(query)})
    return out


def _code(prefix: str, column: Any, suffix: str) -> Any:
    return sa.literal(prefix) + sa.cast(column, sa.String) + sa.literal(suffix)


def _filtered_challenges(flt: PortfolioFilter) -> Any:
    return flt.apply(sa.select(Challenge.id).join(City, Challenge.city_id == City.id)).subquery()


def _filtered_grants(flt: PortfolioFilter) -> Any:
    return flt.apply(sa.select(Grant.id).join(Challenge, Grant.challenge_id == Challenge.id)
                     .join(City, Challenge.city_id == City.id)).subquery()


def money_by_step(flt: PortfolioFilter) -> Money:
    """Rule: the same money shows the same amount everywhere. Unfiltered, `facility_totals()`;
    filtered, the same stored balances summed over the matching cities' pools and grants."""
    totals = facility_totals()
    if not flt.is_active:
        return Money(totals["raised"], totals["unallocated"], totals["allocated"], totals["committed"],
                     totals["disbursed"])
    challenges, grants = _filtered_challenges(flt), _filtered_grants(flt)
    pool_codes = sa.select(_code("challenge:", challenges.c.id, ":pool"))
    commitment_codes = sa.select(_code("grant:", grants.c.id, ":commitment"))
    allocated = sa.select(_sum(LedgerAccount.balance_cents)).where(LedgerAccount.base_code.in_(pool_codes))
    committed = sa.select(_sum(LedgerAccount.balance_cents)).where(LedgerAccount.base_code.in_(commitment_codes))
    # What was paid from these commitments: the disbursed side (every fund's share) of each transaction
    # that touches one of them (a reversal debits the commitment and credits disbursed, and nets out).
    commitment_entry, commitment_account = aliased(LedgerEntry), aliased(LedgerAccount)
    paying = (sa.select(commitment_entry.transaction_id)
              .join(commitment_account, commitment_entry.account_id == commitment_account.id)
              .where(commitment_account.base_code.in_(commitment_codes)))
    # A refund credits disbursed without touching a commitment: found by its refund row (grants.refunds).
    refunding = sa.select(GrantRefund.ledger_transaction_id).where(GrantRefund.grant_id.in_(sa.select(grants.c.id)))
    disbursed = (sa.select(_sum(LedgerEntry.amount_cents))
                 .join(LedgerAccount, LedgerEntry.account_id == LedgerAccount.id)
                 .where(LedgerAccount.base_code == DISBURSED,
                        sa.or_(LedgerEntry.transaction_id.in_(paying), LedgerEntry.transaction_id.in_(refunding))))
    row = db.session.execute(sa.select(allocated.scalar_subquery(), committed.scalar_subquery(),
                                       disbursed.scalar_subquery())).one()
    return Money(totals["raised"], totals["unallocated"], int(row[0]), int(row[1]), int(row[2]), scoped=True)
