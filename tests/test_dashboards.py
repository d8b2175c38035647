"""Dashboards say what waits for each role, with counts that link to the work; the query count does not
grow with the rows; the innovator's dashboard tells the released decision, not "Submitted"."""
from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from facility.extensions import db
from facility.grants.contributions import pledge_contribution
from facility.grants.models import ContributionMethod
from facility.review.decisions import prepare_decision, release_decisions
from facility.review.models import DecisionKind
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city


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


def test_the_innovator_sees_the_released_decision_and_reaches_the_feedback(app, world, login, clock):
    client = login(app.test_client(), world.innovator)
    before = _text(_dashboard(client))
    assert "Submitted; decisions are released after the review." in before
    clock.move_to(world.challenge.closes_at)
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


def test_the_challenge_page_links_the_fund_manager_to_panel_and_ranking(app, world, login):
    client = login(app.test_client(), world.fund_manager)
    html = client.get(f"/challenges/{world.challenge.id}").get_data(as_text=True)
    assert f'href="/review/challenges/{world.challenge.id}/panel"' in html
    assert f'href="/review/challenges/{world.challenge.id}/ranking"' in html
    other = login(app.test_client(), world.innovator).get(f"/challenges/{world.challenge.id}").get_data(as_text=True)
    assert "/panel" not in other and "/ranking" not in other


@pytest.mark.parametrize("who", ["anonymous"])
def test_the_dashboard_needs_a_signed_in_person(client, who):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
