"""Appeal pages and API: the applicant's form linked from the released decision, the fund managers' queue
and outcome form, the applicant's appeal page; the same policies over the API; the OpenAPI document."""
from __future__ import annotations

import sqlalchemy as sa

from facility.extensions import db
from facility.proposals.models import ProposalStatus
from facility.review import appeals
from facility.review.models import Appeal, AppealStatus
from tests.conftest import csrf_token_from
from tests.review.conftest import release_one


def test_the_applicant_asks_from_the_decision_and_reads_the_outcome(world, signed_in, make_user):
    proposal = release_one(world)
    applicant = signed_in(world.applicants[0])
    feedback = applicant.get(f"/review/proposals/{proposal.id}/feedback").get_data(as_text=True)
    assert f"/review/proposals/{proposal.id}/appeal" in feedback and "Ask for reconsideration" in feedback
    assert f"/review/proposals/{proposal.id}/appeal" in applicant.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    page = applicant.get(f"/review/proposals/{proposal.id}/appeal")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Undeclared conflict of interest" in html and "undeclared_conflict<" not in html
    token = csrf_token_from(html)
    refused = applicant.post(f"/review/proposals/{proposal.id}/appeal",
                             data={"csrf_token": token, "grounds": "factual_error", "statement": ""})
    assert refused.status_code == 422
    sent = applicant.post(f"/review/proposals/{proposal.id}/appeal",
                          data={"csrf_token": token, "grounds": "factual_error", "statement": "Misread budget."})
    appeal = db.session.execute(sa.select(Appeal)).scalar_one()
    assert sent.status_code == 302 and sent.location.endswith(f"/review/appeals/{appeal.id}")
    mine = applicant.get(f"/review/appeals/{appeal.id}").get_data(as_text=True)
    assert "Misread budget." in mine and "Decide the appeal" not in mine
    # the outsider is not told it exists
    assert signed_in(world.applicants[1]).get(f"/review/appeals/{appeal.id}").status_code == 404
    # the fund manager who decided is refused; an impartial one decides from the queue
    manager = signed_in(world.manager)
    shown = manager.get(f"/review/appeals/{appeal.id}").get_data(as_text=True)
    assert "took part in this decision" in shown and "Decide the appeal" not in shown
    assert manager.post(f"/review/appeals/{appeal.id}/outcome",
                        data={"csrf_token": csrf_token_from(shown), "outcome": "dismissed",
                              "reasons": "x"}).status_code == 403
    impartial = signed_in(make_user("fund_manager", email="impartial@facility.example"))
    queue = impartial.get("/review/appeals").get_data(as_text=True)
    assert f"/review/appeals/{appeal.id}" in queue and "Factual error" in queue
    form = impartial.get(f"/review/appeals/{appeal.id}").get_data(as_text=True)
    assert "Decide the appeal" in form
    token = csrf_token_from(form)
    assert impartial.post(f"/review/appeals/{appeal.id}/outcome",
                          data={"csrf_token": token, "outcome": "upheld", "reasons": ""}).status_code == 422
    done = impartial.post(f"/review/appeals/{appeal.id}/outcome",
                          data={"csrf_token": token, "outcome": "upheld", "reasons": "A reviewer was conflicted."})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == AppealStatus.UPHELD and proposal.status == ProposalStatus.SUBMITTED
    outcome = applicant.get(f"/review/appeals/{appeal.id}").get_data(as_text=True)
    assert "A reviewer was conflicted." in outcome and "upheld" in outcome


def test_the_queue_is_for_fund_managers_and_auditors(world, signed_in, make_user):
    assert signed_in(world.applicants[0]).get("/review/appeals").status_code == 403
    assert signed_in(make_user("auditor")).get("/review/appeals").status_code == 200


