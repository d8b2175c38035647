"""Staged prizes, the challenges side: adding the next stage (only after the last, approved stage; by the
city's officials and fund managers), the chain of stages, and the pages and API that show them."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.challenges import queries, services, stages
from facility.challenges.models import Challenge, ChallengeInvitation, ChallengeStatus
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.extensions import db
from facility.ledger.balances import balance
from facility.ledger.services import pool_code
from tests.conftest import csrf_token_from
from tests.factories.accounts import make_org, make_user
from tests.factories.cities import make_city


def _dates(challenge: Challenge, *, start: int = 1, length: int = 60) -> dict:
    return {"opens_at": challenge.closes_at + timedelta(days=start),
            "closes_at": challenge.closes_at + timedelta(days=start + length)}


_OFFICIAL = object()


def _add(world, *, actor=_OFFICIAL, challenge=None, **kw) -> Challenge:
    challenge = challenge or world.challenge
    fields = {"stage_name": "Scale", "prize_pool_cents": 20_000_000, "max_award_cents": 5_000_000,
              **_dates(challenge), **kw}
    stage = stages.add_next_stage(actor=world.official if actor is _OFFICIAL else actor, challenge=challenge, **fields)
    db.session.commit()
    return stage


def test_the_citys_official_adds_a_next_stage_as_a_prefilled_draft(world):
    pilot = world.challenge
    stage = _add(world, previous_stage_name="Pilot")
    assert stage.status == ChallengeStatus.DRAFT
    assert stage.previous_stage_id == pilot.id and stage.city_id == pilot.city_id
    assert stage.stage_name == "Scale" and pilot.stage_name == "Pilot"
    assert stage.invitation_only is True
    assert stage.title == f"{pilot.title}: Scale"
    assert (stage.summary, stage.description, stage.focus_area, stage.sdg_targets) == (
        pilot.summary, pilot.description, pilot.focus_area, pilot.sdg_targets)
    assert [(c.name, c.weight) for c in stage.criteria] == [(c.name, c.weight) for c in pilot.criteria]
    assert stage.prize_pool_cents == 20_000_000 and stage.max_award_cents == 5_000_000
    assert db.session.execute(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "Challenge", AuditEvent.object_id == str(stage.id))).scalars().all() == [
        "challenge.stage_added"]


def test_the_next_stage_is_funded_through_the_ledger_when_approved(world):
    stage = _add(world)
    assert balance(pool_code(stage.id)) == 0
    services.submit_challenge(challenge=stage, actor=world.official)
    services.approve_challenge(challenge=stage, actor=world.fund_manager)
    db.session.commit()
    assert stage.status == ChallengeStatus.PUBLISHED
    assert balance(pool_code(stage.id)) == 20_000_000


def test_a_fund_manager_adds_a_stage_and_may_leave_it_open_to_all(world):
    stage = _add(world, actor=world.fund_manager, invitation_only=False)
    assert stage.created_by_id == world.fund_manager.id and stage.invitation_only is False


@pytest.mark.parametrize("who", ["other_official", "innovator", "reviewer", "anonymous", "auditor"])
def test_only_the_citys_officials_and_fund_managers_add_stages(world, who):
    actor = {"other_official": lambda: make_city(name="Suva", country="FJI", fund_manager=world.fund_manager)[1],
             "innovator": lambda: world.innovator, "reviewer": lambda: world.reviewer,
             "anonymous": lambda: None, "auditor": lambda: make_user("auditor")}[who]()
    with pytest.raises(PermissionDenied):
        _add(world, actor=actor)
    assert not queries.stages_of(world.challenge)[1:]


def test_a_stage_is_added_only_after_the_last_one(world):
    scale = _add(world)
    with pytest.raises(Conflict, match="already has a next stage"):
        _add(world, stage_name="Again")
    with pytest.raises(Conflict, match="follows an approved challenge"):  # the draft scale stage is not approved
        _add(world, challenge=scale, stage_name="Replication")


def test_a_draft_challenge_has_no_next_stage(world):
    draft = Challenge(city=world.city, title="Draft", summary="s", description="d",
                      focus_area=world.challenge.focus_area, sdg_targets=["11.1"], prize_pool_cents=100,
                      max_award_cents=100, opens_at=world.challenge.opens_at, closes_at=world.challenge.closes_at)
    db.session.add(draft)
    db.session.commit()
    with pytest.raises(Conflict):
        _add(world, challenge=draft)


def test_the_next_stage_opens_after_the_previous_one_closes(world):
    with pytest.raises(ValidationFailed) as error:
        _add(world, opens_at=world.challenge.closes_at - timedelta(days=1))
    assert "opens_at" in error.value.errors


@pytest.mark.parametrize("bad", [
    {"stage_name": ""}, {"stage_name": "x" * 81}, {"stage_name": 7}, {"prize_pool_cents": -5},
    {"prize_pool_cents": "lots"}, {"max_award_cents": 30_000_000}, {"opens_at": "tomorrow"},
    {"closes_at": None}, {"previous_stage_name": ["Pilot"]},
])
def test_garbage_is_refused_field_by_field(world, bad):
    with pytest.raises(ValidationFailed) as error:
        _add(world, **bad)
    assert set(error.value.errors) & {*bad, "stage_name", "prize_pool_cents", "max_award_cents", "opens_at",
                                      "closes_at", "previous_stage_name"}
    assert not queries.stages_of(world.challenge)[1:]


def test_the_chain_is_read_in_one_query_from_any_stage(world, count_queries):
    pilot = world.challenge
    scale = _add(world)
    services.submit_challenge(challenge=scale, actor=world.official)
    services.approve_challenge(challenge=scale, actor=world.fund_manager)
    db.session.commit()
    third = _add(world, challenge=scale, stage_name="Replication")
    for stage in (pilot, scale, third):
        db.session.expire_all()
        stage = db.session.get(Challenge, stage.id)
        with count_queries() as n:
            chain = queries.stages_of(stage)
        assert [c.id for c in chain] == [pilot.id, scale.id, third.id]
        assert n() == 1
    assert third.title == f"{pilot.title}: Replication"  # the previous stage's name is replaced, not stacked


def test_a_one_stage_challenge_is_its_own_chain_and_shows_no_stages(world, client):
    assert queries.stages_of(world.challenge) == [world.challenge]
    assert 'id="stages-heading"' not in client.get(f"/challenges/{world.challenge.id}").get_data(as_text=True)


def test_the_public_page_lists_the_stages_and_hides_drafts(world, client, login):
    stage = _add(world, previous_stage_name="Pilot")
    html = client.get(f"/challenges/{world.challenge.id}").get_data(as_text=True)
    assert 'id="stages-heading"' not in html and f'href="/challenges/{stage.id}"' not in html  # a private draft
    assert client.get(f"/api/v1/challenges/{world.challenge.id}").get_json()["stages"] == []
    login(client, world.official)
    html = client.get(f"/challenges/{world.challenge.id}").get_data(as_text=True)
    assert 'id="stages-heading"' in html and f'href="/challenges/{stage.id}"' in html
    assert "Pilot" in html and "Scale" in html and 'aria-current="page"' in html


def test_who_advanced_is_public_with_the_reason(world, client):
    stage = _add(world)
    services.submit_challenge(challenge=stage, actor=world.official)
    services.approve_challenge(challenge=stage, actor=world.fund_manager)
    db.session.add(ChallengeInvitation(challenge_id=stage.id, organization_id=world.innovator_org.id,
                                       reason="Its pilot reached 400 households."))
    db.session.commit()
    html = client.get(f"/challenges/{stage.id}").get_data(as_text=True)
    assert "Who advanced" in html and "SolarKiosk" in html and "Its pilot reached 400 households." in html
    assert f'href="/challenges/{world.challenge.id}"' in html  # the previous stage, linked
    body = client.get(f"/api/v1/challenges/{stage.id}").get_json()
    assert body["previous_stage_id"] == world.challenge.id and body["invitation_only"] is True
    assert [s["id"] for s in body["stages"]] == [world.challenge.id, stage.id]
    assert body["invitations"][0]["organization_name"] == "SolarKiosk"
    assert client.get(f"/api/v1/challenges/{stage.id}/invitations").get_json()["items"][0]["reason"] == (
        "Its pilot reached 400 households.")


def test_the_challenge_page_query_count_does_not_grow_with_invitations(world, client, count_queries):
    stage = _add(world)
    services.submit_challenge(challenge=stage, actor=world.official)
    services.approve_challenge(challenge=stage, actor=world.fund_manager)
    db.session.commit()

    made = iter(range(100))

    def invite(n: int) -> None:
        for _ in range(n):
            org = make_org(name=f"Advancing org {next(made)}")
            db.session.add(ChallengeInvitation(challenge_id=stage.id, organization_id=org.id, reason="Good."))
        db.session.commit()

    def reads() -> int:
        client.get(f"/challenges/{stage.id}")  # warm
        with count_queries(selects_only=True) as n:
            assert client.get(f"/challenges/{stage.id}").status_code == 200
        return n()

    invite(2)
    few = reads()
    invite(8)
    assert reads() == few


# --- the page and the API ---------------------------------------------------------------------

def _form(challenge: Challenge, **overrides) -> dict:
    opens = (challenge.closes_at + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    closes = (challenge.closes_at + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")
    return {"stage_name": "Scale", "previous_stage_name": "Pilot", "prize_pool": "200000", "max_award": "50000",
            "opens_at": opens, "closes_at": closes, "invitation_only": "y", **overrides}


def test_the_add_stage_page(world, client, login):
    login(client, world.official)
    page = client.get(f"/challenges/{world.challenge.id}/next-stage")
    assert page.status_code == 200 and 'name="stage_name"' in page.get_data(as_text=True)
    show = client.get(f"/challenges/{world.challenge.id}").get_data(as_text=True)
    assert f"/challenges/{world.challenge.id}/next-stage" in show  # "Add the next stage"
    token = csrf_token_from(page.get_data(as_text=True))
    bad = client.post(f"/challenges/{world.challenge.id}/next-stage",
                      data={**_form(world.challenge, prize_pool="-3", stage_name=""), "csrf_token": token})
    assert bad.status_code == 422 and not queries.stages_of(world.challenge)[1:]
    early = client.post(f"/challenges/{world.challenge.id}/next-stage", data={
        **_form(world.challenge, opens_at=world.challenge.opens_at.strftime("%Y-%m-%dT%H:%M")), "csrf_token": token})
    assert early.status_code == 422 and "once the previous one has closed" in early.get_data(as_text=True)
    done = client.post(f"/challenges/{world.challenge.id}/next-stage", data={**_form(world.challenge),
                                                                            "csrf_token": token})
    assert done.status_code == 302
    stage = queries.stages_of(world.challenge)[1]
    assert done.headers["Location"].endswith(f"/challenges/{stage.id}")
    assert stage.prize_pool_cents == 20_000_000 and stage.invitation_only
    again = client.get(f"/challenges/{world.challenge.id}/next-stage")
    assert again.status_code == 200 and "already has a next stage" in again.get_data(as_text=True)
    twice = client.post(f"/challenges/{world.challenge.id}/next-stage", data={**_form(world.challenge),
                                                                             "csrf_token": token})
    assert twice.status_code == 409 and len(queries.stages_of(world.challenge)) == 2


def test_the_add_stage_page_refuses_the_wrong_people(world, client, login):
    assert client.get(f"/challenges/{world.challenge.id}/next-stage").status_code == 302  # sign in first
    login(client, world.innovator)
    assert client.get(f"/challenges/{world.challenge.id}/next-stage").status_code == 403
    other = client.application.test_client()
    login(other, make_city(name="Suva", country="FJI", fund_manager=world.fund_manager)[1])
    assert other.get(f"/challenges/{world.challenge.id}/next-stage").status_code == 403


def test_the_api_adds_a_stage(world, client, api_headers):
    url = f"/api/v1/challenges/{world.challenge.id}/stages"
    body = {"stage_name": "Scale", "prize_pool_cents": 20_000_000, "max_award_cents": 5_000_000,
            "opens_at": (world.challenge.closes_at + timedelta(days=1)).isoformat(),
            "closes_at": (world.challenge.closes_at + timedelta(days=61)).isoformat()}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=api_headers(world.innovator)).status_code == 403
    fm = api_headers(world.fund_manager)
    bad = client.post(url, json={**body, "prize_pool_cents": "many", "opens_at": "soon"}, headers=fm)
    assert bad.status_code == 422 and {"prize_pool_cents", "opens_at"} <= set(bad.get_json()["errors"])
    garbage = client.post(url, data="[not json", content_type="application/json", headers=fm)
    assert garbage.status_code in (400, 422)
    made = client.post(url, json=body, headers=fm)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["previous_stage_id"] == world.challenge.id and made.get_json()["status"] == "draft"
    assert client.post(url, json=body, headers=fm).status_code == 409
    assert "/challenges/{challenge_id}/stages" in str(client.get("/api/v1/openapi.json").get_json()["paths"])
