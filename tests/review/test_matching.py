"""Reviewer assignment: hand-made cases and Hypothesis properties."""
from __future__ import annotations

import random
import time
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facility.review.matching import REASON_CAPACITY, REASON_CONFLICTS, assign_reviewers

# -- an independent oracle: plain Ford-Fulkerson max flow ---------------------------------


def max_flow_value(proposals, reviewers, n, conflicts, existing, capacity) -> int:
    """Maximum number of assignments (kept + new), computed without costs.

    Kept pairs are pre-placed; the remaining network is source -> proposal
    (cap n - kept) -> reviewer (cap 1) -> sink (cap capacity - kept load).
    """
    kept = {p: {r for r in existing.get(p, ()) if (p, r) not in conflicts} for p in proposals}
    kept_load = {}
    for p in proposals:
        for r in kept[p]:
            kept_load[r] = kept_load.get(r, 0) + 1
    cap: dict[tuple, int] = {}
    adj: dict = {}

    def arc(u, v, c):
        cap[(u, v)] = cap.get((u, v), 0) + c
        cap.setdefault((v, u), 0)
        adj.setdefault(u, set()).add(v)
        adj.setdefault(v, set()).add(u)

    for p in proposals:
        arc("S", ("p", p), max(0, n - len(kept[p])))
        for r in reviewers:
            if (p, r) not in conflicts and r not in kept[p]:
                arc(("p", p), ("r", r), 1)
    for r in reviewers:
        room = capacity[r] - kept_load.get(r, 0) if capacity and r in capacity else len(proposals)
        arc(("r", r), "T", max(0, room))
    flow = 0
    while True:
        parent = {"S": None}
        queue = deque(["S"])
        while queue and "T" not in parent:
            u = queue.popleft()
            for v in adj.get(u, ()):
                if v not in parent and cap[(u, v)] > 0:
                    parent[v] = u
                    queue.append(v)
        if "T" not in parent:
            break
        v = "T"
        while parent[v] is not None:
            cap[(parent[v], v)] -= 1
            cap[(v, parent[v])] += 1
            v = parent[v]
        flow += 1
    return flow + sum(len(k) for k in kept.values())


def check_invariants(result, proposals, reviewers, n, conflicts, existing=None, capacity=None) -> None:
    existing = existing or {}
    capacity = capacity or {}
    loads: dict = {}
    for p in proposals:
        assigned = result.assignments[p]
        assert len(assigned) == len(set(assigned)), "a reviewer twice on one proposal"
        for r in assigned:
            assert (p, r) not in conflicts, "a conflicted pair was assigned"
            loads[r] = loads.get(r, 0) + 1
        kept = {r for r in existing.get(p, ()) if (p, r) not in conflicts}
        assert kept <= set(assigned), "a kept assignment was removed"
        assert len(assigned) <= max(n, len(kept))
        assert result.shortfalls.get(p, 0) == max(0, n - len(assigned))
    for r in reviewers:
        assert result.loads.get(r, 0) == loads.get(r, 0)
        if r in capacity:
            kept_load = sum(1 for p in proposals if r in existing.get(p, ()) and (p, r) not in conflicts)
            assert loads.get(r, 0) <= max(capacity[r], kept_load)
    # Maximal coverage: equals the max-flow value, and the simple upper bound when capacity is unlimited.
    total = sum(len(a) for a in result.assignments.values())
    assert total == max_flow_value(proposals, reviewers, n, conflicts, existing, capacity)
    if not capacity and not existing:
        bound = sum(min(n, sum(1 for r in reviewers if (p, r) not in conflicts)) for p in proposals)
        assert total == bound


def assert_no_improving_path(result, proposals, reviewers, conflicts, existing=None, capacity=None) -> None:
    """Optimality certificate for even loads: no chain of moves can take one
    assignment from a reviewer with load L to one with load <= L - 2.

    (In flow terms: no negative cycle through the sink in the residual graph.)
    A single move is the chain of length one.
    """
    existing = existing or {}
    capacity = capacity or {}
    loads = {r: result.loads.get(r, 0) for r in reviewers}
    movable = {p: set(result.assignments[p]) - set(existing.get(p, ())) for p in proposals}

    def room(r):
        return r not in capacity or loads[r] < capacity[r]

    for a in reviewers:
        seen_r = {a}
        queue = deque([a])
        while queue:
            r = queue.popleft()
            for p in proposals:
                if r not in movable[p]:
                    continue
                for b in reviewers:
                    if b in seen_r or b in result.assignments[p] or (p, b) in conflicts:
                        continue
                    assert not (room(b) and loads[a] - loads[b] >= 2), (
                        f"moving work from reviewer {a} (load {loads[a]}) to {b} (load {loads[b]}) would even loads"
                    )
                    seen_r.add(b)
                    queue.append(b)


