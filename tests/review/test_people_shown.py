"""Finding: city officials who observe a panel saw which reviewer reviewed which proposal. Outside the
facility people are shown by role ("a reviewer"), never by name, e-mail or id (accounts.policy.shown_name)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from facility.accounts.policy import shown_name
from facility.core.models import utcnow
from facility.extensions import db
from facility.review import panels
from facility.review.models import PanelRole
from tests.review.conftest import assign, submit


def _reviewer_traces(world) -> list[str]:
    traces = []
    for r in world.reviewers:
        traces += [r.name, r.email, f"user {r.id}", f"/users/{r.id}"]
    return traces


@pytest.fixture
def observed(world):
    panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=world.official,
                            role=PanelRole.OBSERVER)
    db.session.commit()
    for proposal, reviewer in zip(world.proposals, world.reviewers, strict=True):
        submit(world, assign(world, reviewer, proposal), [7, 8])
    return world


def test_an_observer_sees_roles_not_reviewers(client, observed, login):
    login(client, observed.official)
    page = client.get(f"/review/challenges/{observed.challenge.id}/panel")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for trace in _reviewer_traces(observed):
        assert trace not in html, trace
    assert html.count("a reviewer") >= 2 * len(observed.reviewers)  # members list and assignments
    assert observed.proposals[0].title in html  # progress is still there


def test_fund_managers_still_see_who_reviews_what(client, observed, login):
    login(client, observed.manager)
    html = client.get(f"/review/challenges/{observed.challenge.id}/panel").get_data(as_text=True)
    for reviewer in observed.reviewers:
        assert reviewer.name in html and reviewer.email in html


def test_the_closed_rounds_ranking_shows_officials_no_reviewer_names(client, observed, login):
    observed.scoring.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    login(client, observed.official)
    page = client.get(f"/review/challenges/{observed.challenge.id}/ranking")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for trace in _reviewer_traces(observed):
        assert trace not in html, trace
    assert observed.proposals[0].title in html


@pytest.mark.parametrize(("viewer_role", "sees_names"), [
    ("fund_manager", True), ("admin", True), ("auditor", True),
    ("city_official", False), ("innovator", False), ("donor", False), ("reviewer", False),
])
def test_shown_name(app, make_user, viewer_role, sees_names):
    viewer = make_user(viewer_role)
    manager = make_user("fund_manager", name="Fiona Manager")
    reviewer = make_user("reviewer", name="Rita Reviewer")
    with app.test_request_context():
        assert shown_name(viewer, manager) == ("Fiona Manager" if sees_names else "a fund manager")
        assert shown_name(viewer, reviewer) == ("Rita Reviewer" if sees_names else "a reviewer")
        assert shown_name(viewer, viewer) == viewer.name  # one's own name, always
        assert shown_name(None, manager) == "a fund manager"  # anonymous
        assert shown_name(viewer, None) == "the facility"
