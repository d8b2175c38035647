"""The review status table: every move it allows is made (through the service), none outside it;
every review enum is labelled."""
from __future__ import annotations

import enum

import pytest

from facility.core.errors import Conflict
from facility.core.labels import is_labelled, label
from facility.review import models
from facility.review.models import REVIEW_TRANSITIONS, Review, ReviewStatus
from tests.review.conftest import assign, submit


def test_the_table():
    assert set(REVIEW_TRANSITIONS.pairs()) == {(ReviewStatus.DRAFT, ReviewStatus.SUBMITTED)}
    assert REVIEW_TRANSITIONS.final == {ReviewStatus.SUBMITTED}


@pytest.mark.parametrize(("before", "after"), list(REVIEW_TRANSITIONS.pairs()))
def test_every_move_is_made_by_the_service(world, before, after):
    """draft -> submitted: saving a draft, then submitting it."""
    a = assign(world, world.reviewers[0], world.proposals[0])
    draft = submit(world, a, [4, 6], submit=False)
    assert draft.status == before
    assert submit(world, a, [4, 6]).status == after


@pytest.mark.parametrize("before", list(ReviewStatus))
@pytest.mark.parametrize("after", list(ReviewStatus))
def test_a_move_outside_the_table_is_refused(before, after):
    if REVIEW_TRANSITIONS.allows(before, after):
        return
    review = Review(status=before)
    with pytest.raises(Conflict):
        REVIEW_TRANSITIONS.move(review, after)
    assert review.status == before


def test_a_submitted_review_cannot_go_back_through_the_service(world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    submit(world, a, [4, 6])
    with pytest.raises(Conflict):
        submit(world, a, [4, 6], submit=False)


def test_every_review_enum_is_labelled(app):
    enums = [value for value in vars(models).values()
             if isinstance(value, type) and issubclass(value, enum.Enum) and value.__module__ == models.__name__]
    assert {e.__name__ for e in enums} >= {"PanelRole", "ConflictKind", "ConflictReason", "RoundKind", "ReviewStatus",
                                           "DecisionKind"}
    with app.test_request_context():
        for enum_class in enums:
            assert is_labelled(enum_class), enum_class
            for member in enum_class:
                assert str(label(member)).strip() and label(member) is not member, member
