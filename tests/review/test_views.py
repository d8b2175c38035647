"""Review pages: who may open what, blindness on raw bytes, forms, CSV, feedback and query counts."""
from __future__ import annotations

import contextlib
import csv
import io

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.core.policy import forbidden
from facility.extensions import db
from facility.proposals.models import Proposal, ProposalStatus
from facility.review import decisions, panels, policy, ranking
from facility.review import views as review_views
from facility.review.models import Assignment, PanelInvitation, PanelMember, PanelRole
from tests.conftest import csrf_token_from, get_csrf
from tests.review.conftest import assert_blind, assign, review_the_rest, submit


@contextlib.contextmanager
def count_queries():
    counter = {"n": 0}

    def before(*_args, **_kwargs):
        counter["n"] += 1

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def _paths(world, a):
    c, p = world.challenge.id, world.proposals[0].id
    return {
        "queue": "/review/",
        "reviewer_panel": f"/review/challenges/{c}",
        "review": f"/review/assignments/{a.id}",
        "panel": f"/review/challenges/{c}/panel",
        "round": f"/review/rounds/{world.scoring.id}",
        "waive": f"/review/assignments/{a.id}/waive",
        "ranking": f"/review/challenges/{c}/ranking",
        "csv": f"/review/challenges/{c}/ranking.csv",
        "feedback": f"/review/proposals/{p}/feedback",
    }


GETS = ["queue", "reviewer_panel", "review", "panel", "round", "waive", "ranking", "csv", "feedback"]


@pytest.mark.parametrize("name", GETS)
def test_anonymous_is_sent_to_sign_in(client, world, name):
    a = assign(world, world.reviewers[0], world.proposals[0])
    response = client.get(_paths(world, a)[name])
    assert response.status_code == 302 and "/signin" in response.location


# Who gets what on each page (the wrong role, the wrong panel, a conflicted reviewer, the wrong organisation).
MATRIX = {
    "queue": {"manager": 403, "applicant": 403, "reviewer": 200},
    "reviewer_panel": {"manager": 403, "applicant": 403, "stranger": 404, "reviewer": 200},
    "review": {"manager": 403, "applicant": 403, "other_reviewer": 404, "stranger": 404, "conflicted": 404,
               "reviewer": 200},
    "panel": {"reviewer": 404, "applicant": 404, "official": 403, "manager": 200},
    "round": {"reviewer": 403, "official": 403, "manager": 200},
    "waive": {"reviewer": 403, "official": 403, "manager": 200},
    "ranking": {"reviewer": 403, "applicant": 403, "official": 403, "manager": 200},
    "csv": {"reviewer": 403, "official": 403, "manager": 200},
    "feedback": {"reviewer": 404, "other_applicant": 404, "applicant": 404},  # nothing released yet
}


@pytest.mark.parametrize("name", GETS)
def test_permission_matrix(client, world, make_user, login, name):
    a = assign(world, world.reviewers[0], world.proposals[0])
    stranger = make_user("reviewer")
    conflicted = world.reviewers[2]
    people = {"manager": world.manager, "applicant": world.applicants[0], "other_applicant": world.applicants[1],
              "reviewer": world.reviewers[0], "other_reviewer": world.reviewers[1], "stranger": stranger,
              "official": world.official, "conflicted": conflicted}
    path = _paths(world, a)[name]
    if name == "review":  # the conflicted reviewer holds an assignment but belongs to the applicant organisation
        conflicted.organization = world.orgs[0]
        db.session.add(Assignment(round_id=world.scoring.id, proposal_id=world.proposals[0].id,
                                  reviewer_id=conflicted.id))
        db.session.commit()
        path_for = {"conflicted": f"/review/assignments/{_assignment_of(conflicted).id}"}
    else:
        path_for = {}
    for who, expected in MATRIX[name].items():
        fresh = client.application.test_client()
        login(fresh, people[who])
        assert fresh.get(path_for.get(who, path)).status_code == expected, (name, who)


