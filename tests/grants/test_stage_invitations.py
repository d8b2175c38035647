"""Staged prizes, the grants side: a grantee of the pilot stage advances into the invitation-only scale stage
when every milestone of its grant was accepted; by a fund manager or the city's official, once, with a reason
shown publicly; its members are e-mailed."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.challenges.models import Challenge, ChallengeInvitation, ChallengeStatus
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.outbox import OutboundEmail
from facility.extensions import db
from facility.grants import stage_facts, stages
from facility.grants.models import Grant, GrantStatus
from facility.proposals import policy as proposal_policy
from tests import factories
from tests.conftest import csrf_token_from

REASON = "Its pilot reached 420 households and the city wants it in every ward."


@dataclass
class Staged:
    pilot: Challenge
    stage: Challenge
    done: Grant  # every milestone accepted
    halfway: Grant  # one milestone accepted, one still to report
    manager: object
    official: object
    grantee: object  # an innovator of `done`'s organisation
    other: Grant  # a grant of another challenge, every milestone accepted


@pytest.fixture
def staged(make_challenge, make_proposal, make_user, fund) -> Staged:
    pilot = make_challenge()
    fund(challenge=pilot, pool=10_000_000)
    manager = make_user("fund_manager")
    grants = []
    for accepted in ((1, 2), (1,)):
        proposal = make_proposal(pilot)
        grantee = make_user("innovator", organization=proposal.organization)
        grants.append((factories.grants.make_grant(proposal, manager, grantee, accepted_reports=accepted), grantee))
    elsewhere = make_challenge()
    fund(challenge=elsewhere, pool=10_000_000)
    proposal = make_proposal(elsewhere)
    other = factories.grants.make_grant(proposal, manager, make_user("innovator", organization=proposal.organization),
                                        accepted_reports=(1, 2))
    stage = make_challenge(closed=False)
    stage.city_id, stage.previous_stage_id, stage.invitation_only, stage.stage_name = (
        pilot.city_id, pilot.id, True, "Scale")
    db.session.commit()
    db.session.expire_all()
    official = make_user("city_official", organization=pilot.city.organization)
    return Staged(pilot=pilot, stage=db.session.get(Challenge, stage.id), done=grants[0][0], halfway=grants[1][0],
                  manager=manager, official=official, grantee=grants[0][1], other=other)


def _invite(s: Staged, grant=None, actor=None, reason=REASON):
    invitation = stages.invite_to_next_stage(actor=actor or s.manager, grant=grant or s.done, next_stage=s.stage,
                                             reason=reason)
    db.session.commit()
    return invitation


def test_a_grantee_whose_milestones_were_all_accepted_is_invited(staged, app):
    assert proposal_policy.can_create(staged.grantee, staged.stage) is not None  # not yet invited
    invitation = _invite(staged, actor=staged.official)
    assert (invitation.challenge_id, invitation.organization_id, invitation.source_grant_id, invitation.reason) == (
        staged.stage.id, staged.done.organization_id, staged.done.id, REASON)
    assert invitation.invited_by_id == staged.official.id
    details = db.session.execute(sa.select(AuditEvent.details).where(AuditEvent.action == "challenge.invited")
                                 ).scalar_one()
    assert details["grant_id"] == staged.done.id and details["reason"] == REASON
    mail = db.session.execute(sa.select(OutboundEmail).where(OutboundEmail.to_address == staged.grantee.email)
                              ).scalars().all()
    assert any("next stage" in m.subject and REASON in m.body for m in mail)
    assert proposal_policy.can_create(staged.grantee, staged.stage) is None  # now it may apply


def test_a_fund_manager_invites_too(staged):
    assert _invite(staged).invited_by_id == staged.manager.id


def test_refused_while_a_milestone_is_not_accepted(staged):
    with pytest.raises(Conflict, match="not accepted yet"):
        _invite(staged, grant=staged.halfway)
    assert not db.session.execute(sa.select(ChallengeInvitation)).first()


def test_refused_for_a_grant_of_another_challenge(staged):
    with pytest.raises(Conflict, match="not from the previous stage"):
        _invite(staged, grant=staged.other)


def test_refused_twice(staged):
    _invite(staged)
    with pytest.raises(Conflict, match="already invited"):
        _invite(staged, actor=staged.official)
    assert len(db.session.execute(sa.select(ChallengeInvitation)).all()) == 1


def test_refused_for_a_cancelled_grant(staged):
    staged.done.status = GrantStatus.CANCELLED
    db.session.commit()
    with pytest.raises(Conflict, match="cancelled"):
        _invite(staged)


@pytest.mark.parametrize("status", [ChallengeStatus.DRAFT, ChallengeStatus.PENDING_APPROVAL])
def test_refused_and_nobody_told_before_the_stage_is_published(staged, status):
    staged.stage.status = status
    db.session.commit()
    sent = db.session.execute(sa.select(sa.func.count(OutboundEmail.id))).scalar_one()
    with pytest.raises(Conflict, match="approved and published"):
        _invite(staged)
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(ChallengeInvitation.id))).scalar_one() == 0
    assert db.session.execute(sa.select(sa.func.count(OutboundEmail.id))).scalar_one() == sent


def test_refused_when_the_stage_takes_no_invitations(staged):
    staged.stage.invitation_only = False
    db.session.commit()
    with pytest.raises(Conflict, match="invitation-only"):
        _invite(staged)
    staged.stage.invitation_only, staged.stage.previous_stage_id = True, None
    db.session.commit()
    with pytest.raises(Conflict):
        _invite(staged)


@pytest.mark.parametrize("who", ["innovator", "other_official", "auditor", "anonymous", "grantee"])
def test_refused_to_the_wrong_people(staged, make_user, who):
    actor = {"innovator": lambda: make_user("innovator"),
             "other_official": lambda: make_user("city_official", organization=staged.other.challenge.city.organization),
             "auditor": lambda: make_user("auditor"), "anonymous": lambda: None,
             "grantee": lambda: staged.grantee}[who]()
    with pytest.raises(PermissionDenied):
        stages.invite_to_next_stage(actor=actor, grant=staged.done, next_stage=staged.stage, reason=REASON)


@pytest.mark.parametrize("reason", ["", "   ", None, 42, ["x"], "x" * 5000])
def test_a_reason_is_required(staged, reason):
    with pytest.raises(ValidationFailed) as error:
        _invite(staged, reason=reason)
    assert "reason" in error.value.errors


def test_the_candidates_say_who_may_advance_and_why_not(staged):
    found = {c.grant.id: c for c in stage_facts.candidates(staged.stage)}
    assert set(found) == {staged.done.id, staged.halfway.id}
    assert found[staged.done.id].eligible and not found[staged.halfway.id].eligible
    assert "not accepted yet" in found[staged.halfway.id].problem


# --- the page and the API ---------------------------------------------------------------------

def test_the_invite_page(staged, client, login):
    login(client, staged.official)
    url = f"/challenges/{staged.stage.id}/invitations"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"g{staged.done.id}-reason" in html and f"g{staged.halfway.id}-reason" not in html
    assert "Cannot be invited" in html and "not accepted yet" in html
    token = csrf_token_from(html)
    empty = client.post(f"{url}/{staged.done.id}", data={"csrf_token": token, f"g{staged.done.id}-reason": ""})
    assert empty.status_code == 422
    refused = client.post(f"{url}/{staged.halfway.id}", data={"csrf_token": token,
                                                               f"g{staged.halfway.id}-reason": REASON})
    assert refused.status_code == 422 and "not accepted yet" in refused.get_data(as_text=True)
    done = client.post(f"{url}/{staged.done.id}", data={"csrf_token": token, f"g{staged.done.id}-reason": REASON})
    assert done.status_code == 302
    assert db.session.execute(sa.select(ChallengeInvitation.reason)).scalar_one() == REASON
    assert client.get(f"/challenges/{staged.stage.id}").get_data(as_text=True).count(REASON) == 1
    assert "already invited" in client.get(url).get_data(as_text=True)


def test_the_invite_page_refuses_the_wrong_people(staged, client, login, make_user):
    url = f"/challenges/{staged.stage.id}/invitations"
    assert client.get(url).status_code == 302  # sign in first
    login(client, make_user("city_official", organization=staged.other.challenge.city.organization))
    assert client.get(url).status_code == 403
    innovator = client.application.test_client()
    login(innovator, staged.grantee)
    assert innovator.get(url).status_code == 403


def test_the_invite_page_query_count_does_not_grow_with_grants(staged, client, login, make_proposal, fund,
                                                               count_queries):
    login(client, staged.official)
    url = f"/challenges/{staged.stage.id}/invitations"

    def reads() -> int:
        client.get(url)
        with count_queries(selects_only=True) as n:
            assert client.get(url).status_code == 200
        return n()

    few = reads()
    fund(challenge=staged.pilot, pool=20_000_000)
    for _ in range(3):
        proposal = make_proposal(staged.pilot)
        grantee = factories.accounts.make_user("innovator", organization=proposal.organization)
        factories.grants.make_grant(proposal, staged.manager, grantee, accepted_reports=(1, 2))
    assert reads() == few


def test_the_api(staged, client, api_headers):
    url = f"/api/v1/challenges/{staged.stage.id}"
    assert client.get(f"{url}/invitation-candidates").status_code == 401
    assert client.get(f"{url}/invitation-candidates", headers=api_headers(staged.grantee)).status_code == 403
    headers = api_headers(staged.official)
    listed = client.get(f"{url}/invitation-candidates", headers=headers).get_json()
    assert listed["total"] == 2 and listed["page"] == 1
    assert {(c["grant_id"], c["eligible"]) for c in listed["items"]} == {(staged.done.id, True), (staged.halfway.id, False)}
    body = {"grant_id": staged.done.id, "reason": REASON}
    assert client.post(f"{url}/invitations", json=body).status_code == 401
    assert client.post(f"{url}/invitations", json=body, headers=api_headers(staged.grantee)).status_code == 403
    bad = client.post(f"{url}/invitations", json={"grant_id": "one", "reason": ""}, headers=headers)
    assert bad.status_code == 422 and {"grant_id", "reason"} <= set(bad.get_json()["errors"])
    assert client.post(f"{url}/invitations", json={"grant_id": 987654, "reason": REASON},
                       headers=headers).status_code == 404
    assert client.post(f"{url}/invitations", json={**body, "grant_id": staged.halfway.id},
                       headers=headers).status_code == 409
    made = client.post(f"{url}/invitations", json=body, headers=headers)
    assert made.status_code == 201 and made.get_json()["source_grant_id"] == staged.done.id
    assert client.post(f"{url}/invitations", json=body, headers=headers).status_code == 409
    public = client.get(f"{url}/invitations").get_json()
    assert public["total"] == 1 and client.get(f"{url}/invitations?page=2").get_json()["items"] == []
    assert [(i["organization_id"], i["reason"]) for i in public["items"]] == [(staged.done.organization_id, REASON)]


def test_an_invitation_shows_at_once_on_the_cached_public_page(staged, client):
    url = f"/challenges/{staged.stage.id}"
    assert REASON not in client.get(url).get_data(as_text=True)
    assert REASON not in client.get(url).get_data(as_text=True)  # served again (from the shared cache)
    _invite(staged)
    assert REASON in client.get(url).get_data(as_text=True)  # the commit bumped the cache's generation
    assert REASON in client.get(f"/api/v1/challenges/{staged.stage.id}").get_data(as_text=True)
