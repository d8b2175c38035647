"""seed-demo shows a two-stage challenge: a finished Pilot with grants, and a published, invitation-only Scale
stage into which the pilot grantee whose milestones were all accepted is invited, with the reason."""
import sqlalchemy as sa

from facility.accounts.models import User
from facility.challenges.models import ChallengeInvitation, ChallengeStatus
from facility.demo import seed
from facility.extensions import db
from facility.grants import demo_stages
from facility.grants.models import Grant, TrancheStatus
from facility.ledger.balances import balance
from facility.ledger.services import pool_code
from facility.ledger.verify import verify_ledger
from facility.proposals import policy as proposal_policy


def test_the_demo_has_a_two_stage_challenge(app, client):
    seed(echo=lambda _: None)
    invitation = db.session.execute(sa.select(ChallengeInvitation)).scalar_one()
    scale = invitation.challenge
    pilot = db.session.get(type(scale), scale.previous_stage_id)
    assert (pilot.stage_name, pilot.status, pilot.title) == ("Pilot", ChallengeStatus.FINISHED, demo_stages.PILOT_TITLE)
    assert (scale.stage_name, scale.status, scale.invitation_only, scale.is_open) == (
        "Scale", ChallengeStatus.PUBLISHED, True, True)
    assert balance(pool_code(scale.id)) == scale.prize_pool_cents  # funded at approval, through the ledger
    source = db.session.get(Grant, invitation.source_grant_id)
    assert source.challenge_id == pilot.id and {t.status for t in source.tranches} == {TrancheStatus.ACCEPTED}
    others = db.session.execute(sa.select(Grant).where(Grant.challenge_id == pilot.id, Grant.id != source.id)
                                ).scalars().all()
    assert others and all(TrancheStatus.PENDING in {t.status for t in g.tranches} for g in others)
    html = client.get(f"/challenges/{scale.id}").get_data(as_text=True)
    assert "Who advanced" in html and demo_stages.ADVANCE_REASON.split(":")[0] in html
    assert f'href="/challenges/{pilot.id}"' in html and source.organization.name in html
    invited = db.session.execute(sa.select(User).where(User.organization_id == source.organization_id)).scalars().first()
    outsider = db.session.execute(sa.select(User).where(User.organization_id == others[0].organization_id)
                                  ).scalars().first()
    assert proposal_policy.can_create(invited, scale) is None
    assert "by invitation" in proposal_policy.can_create(outsider, scale).reason
    assert verify_ledger() == []