def _assignment_of(user):
    return db.session.execute(sa.select(Assignment).where(Assignment.reviewer_id == user.id)).scalar_one()


# --- blindness on every page a reviewer gets ------------------------------------------------------------


def test_reviewer_pages_never_show_the_applicant(client, world, login):
    world.scoring.can_see_others = True
    db.session.commit()
    a = assign(world, world.reviewers[0], world.proposals[0])
    assign(world, world.reviewers[0], world.proposals[1])
    submit(world, assign(world, world.reviewers[1], world.proposals[0]), [9, 9], comment="Strong")
    login(client, world.reviewers[0])
    pages = [client.get(p) for p in ("/dashboard", "/review/", f"/review/challenges/{world.challenge.id}",
                                     f"/review/assignments/{a.id}")]
    assert all(p.status_code == 200 for p in pages)
    assert b"Attachment 1 (PDF, 240 KB)" in pages[3].get_data()
    c1, c2 = world.criteria
    token = csrf_token_from(pages[3].get_data(as_text=True))
    invalid = client.post(f"/review/assignments/{a.id}", data={"csrf_token": token, f"c_{c1.id}": "7",
                                                              "submit_review": "1"})
    assert invalid.status_code == 422 and b"A comment is required." in invalid.get_data()
    done = client.post(f"/review/assignments/{a.id}", data={"csrf_token": token, f"c_{c1.id}": "7",
                                                           f"c_{c2.id}": "6", "comment": "Fine",
                                                           "confirm": "y"}, follow_redirects=True)
    assert done.status_code == 200 and b"Strong" in done.get_data()  # others now visible
    for response in pages + [invalid, done]:
        assert_blind(world, response)
    assert b"Rita Reviewer1" not in done.get_data()


def test_save_and_next_goes_to_the_next_unfinished_assignment(client, world, login):
    a = assign(world, world.reviewers[0], world.proposals[0])
    b = assign(world, world.reviewers[0], world.proposals[1])
    login(client, world.reviewers[0])
    token = get_csrf(client, f"/review/assignments/{a.id}")
    c1, _c2 = world.criteria
    response = client.post(f"/review/assignments/{a.id}", data={"csrf_token": token, f"c_{c1.id}": "4",
                                                               "comment": "draft", "save_next": "1"})
    assert response.status_code == 302 and response.location.endswith(f"/review/assignments/{b.id}")
    db.session.expire_all()
    assert a.review.status.value == "draft" and a.review.score_map == {c1.id: 4}