# -- hand-made cases ----------------------------------------------------------------------


def test_balanced_round_robin_without_conflicts():
    result = assign_reviewers([1, 2, 3, 4], ["a", "b", "c"], 2, set())
    # 4 proposals x 2 = 8 assignments over 3 reviewers: loads 3, 3, 2.
    assert sorted(result.loads.values()) == [2, 3, 3]
    assert result.shortfalls == {}
    assert all(len(v) == 2 for v in result.assignments.values())
    assert result.message == "All 4 proposals have 2 reviewers."


def test_conflicts_are_never_assigned_and_shortfall_is_explained():
    conflicts = {(1, "a"), (1, "b"), (2, "c")}
    result = assign_reviewers([1, 2], ["a", "b", "c"], 2, conflicts)
    assert result.assignments[1] == ["c"]
    assert result.assignments[2] == ["a", "b"]
    assert result.shortfalls == {1: 1}
    assert result.reasons[1].reason == REASON_CONFLICTS
    assert result.reasons[1].eligible == 1
    assert "proposal 1: only 1 non-conflicted reviewer for 2 places" in result.message
    assert result.message.startswith("1 proposal cannot reach 2 reviewers")


def test_alternating_path_reassigns_to_reach_maximum():
    # Greedy would give proposal 1 reviewer "a" and leave proposal 2 (which can only use "a") without one.
    result = assign_reviewers([1, 2], ["a", "b"], 1, {(2, "b")}, capacity={"a": 1, "b": 1})
    assert result.assignments == {1: ["b"], 2: ["a"]}
    assert result.shortfalls == {}


def test_capacity_limits_and_reason():
    result = assign_reviewers([1, 2, 3], ["a", "b"], 2, set(), capacity={"a": 2, "b": 2})
    assert result.loads == {"a": 2, "b": 2}
    assert sum(result.shortfalls.values()) == 2
    assert all(result.reasons[p].reason == REASON_CAPACITY for p in result.shortfalls)
    assert "no capacity left" in result.message


def test_existing_assignments_are_kept_and_only_gaps_filled():
    existing = {1: {"a", "b"}, 2: {"a"}}
    result = assign_reviewers([1, 2, 3], ["a", "b", "c", "d"], 2, set(), existing=existing)
    assert result.assignments[1] == ["a", "b"]
    assert 1 not in result.added
    assert "a" in result.assignments[2] and len(result.assignments[2]) == 2
    assert len(result.assignments[3]) == 2
    # 3 kept + 3 new = 6 over 4 reviewers, and "a" already has 2: the gaps go elsewhere.
    assert "a" not in result.added.get(3, [])
    assert sorted(result.loads.values()) == [1, 1, 2, 2]


def test_existing_conflicted_pair_is_dropped_and_replaced():
    result = assign_reviewers([1], ["a", "b"], 1, {(1, "a")}, existing={1: ["a"]})
    assert result.assignments == {1: ["b"]}
    assert result.dropped == [(1, "a")]
    assert "Removed conflicted assignments: reviewer a from proposal 1." in result.message


def test_more_places_than_reviewers():
    result = assign_reviewers([1, 2], ["a", "b"], 3, set())
    assert result.assignments == {1: ["a", "b"], 2: ["a", "b"]}
    assert result.shortfalls == {1: 1, 2: 1}
    assert "only 2 non-conflicted reviewers for 3 places" in result.message


def test_empty_inputs_and_bad_arguments():
    assert assign_reviewers([], ["a"], 2, set()).assignments == {}
    result = assign_reviewers([1], [], 2, set())
    assert result.shortfalls == {1: 2}
    with pytest.raises(ValueError):
        assign_reviewers([1], ["a"], -1, set())
    with pytest.raises(ValueError):
        assign_reviewers([1], ["a"], 1, set(), capacity={"a": -2})


