"""API: evaluation panels, conflicts, assignment, blind reviews, the ranking and decisions."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from facility.accounts.models import Role, User
from facility.api import api_blueprint, requires
from facility.api.auth import ApiError, require_user
from facility.api.schemas import PageArgs, id_field, page_of, paginate
from facility.core.inputs import COMMENT_CHARS, REASON_CHARS
from facility.core.policy import require
from facility.extensions import db
from facility.proposals.models import Proposal
from facility.review import assignments, conflicts, decisions, panels, policy, queries, ranking, reviews
from facility.review.models import (
    Assignment,
    DecisionKind,
    PanelRole,
    ReviewRound,
    RoundKind,
)

blp = api_blueprint("api_review", __name__, "Evaluation panels and reviews")


# --- schemas -------------------------------------------------------------------------------------


class PanelMemberInSchema(ma.Schema):
    user_id = id_field(required=True)
    role = ma.fields.String(load_default=PanelRole.REVIEWER.value,
                            validate=ma.validate.OneOf([r.value for r in PanelRole]),
                            metadata={"description": "reviewer (default) or observer (the city's officials)"})


class PanelMemberSchema(ma.Schema):
    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    user_id = ma.fields.Integer()
    role = ma.fields.Function(lambda m: m.role.value)
    created_at = ma.fields.AwareDateTime()


class ConflictInSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS))
    abstain = ma.fields.Boolean(load_default=False, metadata={"description": "abstain rather than declare a conflict"})


class ConflictSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    kind = ma.fields.Function(lambda c: c.kind.value)
    reason = ma.fields.String()
    created_at = ma.fields.AwareDateTime()


class AssignInSchema(ma.Schema):
    reviewers_per_proposal = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=20))
    round = ma.fields.String(load_default=RoundKind.SCORING.value,
                             validate=ma.validate.OneOf([k.value for k in RoundKind]))


class LoadSchema(ma.Schema):
    reviewer_id = ma.fields.Integer()
    reviewer_load = ma.fields.Integer(data_key="load", attribute="load")  # `load` would hide Schema.load


class ShortfallSchema(ma.Schema):
    proposal_id = ma.fields.Integer()
    missing = ma.fields.Integer()


class AssignmentOutcomeSchema(ma.Schema):
    round_id = ma.fields.Function(lambda o: o.round.id)
    reviewers_per_proposal = ma.fields.Integer(attribute="per_proposal")
    added = ma.fields.Integer()
    # Named apart from Schema.loads, which a field called `loads` would hide.
    reviewer_loads = ma.fields.Function(lambda o: [{"reviewer_id": r, "load": n} for r, n in o.loads.items()],
                                        data_key="loads", metadata={"description": "proposals per reviewer in the round"})
    shortfalls = ma.fields.Function(lambda o: [{"proposal_id": p, "missing": n} for p, n in o.shortfalls.items()])
    message = ma.fields.String()
    details = ma.fields.List(ma.fields.String())


class RoundSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.Function(lambda r: r.kind.value)
    opens_at = ma.fields.AwareDateTime()
    closes_at = ma.fields.AwareDateTime()
    can_review = ma.fields.Boolean()
    can_see_others = ma.fields.Boolean()
    is_open = ma.fields.Boolean()
    is_closed = ma.fields.Boolean()


def _assignment_status(a: Assignment) -> str:
    if a.review is None:
        return "to_do"
    return a.review.status.value


class MyAssignmentSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    challenge_id = ma.fields.Function(lambda a: a.round.challenge_id)
    title = ma.fields.Function(lambda a: getattr(a, "blind_title", ""),
                               metadata={"description": "the proposal's title, blind"})
    round = ma.fields.Nested(RoundSchema)
    status = ma.fields.Function(_assignment_status, metadata={"description": "to_do, draft or submitted"})


class ReviewInSchema(ma.Schema):
    scores = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(allow_none=True), load_default=dict,
                            metadata={"description": "criterion id -> 0..10"})
    comment = ma.fields.String(load_default="", validate=ma.validate.Length(max=COMMENT_CHARS))
    eligible = ma.fields.Boolean(load_default=None, allow_none=True,
                                 metadata={"description": "eligibility rounds: pass (true) or fail (false)"})
    submit = ma.fields.Boolean(load_default=False)
    round = ma.fields.String(load_default=None, allow_none=True,
                             validate=ma.validate.OneOf([k.value for k in RoundKind]),
                             metadata={"description": "which round (default: the open one)"})


class ReviewSchema(ma.Schema):
    id = ma.fields.Integer()
    assignment_id = ma.fields.Integer()
    status = ma.fields.Function(lambda r: r.status.value)
    scores = ma.fields.Function(lambda r: {str(k): v for k, v in r.score_map.items()})
    eligible = ma.fields.Boolean(allow_none=True)
    comment = ma.fields.String()
    submitted_at = ma.fields.AwareDateTime(allow_none=True)


class OtherReviewSchema(ma.Schema):
    label = ma.fields.String()
    scores = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    eligible = ma.fields.Boolean(allow_none=True)
    comment = ma.fields.String()


class MilestoneViewSchema(ma.Schema):
    position = ma.fields.Integer(allow_none=True)
    title = ma.fields.String()
    due_date = ma.fields.String(allow_none=True)
    amount_cents = ma.fields.Integer()
    deliverable = ma.fields.String()


class BlindProposalSchema(ma.Schema):
    proposal_id = ma.fields.Integer()
    version = ma.fields.Integer(allow_none=True)
    title = ma.fields.String()
    summary = ma.fields.String()
    approach = ma.fields.String()
    requested_cents = ma.fields.Integer()
    beneficiary_groups = ma.fields.List(ma.fields.String())
    privacy_impact = ma.fields.String()
    milestones = ma.fields.List(ma.fields.Nested(MilestoneViewSchema))
    attachments = ma.fields.List(ma.fields.Dict())


class RankingCriterionSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    description = ma.fields.String()
    weight = ma.fields.Integer()
    descriptor_low = ma.fields.String(metadata={"description": "what a low score (0–3) means; empty if not given"})
    descriptor_mid = ma.fields.String(metadata={"description": "what a middle score (4–6) means"})
    descriptor_high = ma.fields.String(metadata={"description": "what a high score (7–10) means"})


class ReviewPageSchema(ma.Schema):
    assignment_id = ma.fields.Integer()
    round = ma.fields.Nested(RoundSchema)
    proposal = ma.fields.Nested(BlindProposalSchema)
    criteria = ma.fields.List(ma.fields.Nested(RankingCriterionSchema))
    review = ma.fields.Nested(ReviewSchema, allow_none=True)
    others = ma.fields.List(ma.fields.Nested(OtherReviewSchema), allow_none=True,
                            metadata={"description": "null while hidden (own review not submitted, or the round forbids)"})


class RankingArgs(PageArgs):
    round = ma.fields.String(load_default=RoundKind.SCORING.value,
                             validate=ma.validate.OneOf([RoundKind.SCORING.value, RoundKind.SHORTLIST.value]))


class RankedProposalSchema(ma.Schema):
    proposal_id = ma.fields.Integer()
    title = ma.fields.String()
    status = ma.fields.String()
    rank = ma.fields.Integer(allow_none=True, metadata={"description": "competition rank; null when unranked"})
    tied = ma.fields.Boolean()
    normalised = ma.fields.Float(allow_none=True, metadata={"description": "mean of per-reviewer z-scores"})
    raw_mean = ma.fields.Float(allow_none=True, metadata={"description": "mean weighted score, 0..10"})
    sd = ma.fields.Float(allow_none=True)
    min_score = ma.fields.Float(allow_none=True)
    max_score = ma.fields.Float(allow_none=True)
    reviews = ma.fields.Integer()
    missing = ma.fields.Integer(metadata={"description": "assigned reviews not yet in"})
    disagreement = ma.fields.Boolean()
    decision = ma.fields.String(allow_none=True)
    decision_released = ma.fields.Boolean()


class RankingSchema(page_of(RankedProposalSchema)):  # type: ignore[misc]  # a schema class made by page_of
    round_id = ma.fields.Integer()
    alpha = ma.fields.Float(allow_none=True, metadata={"description": "Krippendorff's alpha (interval) of the round"})
    outstanding_reviews = ma.fields.Integer()
    method = ma.fields.String()


class WaiveInSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS))


class AssignmentSchema(ma.Schema):
    id = ma.fields.Integer()
    round_id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    reviewer_id = ma.fields.Integer()
    waived_at = ma.fields.AwareDateTime(allow_none=True)
    waive_reason = ma.fields.String()


class DecisionInSchema(ma.Schema):
    proposal_id = id_field(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf([k.value for k in DecisionKind]))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=REASON_CHARS))


class DecisionSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    kind = ma.fields.Function(lambda d: d.kind.value)
    status = ma.fields.Function(lambda d: "released" if d.is_released else "pending")
    released_at = ma.fields.AwareDateTime(allow_none=True)


class DecisionReleaseSchema(ma.Schema):
    released = ma.fields.Integer()


# --- helpers -------------------------------------------------------------------------------------


def _round(challenge: Any, kind: str) -> ReviewRound:
    round_ = queries.round_of(challenge, RoundKind(kind))
    if round_ is None:
        raise ApiError(409, f"This challenge has no {kind} round yet; add reviewers to its panel first.")
    return round_


# --- panels and conflicts --------------------------------------------------------------------------


@blp.route("/challenges/<int:challenge_id>/reviewers", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(PanelMemberInSchema)
@blp.response(201, PanelMemberSchema)
def add_reviewer(data: dict[str, Any], challenge_id: int) -> Any:
    """Add a panel member: a reviewer account, or one of the city's officials as observer (fund manager)."""
    actor = require_user()
    challenge = queries.get_visible_challenge(actor, challenge_id)
    require(policy.can_manage_panel(actor, challenge))
    user = db.session.get(User, data["user_id"])
    if user is None:
        raise ApiError(422, "Some fields need your attention.", {"user_id": ["No such user."]})
    member = panels.add_panel_member(actor=actor, challenge=challenge, user=user, role=PanelRole(data["role"]))
    db.session.commit()
    return member