def test_declare_conflict_from_the_panel_page(client, world, login):
    a_id = assign(world, world.reviewers[0], world.proposals[0]).id
    login(client, world.reviewers[0])
    token = get_csrf(client, f"/review/challenges/{world.challenge.id}")
    response = client.post(f"/review/proposals/{world.proposals[0].id}/conflict",
                           data={"csrf_token": token, "reason": "I advise them"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.execute(sa.select(Assignment.id).where(Assignment.id == a_id)).first() is None
    assert client.get(f"/review/assignments/{a_id}").status_code == 404


# --- the fund manager's panel ------------------------------------------------------------------------------


def test_manager_invites_assigns_and_sees_errors(client, world, make_user, login):
    login(client, world.manager)
    panel = f"/review/challenges/{world.challenge.id}/panel"
    token = get_csrf(client, panel)
    bad = client.post(f"/review/challenges/{world.challenge.id}/panel/invite",
                      data={"csrf_token": token, "email": "not-an-address"})
    assert bad.status_code == 422 and b"error-summary" in bad.get_data()
    sent = client.post(f"/review/challenges/{world.challenge.id}/panel/invite",
                       data={"csrf_token": token, "email": "expert@university.example", "name": "An Expert"})
    assert sent.status_code == 302
    assert db.session.execute(sa.select(PanelInvitation.email)).scalar_one() == "expert@university.example"
    # Manual assignment of a conflicted reviewer is refused with a message on the page.
    insider = world.reviewers[1]
    insider.organization = world.orgs[0]
    db.session.commit()
    r = world.scoring.id
    refused = client.post(f"/review/rounds/{r}/assignments", data={
        "csrf_token": token, f"r{r}-proposal_id": world.proposals[0].id, f"r{r}-reviewer_id": insider.id})
    assert refused.status_code == 422 and b"conflict of interest" in refused.get_data()
    assert db.session.execute(sa.select(Assignment)).first() is None
    done = client.post(f"/review/challenges/{world.challenge.id}/assign", data={
        "csrf_token": token, "round": "scoring", "reviewers_per_proposal": "2"}, follow_redirects=True)
    assert done.status_code == 200 and b"All 3 proposals have 2 reviewers." in done.get_data()
    db.session.expire_all()
    assert (world.proposals[0].id, insider.id) not in set(
        db.session.execute(sa.select(Assignment.proposal_id, Assignment.reviewer_id)).all())


def test_observer_follows_the_panel(client, world, make_user, login):
    panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=world.official,
                              role=PanelRole.OBSERVER)
    db.session.commit()
    login(client, world.official)
    page = client.get(f"/review/challenges/{world.challenge.id}/panel")
    assert page.status_code == 200 and b"Add or invite" not in page.get_data()


def test_invitation_page_creates_the_account(client, world):
    invitation = panels.invite_reviewer(actor=world.manager, challenge=world.challenge, email="new@uni.example")
    db.session.commit()
    assert client.get("/review/invitations/not-a-token").status_code == 404
    url = f"/review/invitations/{panels.invitation_token(invitation)}"
    token = get_csrf(client, url)
    short = client.post(url, data={"csrf_token": token, "name": "New", "password": "short", "confirm": "short"})
    assert short.status_code == 422
    ok = client.post(url, data={"csrf_token": token, "name": "New Reviewer", "password": "a-long-reviewer-pass-9",
                                "confirm": "a-long-reviewer-pass-9"})
    assert ok.status_code == 302
    member = db.session.execute(sa.select(PanelMember).join(PanelMember.user)
                                .where(sa.text("users.email = 'new@uni.example'"))).scalar_one()
    assert member.user.roles == ["reviewer"]
    assert client.get(url).status_code == 404  # used up


# --- ranking, CSV, release, feedback ------------------------------------------------------------------------


def test_ranking_page_documents_the_method_and_exports_csv(client, world, login):
    world.proposals[2].title = "=cmd|' /C calc'!A0"
    db.session.commit()
    submit(world, assign(world, world.reviewers[0], world.proposals[0]), [8, 6])
    submit(world, assign(world, world.reviewers[1], world.proposals[0]), [3, 3])
    login(client, world.manager)
    page = client.get(f"/review/challenges/{world.challenge.id}/ranking")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "z-scores" in text and "Krippendorff" in text and "Zebracorp0 Water Labs" in text
    response = client.get(f"/review/challenges/{world.challenge.id}/ranking.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ranking.CSV_HEADER
    assert rows[1][:3] == ["1", "", str(world.proposals[0].id)] and rows[1][11] == "yes"  # 7.2 vs 3.0
    assert any(r[3] == "'=cmd|' /C calc'!A0" for r in rows[1:])


def test_the_ranking_page_shows_a_page_of_rows_with_the_rounds_ranks(client, world, login, monkeypatch):
    monkeypatch.setattr(review_views, "RANKING_PER_PAGE", 1)
    submit(world, assign(world, world.reviewers[0], world.proposals[0]), [9, 9])
    submit(world, assign(world, world.reviewers[0], world.proposals[1]), [3, 3])
    login(client, world.manager)
    url = f"/review/challenges/{world.challenge.id}/ranking"
    first, second = (client.get(url, query_string={"page": n}).get_data(as_text=True) for n in (1, 2))
    assert world.proposals[0].title in first and world.proposals[1].title not in first
    assert world.proposals[1].title in second and world.proposals[0].title not in second
    assert 'rel="next"' in first and 'rel="prev"' in second


def test_release_from_the_page_and_feedback(client, world, login, run_jobs):
    p0 = world.proposals[0]
    a = assign(world, world.reviewers[0], p0)
    decisions.prepare_decision(actor=world.manager, proposal=p0, kind="decline")
    db.session.commit()
    login(client, world.manager)
    url = f"/review/challenges/{world.challenge.id}/ranking"
    page = client.get(url).get_data(as_text=True)
    # The proposals nobody reviews are named on the page and hold the release back.
    assert "2 submitted proposals have no reviewer" in page
    assert f"{world.proposals[1].id} — Solar kiosk plan 1" in page and "Solar kiosk plan 2" in page
    panel = client.get(f"/review/challenges/{world.challenge.id}/panel").get_data(as_text=True)
    assert "2 submitted proposals have no reviewer" in panel and f"{world.proposals[2].id} — Solar kiosk plan 2" in panel
    token = get_csrf(client, url)
    blocked = client.post(f"/review/challenges/{world.challenge.id}/decisions/release", data={"csrf_token": token},
                          follow_redirects=True)
    assert b"2 submitted proposals have no reviewer" in blocked.get_data()
    review_the_rest(world)
    blocked = client.post(f"/review/challenges/{world.challenge.id}/decisions/release", data={"csrf_token": token},
                          follow_redirects=True)
    assert b"neither in nor waived" in blocked.get_data()
    db.session.expire_all()
    assert p0.status == ProposalStatus.SUBMITTED
    submit(world, a, [2, 3], comment="The budget does not add up")
    released = client.post(f"/review/challenges/{world.challenge.id}/decisions/release", data={"csrf_token": token})
    assert released.status_code == 302
    db.session.expire_all()
    assert db.session.get(Proposal, p0.id).status == ProposalStatus.DECLINED
    applicant = client.application.test_client()
    from tests.conftest import sign_in

    sign_in(applicant, world.applicants[0])
    page = applicant.get(f"/review/proposals/{p0.id}/feedback")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "The budget does not add up" in body and "Reviewer 1" in body and "Rita Reviewer0" not in body
    other = client.application.test_client()
    sign_in(other, world.applicants[1])
    assert other.get(f"/review/proposals/{p0.id}/feedback").status_code == 404


# --- query counts do not grow with rows ----------------------------------------------------------------------


def _add_proposals(world, n):
    from facility.accounts.models import Organization, OrgType

    added = []
    for i in range(n):
        org = Organization(name=f"Extra org {i}", kind=OrgKind.INNOVATOR, org_type=OrgType.SME, country="KEN")
        proposal = Proposal(challenge=world.challenge, organization=org, title=f"Extra {i}",
                            status=ProposalStatus.SUBMITTED)
        db.session.add(proposal)
        added.append(proposal)
    db.session.commit()
    return added


def test_queue_page_queries_do_not_grow(client, world, login):
    assign(world, world.reviewers[0], world.proposals[0])
    login(client, world.reviewers[0])
    client.get("/review/")
    with count_queries() as few:
        assert client.get("/review/").status_code == 200
    for p in world.proposals[1:] + _add_proposals(world, 5):
        a = assign(world, world.reviewers[0], p)
        submit(world, a, [5, 5], submit=False)
    with count_queries() as many:
        assert client.get("/review/").status_code == 200
    assert many["n"] == few["n"]


def test_ranking_page_queries_do_not_grow(client, world, login):
    submit(world, assign(world, world.reviewers[0], world.proposals[0]), [5, 5])
    review_the_rest(world)  # the release gate then asks every question in both measurements
    login(client, world.manager)
    url = f"/review/challenges/{world.challenge.id}/ranking"
    client.get(url)
    with count_queries() as few:
        assert client.get(url).status_code == 200
    for i, p in enumerate(world.proposals[1:] + _add_proposals(world, 6)):
        for reviewer in world.reviewers[:2]:
            submit(world, assign(world, reviewer, p), [i % 10, (i * 3) % 10])
        decisions.prepare_decision(actor=world.manager, proposal=p, kind="decline")
    db.session.commit()
    with count_queries() as many:
        assert client.get(url).status_code == 200
    assert many["n"] == few["n"]


def test_eligibility_screening_on_the_page(client, world, login):
    a = assign(world, world.reviewers[0], world.proposals[0], round_=world.eligibility)
    login(client, world.reviewers[0])
    page = client.get(f"/review/assignments/{a.id}")
    assert page.status_code == 200 and b"Passes" in page.get_data()
    token = csrf_token_from(page.get_data(as_text=True))
    missing = client.post(f"/review/assignments/{a.id}", data={"csrf_token": token, "comment": "ok",
                                                              "submit_review": "1"})
    assert missing.status_code == 422
    done = client.post(f"/review/assignments/{a.id}", data={"csrf_token": token, "eligible": "fail",
                                                           "comment": "Not in an eligible country",
                                                           "confirm": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    assert a.review.eligible is False and a.review.is_submitted


def test_manager_edits_a_round(client, world, login):
    login(client, world.manager)
    url = f"/review/rounds/{world.scoring.id}"
    token = get_csrf(client, url)
    backwards = client.post(url, data={"csrf_token": token, "opens_at": "2027-02-01T00:00",
                                       "closes_at": "2027-01-01T00:00", "can_review": "y"})
    assert backwards.status_code == 422 and b"must close after it opens" in backwards.get_data()
    garbage = client.post(url, data={"csrf_token": token, "opens_at": "soon", "closes_at": "later"})
    assert garbage.status_code == 422
    ok = client.post(url, data={"csrf_token": token, "opens_at": "2027-01-01T00:00", "closes_at": "2027-02-01T09:30",
                                "can_review": "y", "can_see_others": "y"})
    assert ok.status_code == 302
    db.session.expire_all()
    r = world.scoring
    assert r.closes_at.isoformat() == "2027-02-01T09:30:00+00:00" and r.can_see_others and r.can_review


def test_declare_conflict_refusals(client, world, make_user, login):
    login(client, world.reviewers[0])
    token = get_csrf(client, f"/review/challenges/{world.challenge.id}")
    url = f"/review/proposals/{world.proposals[0].id}/conflict"
    assert client.post(url, data={"csrf_token": token, "reason": "I advise them"}).status_code == 302
    again = client.post(url, data={"csrf_token": token, "reason": "Still"}, follow_redirects=True)
    assert again.status_code == 200 and b"already declared a conflict" in again.get_data()
    stranger = client.application.test_client()
    login(stranger, make_user("reviewer"))
    token = get_csrf(stranger, "/review/")
    assert stranger.post(url, data={"csrf_token": token, "reason": "Not my panel"}).status_code == 404


def test_a_permission_refusal_is_a_403_page_not_a_flash(client, world, login, monkeypatch):
    """When the policy refuses a fund manager (pages and services ask the same rule), the page answers 403 and
    nothing is written: closing a round, removing or waiving an assignment."""
    a = assign(world, world.reviewers[0], world.proposals[0])
    login(client, world.manager)
    token = get_csrf(client, f"/review/assignments/{a.id}/waive")
    monkeypatch.setattr(policy, "fund_manager_refusal", lambda _user, message: forbidden(message))  # the one rule, refusing
    for path, data in ((f"/review/rounds/{world.scoring.id}/close", {}),
                       (f"/review/assignments/{a.id}/remove", {}),
                       (f"/review/assignments/{a.id}/waive", {"reason": "Unwell"})):
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 403, path
    db.session.expire_all()
    assert not world.scoring.is_closed
    assert db.session.get(Assignment, a.id).waived_at is None
