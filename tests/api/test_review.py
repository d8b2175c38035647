"""Review API: the permission matrix, blindness on raw bytes, assignment, reviews, ranking, release gate."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the package's conftest
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.extensions import db
from facility.review import conflicts, panels
from facility.review.models import Assignment, PanelMember

# The review fixtures (a closed challenge with a panel: `world` here is review's), for this module only.
from tests.review.conftest import assert_blind, assign, make_world, review_the_rest, submit, world  # noqa: F401

# --- panel members -----------------------------------------------------------------------------------


def test_add_reviewer_permissions(client, world, make_user, api_headers):
    newcomer = make_user("reviewer")
    url = f"/api/v1/challenges/{world.challenge.id}/reviewers"
    assert client.post(url, json={"user_id": newcomer.id}).status_code == 401
    for user in (world.reviewers[0], world.official, world.applicants[0]):
        assert client.post(url, json={"user_id": newcomer.id}, headers=api_headers(user)).status_code == 403
    manager = api_headers(world.manager)
    response = client.post(url, json={"user_id": newcomer.id}, headers=manager)
    assert response.status_code == 201 and response.json["role"] == "reviewer"
    assert client.post(url, json={"user_id": newcomer.id}, headers=manager).status_code == 409
    bad = client.post(url, json={"user_id": world.applicants[0].id}, headers=manager)
    assert bad.status_code == 422 and "user_id" in bad.json["errors"]
    assert client.post(url, json={}, headers=manager).status_code == 422
    assert client.post("/api/v1/challenges/9999/reviewers", json={"user_id": newcomer.id},
                       headers=manager).status_code == 404


# --- conflicts -------------------------------------------------------------------------------------------


def test_declare_conflict_permissions(client, world, make_user, api_headers):
    url = f"/api/v1/proposals/{world.proposals[0].id}/conflicts"
    assert client.post(url, json={"reason": "x"}).status_code == 401
    assert client.post(url, json={"reason": "x"}, headers=api_headers(world.applicants[1])).status_code == 403
    off_panel = make_user("reviewer")
    assert client.post(url, json={"reason": "x"}, headers=api_headers(off_panel)).status_code == 404
    headers = api_headers(world.reviewers[0])
    assert client.post(url, json={}, headers=headers).status_code == 422
    response = client.post(url, json={"reason": "I mentored their founder"}, headers=headers)
    assert response.status_code == 201 and response.json["kind"] == "declared"
    assert_blind(world, response)
    assert client.post(url, json={"reason": "again"}, headers=headers).status_code == 409
    assert client.post("/api/v1/proposals/9999/conflicts", json={"reason": "x"}, headers=headers).status_code == 404


# --- assignment ------------------------------------------------------------------------------------------


def test_assign_through_the_api(client, world, api_headers):
    url = f"/api/v1/challenges/{world.challenge.id}/assignments"
    assert client.post(url, json={"reviewers_per_proposal": 2}).status_code == 401
    for user in (world.reviewers[0], world.official):
        assert client.post(url, json={"reviewers_per_proposal": 2}, headers=api_headers(user)).status_code == 403
    manager = api_headers(world.manager)
    bad = client.post(url, json={"reviewers_per_proposal": 0}, headers=manager)
    assert bad.status_code == 422 and "reviewers_per_proposal" in bad.json["errors"]
    conflicts.declare_conflict(actor=world.reviewers[2], proposal=world.proposals[0], reason="friend")
    db.session.commit()
    response = client.post(url, json={"reviewers_per_proposal": 3}, headers=manager)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["shortfalls"] == [{"proposal_id": world.proposals[0].id, "missing": 1}]
    assert "cannot reach 3 reviewers" in body["message"]
    assert sorted(x["load"] for x in body["loads"]) == [2, 3, 3]
    db.session.expire_all()
    pairs = set(db.session.execute(sa.select(Assignment.proposal_id, Assignment.reviewer_id)).all())
    assert (world.proposals[0].id, world.reviewers[2].id) not in pairs and len(pairs) == 8


def test_assign_needs_a_round(client, make_world, api_headers):
    world = make_world(panel=False)
    response = client.post(f"/api/v1/challenges/{world.challenge.id}/assignments",
                           json={"reviewers_per_proposal": 2}, headers=api_headers(world.manager))
    assert response.status_code == 409


# --- the reviewer's queue and blind review ------------------------------------------------------------------


def test_my_assignments_is_blind_paginated_and_own_only(client, world, api_headers, make_user):
    assign(world, world.reviewers[0], world.proposals[0])
    assign(world, world.reviewers[0], world.proposals[1])
    assign(world, world.reviewers[1], world.proposals[2])
    assert client.get("/api/v1/me/assignments").status_code == 401
    assert client.get("/api/v1/me/assignments", headers=api_headers(world.applicants[0])).status_code == 403
    response = client.get("/api/v1/me/assignments?per_page=1", headers=api_headers(world.reviewers[0]))
    assert response.status_code == 200
    assert response.json["total"] == 2 and len(response.json["items"]) == 1
    item = response.json["items"][0]
    assert item["proposal_id"] == world.proposals[0].id and item["status"] == "to_do"
    assert item["round"]["kind"] == "scoring" and item["title"] == "Solar kiosk plan 0"
    assert_blind(world, response)


def test_review_get_and_put_are_blind(client, world, api_headers):
    a = assign(world, world.reviewers[0], world.proposals[0])
    headers = api_headers(world.reviewers[0])
    url = f"/api/v1/proposals/{world.proposals[0].id}/review"
    page = client.get(url, headers=headers)
    assert page.status_code == 200
    assert page.json["proposal"]["attachments"] == [{"label": "Attachment 1 (PDF, 240 KB)"}]
    assert page.json["others"] is None and page.json["review"] is None
    assert "[…]" in page.json["proposal"]["approach"]  # the applicant naming itself is blanked
    assert_blind(world, page)
    c1, c2 = world.criteria
    draft = client.put(url, json={"scores": {str(c1.id): 7}, "comment": "Half done"}, headers=headers)
    assert draft.status_code == 200 and draft.json["review"]["status"] == "draft"
    assert_blind(world, draft)
    bad = client.put(url, json={"scores": {str(c1.id): 12}, "comment": "x"}, headers=headers)
    assert bad.status_code == 422 and f"scores.{c1.id}" in bad.json["errors"]
    incomplete = client.put(url, json={"scores": {str(c1.id): 7}, "comment": "", "submit": True}, headers=headers)
    assert incomplete.status_code == 422 and set(incomplete.json["errors"]) == {"comment", f"scores.{c2.id}"}
    done = client.put(url, json={"scores": {str(c1.id): 7, str(c2.id): 5}, "comment": "Sound plan", "submit": True},
                      headers=headers)
    assert done.status_code == 200 and done.json["review"]["status"] == "submitted"
    assert done.json["review"]["scores"] == {str(c1.id): 7, str(c2.id): 5}
    assert client.put(url, json={"scores": {}, "comment": "change"}, headers=headers).status_code == 409
    db.session.expire_all()
    assert a.review.comment == "Sound plan"


def test_review_refused_to_the_wrong_people(client, world, make_user, api_headers):
    a = assign(world, world.reviewers[0], world.proposals[0])
    url = f"/api/v1/proposals/{world.proposals[0].id}/review"
    body = {"scores": {}, "comment": "x"}
    assert client.get(url).status_code == 401
    assert client.put(url, json=body, headers=api_headers(world.applicants[0])).status_code == 403
    assert client.put(url, json=body, headers=api_headers(world.manager)).status_code == 403
    assert client.get(url, headers=api_headers(world.reviewers[1])).status_code == 404  # on panel, not assigned
    assert client.get(url, headers=api_headers(make_user("reviewer"))).status_code == 404  # not on the panel
    # Conflicted (organisation member, detected automatically): cannot open it even though assigned.
    world.reviewers[0].organization = world.orgs[0]
    db.session.commit()
    headers = api_headers(world.reviewers[0])
    assert client.get(url, headers=headers).status_code == 404
    assert client.put(url, json=body, headers=headers).status_code == 404
    # Removed from the panel: the assignment no longer opens.
    world.reviewers[0].organization = None
    db.session.execute(sa.delete(PanelMember).where(PanelMember.user_id == world.reviewers[0].id))
    db.session.commit()
    assert client.get(url, headers=headers).status_code == 404
    assert a.id


def test_others_visible_after_submitting_when_round_allows(client, world, api_headers):
    world.scoring.can_see_others = True
    db.session.commit()
    submit(world, assign(world, world.reviewers[1], world.proposals[0]), [9, 8], comment="Bold and clear")
    assign(world, world.reviewers[0], world.proposals[0])
    headers = api_headers(world.reviewers[0])
    url = f"/api/v1/proposals/{world.proposals[0].id}/review"
    before = client.get(url, headers=headers)
    assert before.json["others"] is None and b"Bold and clear" not in before.get_data()
    c1, c2 = world.criteria
    after = client.put(url, json={"scores": {str(c1.id): 3, str(c2.id): 3}, "comment": "Weak", "submit": True},
                       headers=headers)
    assert after.json["others"] == [{"label": "Reviewer A", "scores": {str(c1.id): 9, str(c2.id): 8},
                                     "eligible": None, "comment": "Bold and clear"}]
    assert b"Rita Reviewer1" not in after.get_data()


# --- ranking, waivers, decisions --------------------------------------------------------------------------------


def test_ranking_permissions_and_content(client, world, make_user, make_org, api_headers):
    submit(world, assign(world, world.reviewers[0], world.proposals[0]), [8, 8])
    submit(world, assign(world, world.reviewers[0], world.proposals[1]), [4, 4])
    url = f"/api/v1/challenges/{world.challenge.id}/ranking"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=api_headers(world.reviewers[0])).status_code == 403
    assert client.get(url, headers=api_headers(world.applicants[0])).status_code == 403
    assert client.get(url, headers=api_headers(world.official)).status_code == 403  # round still open
    response = client.get(url, headers=api_headers(world.manager))
    assert response.status_code == 200
    body = response.json
    assert body["total"] == 3 and "z-scores" in body["method"]
    assert [(i["proposal_id"], i["rank"]) for i in body["items"]] == [
        (world.proposals[0].id, 1), (world.proposals[1].id, 2), (world.proposals[2].id, None)]
    panels.close_round(actor=world.manager, round_=world.scoring)
    db.session.commit()
    assert client.get(url, headers=api_headers(world.official)).status_code == 200
    from facility.accounts.models import OrgKind

    other_city = make_user("city_official", organization=make_org(name="Other city", kind=OrgKind.CITY))
    assert client.get(url, headers=api_headers(other_city)).status_code == 403
    assert client.get(url + "?round=shortlist", headers=api_headers(world.manager)).status_code == 404
    assert client.get(url + "?round=bogus", headers=api_headers(world.manager)).status_code == 422


def test_release_gate_is_409_until_reviews_are_in_or_waived(client, world, api_headers):
    a = assign(world, world.reviewers[0], world.proposals[0])
    manager = api_headers(world.manager)
    base = f"/api/v1/challenges/{world.challenge.id}/decisions"
    unreviewed = client.post(base + "/release", headers=manager)  # nothing pending, but first: nobody reviews 2 of 3
    assert unreviewed.status_code == 409 and "2 submitted proposals have no reviewer" in unreviewed.json["detail"]
    review_the_rest(world)
    prepared = client.post(base, json={"proposal_id": world.proposals[0].id, "kind": "shortlist"}, headers=manager)
    assert prepared.status_code == 201 and prepared.json["status"] == "pending"
    assert client.post(base, json={"proposal_id": world.proposals[0].id, "kind": "crown"},
                       headers=manager).status_code == 422
    assert client.post(base, json={"proposal_id": 9999, "kind": "decline"}, headers=manager).status_code == 422
    assert client.post(base + "/release", headers=api_headers(world.reviewers[0])).status_code == 403
    blocked = client.post(base + "/release", headers=manager)
    assert blocked.status_code == 409 and blocked.content_type.startswith("application/problem+json")
    waive_url = f"/api/v1/assignments/{a.id}/waive"
    assert client.post(waive_url, json={"reason": "ill"}, headers=api_headers(world.reviewers[0])).status_code == 403
    assert client.post(waive_url, json={}, headers=manager).status_code == 422
    assert client.post(waive_url, json={"reason": "Reviewer fell ill"}, headers=manager).status_code == 200
    alone = client.post(base + "/release", headers=manager)  # its only review waived: it has no reviewer now
    assert alone.status_code == 409 and world.proposals[0].title in alone.json["detail"]
    submit(world, assign(world, world.reviewers[1], world.proposals[0]), [7, 7])
    released = client.post(base + "/release", headers=manager)
    assert released.status_code == 200 and released.json == {"released": 1}
    db.session.expire_all()
    assert world.proposals[0].status.value == "shortlisted"


@pytest.mark.parametrize("path", ["/challenges/{c}/reviewers", "/proposals/{p}/conflicts", "/challenges/{c}/assignments",
                                  "/me/assignments", "/proposals/{p}/review", "/challenges/{c}/ranking",
                                  "/assignments/{a}/waive", "/challenges/{c}/decisions",
                                  "/challenges/{c}/decisions/release"])
def test_routes_are_in_the_openapi_document(client, path):
    spec = client.get("/api/v1/openapi.json").json
    templated = path.replace("{c}", "{challenge_id}").replace("{p}", "{proposal_id}").replace("{a}", "{assignment_id}")
    assert "/api/v1" + templated in spec["paths"]
