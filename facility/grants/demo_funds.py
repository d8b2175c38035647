"""Demo earmarks for `seed-demo` (called from `grants.demo`): a donor's focus-area earmark, received
before the challenges are approved (so the first public-interest-technology challenge's approval draws
it first), and a city co-funding its own published challenge (straight into the pool)."""
from __future__ import annotations

from datetime import timedelta

from facility.accounts.models import User
from facility.challenges.models import ChallengeStatus
from facility.core.models import utcnow
from facility.grants import contributions

EARMARKED_CENTS = 10_000_000  # USD 100,000 for public-interest technology
COFUND_CENTS = 5_000_000  # USD 50,000 from Kampala for its flood warning challenge


def seed_earmarked_fund(donor: User, manager: User) -> None:
    """The donor earmarks a wire for public-interest technology; it is received (a fund of its own)."""
    pledge = contributions.pledge_contribution(actor=donor, amount_cents=EARMARKED_CENTS, method="wire",
                                               earmark={"focus_area": "public_interest_tech"})
    contributions.confirm_wire_contribution(contribution=pledge, actor=manager, received_cents=EARMARKED_CENTS,
                                            received_on=utcnow().date() - timedelta(days=35),
                                            bank_reference="DEMO-FT-0002")


def seed_cofunding(state: dict, manager: User) -> None:
    """Kampala's official co-funds the city's published flood-warning challenge; the wire is received."""
    official = (state.get("users") or {}).get("official@kampala.demo")
    challenge = (state.get("challenges") or {}).get("kampala_flood")
    if official is None or challenge is None or challenge.status != ChallengeStatus.PUBLISHED:
        return
    pledge = contributions.pledge_contribution(actor=official, amount_cents=COFUND_CENTS, method="wire",
                                               earmark={"challenge_id": challenge.id})
    contributions.confirm_wire_contribution(contribution=pledge, actor=manager, received_cents=COFUND_CENTS,
                                            received_on=utcnow().date() - timedelta(days=3),
                                            bank_reference="DEMO-FT-KLA-0001")
