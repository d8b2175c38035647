"""Dashboards say what waits for each role, with counts that link to the work; the query count does not
grow with the rows; the innovator's dashboard tells the released decision, not "Submitted"."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.extensions import db
from facility.grants.contributions import pledge_contribution
from facility.grants.models import ContributionMethod
from facility.review import panels
from facility.review import queries as review_queries
from facility.review.assignments import add_assignment
from facility.review.decisions import prepare_decision, release_decisions
from facility.review.models import DecisionKind, RoundKind
from facility.review.reviews import save_review
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city
from tests.factories.grants import make_grant


@contextmanager
def counting():
    statements: list[str] = []

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)


def _dashboard(client) -> str:
    response = client.get("/dashboard")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _queries_for_dashboard(client) -> int:
    client.get("/dashboard")  # warm: the session's user, the language, compiled templates
    with counting() as statements:
        _dashboard(client)
    return len(statements)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _add_work(world, n: int) -> None:
    """`n` more of each thing the fund manager, the donor and the city official see counted."""
    for i in range(n):
        make_city(name=f"Town {world.city.id}-{i}", verified=False)
        make_challenge(city=world.city, official=world.official, state="pending_approval", title=f"Pending {i}")
        pledge_contribution(actor=world.donor, amount_cents=10_000 + i, method=ContributionMethod.WIRE)
    db.session.commit()


def test_the_dashboards_query_count_does_not_grow_with_the_rows(app, world, login):
    _add_work(world, 1)
    users = [world.fund_manager, world.donor, world.official, world.innovator, world.reviewer]
    clients = {user.email: login(app.test_client(), user) for user in users}
    with_one = {email: _queries_for_dashboard(client) for email, client in clients.items()}
    _add_work(world, 9)
    with_ten = {email: _queries_for_dashboard(client) for email, client in clients.items()}
    assert with_ten == with_one
    assert "Cities to verify: 10" in _text(_dashboard(clients[world.fund_manager.email]))


def test_the_fund_managers_counts_link_to_where_the_work_is_done(app, world, login):
    _add_work(world, 2)
    html = _dashboard(login(app.test_client(), world.fund_manager))
    text = _text(html)
    assert "Cities to verify: 2" in text
    assert "Challenges to approve: 2" in text
    assert "Wire transfers to confirm: 2" in text
    assert re.search(r'href="/cities/verification">Cities to verify', html)
    assert re.search(r'href="/challenges/approvals">Challenges to approve', html)
    assert re.search(r'href="/staff/contributions">Wire transfers to confirm', html)
    assert "waiting since" in text
    # Another role does not get the fund manager's lines.
    assert "Cities to verify" not in _text(_dashboard(login(app.test_client(), world.donor)))


def test_the_innovator_sees_the_released_decision_and_reaches_the_feedback(app, world, login, clock, make_user):
    client = login(app.test_client(), world.innovator)
    before = _text(_dashboard(client))
    assert "Submitted; decisions are released after the review." in before
    reviewer = _outside_reviewer(make_user)
    _, assignment = _review_started(world, clock, reviewer)  # the release gate waits for every proposal's review
    save_review(actor=reviewer, assignment=assignment, scores={c.id: 5 for c in world.challenge.criteria},
                comment="Clear plan.", submit=True)
    prepare_decision(actor=world.fund_manager, proposal=world.proposal, kind=DecisionKind.DECLINE)
    release_decisions(actor=world.fund_manager, challenge=world.challenge)
    db.session.commit()
    client = login(app.test_client(), world.innovator)  # a month later: a fresh session
    html = _dashboard(client)
    assert f'href="/review/proposals/{world.proposal.id}/feedback"' in html
    assert "Submitted; decisions are released" not in _text(html)
    assert "Declined" in _text(html) or "declined" in _text(html)
    page = client.get(f"/proposals/{world.proposal.id}").get_data(as_text=True)
    assert f'href="/review/proposals/{world.proposal.id}/feedback"' in page


def test_the_award_form_explains_on_get_when_awards_open(app, world, login):
    client = login(app.test_client(), world.fund_manager)
    page = _text(client.get(f"/proposals/{world.proposal.id}/award").get_data(as_text=True))
    assert "Awards are made after the challenge closes on" in page
    # The proposal page lists the award as a later step, with the same reason.
    page = _text(client.get(f"/proposals/{world.proposal.id}").get_data(as_text=True))
    assert "What happens next" in page
    assert re.search(r"Award a grant ?: Awards are made after the challenge closes on", page)


def test_the_challenge_page_links_the_fund_manager_to_panel_and_ranking(app, world, login, make_user):
    client = login(app.test_client(), world.fund_manager)
    path = f"/challenges/{world.challenge.id}"
    html = client.get(path).get_data(as_text=True)
    assert f'href="/review/challenges/{world.challenge.id}/panel"' in html
    # No round yet (no panel member): no link to a ranking that does not exist.
    assert "/ranking" not in html
    panels.add_panel_member(actor=world.fund_manager, challenge=world.challenge, user=_outside_reviewer(make_user))
    db.session.commit()
    html = client.get(path).get_data(as_text=True)
    assert f'href="/review/challenges/{world.challenge.id}/ranking"' in html
    assert client.get(f"/review/challenges/{world.challenge.id}/ranking").status_code == 200
    other = login(app.test_client(), world.innovator).get(path).get_data(as_text=True)
    assert "/panel" not in other and "/ranking" not in other


@pytest.mark.parametrize("who", ["anonymous"])
def test_the_dashboard_needs_a_signed_in_person(client, who):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


def _review_started(world, clock, reviewer):
    """The world's challenge closed, its panel formed (one reviewer) and one assignment made."""
    panels.add_panel_member(actor=world.fund_manager, challenge=world.challenge, user=reviewer)
    clock.move_to(world.challenge.closes_at + timedelta(hours=1))
    scoring = review_queries.round_of(world.challenge, RoundKind.SCORING)
    assignment = add_assignment(actor=world.fund_manager, round_=scoring, proposal=world.proposal,
                                reviewer=reviewer)
    db.session.commit()
    return scoring, assignment


