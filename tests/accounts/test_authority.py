"""Approval tiers and personal limits (`accounts.authority`): pure rules."""
from __future__ import annotations

import pytest

from facility.accounts.authority import Approver, Tier, approval_refusal, approval_state, tier_for, tiers

CONFIG = {"APPROVAL_TIERS": [{"up_to_cents": 50_000_000, "approvals": 2}, {"up_to_cents": 5_000_000, "approvals": 1},
                             {"up_to_cents": None, "approvals": 3, "senior": 1}],
          "SENIOR_APPROVAL_LIMIT_CENTS": 1_000_000_000}


def a(user_id: int, limit: int = 100_000_000, senior: bool = False) -> Approver:
    return Approver(user_id=user_id, limit_cents=limit, senior=senior)


@pytest.mark.parametrize(("amount", "needed"), [(1, 1), (5_000_000, 1), (5_000_001, 2), (50_000_000, 2),
                                                 (50_000_001, 3)])
def test_an_amount_falls_in_the_first_tier_it_does_not_exceed(app, amount, needed):
    assert tier_for(amount, CONFIG).approvals == needed


def test_tiers_are_sorted_and_always_end_unbounded(app):
    assert [t.up_to_cents for t in tiers(CONFIG)] == [5_000_000, 50_000_000, None]
    assert tiers({"APPROVAL_TIERS": [{"up_to_cents": 100, "approvals": 2}]})[-1] == Tier(None, 2, 0)


def test_requester_never_counts_nor_the_same_person_twice(app):
    state = approval_state(amount_cents=10_000_000, requester_id=1, approvers=[a(1), a(2), a(2)], config=CONFIG)
    assert [x.user_id for x in state.counted] == [2]
    assert state.missing == 1 and not state.complete
    assert len(state.not_counted) == 2


def test_an_approval_counts_only_within_the_approvers_limit(app):
    state = approval_state(amount_cents=10_000_000, requester_id=None,
                           approvers=[a(2, limit=9_999_999), a(3), a(4)], config=CONFIG)
    assert [x.user_id for x in state.counted] == [3, 4] and state.complete
    assert "limit" in state.not_counted[0][1]


def test_the_top_tier_needs_a_senior_limit(app):
    big = 60_000_000_00
    approvers = [a(2, limit=big * 2), a(3, limit=big * 2), a(4, limit=big * 2)]
    state = approval_state(amount_cents=big, requester_id=None, approvers=approvers, config=CONFIG)
    assert state.missing == 1 and state.missing_senior == 1
    state = approval_state(amount_cents=big, requester_id=None, config=CONFIG,
                           approvers=[*approvers[:2], a(5, limit=big * 2, senior=True)])
    assert state.complete
    assert state.as_json()["count"] == 0 and state.as_json()["required"] == 3


# --- approval_refusal: an approval is recorded only when it counts ------------------------------------

def _refusal(amount, approvers, candidate, requester=1):
    return approval_refusal(amount_cents=amount, requester_id=requester, approvers=approvers, candidate=candidate,
                            config=CONFIG)


def test_an_approval_that_would_not_count_is_refused_with_its_reason(app):
    with app.test_request_context("/"):
        ordinary, senior = Approver(2, 600_000_000), Approver(3, 2_000_000_000, senior=True)
        assert _refusal(1_000, [], Approver(1, 10**12)) == "You requested this; your approval never counts."
        assert "counts once" in _refusal(60_000_000, [ordinary], ordinary)
        assert "above your approval limit" in _refusal(60_000_000, [], Approver(4, 1_000))
        assert _refusal(60_000_000, [], ordinary) is None
        # Above every bound: three approvals, one senior. Two ordinary ones count; a third ordinary one does not.
        two = [Approver(5, 600_000_000), Approver(6, 600_000_000)]
        assert "senior limit" in _refusal(60_000_000, two, ordinary)
        assert _refusal(60_000_000, two, senior) is None
        assert _refusal(60_000_000, [senior], ordinary) is None  # the senior one is in: ordinary ones count
        # Already complete (the tiers changed since): one more valid approval is not refused.
        assert _refusal(1_000, [Approver(7, 10**9)], ordinary) is None
