"""A draft's milestone indicators: named and removed by the applicant while the proposal is a draft, each term
checked; frozen into the submission snapshot; on the proposal's page and in the API."""
from __future__ import annotations

from datetime import timedelta

import pytest

from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals import indicators
from facility.proposals.indicator_models import Direction
from facility.proposals.models import ProposalStatus
from facility.proposals.services import snapshot_data, update_proposal
from tests import factories
from tests.conftest import csrf_token_from

GOOD = dict(milestone_position=1, code="EC: I: WS: 1C", unit="%", baseline="40", target="80.5",
            direction="increase", method="Household survey")


@pytest.fixture
def draft(app, make_user):
    city, _ = factories.cities.make_city(via="models", name="Gulu", org_name="Gulu City", country="UGA")
    now = utcnow()
    challenge = factories.challenges.make_challenge(city, via="models", state="published", title="Water for Gulu",
                                                    opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30))
    owner = make_user("innovator", organization=factories.accounts.make_org(name="Pumps Ltd"))
    proposal = factories.proposals.make_proposal(challenge, via="models", org=owner.organization, title="Pumps",
                                                 amounts=(1_000_000, 500_000), status=ProposalStatus.DRAFT)
    return proposal, owner


def test_the_applicant_names_and_removes_an_indicator(draft):
    proposal, owner = draft
    item = indicators.add_milestone_indicator(proposal=proposal, actor=owner, **GOOD)
    db.session.commit()
    assert (item.code, item.baseline, item.target, item.direction) == ("EC: I: WS: 1C", 40, 80.5, Direction.INCREASE)
    with pytest.raises(ValidationFailed, match="needs attention") as caught:
        indicators.add_milestone_indicator(proposal=proposal, actor=owner, **GOOD)
    assert "already names" in caught.value.errors["code"][0]
    db.session.rollback()
    indicators.remove_milestone_indicator(proposal=proposal, actor=owner, indicator_id=item.id)
    db.session.commit()
    assert proposal.milestone_indicators == []
    with pytest.raises(ValidationFailed):
        indicators.remove_milestone_indicator(proposal=proposal, actor=owner, indicator_id=item.id)
    db.session.rollback()


@pytest.mark.parametrize("field, value", [
    ("code", "nope"), ("code", None), ("direction", "sideways"), ("baseline", "x"), ("target", ""),
    ("target", "40"), ("milestone_position", 9), ("milestone_position", "1"), ("milestone_position", True),
    ("unit", "u" * 41), ("method", "m" * 1001),
])
def test_each_term_is_checked(draft, field, value):
    proposal, owner = draft
    with pytest.raises(ValidationFailed) as caught:
        indicators.add_milestone_indicator(proposal=proposal, actor=owner, **{**GOOD, field: value})
    assert field in caught.value.errors or (field == "target" and "target" in caught.value.errors)
    db.session.rollback()


def test_a_decrease_needs_a_target_below_the_baseline(draft):
    proposal, owner = draft
    with pytest.raises(ValidationFailed):
        indicators.add_milestone_indicator(proposal=proposal, actor=owner, **{**GOOD, "direction": "decrease"})
    db.session.rollback()
    item = indicators.add_milestone_indicator(proposal=proposal, actor=owner,
                                              **{**GOOD, "direction": "decrease", "target": "10"})
    assert item.target == 10


def test_others_and_submitted_proposals_are_refused(draft, make_user, make_org):
    proposal, owner = draft
    for actor in (make_user("innovator", organization=make_org(name="Other")), make_user("fund_manager"),
                  make_user("auditor")):
        with pytest.raises(PermissionDenied):
            indicators.add_milestone_indicator(proposal=proposal, actor=actor, **GOOD)
        db.session.rollback()
    proposal.status = ProposalStatus.SUBMITTED
    db.session.commit()
    with pytest.raises(Conflict):
        indicators.add_milestone_indicator(proposal=proposal, actor=owner, **GOOD)
    db.session.rollback()


