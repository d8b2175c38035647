"""Declared affiliations: the conflict rules they add (by link, by name, by domain, only recent ones), the
assignment they stop, the pages and API, who may use them, and flat query counts."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.extensions import db
from facility.review import affiliations, assignments, facts
from facility.review.models import Assignment, ConflictReason, ReviewerAffiliation
from tests.conftest import get_csrf
from tests.review.conftest import assign

THIS_YEAR = utcnow().year


def _declare(reviewer, **fields) -> ReviewerAffiliation:
    affiliation = affiliations.add_affiliation(actor=reviewer, **fields)
    db.session.commit()
    return affiliation


def _reasons(world, proposal, reviewer) -> list[ConflictReason]:
    return facts.detect_conflicts([proposal], [reviewer]).get((proposal.id, reviewer.id), [])


# --- the rules --------------------------------------------------------------------------------------------


def test_declared_organisation_by_link(world):
    reviewer, (p0, p1, _p2) = world.reviewers[0], world.proposals
    affiliation = _declare(reviewer, organization_name="Zebracorp0 Water Labs")
    assert affiliation.organization_id == world.orgs[0].id  # linked: the one organisation of that name
    affiliation.organization_name = "Zebra Water (renamed since)"  # the link alone still matches
    db.session.commit()
    assert _reasons(world, p0, reviewer) == [ConflictReason.AFFILIATION]
    assert _reasons(world, p1, reviewer) == []
    assert _reasons(world, p0, world.reviewers[1]) == []


def test_declared_organisation_by_name_case_insensitively(world):
    reviewer, p1 = world.reviewers[0], world.proposals[1]
    db.session.add(ReviewerAffiliation(reviewer_id=reviewer.id, organization_name="  zebracorp1   WATER labs "))
    db.session.commit()
    assert _reasons(world, p1, reviewer) == [ConflictReason.AFFILIATION]
    assert _reasons(world, world.proposals[0], reviewer) == []


def test_declared_domain_matches_the_members_mail_and_the_website(world):
    reviewer, (p0, p1, p2) = world.reviewers[0], world.proposals
    _declare(reviewer, organization_name="Some lab", website_domain="https://www.Zebracorp1.example/team")
    world.orgs[2].website = "https://www.kiosk2.example/about"
    db.session.commit()
    _declare(reviewer, organization_name="Other lab", website_domain="kiosk2.example")
    assert db.session.scalars(sa.select(ReviewerAffiliation.website_domain).order_by(ReviewerAffiliation.id)).all() \
        == ["zebracorp1.example", "kiosk2.example"]
    assert _reasons(world, p1, reviewer) == [ConflictReason.WEBSITE]
    assert _reasons(world, p2, reviewer) == [ConflictReason.WEBSITE]
    assert _reasons(world, p0, reviewer) == []


def test_the_reviewers_own_organisations_website(world, make_org):
    reviewer, p0 = world.reviewers[0], world.proposals[0]
    world.orgs[0].website = "zebracorp0.example"
    own = make_org(name="Zebracorp Holding")
    own.website = "http://zebracorp0.example"
    reviewer.organization_id = own.id
    db.session.commit()
    assert _reasons(world, p0, reviewer) == [ConflictReason.WEBSITE]
    assert _reasons(world, world.proposals[1], reviewer) == []


def test_webmail_domains_never_match(world):
    reviewer, p0 = world.reviewers[0], world.proposals[0]
    world.orgs[0].website = "gmail.com"
    db.session.commit()
    _declare(reviewer, organization_name="Myself", website_domain="gmail.com")
    assert _reasons(world, p0, reviewer) == []


@pytest.mark.parametrize(("to_year", "counts"), [
    (None, True), (THIS_YEAR, True), (THIS_YEAR - 3, True), (THIS_YEAR - 4, False), (THIS_YEAR - 10, False)])
def test_only_affiliations_of_the_last_three_years_count(world, to_year, counts):
    reviewer, p0 = world.reviewers[0], world.proposals[0]
    _declare(reviewer, organization_name="Zebracorp0 Water Labs", website_domain="zebracorp0.example",
             from_year=2000, to_year=to_year)
    expected = [ConflictReason.AFFILIATION, ConflictReason.WEBSITE] if counts else []
    assert _reasons(world, p0, reviewer) == expected


def test_an_affiliation_stops_an_assignment(world):
    reviewer = world.reviewers[0]
    existing = assign(world, reviewer, world.proposals[0])
    _declare(reviewer, organization_name="Zebracorp0 Water Labs")
    assignments.auto_assign(actor=world.manager, round_=world.scoring, per_proposal=2)
    db.session.commit()
    pairs = set(db.session.execute(sa.select(Assignment.proposal_id, Assignment.reviewer_id)
                                   .where(Assignment.round_id == world.scoring.id)).all())
    assert (world.proposals[0].id, reviewer.id) not in pairs  # removed: conflicted since the declaration
    assert db.session.get(Assignment, existing.id) is None
    assert {(p.id, r.id) for p in world.proposals[1:] for r in [reviewer]} <= pairs
    with pytest.raises(Conflict, match="conflict of interest"):
        assignments.add_assignment(actor=world.manager, round_=world.scoring, proposal=world.proposals[0],
                                   reviewer=reviewer)


def test_detection_query_count_is_flat(make_world, count_queries):
    world = make_world(n_proposals=6, n_reviewers=5)
    for n, reviewer in enumerate(world.reviewers):
        for i in range(1 + n):
            db.session.add(ReviewerAffiliation(reviewer_id=reviewer.id, organization_name=f"Org {i}",
                                               website_domain=f"org{i}.example", to_year=None))
    world.reviewers[3].organization_id = world.orgs[5].id
    db.session.commit()

    def reads(proposals, reviewers) -> int:
        for obj in proposals + reviewers:
            db.session.refresh(obj)
        with count_queries() as n:
            facts.detect_conflicts(proposals, reviewers)
        return n()

    assert reads(world.proposals[:1], world.reviewers[:1]) == reads(world.proposals, world.reviewers) == 4


# --- services: validation, ownership, audit ---------------------------------------------------------------


@pytest.mark.parametrize(("fields", "field"), [
    ({"organization_name": ""}, "organization_name"),
    ({"organization_name": "x" * 201}, "organization_name"),
    ({"organization_name": "A", "website_domain": "not a domain"}, "website_domain"),
    ({"organization_name": "A", "from_year": 2024, "to_year": 2020}, "to_year"),
    ({"organization_name": "A", "to_year": THIS_YEAR + 1}, "to_year"),
    ({"organization_name": "A", "from_year": "2020"}, "from_year"),
])
def test_bad_input_is_refused_by_field(world, fields, field):
    with pytest.raises(ValidationFailed) as refused:
        affiliations.add_affiliation(actor=world.reviewers[0], **fields)
    assert field in refused.value.errors


def test_only_reviewers_declare_and_only_their_own_is_removed(world):
    with pytest.raises(PermissionDenied):
        affiliations.add_affiliation(actor=world.applicants[0], organization_name="A")
    mine = _declare(world.reviewers[0], organization_name="Acme")
    with pytest.raises(NotFound):
        affiliations.remove_affiliation(actor=world.reviewers[1], affiliation=mine)
    affiliations.remove_affiliation(actor=world.reviewers[0], affiliation=mine)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(ReviewerAffiliation.id))) == 0
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["review.affiliation_added", "review.affiliation_removed"]


# --- pages --------------------------------------------------------------------------------------------------


def test_reviewer_adds_and_removes_on_the_page(client, world, login):
    reviewer = world.reviewers[0]
    login(client, reviewer)
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "/review/affiliations" in dashboard
    token = get_csrf(client, "/review/affiliations")
    bad = client.post("/review/affiliations", data={"csrf_token": token, "organization_name": "Acme",
                                                    "website_domain": "no domain here"})
    assert bad.status_code == 422 and "such as example.org" in bad.get_data(as_text=True)
    done = client.post("/review/affiliations", data={"csrf_token": token, "organization_name": "Zebracorp0 Water Labs",
                                                     "website_domain": "zebracorp0.example", "from_year": "2020"},
                       follow_redirects=True)
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and "Zebracorp0 Water Labs" in page and "2020 to now" in page
    affiliation = db.session.scalars(sa.select(ReviewerAffiliation)).one()
    panel = client.get(f"/review/challenges/{world.challenge.id}").get_data(as_text=True)
    assert "declared working with the applicant organisation in the last three years" in panel
    removed = client.post(f"/review/affiliations/{affiliation.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(ReviewerAffiliation.id))) == 0


def test_page_permissions(client, world, login):
    mine = _declare(world.reviewers[0], organization_name="Acme")
    member_page = f"/review/challenges/{world.challenge.id}/reviewers/{world.reviewers[0].id}/affiliations"
    for path in ("/review/affiliations", member_page):
        assert client.get(path).status_code == 302  # anonymous: to sign in
    assert client.post(f"/review/affiliations/{mine.id}/remove").status_code in (302, 400)
    other = login(client.application.test_client(), world.reviewers[1])
    token = get_csrf(other, "/review/affiliations")
    assert "Acme" not in other.get("/review/affiliations").get_data(as_text=True)
    assert other.post(f"/review/affiliations/{mine.id}/remove", data={"csrf_token": token}).status_code == 404
    assert other.get(member_page).status_code == 403
    innovator = login(client.application.test_client(), world.applicants[0])
    token = get_csrf(innovator, "/profile")
    assert innovator.get("/review/affiliations").status_code == 403
    assert innovator.post("/review/affiliations", data={"csrf_token": token, "organization_name": "X"}).status_code \
        == 403
    assert innovator.post(f"/review/affiliations/{mine.id}/remove", data={"csrf_token": token}).status_code == 403
    assert innovator.get(member_page).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(ReviewerAffiliation.id))) == 1
    manager = login(client.application.test_client(), world.manager)
    shown = manager.get(member_page)
    assert shown.status_code == 200 and "Acme" in shown.get_data(as_text=True)
    panel = manager.get(f"/review/challenges/{world.challenge.id}/panel").get_data(as_text=True)
    assert member_page in panel
    assert manager.get(f"/review/challenges/{world.challenge.id}/reviewers/{world.applicants[0].id}/affiliations"
                       ).status_code == 404  # not on the panel


# --- API ------------------------------------------------------------------------------------------------------


def test_api_round_trip(client, world, api_headers):
    headers = api_headers(world.reviewers[0])
    created = client.post("/api/v1/me/affiliations", headers=headers,
                          json={"organization_name": "Zebracorp0 Water Labs", "website_domain": "www.zebracorp0.example",
                                "from_year": 2021, "to_year": THIS_YEAR - 1})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["organization_id"] == world.orgs[0].id and body["website_domain"] == "zebracorp0.example"
    listed = client.get("/api/v1/me/affiliations", headers=headers).get_json()
    assert [a["id"] for a in listed["items"]] == [body["id"]] and listed["total"] == 1
    other = api_headers(world.reviewers[1])
    assert client.get("/api/v1/me/affiliations", headers=other).get_json()["items"] == []
    assert client.delete(f"/api/v1/me/affiliations/{body['id']}", headers=other).status_code == 404
    bad = client.post("/api/v1/me/affiliations", headers=headers, json={"organization_name": "A", "from_year": 2024,
                                                                        "to_year": 2020})
    assert bad.status_code == 422 and "to_year" in str(bad.get_json())
    assert client.delete(f"/api/v1/me/affiliations/{body['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me/affiliations", headers=headers).get_json()["total"] == 0


def test_api_refusals(client, world, api_headers):
    mine = _declare(world.reviewers[0], organization_name="Acme")
    for method, path in (("get", "/api/v1/me/affiliations"), ("post", "/api/v1/me/affiliations"),
                         ("delete", f"/api/v1/me/affiliations/{mine.id}")):
        assert getattr(client, method)(path, json={"organization_name": "X"}).status_code == 401
        assert getattr(client, method)(path, json={"organization_name": "X"},
                                       headers=api_headers(world.applicants[0])).status_code == 403
        assert getattr(client, method)(path, json={"organization_name": "X"},
                                       headers=api_headers(world.manager)).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(ReviewerAffiliation.id))) == 1


def test_openapi_documents_the_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    path = next(p for p in paths if p.endswith("/me/affiliations"))
    assert {"get", "post"} <= set(paths[path])
    assert "delete" in paths[next(p for p in paths if p.endswith("/me/affiliations/{affiliation_id}"))]
