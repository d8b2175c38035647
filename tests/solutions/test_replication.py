"""Replication: a city official starts a draft challenge from a solution, pre-filled from the original; the
link is kept both ways; the original grantee is invited after commit; every refusal, on pages and API."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.challenges import services as challenge_services
from facility.challenges.models import Challenge, ChallengeStatus
from facility.cities.models import City
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants.models import Grant
from facility.solutions import queries, replication
from facility.solutions.models import Replication
from tests import factories
from tests.conftest import csrf_token_from


def _invitations(to: str) -> list[OutboundEmail]:
    return list(db.session.execute(sa.select(OutboundEmail).where(OutboundEmail.to_address == to,
                                                                  OutboundEmail.subject.like("%invited%"))).scalars())


def test_a_replication_is_a_draft_prefilled_from_the_original_and_keeps_its_link(scene):
    grant, grantee = scene.make_pilot(name="Origin", eligible_countries=["FJI"], eligible_org_types=["sme"])
    made = replication.start_replication(actor=scene.official, grant=grant, city=scene.city)
    db.session.commit()
    challenge, original = made.challenge, grant.challenge
    assert challenge.status == ChallengeStatus.DRAFT and challenge.city_id == scene.city.id
    assert challenge.created_by_id == scene.official.id
    assert (made.solution_grant_id, made.invited_organization_id, made.created_by_id) == (
        grant.id, grant.organization_id, scene.official.id)
    # pre-filled: the problem (summary and description), a line naming the solution, focus, SDGs, rubric
    assert challenge.title == original.title and challenge.summary == original.summary
    assert "Origin solution" in challenge.description and "Origin grantee" in challenge.description
    assert original.summary in challenge.description and "The original description." in challenge.description
    assert challenge.focus_area == original.focus_area and set(challenge.sdg_targets) == set(original.sdg_targets)
    assert [(c.name, c.weight) for c in challenge.criteria] == [(c.name, c.weight) for c in original.criteria]
    assert challenge.prize_pool_cents == original.prize_pool_cents
    assert challenge.opens_at > utcnow() and challenge.closes_at > challenge.opens_at
    # eligibility widened so the invited grantee (a Kenyan startup) and the new city may take part
    assert set(challenge.eligible_countries) == {"FJI", "FRA", "KEN"}
    assert set(challenge.eligible_org_types) == {"sme", "startup"}
    # the link, both ways
    assert db.session.execute(sa.select(Replication).where(Replication.challenge_id == challenge.id)).scalar_one() \
        is made
    assert [r.challenge_id for r in db.session.execute(
        sa.select(Replication).where(Replication.solution_grant_id == grant.id)).scalars()] == [challenge.id]
    actions = db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.object_type == "Replication")).scalars()
    assert list(actions) == ["solution.replication_started"]


def test_the_officials_own_eligibility_still_admits_the_invited_grantee(scene):
    grant, _ = scene.make_pilot(name="Narrowed")
    made = replication.start_replication(actor=scene.official, grant=grant, city=scene.city,
                                         eligible_countries=["UGA"], eligible_org_types=["ngo"])
    db.session.commit()
    assert set(made.challenge.eligible_countries) == {"UGA", "FRA", "KEN"}  # and the grantee's Kenya
    assert set(made.challenge.eligible_org_types) == {"ngo", "startup"}
    with pytest.raises(ValidationFailed):  # garbage is refused by the challenge's own checks, not a crash
        replication.start_replication(actor=scene.official, grant=grant, city=scene.city, eligible_countries=5)
    db.session.rollback()


def test_the_official_adapts_the_prefilled_fields(scene):
    grant, _ = scene.make_pilot(name="Adapted")
    made = replication.start_replication(actor=scene.official, grant=grant, city=scene.city, title="Lyon's version",
                                         prize_pool_cents=7_000_000, max_award_cents=1_000_000)
    assert (made.challenge.title, made.challenge.prize_pool_cents) == ("Lyon's version", 7_000_000)
    with pytest.raises(ValidationFailed) as refused:
        replication.start_replication(actor=scene.official, grant=grant, city=scene.city, title="",
                                      max_award_cents=10**15)
    assert {"title", "max_award_cents"} <= set(refused.value.errors)
    with pytest.raises(ValidationFailed) as refused:
        replication.start_replication(actor=scene.official, grant=grant, city=scene.city, city_id=3)
    assert "city_id" in refused.value.errors


def test_the_grantee_is_invited_by_email_after_commit_only(scene):
    grant, grantee = scene.make_pilot(name="Mail")
    replication.start_replication(actor=scene.official, grant=grant, city=scene.city)
    db.session.rollback()
    assert _invitations(grantee.email) == [] and db.session.execute(sa.select(Replication)).first() is None
    made = replication.start_replication(actor=scene.official, grant=grant, city=scene.city)
    db.session.commit()
    (mail,) = _invitations(grantee.email)
    assert "Mail solution" in mail.subject and "Lyon" in mail.subject
    assert f"/challenges/{made.challenge_id}" in mail.body and "open to other applicants" in mail.body


def test_the_draft_follows_the_usual_path_and_stays_open_to_everyone(scene, make_user):
    grant, _ = scene.make_pilot(name="Path")
    made = replication.start_replication(actor=scene.official, grant=grant, city=scene.city)
    challenge_services.submit_challenge(challenge=made.challenge, actor=scene.official)
    challenge_services.approve_challenge(challenge=made.challenge, actor=scene.manager)
    db.session.commit()
    assert made.challenge.status == ChallengeStatus.PUBLISHED
    assert made.challenge.eligible_org_types == [] and made.challenge.eligible_countries == []  # anyone may apply


def test_refused_for_a_non_solution_the_wrong_role_the_piloting_city_and_an_unverified_city(scene, make_user):
    grant, grantee = scene.make_pilot(name="Rules")
    partial, _ = scene.make_pilot(name="Partial", accepted=1)
    with pytest.raises(Conflict, match="Only a solution"):
        replication.start_replication(actor=scene.official, grant=partial, city=scene.city)
    for actor in (grantee, scene.manager, make_user("auditor"), make_user("donor"), make_user("reviewer")):
        with pytest.raises(PermissionDenied):
            replication.start_replication(actor=actor, grant=grant, city=scene.city)
    suva, suva_official = factories.cities.make_city(name="Suva", country="FJI", fund_manager=scene.manager)
    with pytest.raises(PermissionDenied):  # an official of another city, for this one
        replication.start_replication(actor=suva_official, grant=grant, city=scene.city)
    piloting = grant.challenge.city
    pilot_official = factories.accounts.make_user("city_official")
    pilot_official.organization_id = piloting.organization_id
    db.session.commit()
    with pytest.raises(Conflict, match="piloted in your city"):
        replication.start_replication(actor=pilot_official, grant=grant, city=piloting)
    recife, recife_official = factories.cities.make_city(name="Recife", country="BRA", verified=False)
    with pytest.raises(Conflict, match="not verified"):
        replication.start_replication(actor=recife_official, grant=grant, city=recife)
    db.session.rollback()
    assert db.session.execute(sa.select(Replication)).first() is None


# --- pages ------------------------------------------------------------------------------------------------

def test_the_form_is_prefilled_and_saving_makes_the_draft(scene, signed_in):
    grant, grantee = scene.make_pilot(name="Form")
    client = signed_in(scene.official)
    page = client.get(f"/solutions/{grant.id}/replicate")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="Form challenge"' in html and "The original description." in html and "Form grantee" in html
    assert "<label" in html
    opens, closes = utcnow() + timedelta(days=2), utcnow() + timedelta(days=40)
    data = {"csrf_token": csrf_token_from(html), "title": "Form, in Lyon", "summary": "Lyon's summary.",
            "description": "Lyon's problem.", "focus_area": "public_interest_tech", "sdg_targets": "11.1",
            "prize_pool": "50000", "max_award": "10000", "opens_at": opens.strftime("%Y-%m-%dT%H:%M"),
            "closes_at": closes.strftime("%Y-%m-%dT%H:%M"), "criteria-0-name": "Impact", "criteria-0-weight": "100"}
    response = client.post(f"/solutions/{grant.id}/replicate", data=data)
    assert response.status_code == 302
    made = db.session.execute(sa.select(Replication)).scalar_one()
    assert response.location.endswith(f"/challenges/{made.challenge_id}")
    assert made.challenge.title == "Form, in Lyon" and made.challenge.prize_pool_cents == 5_000_000
    # the challenge page names the solution it replicates; the solution page shows the draft to its city
    challenge_page = client.get(f"/challenges/{made.challenge_id}").get_data(as_text=True)
    assert "Replicates the solution" in challenge_page and f"/solutions/{grant.id}" in challenge_page
    assert "Form, in Lyon" in client.get(f"/solutions/{grant.id}").get_data(as_text=True)
    assert len(_invitations(grantee.email)) == 1


def test_garbage_in_the_form_is_shown_as_errors(scene, signed_in):
    grant, _ = scene.make_pilot(name="Garbage")
    client = signed_in(scene.official)
    token = csrf_token_from(client.get(f"/solutions/{grant.id}/replicate").get_data(as_text=True))
    for data in ({"title": ""}, {"title": "x" * 5000, "prize_pool": "lots", "opens_at": "yesterday"},
                 {"title": "T", "summary": "S", "description": "D", "focus_area": "nope", "sdg_targets": "99.9",
                  "prize_pool": "10", "max_award": "20", "opens_at": "2030-01-01T00:00",
                  "closes_at": "2029-01-01T00:00", "criteria-0-name": "A", "criteria-0-weight": "5"}):
        response = client.post(f"/solutions/{grant.id}/replicate", data={"csrf_token": token, **data})
        assert response.status_code == 422, data
        assert 'class="errors"' in response.get_data(as_text=True) or "errors" in response.get_data(as_text=True)
    assert db.session.execute(sa.select(Replication)).first() is None


def test_the_form_is_refused_to_others(scene, client, signed_in, make_user):
    grant, grantee = scene.make_pilot(name="Refused")
    partial, _ = scene.make_pilot(name="Partial", accepted=1)
    anonymous = client.get(f"/solutions/{grant.id}/replicate")
    assert anonymous.status_code == 302 and "/signin" in anonymous.location
    for user in (grantee, scene.manager, make_user("auditor")):
        assert signed_in(user).get(f"/solutions/{grant.id}/replicate").status_code == 403
    official = signed_in(scene.official)
    assert official.get("/solutions/999999/replicate").status_code == 404
    not_a_solution = official.get(f"/solutions/{partial.id}/replicate")
    assert not_a_solution.status_code == 302  # told why, on the library
    homeless = signed_in(make_user("city_official"))  # an official with no city yet
    assert homeless.get(f"/solutions/{grant.id}/replicate").status_code == 302


def test_drafts_are_shown_to_their_city_and_staff_not_to_the_public(scene, client, signed_in, make_user):
    grant, _ = scene.make_pilot(name="Hidden")
    made = replication.start_replication(actor=scene.official, grant=grant, city=scene.city, title="Secret draft")
    db.session.commit()
    assert "Secret draft" not in client.get(f"/solutions/{grant.id}").get_data(as_text=True)
    assert "Secret draft" not in client.get("/solutions").get_data(as_text=True)
    assert client.get(f"/api/v1/solutions/{grant.id}").get_json()["replications"] == []
    assert "Secret draft" in signed_in(scene.official).get(f"/solutions/{grant.id}").get_data(as_text=True)
    assert "Secret draft" in signed_in(scene.manager).get(f"/solutions/{grant.id}").get_data(as_text=True)
    assert "Secret draft" not in signed_in(make_user("innovator")).get(f"/solutions/{grant.id}").get_data(as_text=True)
    challenge_services.submit_challenge(challenge=made.challenge, actor=scene.official)
    challenge_services.approve_challenge(challenge=made.challenge, actor=scene.manager)
    db.session.commit()
    assert "Secret draft" in client.get(f"/solutions/{grant.id}").get_data(as_text=True)


def test_publishing_a_replication_refreshes_the_cached_library(scene, client, count_queries):
    grant, _ = scene.make_pilot(name="Cached")
    for path in (f"/solutions/{grant.id}", "/solutions", "/api/v1/solutions", f"/api/v1/solutions/{grant.id}"):
        first = client.get(path)
        with count_queries() as ran:
            again = client.get(path)
        assert again.status_code == first.status_code == 200 and ran() == 0, path  # the second from the cache
        assert again.headers["Cache-Control"] == "public, max-age=60", path
    assert "Not replicated yet." in client.get(f"/solutions/{grant.id}").get_data(as_text=True)
    made = replication.start_replication(actor=scene.official, grant=grant, city=scene.city, title="Now public")
    challenge_services.submit_challenge(challenge=made.challenge, actor=scene.official)
    challenge_services.approve_challenge(challenge=made.challenge, actor=scene.manager)
    db.session.commit()
    assert "Now public" in client.get(f"/solutions/{grant.id}").get_data(as_text=True)
    assert "Now public" in client.get("/solutions").get_data(as_text=True)


def test_replication_results_count_grants_and_money_paid(scene, client, monkeypatch):
    from facility.solutions import queries

    grant, _ = scene.make_pilot(name="Results")
    made = replication.start_replication(actor=scene.official, grant=grant, city=scene.city)
    db.session.commit()
    monkeypatch.setattr(queries, "replication_results", lambda ids: {made.challenge_id: (2, 123_400)})
    rows = queries.replications_of(scene.manager, [grant.id])[grant.id]
    assert (rows[0].grants_awarded, rows[0].paid_cents) == (2, 123_400)


def test_replication_results_read_the_grants_of_the_challenge(scene):
    from facility.solutions import queries

    pilot, _ = scene.make_pilot(name="Counted")
    assert queries.replication_results([pilot.challenge_id]) == {pilot.challenge_id: (1, 0)}
    assert queries.replication_results([]) == {}


# --- API --------------------------------------------------------------------------------------------------

def test_the_api_starts_a_replication(scene, client, api_headers, make_user):
    grant, grantee = scene.make_pilot(name="Api")
    partial, _ = scene.make_pilot(name="ApiPartial", accepted=1)
    url = f"/api/v1/solutions/{grant.id}/replications"
    assert client.post(url, json={}).status_code == 401
    for user in (grantee, scene.manager, make_user("auditor")):
        assert client.post(url, json={}, headers=api_headers(user)).status_code == 403
    headers = api_headers(scene.official)
    assert client.post(url, json={"prize_pool_cents": "lots", "title": 5}, headers=headers).status_code == 422
    refused = client.post(url, json={"max_award_cents": 10**14}, headers=headers)
    assert refused.status_code == 422 and "max_award_cents" in refused.get_json()["errors"]
    assert client.post(f"/api/v1/solutions/{partial.id}/replications", json={}, headers=headers).status_code == 409
    assert client.post("/api/v1/solutions/999999/replications", json={}, headers=headers).status_code == 404
    created = client.post(url, json={"title": "Via the API"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["solution_grant_id"] == grant.id and body["invited_organization_id"] == grant.organization_id
    challenge = client.get(body["challenge_url"], headers=headers).get_json()
    assert challenge["title"] == "Via the API" and challenge["status"] == "draft"
    assert len(_invitations(grantee.email)) == 1


def test_the_demo_has_a_replicated_solution(app):
    from facility import demo

    demo.seed(echo=lambda _msg: None)
    db.session.commit()
    (made,) = db.session.execute(sa.select(Replication)).scalars().all()
    assert made.challenge.status == ChallengeStatus.PUBLISHED and made.challenge.city.name == "Lyon"
    # the staged prize's pilot, proven, is replicated; its grantee is invited
    pilot = made.solution.challenge
    assert pilot.city.name == "Kathmandu" and pilot.stage_name == "Pilot"
    assert made.invited_organization_id == made.solution.organization_id
    # Suva's grant, whose last indicator value awaits verification, is not a solution yet
    suva = db.session.execute(sa.select(Grant).join(Challenge).join(City).where(City.name == "Suva")).scalars().all()
    assert suva and not any(queries.is_solution(grant.id) for grant in suva)
    client = app.test_client()
    assert "Safe water kiosks for Lyon" in client.get(f"/solutions/{made.solution_grant_id}").get_data(as_text=True)
    assert "Replicates the solution" in client.get(f"/challenges/{made.challenge_id}").get_data(as_text=True)


def test_anonymous_is_refused_by_the_service(scene):
    from flask_login import AnonymousUserMixin

    grant, _ = scene.make_pilot(name="Nobody")
    with pytest.raises(PermissionDenied):
        replication.start_replication(actor=AnonymousUserMixin(), grant=grant, city=scene.city)


def test_the_city_official_dashboard_links_the_solutions_to_replicate(scene, signed_in, make_user):
    official = signed_in(scene.official).get("/dashboard").get_data(as_text=True)
    assert "Solutions to replicate" in official and 'href="/solutions"' in official
    assert "Solutions to replicate" not in signed_in(make_user("innovator")).get("/dashboard").get_data(as_text=True)
