"""A donor's dollar, end to end, through the real services (the public register and ledger tests share it):
a donor's wire confirmed, a challenge approved (its pool funded), a proposal awarded, the grant accepted,
its first milestone reported and accepted, and its first tranche paid on the manual rail."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from facility.accounts.models import Organization, OrgKind, OrgType, User
from facility.challenges.models import Challenge
from facility.core.models import utcnow
from facility.disbursements import payments, requests
from facility.disbursements.jobs import enqueue_after_commit
from facility.disbursements.rails import ManualRail
from facility.extensions import db
from facility.grants import contributions
from facility.grants.models import Contribution, Grant
from facility.proposals.models import Proposal
from tests.factories.accounts import make_org, make_user
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city
from tests.factories.grants import award, make_grant
from tests.factories.ledger import fund
from tests.factories.proposals import make_proposal

GIFT_CENTS = 60_000_000  # USD 600,000: the challenge's pool (USD 500,000) comes out of it
REVIEWER_NAME = "Rosa Reviewer-Secret"


@dataclass
class Scene:
    donor: User
    donor_org: Organization
    contribution: Contribution
    challenge: Challenge
    proposal: Proposal
    grant: Grant
    grantee: User
    manager: User
    second_manager: User


def pay_tranche(tranche, requester: User, approver: User, confirmer: User) -> None:
    """The manual rail, as the worker and the finance team do it (the confirmer neither requested nor approved)."""
    disbursement = requests.request_disbursement(tranche=tranche, actor=requester)
    requests.approve_disbursement(disbursement=disbursement, actor=approver)
    payments.claim_disbursement(disbursement_id=disbursement.id)
    payments.record_payment_result(disbursement_id=disbursement.id,
                                   result=ManualRail().pay(payments.payment_request_for(disbursement)),
                                   enqueue=enqueue_after_commit)
    requests.confirm_manual_payment(disbursement=disbursement, actor=confirmer, bank_reference="BANK-REF-0001")
    db.session.commit()


def build(clock, *, anonymous: bool = False, donor_name: str = "Harbour Foundation", pay: bool = True) -> Scene:
    manager = make_user("fund_manager", email="fm.public@example.org", name="Fatima Manager")
    second = make_user("fund_manager", email="fm2.public@example.org", name="Sam Second")
    donor_org = make_org(name=donor_name, kind=OrgKind.DONOR, country="NOR")
    donor = make_user("donor", organization=donor_org, email="donor.public@example.org", name="Dan Donor")
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=GIFT_CENTS, method="wire",
                                                     anonymous=anonymous)
    contributions.confirm_wire_contribution(contribution=contribution, actor=manager, received_cents=GIFT_CENTS,
                                            received_on=clock.now.date(), bank_reference="WIRE-0001")
    db.session.commit()
    clock.shift(days=1)
    city, official = make_city(fund_manager=manager)
    now = clock.now
    challenge = make_challenge(city, official, state="published", fund_manager=manager,
                               opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30))
    innovator_org = make_org(name="SolarKiosk", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP, country="KEN")
    grantee = make_user("innovator", organization=innovator_org, email="founder.public@example.org",
                        name="Imani Innovator")
    proposal = make_proposal(challenge, grantee, submit=True)
    clock.shift(days=31)
    grant = make_grant(proposal, manager, grantee, rail="manual", accepted_reports=[1])
    if pay:
        clock.shift(days=1)
        finance = make_user("fund_manager", email="finance.public@example.org", name="Fin Officer")
        pay_tranche(grant.tranches[0], manager, second, finance)
    return Scene(donor=donor, donor_org=donor_org, contribution=contribution, challenge=challenge,
                 proposal=proposal, grant=grant, grantee=grantee, manager=manager, second_manager=second)


def extra_grants(n: int, *, country: str = "FJI") -> list[Grant]:
    """`n` more grants in a challenge of their own (city in `country`), built as rows and awarded."""
    city, _ = make_city(via="models", name=f"City in {country}", country=country, population=300_000)
    challenge = make_challenge(city, via="models", state="published", title=f"Challenge in {country}",
                               opens_at=utcnow() - timedelta(days=60), closes_at=utcnow() - timedelta(days=1),
                               prize_pool_cents=n * 1_000_000, max_award_cents=1_000_000, sdg_targets=["6.1"])
    fund(key=f"extra-{country}", challenge=challenge, pool=n * 1_000_000)
    manager = make_user("fund_manager")
    grants = []
    for i in range(n):
        proposal = make_proposal(challenge, via="models", title=f"Project {country} {i}", amounts=(1_000_000,))
        grants.append(award(proposal, manager, amount_cents=1_000_000))  # as the panel recommended
    db.session.commit()
    return grants


