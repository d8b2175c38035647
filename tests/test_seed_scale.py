"""`seed-scale` (issue 15): a facility at a tiny factor of full scale, through the real schema, whose
money and audit trail verify and whose pages render."""
import pytest
import sqlalchemy as sa

from facility.accounts.models import User
from facility.audit.models import AuditEvent
from facility.audit.services import verify_chain
from facility.challenges.models import Challenge, ChallengeStatus
from facility.cities.models import City
from facility.extensions import db
from facility.grants.models import Contribution, Grant, Tranche
from facility.ledger.models import LedgerEntry, LedgerTransaction
from facility.ledger.verify import verify_ledger
from facility.proposals.models import Proposal
from facility.review.models import Review, Score
from facility.seed_scale import SCALE_PASSWORD, Scale, seed_scale
from tests.conftest import sign_in

FACTOR = 0.002


def _count(model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


@pytest.fixture
def seeded(app):
    counts = seed_scale(factor=FACTOR)
    db.session.commit()
    return counts


def test_counts_follow_the_factor(seeded):
    scale = Scale(FACTOR)
    assert _count(City) == scale.cities == 2
    assert db.session.execute(sa.select(sa.func.count(sa.distinct(City.country)))).scalar_one() == scale.countries
    assert _count(Challenge) == scale.challenges == 20
    states = set(db.session.execute(sa.select(Challenge.status).distinct()).scalars())
    assert states == set(ChallengeStatus)
    assert _count(Proposal) == scale.proposals == 200
    assert _count(Grant) == scale.grants == 20 and _count(Tranche) == 4 * scale.grants
    # Three reviews of every proposal that left its draft, five scores each.
    drafts = db.session.execute(sa.select(sa.func.count()).where(Proposal.status == "draft")).scalar_one()
    assert _count(Review) == 3 * (scale.proposals - drafts) and _count(Score) == 5 * _count(Review)
    assert _count(LedgerEntry) == scale.ledger_entries == 2 * _count(LedgerTransaction)
    assert _count(AuditEvent) == scale.audit_events == 200
    donors = db.session.execute(sa.select(sa.func.count(sa.distinct(Contribution.pledged_by_id)))).scalar_one()
    assert donors == scale.donors
    assert seeded["ledger_entries"] == scale.ledger_entries


def test_ledger_and_audit_chain_verify(seeded):
    assert verify_ledger() == []
    assert verify_chain() == []
    scores = db.session.execute(sa.select(sa.func.min(Score.score), sa.func.max(Score.score))).one()
    assert 0 <= scores[0] <= scores[1] <= 10


def test_a_second_run_continues_the_ids_and_the_chain(seeded):
    seed_scale(factor=FACTOR)
    db.session.commit()
    assert _count(Challenge) == 2 * Scale(FACTOR).challenges
    assert verify_ledger() == [] and verify_chain() == []


def test_the_seeded_pages_render(seeded, client):
    challenge = db.session.execute(sa.select(Challenge.id).where(Challenge.status == "published")
                                   .order_by(Challenge.id)).scalars().first()
    grant = db.session.execute(sa.select(Grant.id).order_by(Grant.id)).scalars().first()
    for path in ("/", "/challenges", "/challenges?page=2", f"/challenges/{challenge}", "/facility",
                 "/facility/ledger", "/grants", "/results", "/opendata/grants.csv"):
        response = client.get(path)
        assert response.status_code == 200, path
    manager = db.session.execute(sa.select(User.email).where(User.email.like("fund.manager1.%"))).scalar_one()
    assert sign_in(client, manager, SCALE_PASSWORD).status_code == 302
    big = db.session.execute(sa.select(Proposal.challenge_id).group_by(Proposal.challenge_id)
                             .order_by(sa.func.count().desc()).limit(1)).scalar_one()
    for path in ("/dashboard", f"/grants/{grant}", "/disbursements", "/audit", f"/review/challenges/{big}/ranking"):
        response = client.get(path)
        assert response.status_code == 200, path


def test_seed_scale_command(app):
    result = app.test_cli_runner().invoke(args=["facility", "seed-scale", "--factor", "0.001"])
    assert result.exit_code == 0, result.output
    assert "ledger_entries" in result.output and _count(Challenge) == Scale(0.001).challenges
    assert app.test_cli_runner().invoke(args=["facility", "ledger-verify"]).exit_code == 0
    assert app.test_cli_runner().invoke(args=["facility", "audit-verify"]).exit_code == 0
