"""API: appeals of released decisions (`review.appeals`): the applicant asks for reconsideration; a fund
manager who took no part in the decision upholds or dismisses it with reasons."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import require_user
from facility.api.schemas import PageArgs, page_of, paginate
from facility.core.inputs import COMMENT_CHARS, REASON_CHARS
from facility.core.policy import require
from facility.extensions import db
from facility.review import appeals, policy, queries
from facility.review.appeals import OUTCOMES
from facility.review.models import AppealGrounds

blp = api_blueprint("api_appeals", __name__, "Appeals of decisions")


class AppealInSchema(ma.Schema):
    """Checked by the service (`appeals.submit_appeal`) after the policy, so that a caller who may not appeal the
    proposal is told it does not exist (404) whatever the body, and never learns what it expects."""

    class Meta:
        unknown = ma.EXCLUDE  # other members are ignored, not refused before the policy has answered

    grounds = ma.fields.String(load_default="", metadata={
        "description": "procedural_error, undeclared_conflict or factual_error",
        "enum": [g.value for g in AppealGrounds]})
    statement = ma.fields.String(load_default="", metadata={
        "description": f"what went wrong, and why it changes the decision (1 to {COMMENT_CHARS} characters)"})


class OutcomeInSchema(ma.Schema):
    outcome = ma.fields.String(required=True, validate=ma.validate.OneOf([o.value for o in OUTCOMES]),
                               metadata={"description": "upheld (the decision is set aside and the proposal reviewed "
                                                        "again) or dismissed (the decision stands)"})
    reasons = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS),
                               metadata={"description": "given to the applicant"})


class AppealSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    decision_id = ma.fields.Integer()
    organization_id = ma.fields.Integer()
    grounds = ma.fields.Function(lambda a: a.grounds.value)
    statement = ma.fields.String()
    status = ma.fields.Function(lambda a: a.status.value, metadata={"description": "submitted, upheld, dismissed or withdrawn"})
    outcome_reasons = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    withdrawn_at = ma.fields.AwareDateTime(allow_none=True)


@blp.route("/proposals/<int:proposal_id>/appeals", methods=["POST"])
@blp.arguments(AppealInSchema)
@blp.response(201, AppealSchema)
@blp.alt_response(409, description="not a released decline, already appealed, or the window has closed")
def create_appeal(data: dict[str, Any], proposal_id: int) -> Any:
    """Ask for reconsideration of the proposal's released decline, within `APPEAL_WINDOW_DAYS` days of its
    release (a member of the applicant organisation; 404 for everyone else)."""
    actor = require_user()
    appeal = appeals.submit_appeal(actor=actor, proposal=queries.get_proposal(proposal_id),
                                   grounds=data["grounds"], statement=data["statement"])
    db.session.commit()
    return appeal


@blp.route("/appeals", methods=["GET"])
@requires(Role.FUND_MANAGER, Role.AUDITOR)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(AppealSchema))
def list_appeals(args: dict[str, Any]) -> Any:
    """Every appeal, those awaiting a decision first (fund managers and auditors)."""
    require(policy.can_see_appeals(require_user()))
    return paginate(queries.appeals_query(), page=args["page"], per_page=args["per_page"])


@blp.route("/appeals/<int:appeal_id>", methods=["GET"])
@blp.response(200, AppealSchema)
def get_appeal(appeal_id: int) -> Any:
    """One appeal with its outcome (the applicant's members, fund managers, auditors; 404 for others)."""
    return queries.get_appeal(require_user(), appeal_id)


@blp.route("/appeals/<int:appeal_id>/outcome", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_appeal)
@blp.arguments(OutcomeInSchema)
@blp.response(200, AppealSchema)
@blp.alt_response(409, description="the appeal is already decided")
def decide_appeal(data: dict[str, Any], appeal_id: int) -> Any:
    """Uphold or dismiss an appeal with reasons (a fund manager who took no part in the decision: 403 otherwise)."""
    actor = require_user()
    appeal = appeals.decide_appeal(actor=actor, appeal=queries.get_appeal(actor, appeal_id),
                                   outcome=data["outcome"], reasons=data["reasons"])
    db.session.commit()
    return appeal


@blp.route("/appeals/<int:appeal_id>/withdrawal", methods=["POST"])
@requires(Role.INNOVATOR, hidden=queries.get_appeal)
@blp.response(200, AppealSchema)
@blp.alt_response(409, description="the appeal is already decided or withdrawn")
def withdraw_appeal(appeal_id: int) -> Any:
    """Withdraw an appeal awaiting a decision (a member of the applicant organisation; the decision stands)."""
    actor = require_user()
    appeal = appeals.withdraw_appeal(actor=actor, appeal=queries.get_appeal(actor, appeal_id))
    db.session.commit()
    return appeal