def test_the_snapshot_freezes_the_indicators(draft):
    proposal, owner = draft
    indicators.add_milestone_indicator(proposal=proposal, actor=owner, **GOOD)
    assert snapshot_data(proposal)["milestone_indicators"] == [
        {"milestone_position": 1, "code": "EC: I: WS: 1C", "unit": "%", "baseline": "40", "target": "80.5",
         "direction": "increase", "method": "Household survey"}]


def test_the_page_shows_and_adds_indicators(draft, signed_in):
    proposal, owner = draft
    client = signed_in(owner)
    html = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert "Add the indicator" in html
    token = csrf_token_from(html)
    data = {"csrf_token": token, "indicator-milestone_position": "1", "indicator-code": "11.6.1",
            "indicator-unit": "%", "indicator-baseline": "20", "indicator-target": "abc",
            "indicator-direction": "increase", "indicator-method": ""}
    bad = client.post(f"/proposals/{proposal.id}/indicators", data=data)
    assert bad.status_code == 422 and "Give a number" in bad.get_data(as_text=True)
    ok = client.post(f"/proposals/{proposal.id}/indicators", data={**data, "indicator-target": "60"})
    assert ok.status_code == 302
    html = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert "Municipal solid waste collected" in html
    item = proposal.milestone_indicators[0]
    gone = client.post(f"/proposals/{proposal.id}/indicators/remove",
                       data={"csrf_token": token, "remove-indicator_id": str(item.id)})
    assert gone.status_code == 302
    db.session.expire_all()
    assert proposal.milestone_indicators == []


def test_the_api_adds_lists_and_removes(draft, client, api_headers, make_user, make_org):
    proposal, owner = draft
    headers = api_headers(owner)
    url = f"/api/v1/proposals/{proposal.id}/milestone-indicators"
    created = client.post(url, json=GOOD, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["target"] == "80.5"
    bad = client.post(url, json={**GOOD, "code": "11.6.1", "baseline": "many"}, headers=headers)
    assert bad.status_code == 422 and "baseline" in str(bad.get_json())
    assert [i["code"] for i in client.get(url, headers=headers).get_json()["items"]] == ["EC: I: WS: 1C"]
    outsider = api_headers(make_user("innovator", organization=make_org(name="Nosy")))
    assert client.post(url, json=GOOD, headers=outsider).status_code == 404
    assert client.get(url).status_code == 401
    assert client.post(url, json=GOOD, headers=api_headers(make_user("donor"))).status_code == 404  # a draft is hidden
    assert client.post(url, json=GOOD, headers=api_headers(make_user("fund_manager"))).status_code == 403
    removed = client.post(url + "/remove", json={"indicator_id": created.get_json()["id"]}, headers=headers)
    assert removed.status_code == 204
    assert client.post(url + "/remove", json={"indicator_id": "x"}, headers=headers).status_code == 422


def _milestones(proposal) -> list[dict]:
    return [{"title": m.title, "deliverable": m.deliverable, "amount_cents": m.amount_cents, "due_date": m.due_date}
            for m in proposal.milestones]


def test_indicators_follow_their_milestone_when_the_list_is_reordered_or_shortened(draft):
    proposal, owner = draft
    first, second = _milestones(proposal)
    assert first["title"] != second["title"]
    indicators.add_milestone_indicator(proposal=proposal, actor=owner, **{**GOOD, "milestone_position": 2})
    db.session.commit()
    update_proposal(actor=owner, proposal=proposal, data={"milestones": [second, first]})  # reordered
    db.session.commit()
    (item,) = proposal.milestone_indicators
    assert item.milestone_position == 1 and proposal.milestones[0].title == second["title"]
    update_proposal(actor=owner, proposal=proposal, data={"milestones": [first]})  # its milestone deleted
    db.session.commit()
    assert proposal.milestone_indicators == []
