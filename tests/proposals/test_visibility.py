"""Who sees a proposal, on pages and in the API, before and after the deadline."""
from __future__ import annotations

from facility.extensions import db
from facility.proposals import policy
from tests.proposals.conftest import AFTER_CLOSE


def _sees(client, proposal, user, api_headers, login) -> tuple[int, int]:
    """(page status, API status) for `user` looking at `proposal`."""
    if user is None:
        page = client.get(f"/proposals/{proposal.id}").status_code
        api = client.get(f"/api/v1/proposals/{proposal.id}").status_code
        return page, api
    api = client.get(f"/api/v1/proposals/{proposal.id}", headers=api_headers(user)).status_code
    login(client, user)
    page = client.get(f"/proposals/{proposal.id}").status_code
    client.post("/signout", data={"csrf_token": _csrf(client)})
    return page, api


def _csrf(client):
    from tests.conftest import get_csrf

    return get_csrf(client, "/dashboard")


EXPECTED_OPEN = {  # while the challenge is open, for a submitted proposal
    "owner": 200, "colleague": 200, "fund_manager": 200, "admin": 200,
    "other_innovator": 404, "official": 404, "other_official": 404, "reviewer": 404, "donor": 404,
}


def test_matrix_while_open(app, challenge, make_proposal, people, api_headers, login):
    proposal = make_proposal(challenge, submit=True)
    for name, status in EXPECTED_OPEN.items():
        client = app.test_client()
        assert _sees(client, proposal, people[name], api_headers, login) == (status, status), name
    page, api = _sees(app.test_client(), proposal, None, api_headers, login)
    assert (page, api) == (404, 401)


def test_matrix_after_close(app, clock, challenge, make_proposal, people, api_headers, login):
    submitted = make_proposal(challenge, submit=True)
    draft = make_proposal(challenge, user=people["other_innovator"])
    clock.move_to(AFTER_CLOSE)
    expected = dict(EXPECTED_OPEN, official=200)
    for name, status in expected.items():
        assert _sees(app.test_client(), submitted, people[name], api_headers, login) == (status, status), name
    # Drafts stay with the applicant and the facility, also after close.
    assert _sees(app.test_client(), draft, people["official"], api_headers, login) == (404, 404)
    assert _sees(app.test_client(), draft, people["other_innovator"], api_headers, login) == (200, 200)
    assert _sees(app.test_client(), draft, people["fund_manager"], api_headers, login) == (200, 200)


def test_withdrawn_hidden_from_city_after_close(app, clock, challenge, make_proposal, people, api_headers, login):
    from facility.proposals import services

    proposal = make_proposal(challenge, submit=True)
    services.withdraw_proposal(actor=people["owner"], proposal=proposal)
    db.session.commit()
    clock.move_to(AFTER_CLOSE)
    assert _sees(app.test_client(), proposal, people["official"], api_headers, login) == (404, 404)


def test_reviewers_and_strangers_read_snapshots_not_proposals(app, challenge, make_proposal, people, api_headers,
                                                               login):
    """There is no hook that widens who sees a live proposal (the dead view-rule registry went):
    reviewers read the frozen snapshot through the review pages."""
    proposal = make_proposal(challenge, submit=True)
    reviewer = people["reviewer"]
    assert policy.can_view(reviewer, proposal) is not None
    assert policy.can_view(people["donor"], proposal) is not None
    assert policy.can_view(None, proposal) is not None
    assert policy.can_edit(reviewer, proposal) is not None
    assert _sees(app.test_client(), proposal, reviewer, api_headers, login) == (404, 404)