def test_the_api_submits_lists_reads_and_decides(world, client, api_headers, make_user):
    proposal = release_one(world)
    applicant = api_headers(world.applicants[0])
    bad = client.post(f"/api/v1/proposals/{proposal.id}/appeals", json={"grounds": "luck", "statement": "x"},
                      headers=applicant)
    assert bad.status_code == 422
    outsider = client.post(f"/api/v1/proposals/{proposal.id}/appeals", headers=api_headers(world.applicants[1]),
                           json={"grounds": "factual_error", "statement": "x"})
    assert outsider.status_code == 404
    created = client.post(f"/api/v1/proposals/{proposal.id}/appeals", headers=applicant,
                          json={"grounds": "procedural_error", "statement": "The panel skipped a step."})
    assert created.status_code == 201 and created.json["status"] == "submitted"
    appeal_id = created.json["id"]
    again = client.post(f"/api/v1/proposals/{proposal.id}/appeals", headers=applicant,
                        json={"grounds": "procedural_error", "statement": "Again."})
    assert again.status_code == 409
    assert client.get(f"/api/v1/appeals/{appeal_id}", headers=applicant).json["grounds"] == "procedural_error"
    assert client.get("/api/v1/appeals", headers=applicant).status_code == 403
    manager = api_headers(world.manager)
    listed = client.get("/api/v1/appeals", headers=manager).json
    assert listed["total"] == 1 and listed["items"][0]["id"] == appeal_id
    took_part = client.post(f"/api/v1/appeals/{appeal_id}/outcome", headers=manager,
                            json={"outcome": "dismissed", "reasons": "Fine."})
    assert took_part.status_code == 403 and "took part" in took_part.json["detail"]
    impartial = api_headers(make_user("fund_manager", email="impartial@facility.example"))
    decided = client.post(f"/api/v1/appeals/{appeal_id}/outcome", headers=impartial,
                          json={"outcome": "dismissed", "reasons": "The steps were followed."})
    assert decided.status_code == 200 and decided.json["status"] == "dismissed"
    assert decided.json["outcome_reasons"] == "The steps were followed."
    assert client.post(f"/api/v1/appeals/{appeal_id}/outcome", headers=impartial,
                       json={"outcome": "upheld", "reasons": "No."}).status_code == 409
    assert appeals.appeal_counts()["dismissed"] == 1


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/proposals/{proposal_id}/appeals", "/api/v1/appeals", "/api/v1/appeals/{appeal_id}",
                 "/api/v1/appeals/{appeal_id}/outcome", "/api/v1/appeals/{appeal_id}/withdrawal"):
        assert path in paths, path
    assert "post" in paths["/api/v1/appeals/{appeal_id}/outcome"]


def test_the_applicant_withdraws_from_the_appeal_page_and_the_api(world, signed_in, client, api_headers):
    proposal = release_one(world)
    appeal = appeals.submit_appeal(actor=world.applicants[0], proposal=proposal, grounds="factual_error",
                                   statement="Misread budget.")
    db.session.commit()
    manager = signed_in(world.manager)
    assert "Withdraw the appeal" not in manager.get(f"/review/appeals/{appeal.id}").get_data(as_text=True)
    applicant = signed_in(world.applicants[0])
    page = applicant.get(f"/review/appeals/{appeal.id}").get_data(as_text=True)
    assert "Withdraw the appeal" in page
    token = csrf_token_from(page)
    assert manager.post(f"/review/appeals/{appeal.id}/withdrawal",
                        data={"csrf_token": csrf_token_from(manager.get("/review/appeals").get_data(as_text=True))}
                        ).status_code == 403
    done = applicant.post(f"/review/appeals/{appeal.id}/withdrawal", data={"csrf_token": token})
    assert done.status_code == 302 and done.location.endswith(f"/review/appeals/{appeal.id}")
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == AppealStatus.WITHDRAWN
    shown = applicant.get(f"/review/appeals/{appeal.id}").get_data(as_text=True)
    assert "withdrew this appeal" in shown and "Withdraw the appeal</" not in shown
    feedback = applicant.get(f"/review/proposals/{proposal.id}/feedback").get_data(as_text=True)
    assert "You withdrew your appeal" in feedback and "Ask for reconsideration" not in feedback
    # the API answers the same: already withdrawn is a conflict, others are refused
    headers = api_headers(world.applicants[0])
    assert client.post(f"/api/v1/appeals/{appeal.id}/withdrawal", headers=headers).status_code == 409
    assert client.post(f"/api/v1/appeals/{appeal.id}/withdrawal",
                       headers=api_headers(world.applicants[1])).status_code == 404
    assert client.post(f"/api/v1/appeals/{appeal.id}/withdrawal",
                       headers=api_headers(world.manager)).status_code == 403


def test_the_api_withdraws_an_open_appeal(world, client, api_headers):
    proposal = release_one(world)
    appeal = appeals.submit_appeal(actor=world.applicants[0], proposal=proposal, grounds="factual_error",
                                   statement="Misread budget.")
    db.session.commit()
    answer = client.post(f"/api/v1/appeals/{appeal.id}/withdrawal", headers=api_headers(world.applicants[0]))
    assert answer.status_code == 200 and answer.json["status"] == "withdrawn" and answer.json["withdrawn_at"]


def test_the_feedback_page_says_when_the_decision_was_set_aside(world, signed_in, make_user):
    proposal = release_one(world)
    appeal = appeals.submit_appeal(actor=world.applicants[0], proposal=proposal, grounds="factual_error",
                                   statement="Misread budget.")
    impartial = make_user("fund_manager", email="impartial@facility.example")
    appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="upheld", reasons="It was misread.")
    db.session.commit()
    feedback = signed_in(world.applicants[0]).get(f"/review/proposals/{proposal.id}/feedback")
    html = feedback.get_data(as_text=True)
    assert feedback.status_code == 200 and "was set aside" in html and "being reviewed again" in html
    assert "Your proposal was Declined" not in html and "Your proposal was declined" not in html