def test_large_panel_runs_fast_and_balanced():
    rng = random.Random(7)
    proposals = list(range(1, 301))
    reviewers = list(range(1, 41))
    conflicts = {(p, r) for p in proposals for r in reviewers if rng.random() < 0.1}
    started = time.perf_counter()
    result = assign_reviewers(proposals, reviewers, 3, conflicts)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, elapsed
    assert result.shortfalls == {}
    assert max(result.loads.values()) - min(result.loads.values()) <= 1
    check_invariants(result, proposals, reviewers, 3, conflicts)


def test_deterministic_regardless_of_input_order():
    rng = random.Random(3)
    proposals = [f"p{i}" for i in range(30)]
    reviewers = [f"r{i}" for i in range(8)]
    conflicts = {(p, r) for p in proposals for r in reviewers if rng.random() < 0.3}
    first = assign_reviewers(proposals, reviewers, 3, conflicts)
    shuffled_p, shuffled_r = proposals[:], reviewers[:]
    rng.shuffle(shuffled_p)
    rng.shuffle(shuffled_r)
    second = assign_reviewers(shuffled_p, shuffled_r, 3, set(conflicts))
    assert first == second


# -- properties ---------------------------------------------------------------------------


@st.composite
def panels(draw, with_existing=False, with_capacity=False):
    n_proposals = draw(st.integers(0, 12))
    n_reviewers = draw(st.integers(0, 8))
    proposals = list(range(1, n_proposals + 1))
    reviewers = [f"r{i}" for i in range(n_reviewers)]
    pairs = [(p, r) for p in proposals for r in reviewers]
    conflicts = set(draw(st.lists(st.sampled_from(pairs), unique=True))) if pairs else set()
    n = draw(st.integers(0, 5))
    existing = {}
    if with_existing and pairs:
        for p, r in draw(st.lists(st.sampled_from(pairs), unique=True, max_size=10)):
            existing.setdefault(p, set()).add(r)
    capacity = None
    if with_capacity and reviewers:
        capacity = draw(st.dictionaries(st.sampled_from(reviewers), st.integers(0, 6)))
    return proposals, reviewers, n, conflicts, existing, capacity


@settings(max_examples=300, deadline=None)
@given(panels())
def test_property_conflicts_duplicates_coverage_balance(panel):
    proposals, reviewers, n, conflicts, _, _ = panel
    result = assign_reviewers(proposals, reviewers, n, conflicts)
    check_invariants(result, proposals, reviewers, n, conflicts)
    assert_no_improving_path(result, proposals, reviewers, conflicts)
    assert set(result.loads) == set(reviewers)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 15), st.integers(1, 8), st.integers(0, 5))
def test_property_perfect_balance_without_conflicts(n_proposals, n_reviewers, n):
    proposals = list(range(n_proposals))
    reviewers = list(range(n_reviewers))
    result = assign_reviewers(proposals, reviewers, n, set())
    loads = list(result.loads.values())
    assert max(loads) - min(loads) <= 1
    assert sum(loads) == n_proposals * min(n, n_reviewers)


@settings(max_examples=200, deadline=None)
@given(panels(with_existing=True, with_capacity=True))
def test_property_with_existing_and_capacity(panel):
    proposals, reviewers, n, conflicts, existing, capacity = panel
    result = assign_reviewers(proposals, reviewers, n, conflicts, existing=existing, capacity=capacity)
    check_invariants(result, proposals, reviewers, n, conflicts, existing, capacity)
    assert_no_improving_path(result, proposals, reviewers, conflicts, existing, capacity)
    for p, added in result.added.items():
        assert not set(added) & set(existing.get(p, ()))


@settings(max_examples=100, deadline=None)
@given(panels(with_existing=True, with_capacity=True))
def test_property_deterministic(panel):
    proposals, reviewers, n, conflicts, existing, capacity = panel
    first = assign_reviewers(proposals, reviewers, n, conflicts, existing=existing, capacity=capacity)
    second = assign_reviewers(list(reversed(proposals)), list(reversed(reviewers)), n, set(conflicts),
                              existing=existing, capacity=capacity)
    assert first == second
