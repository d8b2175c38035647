"""Proposal pages: drafting without JavaScript, errors on the form, submit and withdraw,
refusals, injection, the challenge's list (query count) and the dashboard panel."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from facility.extensions import db
from facility.proposals.models import Proposal, ProposalStatus
from tests.conftest import get_csrf
from tests.proposals.conftest import AFTER_CLOSE


def _form(**overrides) -> dict:
    data = {
        "title": "Solar water kiosks", "summary": "Clean water.", "approach": "We build kiosks.",
        "team": "Amina", "requested": "30,000.00", "beneficiary_groups": ["urban_poor", "women"],
        "privacy_impact": "Phone numbers only.",
        "milestones-0-title": "Pilot", "milestones-0-due_date": "2027-06-30", "milestones-0-amount": "10000",
        "milestones-0-deliverable": "Two kiosks",
        "milestones-1-title": "", "milestones-1-due_date": "", "milestones-1-amount": "",
        "milestones-1-deliverable": "",
        "milestones-2-title": "Scale", "milestones-2-due_date": "2027-12-31", "milestones-2-amount": "20000.00",
        "milestones-2-deliverable": "Ten kiosks",
        "budget_personnel": "15,000", "budget_equipment": "10000.00", "budget_services": "5000",
        "budget_travel": "", "budget_other": "0",
    }
    data.update(overrides)
    return data


def _post(client, path, data, csrf_from=None):
    data = dict(data, csrf_token=get_csrf(client, csrf_from or path))
    return client.post(path, data=data)


def test_draft_on_the_page_then_submit(client, login, challenge, innovator, run_jobs):
    login(client, innovator)
    path = f"/challenges/{challenge.id}/proposals/new"
    html = client.get(path).get_data(as_text=True)
    assert 'name="milestones-2-title"' in html and 'name="milestones-3-title"' not in html
    response = _post(client, path, dict(_form(), save="Save draft"))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    proposal = db.session.execute(sa.select(Proposal)).scalar_one()
    assert proposal.requested_cents == 30_000_00
    assert [(m.position, m.title, m.amount_cents) for m in proposal.milestones] == [
        (1, "Pilot", 10_000_00), (2, "Scale", 20_000_00)]
    assert proposal.beneficiary_groups == ["urban_poor", "women"]

    show = f"/proposals/{proposal.id}"
    response = _post(client, f"{show}/submit", {}, csrf_from=show)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == ProposalStatus.SUBMITTED
    html = client.get(show).get_data(as_text=True)
    assert "Proposal submitted" in html and "Edit the draft" not in html
    assert client.get(f"{show}/edit").status_code == 302  # locked: back to the proposal


def test_add_another_milestone_without_javascript(client, login, challenge, innovator):
    login(client, innovator)
    path = f"/challenges/{challenge.id}/proposals/new"
    response = _post(client, path, dict(_form(title="Keep me"), add_milestone="Add another milestone"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="milestones-3-title"' in html and 'value="Keep me"' in html
    assert db.session.query(Proposal).count() == 0


def test_form_errors_shown_and_nothing_saved(client, login, challenge, innovator):
    login(client, innovator)
    path = f"/challenges/{challenge.id}/proposals/new"
    response = _post(client, path, _form(title="", requested="lots", **{"milestones-0-amount": "1.234"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and 'aria-invalid="true"' in html
    assert "Give an amount in US dollars" in html
    assert db.session.query(Proposal).count() == 0


def test_edit_draft_and_incomplete_submit_lists_every_problem(client, login, challenge, innovator, make_proposal):
    proposal = make_proposal(challenge)
    login(client, innovator)
    edit = f"/proposals/{proposal.id}/edit"
    html = client.get(edit).get_data(as_text=True)
    assert 'value="Solar water kiosks"' in html and 'value="10000.00"' in html
    response = _post(client, edit, _form(summary="", privacy_impact="", requested="30000.01"))
    assert response.status_code == 302
    show = f"/proposals/{proposal.id}"
    response = _post(client, f"{show}/submit", {}, csrf_from=show)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "cannot be submitted yet" in html
    for label in ("Summary", "Privacy and human-rights impact", "Milestones"):
        assert f"<li>{label}:" in html
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == ProposalStatus.DRAFT


def test_withdraw_on_the_page(client, login, challenge, innovator, make_proposal):
    proposal = make_proposal(challenge, submit=True)
    login(client, innovator)
    show = f"/proposals/{proposal.id}"
    assert _post(client, f"{show}/withdraw", {}, csrf_from=show).status_code == 302
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == ProposalStatus.WITHDRAWN


def test_actions_need_csrf(client, login, challenge, innovator, make_proposal):
    proposal = make_proposal(challenge)
    login(client, innovator)
    assert client.post(f"/proposals/{proposal.id}/submit").status_code == 400
    assert client.post(f"/proposals/{proposal.id}/withdraw").status_code == 400
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == ProposalStatus.DRAFT


def test_page_refusals(app, login, challenge, make_proposal, other_innovator, official, fund_manager):
    proposal = make_proposal(challenge)
    new = f"/challenges/{challenge.id}/proposals/new"
    anonymous = app.test_client()
    assert anonymous.get(new).status_code == 302  # to sign in
    assert anonymous.get(f"/proposals/{proposal.id}/edit").status_code == 302
    assert anonymous.post(f"/proposals/{proposal.id}/submit").status_code in (302, 400)
    for user, new_status in ((official, 403), (fund_manager, 403)):
        client = app.test_client()
        login(client, user)
        assert client.get(new).status_code == new_status
    # Another organisation: the proposal does not exist for them.
    client = app.test_client()
    login(client, other_innovator)
    show = f"/proposals/{proposal.id}"
    assert client.get(f"{show}/edit").status_code == 404
    token = get_csrf(client, "/dashboard")
    for action in ("submit", "withdraw"):
        assert client.post(f"{show}/{action}", data={"csrf_token": token}).status_code == 404
    # A fund manager sees it but may not change it.
    client = app.test_client()
    login(client, fund_manager)
    assert client.get(show).status_code == 200
    assert client.get(f"{show}/edit").status_code == 403
    token = get_csrf(client, show)
    assert client.post(f"{show}/submit", data={"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == ProposalStatus.DRAFT


def test_new_after_deadline_refused(client, clock, login, challenge, innovator):
    clock.move_to(AFTER_CLOSE)
    login(client, innovator)
    assert client.get(f"/challenges/{challenge.id}/proposals/new").status_code == 403


def test_new_redirects_to_existing_proposal(client, login, challenge, innovator, make_proposal):
    proposal = make_proposal(challenge)
    login(client, innovator)
    response = client.get(f"/challenges/{challenge.id}/proposals/new")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/proposals/{proposal.id}")


PAYLOADS = ['<script>alert("x")</script>', '<img src=x onerror=alert(1)>', '[click](javascript:alert(1))',
            '"><svg onload=alert(1)>']


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_in_every_text_field_never_executes(app, clock, login, challenge, innovator, fund_manager,
                                                      make_proposal, official, payload):
    milestones = [{"title": payload, "due_date": "2027-06-30", "amount_cents": 30_000_00, "deliverable": payload}]
    proposal = make_proposal(challenge, title=payload, summary=payload, approach=payload, team=payload,
                             privacy_impact=payload, milestones=milestones, submit=True)
    pages = []
    client = app.test_client()
    login(client, innovator)
    pages += [client.get(f"/proposals/{proposal.id}"), client.get("/dashboard")]
    client = app.test_client()
    login(client, fund_manager)
    pages.append(client.get(f"/challenges/{challenge.id}/proposals"))
    for response in pages:
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html
        assert not re.search(r"<(img|svg)[^>]*\bon(error|load)=", html)
        assert 'href="javascript:' not in html
    show = pages[0].get_data(as_text=True)
    if payload.startswith("<script>"):
        assert show.count("&lt;script&gt;") >= 5  # shown as text in title, summary, team, impact, milestone
    assert "Privacy and human-rights impact" in show  # it really is the proposal page


def test_markdown_approach_is_rendered(client, login, challenge, innovator, make_proposal):
    proposal = make_proposal(challenge, approach="We **build** kiosks.\n\n- one\n- two")
    login(client, innovator)
    html = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert "<strong>build</strong>" in html and "<li>one</li>" in html


# --- a challenge's proposals ---------------------------------------------------------------

def test_challenge_list_permissions(app, clock, login, challenge, make_proposal, other_innovator, fund_manager,
                                    official, other_official, innovator):
    make_proposal(challenge, submit=True, title="Submitted one")
    make_proposal(challenge, user=other_innovator, title="Draft one")
    path = f"/challenges/{challenge.id}/proposals"
    assert app.test_client().get(path).status_code == 302  # sign in first

    def status(user):
        client = app.test_client()
        login(client, user)
        response = client.get(path)
        return response.status_code, response.get_data(as_text=True)

    code, html = status(fund_manager)
    assert code == 200 and "Submitted one" in html and "Draft one" in html
    assert status(official)[0] == 404  # before the deadline
    assert status(innovator)[0] == 404
    clock.move_to(AFTER_CLOSE)
    code, html = status(official)
    assert code == 200 and "Submitted one" in html and "Draft one" not in html
    assert status(other_official)[0] == 404


def _count_queries(client, path) -> int:
    statements = []

    def _count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", _count)
    try:
        response = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", _count)
    assert response.status_code == 200
    return len(statements)


def test_challenge_list_query_count_does_not_grow(client, login, challenge, fund_manager, make_org, make_user):
    from facility.accounts.models import OrgKind
    from tests.proposals.conftest import complete_data, service_data

    def add(n):
        from facility.proposals import services

        for _ in range(n):
            org = make_org(name="Org", kind=OrgKind.INNOVATOR)
            user = make_user("innovator", organization=org)
            services.create_proposal(actor=user, challenge=challenge, data=service_data(complete_data()))
        db.session.commit()

    add(5)
    login(client, fund_manager)
    path = f"/challenges/{challenge.id}/proposals"
    client.get(path)  # warm up
    few = _count_queries(client, path)
    add(45)
    many = _count_queries(client, path)
    assert few == many
    assert "50 proposals" in client.get(path).get_data(as_text=True)


# --- dashboard ---------------------------------------------------------------------------------

def test_dashboard_panel_lists_proposals_and_open_challenges(client, login, make_challenge, challenge, innovator,
                                                             make_proposal):
    make_proposal(challenge, title="Our kiosk plan")
    other = make_challenge(title="Flood warnings")
    login(client, innovator)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Your proposals" in html and "Our kiosk plan" in html
    assert f"/challenges/{other.id}/proposals/new" in html
    assert f"/challenges/{challenge.id}/proposals/new" not in html  # already has one


def test_dashboard_panel_only_for_innovators(client, login, fund_manager):
    login(client, fund_manager)
    assert "Your proposals" not in client.get("/dashboard").get_data(as_text=True)


def test_every_field_has_a_label(client, login, challenge, innovator):
    login(client, innovator)
    path = f"/challenges/{challenge.id}/proposals/new"
    html = client.get(path).get_data(as_text=True)
    for _tag, attrs in re.findall(r'<(input|select|textarea)([^>]*)>', html):
        if re.search(r'type="(hidden|submit)"', attrs):
            continue
        field_id = re.search(r'\bid="([^"]+)"', attrs).group(1)
        assert f'for="{field_id}"' in html, field_id


def test_challenge_actions_snippet(app, clock, challenge, innovator, fund_manager, official, make_proposal):
    from flask import render_template_string

    snippet = '{% include "proposals/_challenge_actions.html" %}'

    def render(user):
        from flask import g

        from facility.extensions import login_manager

        with app.test_request_context():
            g._login_user = user if user is not None else login_manager.anonymous_user()  # as the API does
            return render_template_string(snippet, challenge=challenge)

    assert f"/challenges/{challenge.id}/proposals/new" in render(innovator)
    assert "See the proposals" in render(fund_manager)
    assert render(official).strip() == "" and render(None).strip() == ""
    proposal = make_proposal(challenge)
    assert f"/proposals/{proposal.id}" in render(innovator)
    clock.move_to(AFTER_CLOSE)
    assert "See the proposals" in render(official)
