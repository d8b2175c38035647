"""API: evaluation panels, conflicts, assignment, blind reviews, the ranking and decisions."""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa

from facility.accounts.models import Role, User
from facility.api import api_blueprint, requires
from facility.api.auth import ApiError, require_role, require_user
from facility.api.schemas import PageArgs, id_field, page_of, paginate
from facility.challenges.models import Challenge
from facility.extensions import db
from facility.proposals.models import Proposal
from facility.review import services
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
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
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
    load = ma.fields.Integer()


class ShortfallSchema(ma.Schema):
    proposal_id = ma.fields.Integer()
    missing = ma.fields.Integer()


class AssignmentOutcomeSchema(ma.Schema):
    round_id = ma.fields.Function(lambda o: o.round.id)
    reviewers_per_proposal = ma.fields.Integer(attribute="per_proposal")
    added = ma.fields.Integer()
    loads = ma.fields.Function(lambda o: [{"reviewer_id": r, "load": n} for r, n in o.loads.items()],
                               metadata={"description": "proposals per reviewer in the round"})
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
    comment = ma.fields.String(load_default="", validate=ma.validate.Length(max=10000))
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


class RankingSchema(page_of(RankedProposalSchema)):
    round_id = ma.fields.Integer()
    alpha = ma.fields.Float(allow_none=True, metadata={"description": "Krippendorff's alpha (interval) of the round"})
    outstanding_reviews = ma.fields.Integer()
    method = ma.fields.String()


class WaiveInSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


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
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class DecisionSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    kind = ma.fields.Function(lambda d: d.kind.value)
    status = ma.fields.Function(lambda d: "released" if d.is_released else "pending")
    released_at = ma.fields.AwareDateTime(allow_none=True)


class DecisionReleaseSchema(ma.Schema):
    released = ma.fields.Integer()


# --- helpers -------------------------------------------------------------------------------------


def _challenge(challenge_id: int, user: User) -> Challenge:
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or not challenge.can_view(user):
        raise ApiError(404, "No such challenge.")
    return challenge


def _proposal(proposal_id: int) -> Proposal:
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None:
        raise ApiError(404, "No such proposal.")
    return proposal


def _round(challenge: Challenge, kind: str) -> ReviewRound:
    round_ = services.round_of(challenge, RoundKind(kind))
    if round_ is None:
        raise ApiError(409, f"This challenge has no {kind} round yet; add reviewers to its panel first.")
    return round_


def _my_assignment(proposal: Proposal, user: User, kind: str | None) -> Assignment:
    """The caller's assignment on the proposal: in the round asked for, else the open one."""
    query = (sa.select(Assignment).join(ReviewRound, ReviewRound.id == Assignment.round_id)
             .where(Assignment.proposal_id == proposal.id, Assignment.reviewer_id == user.id))
    if kind:
        query = query.where(ReviewRound.kind == RoundKind(kind))
    candidates = list(db.session.execute(query.order_by(Assignment.id)).scalars())
    candidates = [a for a in candidates if services.can_open_assignment(a, user)]
    if not candidates:
        raise ApiError(404, "No such proposal among your assignments.")
    open_ones = [a for a in candidates if a.round.is_open]
    return (open_ones or candidates)[-1]


# --- panels and conflicts --------------------------------------------------------------------------


