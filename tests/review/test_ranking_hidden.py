"""Finding: an unpublished challenge's ranking must not tell outsiders the challenge exists: the same
404 as for an id that does not exist (pages, CSV, API, and the policy itself); insiders who may know
it (the city's officials, its panel) still get 403 when their role or the round does not allow it."""
from __future__ import annotations

import pytest

from facility.challenges.models import ChallengeStatus
from facility.core.errors import NotFound, PermissionDenied
from facility.extensions import db
from facility.review import policy
from tests import factories

UNPUBLISHED = ["draft", "pending_approval", "cancelled"]


@pytest.fixture
def people(world, make_user):
    other_city, _ = factories.cities.make_city(via="models", name="Suva", country="FJI", org_name="Suva City")
    return {
        "outsiders": {"innovator": world.applicants[0], "donor": make_user("donor"),
                      "other_official": make_user("city_official", organization=other_city.organization),
                      "reviewer_not_on_panel": make_user("reviewer")},
        "insiders": {"official": world.official, "panel_reviewer": world.reviewers[0]},
    }


def _unpublish(world, state: str) -> None:
    world.challenge.status = ChallengeStatus(state)
    db.session.commit()


@pytest.mark.parametrize("state", UNPUBLISHED)
def test_the_policy_hides_an_unpublished_ranking_from_outsiders(world, people, state):
    _unpublish(world, state)
    for name, user in people["outsiders"].items():
        refusal = policy.can_see_ranking(user, world.scoring)
        assert refusal is not None and refusal.error is NotFound, name
    for name, user in people["insiders"].items():
        refusal = policy.can_see_ranking(user, world.scoring)
        assert refusal is not None and refusal.error is PermissionDenied, name
    assert policy.can_see_ranking(world.manager, world.scoring) is None


@pytest.mark.parametrize("state", UNPUBLISHED)
def test_pages_and_api_answer_outsiders_as_for_a_missing_challenge(app, world, people, login, api_headers, state):
    _unpublish(world, state)
    c = world.challenge.id
    for name, user in people["outsiders"].items():
        client = login(app.test_client(), user)
        headers = api_headers(user)
        for suffix in ("", "?round=shortlist"):
            for path in ("/review/challenges/{}/ranking", "/review/challenges/{}/ranking.csv"):
                there = client.get(path.format(c) + suffix)
                missing = client.get(path.format(999_999) + suffix)
                assert there.status_code == missing.status_code == 404, (name, path, suffix)
            there = client.get(f"/api/v1/challenges/{c}/ranking{suffix}", headers=headers)
            missing = client.get(f"/api/v1/challenges/999999/ranking{suffix}", headers=headers)
            assert there.status_code == missing.status_code == 404, (name, suffix)
            assert there.get_json()["detail"] == missing.get_json()["detail"]


@pytest.mark.parametrize("state", UNPUBLISHED)
def test_insiders_who_may_know_it_are_told_403(app, world, people, login, api_headers, state):
    _unpublish(world, state)
    for name, user in people["insiders"].items():
        client = login(app.test_client(), user)
        assert client.get(f"/review/challenges/{world.challenge.id}/ranking").status_code == 403, name
        response = client.get(f"/api/v1/challenges/{world.challenge.id}/ranking", headers=api_headers(user))
        assert response.status_code == 403, name


def test_anonymous_callers_learn_nothing_either(client, world):
    _unpublish(world, "draft")
    assert client.get(f"/api/v1/challenges/{world.challenge.id}/ranking").status_code == \
        client.get("/api/v1/challenges/999999/ranking").status_code == 401
    there = client.get(f"/review/challenges/{world.challenge.id}/ranking")
    assert there.status_code == 302 and "/signin" in there.headers["Location"]