def test_the_fund_manager_is_told_of_a_panel_short_of_reviewers(app, world, login):
    html = _dashboard(login(app.test_client(), world.fund_manager))
    assert (f'href="/review/challenges/{world.challenge.id}/panel">Panels with fewer than 3 reviewers: '
            "<strong>1</strong>") in html


def _outside_reviewer(make_user):
    # Not of the applicant's e-mail domain (example.org), so not conflicted.
    return make_user("reviewer", email="rosa@reviewers.test")


def test_the_reviewer_sees_each_round_with_deadline_and_progress(app, world, login, clock, make_user):
    reviewer = _outside_reviewer(make_user)
    scoring, assignment = _review_started(world, clock, reviewer)
    html = _dashboard(login(app.test_client(), reviewer))
    text = _text(html)
    assert "0 of 1 assigned reviews submitted." in text
    assert world.challenge.title in text and "0 of 1" in text
    assert f'href="/review/assignments/{assignment.id}">Assignments not begun' in html
    # Nobody else gets the reviewer's panel.
    assert "Assignments not begun" not in _dashboard(login(app.test_client(), world.innovator))


def test_the_city_official_sees_stage_proposals_and_review_progress(app, world, login, clock, make_user):
    _review_started(world, clock, _outside_reviewer(make_user))
    text = _text(_dashboard(login(app.test_client(), world.official)))
    row = text[text.index(world.challenge.title):][:200]
    assert "In review" in row and " 1 " in row and "0 of 1" in row
    assert "Each challenge: its stage" not in _text(_dashboard(login(app.test_client(), world.donor)))


def test_another_organisations_innovator_sees_nothing_of_this_one(app, world, login, make_org, make_user):
    org = make_org(name="Other Org")
    stranger = make_user("innovator", organization=org)
    text = _text(_dashboard(login(app.test_client(), stranger)))
    assert world.proposal.title not in text
    assert world.proposal.title in _text(_dashboard(login(app.test_client(), world.innovator)))


def test_the_donor_sees_contributions_by_status_and_what_was_funded(app, world, login):
    for cents in (10_000, 20_000):
        pledge_contribution(actor=world.donor, amount_cents=cents, method=ContributionMethod.WIRE)
    db.session.commit()
    text = _text(_dashboard(login(app.test_client(), world.donor)))
    assert "Pledged, waiting for the transfer: 2 contributions, USD 300.00" in text
    assert "What the facility has funded" in text and "1 challenge funded" in text


def test_the_grantee_is_sent_to_the_agreement_and_the_grant_page_says_what_next(app, world, login, clock):
    clock.move_to(world.challenge.closes_at + timedelta(hours=1))
    grant = make_grant(world.proposal, world.fund_manager, accept=False)
    client = login(app.test_client(), world.innovator)
    html = _dashboard(client)
    assert f'href="/grants/{grant.id}">Grant agreements to accept: <strong>1</strong>' in html
    page = _text(client.get(f"/grants/{grant.id}").get_data(as_text=True))
    assert "What happens next" in page and "Accept the agreement" in page
    # The awarded proposal's page leads the grantee to its grant.
    assert f'href="/grants/{grant.id}"' in client.get(f"/proposals/{world.proposal.id}").get_data(as_text=True)
    # The fund manager is not offered the grantee's step.
    staff = _text(login(app.test_client(), world.fund_manager).get(f"/grants/{grant.id}").get_data(as_text=True))
    assert "Accept the agreement" not in staff


def test_waiting_counts_and_finds_the_oldest_in_one_query(app, clock):
    from facility.cities.models import City
    from facility.core.dashboard import NOTHING, waiting

    unverified, _ = make_city(name="Tororo", verified=False, via="models")
    later, _ = make_city(name="Tanga", verified_at=clock.now + timedelta(days=2), via="models")
    earlier, _ = make_city(name="Tamale", verified_at=clock.now + timedelta(days=1), via="models")
    db.session.commit()
    with counting() as statements:
        found = waiting(City.id, City.verified_at, City.name.like("T%"))
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    # Three in all; the earliest date first, a row without a date last on every backend.
    assert (found.count, found.first_id) == (3, earlier.id)
    assert found.oldest.date() == (clock.now + timedelta(days=1)).date()
    only_undated = waiting(City.id, City.verified_at, City.id == unverified.id)
    assert (only_undated.count, only_undated.oldest, only_undated.first_id) == (1, None, unverified.id)
    assert waiting(City.id, City.verified_at, City.name == "Nowhere") == NOTHING
    assert later.id != found.first_id
