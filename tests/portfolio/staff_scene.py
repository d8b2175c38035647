"""A portfolio to look at: grants in cities of several countries, with money moved through the real
services (pool funded, award, acceptance, milestone accepted, payment requested, approved, paid)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from facility.accounts.models import User
from facility.challenges.models import Challenge
from facility.core.models import utcnow
from facility.disbursements import payments, requests
from facility.disbursements.jobs import enqueue_after_commit
from facility.disbursements.models import Disbursement
from facility.disbursements.rails import PaymentStatus, RailResult
from facility.extensions import db
from facility.grants.models import Grant
from tests import factories

FIRST, SECOND = 1_000_000, 2_000_000  # tranche amounts of every scene grant (USD 10,000 and 20,000)


@dataclass
class Scene:
    manager: User
    approver: User
    grants: list[Grant] = field(default_factory=list)
    challenges: list[Challenge] = field(default_factory=list)
    payments: list[Disbursement] = field(default_factory=list)


def managers() -> tuple[User, User]:
    return factories.accounts.make_user("fund_manager"), factories.accounts.make_user("fund_manager")


def add_grant(scene: Scene, tag: str, *, country: str = "UGA", population: int = 400_000, focus: str = "inclusive_innovation",
              first_due: date | None = None, pay: str | None = "paid", accept_first: bool = True) -> Grant:
    """A city in `country`, its closed challenge (pool USD 100,000 funded), an awarded and accepted grant
    with two tranches (the first due `first_due`, default 10 days ago; the second in 40 days), and,
    unless pay=None, a payment of the first tranche: "paid", "requested" or "queued"."""
    now = utcnow()
    today = now.date()
    city, _ = factories.cities.make_city(via="models", name=f"City {tag}", country=country, population=population)
    challenge = factories.challenges.make_challenge(
        city, via="models", state="published", title=f"Challenge {tag}", focus_area=focus, sdg_targets=["11.1"],
        prize_pool_cents=10_000_000, max_award_cents=5_000_000, opens_at=now - timedelta(days=60),
        closes_at=now - timedelta(days=1), criteria=[])
    factories.ledger.fund(key=f"scene-{tag}", unallocated=500_000, challenge=challenge, pool=10_000_000)
    proposal = factories.proposals.make_proposal(challenge, via="models", title=f"Proposal {tag}",
                                                 amounts=(FIRST, SECOND))
    grantee = factories.accounts.make_user("innovator", organization=proposal.organization)
    grant = factories.grants.make_grant(
        proposal, scene.manager, grantee, rail="stripe", accepted_reports=(1,) if accept_first else (),
        tranches=[{"title": "Pilot", "amount_cents": FIRST, "due_date": first_due or today - timedelta(days=10)},
                  {"title": "Handover", "amount_cents": SECOND, "due_date": today + timedelta(days=40)}])
    if pay is not None and accept_first:
        scene.payments.append(_pay(scene, grant, pay))
    scene.grants.append(grant)
    scene.challenges.append(challenge)
    db.session.commit()
    return grant


def _pay(scene: Scene, grant: Grant, how: str) -> Disbursement:
    disbursement = requests.request_disbursement(tranche=grant.tranches[0], actor=scene.manager)
    if how in ("queued", "paid"):
        requests.approve_disbursement(disbursement=disbursement, actor=scene.approver)
    if how == "paid":
        payments.claim_disbursement(disbursement_id=disbursement.id)
        payments.record_payment_result(disbursement_id=disbursement.id, enqueue=enqueue_after_commit,
                                       result=RailResult(PaymentStatus.PAID, provider_reference=f"tr_{grant.id}"))
    db.session.commit()
    return disbursement


def build(n: int = 2, *, scene: Scene | None = None) -> Scene:
    """`n` more grants (in `scene`, or a new one) alternating between Uganda (LDC, small city) and Kenya
    (not LDC, large city), each with its first tranche paid and its second (due in 40 days) unpaid."""
    scene = scene or Scene(*managers())
    for i in range(len(scene.grants), len(scene.grants) + n):
        country, population = (("UGA", 400_000), ("KEN", 4_500_000))[i % 2]
        add_grant(scene, f"{i}", country=country, population=population)
    return scene