@blp.route("/proposals/<int:proposal_id>/conflicts", methods=["POST"])
@requires(Role.REVIEWER)
@blp.arguments(ConflictInSchema)
@blp.response(201, ConflictSchema)
def declare_conflict(data: dict[str, Any], proposal_id: int) -> Any:
    """Declare a conflict of interest (or abstain) on a proposal of a panel the caller sits on."""
    actor = require_user()
    proposal = queries.get_proposal(proposal_id)
    require(policy.can_declare_conflict(actor, proposal))
    conflict = conflicts.declare_conflict(actor=actor, proposal=proposal, reason=data["reason"],
                                          abstain=data["abstain"])
    db.session.commit()
    return conflict


# --- assignment --------------------------------------------------------------------------------------


@blp.route("/challenges/<int:challenge_id>/assignments", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(AssignInSchema)
@blp.response(200, AssignmentOutcomeSchema)
def assign(data: dict[str, Any], challenge_id: int) -> Any:
    """Assign every proposal of a round (default: scoring) N reviewers: balanced, never conflicted;
    the answer gives the loads and says honestly where N cannot be met (fund manager)."""
    actor = require_user()
    challenge = queries.get_visible_challenge(actor, challenge_id)
    require(policy.can_manage_panel(actor, challenge))
    outcome = assignments.auto_assign(actor=actor, round_=_round(challenge, data["round"]),
                                      per_proposal=data["reviewers_per_proposal"])
    db.session.commit()
    return outcome


@blp.route("/assignments/<int:assignment_id>/waive", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(WaiveInSchema)
@blp.response(200, AssignmentSchema)
def waive(data: dict[str, Any], assignment_id: int) -> Any:
    """Waive an outstanding review, with a reason (fund manager; audited)."""
    actor = require_user()
    assignment = queries.get_assignment(assignment_id)
    assignments.waive_assignment(actor=actor, assignment=assignment, reason=data["reason"])
    db.session.commit()
    return assignment


@blp.route("/me/assignments", methods=["GET"])
@requires(Role.REVIEWER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MyAssignmentSchema))
def my_assignments(args: dict[str, Any]) -> Any:
    """The caller's review queue (reviewer): blind titles, rounds, progress."""
    actor = require_user()
    require(policy.can_see_queue(actor))
    result = paginate(queries.queue_query(actor), page=args["page"], per_page=args["per_page"])
    titles = queries.with_blind_titles(result["items"])
    for a in result["items"]:
        a.blind_title = titles[a.proposal_id]
    return result


# --- reviews -------------------------------------------------------------------------------------------


def _review_page(assignment: Assignment, user: User) -> dict[str, Any]:
    page = queries.review_page(user, assignment)
    others = page.others
    return {
        "assignment_id": assignment.id,
        "round": page.round,
        "proposal": page.proposal,
        "criteria": list(assignment.round.challenge.criteria),
        "review": page.review,
        "others": None if others is None else [
            {"label": f"Reviewer {chr(ord('A') + i % 26)}", "scores": {str(k): v for k, v in r.score_map.items()},
             "eligible": r.eligible, "comment": r.comment} for i, r in enumerate(others)],
    }


@blp.route("/proposals/<int:proposal_id>/review", methods=["GET"])
@requires(Role.REVIEWER)
@blp.arguments(ReviewInSchema(only=("round",)), location="query")
@blp.response(200, ReviewPageSchema)
def get_review(args: dict[str, Any], proposal_id: int) -> Any:
    """The blind proposal, the rubric and the caller's review (assigned, non-conflicted reviewer)."""
    actor = require_user()
    require(policy.can_see_queue(actor))
    return _review_page(queries.my_assignment_on(actor, queries.get_proposal(proposal_id), args.get("round")), actor)


@blp.route("/proposals/<int:proposal_id>/review", methods=["PUT"])
@requires(Role.REVIEWER)
@blp.arguments(ReviewInSchema)
@blp.response(200, ReviewPageSchema)
def put_review(data: dict[str, Any], proposal_id: int) -> Any:
    """Save the caller's review as a draft, or submit it (`submit: true`; then final)."""
    actor = require_user()
    require(policy.can_see_queue(actor))
    assignment = queries.my_assignment_on(actor, queries.get_proposal(proposal_id), data.get("round"))
    reviews.save_review(actor=actor, assignment=assignment, scores=data["scores"], comment=data["comment"],
                        eligible=data["eligible"], submit=data["submit"])
    db.session.commit()
    return _review_page(assignment, actor)


# --- ranking and decisions ---------------------------------------------------------------------------

METHOD = ("Weighted score = sum(score x weight) / 100 per review (0..10). Each reviewer's weighted scores in the "
          "round are turned into z-scores with the population standard deviation (z = 0 for a reviewer with one "
          "review or no spread); a proposal's normalised score is the mean of its z-scores. Ranked by normalised "
          "score, then raw mean (6 decimals); equal values share a rank. Disagreement: weighted scores 4 or more "
          "points apart. Reliability: Krippendorff's alpha, interval metric (Krippendorff 2011).")


@blp.route("/challenges/<int:challenge_id>/ranking", methods=["GET"])
@requires(Role.FUND_MANAGER, Role.CITY_OFFICIAL, Role.AUDITOR, hidden=queries.get_visible_challenge)
@blp.arguments(RankingArgs, location="query")
@blp.response(200, RankingSchema)
def get_ranking(args: dict[str, Any], challenge_id: int) -> Any:
    """The round's ranking: raw, normalised and weighted scores, spread, disagreement, ties and
    reliability (fund managers; the city's officials once the round has closed)."""
    actor = require_user()
    challenge = queries.get_visible_challenge(actor, challenge_id)
    round_ = queries.get_ranking_round(actor, challenge, args["round"])
    page, per_page = args["page"], args["per_page"]
    report = ranking.ranking(round_, rows=slice((page - 1) * per_page, page * per_page))
    items = ranking.ranking_items(report)
    return {"items": items, "page": page, "per_page": per_page, "total": report.ranked_total + report.unranked_total,
            "round_id": round_.id,
            "alpha": report.alpha, "outstanding_reviews": report.outstanding, "method": METHOD}


@blp.route("/challenges/<int:challenge_id>/decisions", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(DecisionInSchema)
@blp.response(201, DecisionSchema)
def prepare_decision(data: dict[str, Any], challenge_id: int) -> Any:
    """Prepare a pending decision on one proposal: shortlist, award_recommendation or decline (fund manager)."""
    actor = require_user()
    challenge = queries.get_visible_challenge(actor, challenge_id)
    require(policy.can_manage_panel(actor, challenge))
    proposal = db.session.get(Proposal, data["proposal_id"])
    if proposal is None or proposal.challenge_id != challenge.id:
        raise ApiError(422, "Some fields need your attention.", {"proposal_id": ["Not a proposal of this challenge."]})
    decision = decisions.prepare_decision(actor=actor, proposal=proposal, kind=data["kind"], note=data["note"])
    db.session.commit()
    return decision


@blp.route("/challenges/<int:challenge_id>/decisions/release", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, DecisionReleaseSchema)
@blp.alt_response(409, description="reviews still outstanding, or nothing pending")
def release(challenge_id: int) -> Any:
    """Release every pending decision together; 409 until every assigned review is in or waived."""
    actor = require_user()
    released = decisions.release_decisions(actor=actor, challenge=queries.get_visible_challenge(actor, challenge_id))
    db.session.commit()
    return {"released": len(released)}
