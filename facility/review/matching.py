"""Balanced reviewer assignment as a min-cost max-flow problem.

The network (as HotCRP builds it)::

    source --(cap N - kept reviewers)--> proposal --(cap 1, no conflict)--> reviewer --(convex cost)--> sink

The reviewer -> sink arc is a chain of unit arcs whose costs grow with the
reviewer's load: the unit that takes a reviewer from load L to L+1 costs L.
Total cost is then sum(L_r * (L_r - 1) / 2), a strictly convex function of the
loads, so among all maximum flows the cheapest one has the most even loads:
for a fixed total, the load vector with max - min <= 1 is the unique minimiser
of a sum of strictly convex functions, so it is found whenever the conflicts
allow one.

We solve it with successive shortest paths (SSP). Every arc except
reviewer -> sink costs 0, so a shortest source -> sink path in the residual
graph is an alternating path (proposal -> free reviewer, reviewer -> proposal
that currently holds it) ending at the *least loaded* reachable reviewer with
spare capacity; its cost is that reviewer's load. A breadth-first search finds
it, and stops early as soon as it reaches a reviewer carrying the smallest
load any reviewer with spare capacity has (no path can be cheaper). SSP keeps
the flow min-cost for its value after every augmentation, so the final flow is
a min-cost maximum flow.

Everything is iterated in sorted id order, so the output is deterministic
(ties go to the lower ids), independent of hash seeds.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ProposalId = Any  # any hashable, mutually comparable id (int or str)
ReviewerId = Any

REASON_CONFLICTS = "conflicts"  # fewer non-conflicted reviewers than N
REASON_CAPACITY = "capacity"  # enough reviewers, but those it could use are full


@dataclass(frozen=True)
class Shortfall:
    """Why a proposal could not get its N reviewers."""

    missing: int  # N minus the reviewers it got
    eligible: int  # non-conflicted reviewers it could have had (panel + kept ones)
    reason: str  # REASON_CONFLICTS or REASON_CAPACITY

    def describe(self, per_proposal: int) -> str:
        if self.reason == REASON_CONFLICTS:
            noun = "reviewer" if self.eligible == 1 else "reviewers"
            return f"only {self.eligible} non-conflicted {noun} for {per_proposal} places"
        return f"its {self.eligible} non-conflicted reviewers have no capacity left"


@dataclass(frozen=True)
class AssignmentResult:
    """Outcome of `assign_reviewers`.

    `assignments` holds every reviewer of each proposal (kept ones and new
    ones, sorted); `added` only the new pairs the caller must store;
    `dropped` the existing pairs removed because they are conflicted.
    `loads` counts, per reviewer, their proposals in this call after the run.
    """

    assignments: dict[ProposalId, list[ReviewerId]]
    loads: dict[ReviewerId, int]
    shortfalls: dict[ProposalId, int]
    message: str
    added: dict[ProposalId, list[ReviewerId]] = field(default_factory=dict)
    dropped: list[tuple[ProposalId, ReviewerId]] = field(default_factory=list)
    reasons: dict[ProposalId, Shortfall] = field(default_factory=dict)


def assign_reviewers(
    proposal_ids: Iterable[ProposalId],
    reviewer_ids: Iterable[ReviewerId],
    per_proposal: int,
    conflicts: Iterable[tuple[ProposalId, ReviewerId]] = (),
    existing: Mapping[ProposalId, Iterable[ReviewerId]] | None = None,
    capacity: Mapping[ReviewerId, int] | None = None,
) -> AssignmentResult:
    """Give every proposal `per_proposal` distinct, non-conflicted reviewers.

    Rules: a conflicted (proposal, reviewer) pair is never assigned (an
    existing one is dropped and reported); existing assignments are kept and
    only the gaps are filled; a reviewer's total load never exceeds
    `capacity[reviewer]` (no limit when absent); the number of assignments is
    the maximum the conflicts and capacities allow; among those, loads are as
    even as possible (max - min <= 1 whenever such an assignment exists).
    """
    if isinstance(per_proposal, bool) or not isinstance(per_proposal, int) or per_proposal < 0:
        raise ValueError("per_proposal must be a non-negative integer")
    proposals = sorted(set(proposal_ids))
    panel = sorted(set(reviewer_ids))
    conflict_set = {(p, r) for p, r in conflicts}
    caps = dict(capacity or {})
    for r, c in caps.items():
        if isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise ValueError(f"capacity of reviewer {r!r} must be a non-negative integer")

    # Existing assignments: keep them, except conflicted pairs.
    kept: dict[ProposalId, list[ReviewerId]] = {}
    dropped: list[tuple[ProposalId, ReviewerId]] = []
    load: dict[ReviewerId, int] = {r: 0 for r in panel}
    for p in proposals:
        keep = []
        for r in sorted(set((existing or {}).get(p, ()))):
            if (p, r) in conflict_set:
                dropped.append((p, r))
            else:
                keep.append(r)
                load[r] = load.get(r, 0) + 1
        kept[p] = keep

    need = {p: max(0, per_proposal - len(kept[p])) for p in proposals}
    # Candidate reviewers per proposal, in id order (the tie-break).
    candidates = {
        p: [r for r in panel if (p, r) not in conflict_set and r not in kept[p]] if need[p] else []
        for p in proposals
    }
    new: dict[ProposalId, set[ReviewerId]] = {p: set() for p in proposals}
    holders: dict[ReviewerId, set[ProposalId]] = {r: set() for r in panel}  # reverse of `new`

    def has_room(r: ReviewerId) -> bool:
        return r not in caps or load[r] < caps[r]

    while True:
        sources = [p for p in proposals if len(new[p]) < need[p]]
        if not sources:
            break
        best = _shortest_augmenting_path(sources, candidates, new, holders, load, has_room, panel)
        if best is None:
            break  # no augmenting path: the flow is maximum
        reached_from_r, reached_from_p, r = best
        # Walk the path back from the reviewer to the source proposal,
        # flipping the alternating edges.
        load[r] += 1
        while True:
            p = reached_from_r[r]
            new[p].add(r)
            holders[r].add(p)
            prev = reached_from_p.get(p)
            if prev is None:
                break
            new[p].discard(prev)
            holders[prev].discard(p)
            r = prev

    assignments = {p: sorted(kept[p] + sorted(new[p])) for p in proposals}
    added = {p: sorted(new[p]) for p in proposals if new[p]}
    shortfalls: dict[ProposalId, int] = {}
    reasons: dict[ProposalId, Shortfall] = {}
    for p in proposals:
        missing = per_proposal - len(assignments[p])
        if missing > 0:
            eligible = len(kept[p]) + len(candidates[p])
            reason = REASON_CONFLICTS if eligible < per_proposal else REASON_CAPACITY
            shortfalls[p] = missing
            reasons[p] = Shortfall(missing=missing, eligible=eligible, reason=reason)
    loads = {r: load[r] for r in sorted(load)}
    message = _message(proposals, per_proposal, reasons, dropped)
    return AssignmentResult(
        assignments=assignments, loads=loads, shortfalls=shortfalls, message=message,
        added=added, dropped=dropped, reasons=reasons,
    )


def _shortest_augmenting_path(
    sources: list[ProposalId],
    candidates: Mapping[ProposalId, list[ReviewerId]],
    new: Mapping[ProposalId, set[ReviewerId]],
    holders: Mapping[ReviewerId, set[ProposalId]],
    load: Mapping[ReviewerId, int],
    has_room: Callable[[ReviewerId], bool],
    panel: list[ReviewerId],
) -> tuple[dict[Any, Any], dict[Any, Any], ReviewerId] | None:
    """BFS over alternating paths from the proposals that still need reviewers.

    Returns the predecessor maps and the least-loaded reachable reviewer with
    room (the end of a shortest path in SSP terms), or None if none is reachable.
    """
    floor = min((load[r] for r in panel if has_room(r)), default=None)
    if floor is None:
        return None
    reached_from_r: dict[ReviewerId, ProposalId] = {}
    reached_from_p: dict[ProposalId, ReviewerId] = {}
    seen_p = set(sources)
    queue = deque(sources)
    best: ReviewerId | None = None
    while queue:
        p = queue.popleft()
        held = new[p]
        for r in candidates[p]:
            if r in held or r in reached_from_r:
                continue
            reached_from_r[r] = p
            if has_room(r) and (best is None or load[r] < load[best]):
                best = r
                if load[r] == floor:
                    return reached_from_r, reached_from_p, best
            # Continue through proposals that hold r: they could give r up.
            for p2 in sorted(holders[r]):
                if p2 not in seen_p:
                    seen_p.add(p2)
                    reached_from_p[p2] = r
                    queue.append(p2)
    if best is None:
        return None
    return reached_from_r, reached_from_p, best


def _message(
    proposals: list[ProposalId],
    per_proposal: int,
    reasons: Mapping[ProposalId, Shortfall],
    dropped: list[tuple[ProposalId, ReviewerId]],
) -> str:
    """An English summary; callers that translate use `reasons`/`dropped` instead."""
    parts = []
    if not reasons:
        parts.append(f"All {len(proposals)} proposals have {per_proposal} reviewers.")
    else:
        details = "; ".join(f"proposal {p}: {s.describe(per_proposal)}" for p, s in reasons.items())
        noun = "proposal cannot" if len(reasons) == 1 else "proposals cannot"
        parts.append(f"{len(reasons)} {noun} reach {per_proposal} reviewers ({details}).")
    if dropped:
        pairs = ", ".join(f"reviewer {r} from proposal {p}" for p, r in dropped)
        parts.append(f"Removed conflicted assignments: {pairs}.")
    return " ".join(parts)


__all__ = ["AssignmentResult", "Shortfall", "assign_reviewers", "REASON_CAPACITY", "REASON_CONFLICTS"]