@blp.route("/challenges/<int:challenge_id>/reviewers", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(PanelMemberInSchema)
@blp.response(201, PanelMemberSchema)
def add_reviewer(data, challenge_id):
    """Add a panel member: a reviewer account, or one of the city's officials as observer (fund manager)."""
    actor = require_role(Role.FUND_MANAGER)
    challenge = _challenge(challenge_id, actor)
    user = db.session.get(User, data["user_id"])
    if user is None:
        raise ApiError(422, "Some fields need your attention.", {"user_id": ["No such user."]})
    member = services.add_panel_member(actor=actor, challenge=challenge, user=user, role=PanelRole(data["role"]))
    db.session.commit()
    return member


@blp.route("/proposals/<int:proposal_id>/conflicts", methods=["POST"])
@requires(Role.REVIEWER)
@blp.arguments(ConflictInSchema)
@blp.response(201, ConflictSchema)
def declare_conflict(data, proposal_id):
    """Declare a conflict of interest (or abstain) on a proposal of a panel the caller sits on."""
    actor = require_role(Role.REVIEWER)
    conflict = services.declare_conflict(actor=actor, proposal=_proposal(proposal_id), reason=data["reason"],
                                         abstain=data["abstain"])
    db.session.commit()
    return conflict


# --- assignment --------------------------------------------------------------------------------------


@blp.route("/challenges/<int:challenge_id>/assignments", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(AssignInSchema)
@blp.response(200, AssignmentOutcomeSchema)
def assign(data, challenge_id):
    """Assign every proposal of a round (default: scoring) N reviewers: balanced, never conflicted;
    the answer gives the loads and says honestly where N cannot be met (fund manager)."""
    actor = require_role(Role.FUND_MANAGER)
    challenge = _challenge(challenge_id, actor)
    outcome = services.auto_assign(actor=actor, round_=_round(challenge, data["round"]),
                                   per_proposal=data["reviewers_per_proposal"])
    db.session.commit()
    return outcome


@blp.route("/assignments/<int:assignment_id>/waive", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(WaiveInSchema)
@blp.response(200, AssignmentSchema)
def waive(data, assignment_id):
    """Waive an outstanding review, with a reason (fund manager; audited)."""
    actor = require_role(Role.FUND_MANAGER)
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise ApiError(404, "No such assignment.")
    services.waive_assignment(actor=actor, assignment=assignment, reason=data["reason"])
    db.session.commit()
    return assignment


@blp.route("/me/assignments", methods=["GET"])
@requires(Role.REVIEWER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MyAssignmentSchema))
def my_assignments(args):
    """The caller's review queue (reviewer): blind titles, rounds, progress."""
    actor = require_role(Role.REVIEWER)
    result = paginate(services.queue_query(actor), page=args["page"], per_page=args["per_page"])
    titles = services.blind_titles([a.proposal for a in result["items"]])
    for a in result["items"]:
        a.blind_title = titles[a.proposal_id]
    return result


# --- reviews -------------------------------------------------------------------------------------------


def _review_page(assignment: Assignment, user: User) -> dict:
    others = services.others_reviews(assignment, user)
    return {
        "assignment_id": assignment.id,
        "round": assignment.round,
        "proposal": services.blind_view(assignment.proposal),
        "criteria": list(assignment.round.challenge.criteria),
        "review": assignment.review,
        "others": None if others is None else [
            {"label": f"Reviewer {chr(ord('A') + i % 26)}", "scores": {str(k): v for k, v in r.score_map.items()},
             "eligible": r.eligible, "comment": r.comment} for i, r in enumerate(others)],
    }


@blp.route("/proposals/<int:proposal_id>/review", methods=["GET"])
@requires(Role.REVIEWER)
@blp.arguments(ReviewInSchema(only=("round",)), location="query")
@blp.response(200, ReviewPageSchema)
def get_review(args, proposal_id):
    """The blind proposal, the rubric and the caller's review (assigned, non-conflicted reviewer)."""
    actor = require_role(Role.REVIEWER)
    return _review_page(_my_assignment(_proposal(proposal_id), actor, args.get("round")), actor)


@blp.route("/proposals/<int:proposal_id>/review", methods=["PUT"])
@requires(Role.REVIEWER)
@blp.arguments(ReviewInSchema)
@blp.response(200, ReviewPageSchema)
def put_review(data, proposal_id):
    """Save the caller's review as a draft, or submit it (`submit: true`; then final)."""
    actor = require_role(Role.REVIEWER)
    assignment = _my_assignment(_proposal(proposal_id), actor, data.get("round"))
    services.save_review(actor=actor, assignment=assignment, scores=data["scores"], comment=data["comment"],
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
@requires(Role.FUND_MANAGER, Role.CITY_OFFICIAL, hidden=_challenge)
@blp.arguments(RankingArgs, location="query")
@blp.response(200, RankingSchema)
def get_ranking(args, challenge_id):
    """The round's ranking: raw, normalised and weighted scores, spread, disagreement, ties and
    reliability (fund managers; the city's officials once the round has closed)."""
    actor = require_user()
    challenge = _challenge(challenge_id, actor)
    round_ = services.round_of(challenge, RoundKind(args["round"]))
    if round_ is None or not services.can_see_ranking(round_, actor):
        if actor.has_role(Role.FUND_MANAGER):
            raise ApiError(404, "This challenge has no such round yet.")
        raise ApiError(403, "The ranking is for fund managers, and for the city's officials after the round closes.")
    report = services.ranking(round_)
    rows = report.ranked + report.unranked
    page, per_page = args["page"], args["per_page"]
    items = [{
        "proposal_id": r.proposal.id, "title": r.proposal.title, "status": r.proposal.status.value,
        "rank": r.stats.rank, "tied": r.stats.tied, "normalised": r.stats.normalised, "raw_mean": r.stats.raw_mean,
        "sd": r.stats.sd, "min_score": r.stats.min_score, "max_score": r.stats.max_score,
        "reviews": r.stats.reviews, "missing": r.stats.missing, "disagreement": r.stats.disagreement,
        "decision": r.decision.kind.value if r.decision else None,
        "decision_released": bool(r.decision and r.decision.is_released),
    } for r in rows[(page - 1) * per_page: page * per_page]]
    return {"items": items, "page": page, "per_page": per_page, "total": len(rows), "round_id": round_.id,
            "alpha": report.alpha, "outstanding_reviews": report.outstanding, "method": METHOD}


@blp.route("/challenges/<int:challenge_id>/decisions", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(DecisionInSchema)
@blp.response(201, DecisionSchema)
def prepare_decision(data, challenge_id):
    """Prepare a pending decision on one proposal: shortlist, award_recommendation or decline (fund manager)."""
    actor = require_role(Role.FUND_MANAGER)
    challenge = _challenge(challenge_id, actor)
    proposal = db.session.get(Proposal, data["proposal_id"])
    if proposal is None or proposal.challenge_id != challenge.id:
        raise ApiError(422, "Some fields need your attention.", {"proposal_id": ["Not a proposal of this challenge."]})
    decision = services.prepare_decision(actor=actor, proposal=proposal, kind=data["kind"], note=data["note"])
    db.session.commit()
    return decision


@blp.route("/challenges/<int:challenge_id>/decisions/release", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, DecisionReleaseSchema)
@blp.alt_response(409, description="reviews still outstanding, or nothing pending")
def release(challenge_id):
    """Release every pending decision together; 409 until every assigned review is in or waived."""
    actor = require_role(Role.FUND_MANAGER)
    released = services.release_decisions(actor=actor, challenge=_challenge(challenge_id, actor))
    db.session.commit()
    return {"released": len(released)}
