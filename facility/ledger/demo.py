"""Demo money: the demo donor's opening contribution, so that challenges can be funded on approval."""
from __future__ import annotations

from facility.ledger.services import contributions_account, post_transaction, unallocated_account

OPENING_CONTRIBUTION_CENTS = 25_000_000_00  # USD 25 million


def seed(state: dict) -> None:
    donor = state["orgs"]["foundation"]
    post_transaction(
        key="demo:opening-contribution",
        entries=[(unallocated_account(), OPENING_CONTRIBUTION_CENTS),
                 (contributions_account(donor.id, name=f"Contributions: {donor.name}"), -OPENING_CONTRIBUTION_CENTS)],
        actor=None, kind="contribution", description="Demo: opening contribution",
    )
