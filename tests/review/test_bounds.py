"""One limit per field, the same in the form, the API schema and the service; longer input is
refused with a message and nothing is cut short: review comments, waive reasons, conflict
reasons and decision notes."""
from __future__ import annotations

import pytest

from facility.core.errors import ValidationFailed
from facility.core.inputs import COMMENT_CHARS, REASON_CHARS
from facility.extensions import db
from facility.review import assignments, conflicts, decisions, reviews
from facility.review.forms import ConflictForm, DecisionForm, ReasonForm, review_form_class
from tests.conftest import get_csrf
from tests.review.conftest import assign


def _scores(world, value=6):
    return {c.id: value for c in world.criteria}


def test_the_forms_use_the_same_limits(app, world):
    with app.test_request_context():
        assert review_form_class(world.criteria, eligibility=False)().comment.flags.maxlength == COMMENT_CHARS
        assert ReasonForm().reason.flags.maxlength == REASON_CHARS
        assert ConflictForm().reason.flags.maxlength == REASON_CHARS
        assert DecisionForm().note.flags.maxlength == REASON_CHARS


def test_a_review_comment_at_the_limit_is_kept_whole_and_one_more_is_refused(world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    longest = "x" * COMMENT_CHARS
    review = reviews.save_review(actor=world.reviewers[0], assignment=a, scores=_scores(world), comment=longest)
    db.session.commit()
    assert review.comment == longest
    with pytest.raises(ValidationFailed) as info:
        reviews.save_review(actor=world.reviewers[0], assignment=a, scores=_scores(world), comment=longest + "x")
    assert "comment" in info.value.errors and info.value.errors["comment"][0]
    db.session.rollback()
    assert a.review.comment == longest


def test_the_api_refuses_a_review_comment_over_the_limit(client, world, api_headers):
    assign(world, world.reviewers[0], world.proposals[0])
    url = f"/api/v1/proposals/{world.proposals[0].id}/review"
    headers = api_headers(world.reviewers[0])
    response = client.put(url, json={"comment": "x" * (COMMENT_CHARS + 1)}, headers=headers)
    assert response.status_code == 422 and "comment" in response.get_data(as_text=True)
    assert client.put(url, json={"comment": "x" * COMMENT_CHARS}, headers=headers).status_code == 200


def test_the_page_refuses_a_review_comment_over_the_limit(client, world, login):
    a = assign(world, world.reviewers[0], world.proposals[0])
    login(client, world.reviewers[0])
    token = get_csrf(client, f"/review/assignments/{a.id}")
    response = client.post(f"/review/assignments/{a.id}",
                           data={"csrf_token": token, "comment": "x" * (COMMENT_CHARS + 1), "save": "1"})
    assert response.status_code == 422
    db.session.expire_all()
    assert a.review is None


def test_a_decision_note_over_the_limit_is_refused_not_cut(world):
    proposal = world.proposals[0]
    with pytest.raises(ValidationFailed) as info:
        decisions.prepare_decision(actor=world.manager, proposal=proposal, kind="shortlist",
                                   note="n" * (REASON_CHARS + 1))
    assert "note" in info.value.errors
    db.session.rollback()
    decision = decisions.prepare_decision(actor=world.manager, proposal=proposal, kind="shortlist",
                                          note="n" * REASON_CHARS)
    assert decision.note == "n" * REASON_CHARS


def test_waive_and_conflict_reasons_over_the_limit_are_refused(world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    with pytest.raises(ValidationFailed) as waived:
        assignments.waive_assignment(actor=world.manager, assignment=a, reason="r" * (REASON_CHARS + 1))
    assert "reason" in waived.value.errors
    db.session.rollback()
    assert assignments.waive_assignment(actor=world.manager, assignment=a,
                                        reason="r" * REASON_CHARS).waive_reason == "r" * REASON_CHARS
    with pytest.raises(ValidationFailed) as declared:
        conflicts.declare_conflict(actor=world.reviewers[1], proposal=world.proposals[1],
                                   reason="c" * (REASON_CHARS + 1))
    assert "reason" in declared.value.errors
