"""API: the indicator catalogue, a proposal's milestone indicators, a grant's indicators with their latest
verified values, and the grantee's readings that a fund manager verifies (`challenges.indicators`,
`proposals.indicators`, `grants.indicators`)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import public, require_user
from facility.api.schemas import PageArgs, page_of, page_of_items
from facility.challenges.indicators import CATALOGUE, CATALOGUE_SOURCE, MAX_CODE_CHARS
from facility.core.errors import ValidationFailed
from facility.core.inputs import REASON_CHARS
from facility.core.labels import label
from facility.extensions import db
from facility.grants import indicators as grant_indicators
from facility.grants import queries as grant_queries
from facility.grants.indicator_policy import can_see_unverified_readings
from facility.portfolio.indicator_results import indicator_results as results_of_indicators
from facility.proposals import indicators as proposal_indicators
from facility.proposals import queries as proposal_queries
from facility.proposals.indicator_models import METHOD_CHARS, UNIT_CHARS, Direction

blp = api_blueprint("api_indicators", __name__, "Indicators: the catalogue, milestone targets and verified values")

DECISIONS = ("verified", "rejected")


class CatalogueItemSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.Function(lambda i: str(i.name))
    framework = ma.fields.Function(lambda i: i.framework.value, metadata={"enum": ["u4ssc", "sdg11"]})
    group = ma.fields.String(metadata={"description": "U4SSC sub-dimension (EC: ICT) or SDG target (11.6)"})
    group_name = ma.fields.Function(lambda i: str(i.group_name))
    core = ma.fields.Boolean(metadata={"description": "U4SSC core (true) or advanced (false) KPI"})


class SourceSchema(ma.Schema):
    framework = ma.fields.String()
    title = ma.fields.String()
    date = ma.fields.String()


class CatalogueSchema(ma.Schema):
    sources = ma.fields.List(ma.fields.Nested(SourceSchema))
    items = ma.fields.List(ma.fields.Nested(CatalogueItemSchema))


class TermsSchema(ma.Schema):
    code = ma.fields.String()
    unit = ma.fields.String()
    baseline = ma.fields.Function(lambda i: str(i.baseline), metadata={"description": "a decimal, as text"})
    target = ma.fields.Function(lambda i: str(i.target), metadata={"description": "a decimal, as text"})
    direction = ma.fields.Function(lambda i: i.direction.value, metadata={"enum": [d.value for d in Direction]})
    method = ma.fields.String()


class MilestoneIndicatorSchema(TermsSchema):
    id = ma.fields.Integer()
    milestone_position = ma.fields.Integer()


class MilestoneIndicatorInSchema(ma.Schema):
    """Checked by the service (`proposals.indicators.add_milestone_indicator`), after the policy."""

    class Meta:
        unknown = ma.EXCLUDE

    milestone_position = ma.fields.Raw(load_default=None, metadata={"description": "the milestone's position (1, 2, ...)"})
    code = ma.fields.String(load_default="", validate=ma.validate.Length(max=MAX_CODE_CHARS),
                            metadata={"description": "a catalogue code (GET /indicators)"})
    unit = ma.fields.String(load_default="", validate=ma.validate.Length(max=UNIT_CHARS))
    baseline = ma.fields.Raw(load_default=None, metadata={"description": "a number (at most four decimals)"})
    target = ma.fields.Raw(load_default=None, metadata={"description": "a number (at most four decimals)"})
    direction = ma.fields.String(load_default="", metadata={"enum": [d.value for d in Direction]})
    method = ma.fields.String(load_default="", validate=ma.validate.Length(max=METHOD_CHARS))


class MilestoneIndicatorRemoveInSchema(ma.Schema):
    """Checked by the handler after the policy (404 for a caller who may not see the proposal, whatever the body)."""

    class Meta:
        unknown = ma.EXCLUDE

    indicator_id = ma.fields.Raw(load_default=None, metadata={"type": "integer", "description": "the indicator's id"})


class ReadingSchema(ma.Schema):
    id = ma.fields.Integer()
    value = ma.fields.Function(lambda r: str(r.value))
    note = ma.fields.String()
    report_id = ma.fields.Integer(allow_none=True, metadata={"description": "the milestone report with the evidence"})
    status = ma.fields.Function(lambda r: r.status.value, metadata={"enum": ["submitted", "verified", "rejected"]})
    status_label = ma.fields.Function(lambda r: str(label(r.status)))
    reported_at = ma.fields.AwareDateTime()
    verified_at = ma.fields.AwareDateTime(allow_none=True)
    comment = ma.fields.String()


class TrancheIndicatorSchema(TermsSchema):
    tranche_id = ma.fields.Integer()
    tranche_position = ma.fields.Function(lambda i: i.tranche.position)
    is_condition = ma.fields.Boolean(metadata={"description": "the tranche is paid once a verified value reaches "
                                                              "the target"})
    latest_verified_value = ma.fields.Function(
        lambda i: str(i.latest_verified.value) if i.latest_verified else None, allow_none=True)
    reached = ma.fields.Boolean()


class GrantIndicatorSchema(TrancheIndicatorSchema):
    readings = ma.fields.List(ma.fields.Nested(ReadingSchema), metadata={
        "description": "every reading for the grantee, the city and staff; verified ones for others"})




class _Shown:
    """A tranche indicator with the readings its viewer may see."""

    def __init__(self, indicator: Any, readings: list[Any]) -> None:
        self._indicator, self.readings = indicator, readings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._indicator, name)


class ReadingInSchema(ma.Schema):
    """Checked by the service (`grants.indicators.report_reading`) after the policy, so that a caller who may not
    see the tranche is told it does not exist (404) whatever the body."""

    class Meta:
        unknown = ma.EXCLUDE

    code = ma.fields.Raw(load_default=None, metadata={"type": "string", "description": "the indicator's code"})
    value = ma.fields.Raw(load_default=None, metadata={"description": "the measured value: a number, at most four decimals"})
    note = ma.fields.Raw(load_default="", metadata={"type": "string", "description": f"at most {REASON_CHARS} characters"})


class ReadingReviewInSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=MAX_CODE_CHARS))
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(DECISIONS))
    comment = ma.fields.String(load_default="", validate=ma.validate.Length(max=REASON_CHARS),
                               metadata={"description": "required to reject"})


class PaymentConditionInSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=MAX_CODE_CHARS))
    is_condition = ma.fields.Boolean(required=True)


@blp.route("/indicators", methods=["GET"])
@public
@blp.response(200, CatalogueSchema)
def list_indicators() -> Any:
    """The indicator catalogue (U4SSC KPIs, SDG 11 indicators) with each framework's source and date."""
    return {"sources": [{"framework": f.value, "title": s.title, "date": s.date} for f, s in CATALOGUE_SOURCE.items()],
            "items": CATALOGUE}


class IndicatorResultSchema(ma.Schema):
    code = ma.fields.String()
    framework = ma.fields.Function(lambda r: r.framework.value if r.framework else None, allow_none=True)
    grants = ma.fields.Integer(metadata={"description": "grants (not cancelled) measuring the indicator"})
    verified = ma.fields.Integer(metadata={"description": "verified values"})
    reached = ma.fields.Integer(metadata={"description": "verified values at or beyond the target"})


@blp.route("/indicators/results", methods=["GET"])
@public
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(IndicatorResultSchema))
def indicator_results(args: dict[str, Any]) -> Any:
    """The results framework's indicators: per code, the grants measuring it and the verified values that reached
    the target (facility-wide)."""
    return page_of_items(results_of_indicators(), args)


@blp.route("/proposals/<int:proposal_id>/milestone-indicators", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MilestoneIndicatorSchema))
def list_milestone_indicators(args: dict[str, Any], proposal_id: int) -> Any:
    """The indicators a proposal's milestones name (whoever sees the proposal)."""
    return page_of_items(proposal_queries.get_visible_proposal(require_user(), proposal_id).milestone_indicators, args)


@blp.route("/proposals/<int:proposal_id>/milestone-indicators", methods=["POST"])
@requires(Role.INNOVATOR, hidden=proposal_queries.get_visible_proposal)
@blp.arguments(MilestoneIndicatorInSchema)
@blp.response(201, MilestoneIndicatorSchema)
def add_milestone_indicator(data: dict[str, Any], proposal_id: int) -> Any:
    """Name an indicator, baseline, target and method for a draft's milestone (the applicant's innovators)."""
    user = require_user()
    item = proposal_indicators.add_milestone_indicator(
        proposal=proposal_queries.get_visible_proposal(user, proposal_id), actor=user, **data)
    db.session.commit()
    return item


@blp.route("/proposals/<int:proposal_id>/milestone-indicators/remove", methods=["POST"])
@requires(Role.INNOVATOR, hidden=proposal_queries.get_visible_proposal)
@blp.arguments(MilestoneIndicatorRemoveInSchema)
@blp.response(204)
def remove_milestone_indicator(data: dict[str, Any], proposal_id: int) -> Any:
    """Remove a milestone indicator of a draft (the applicant's innovators)."""
    user = require_user()
    proposal = proposal_queries.get_visible_proposal(user, proposal_id)
    indicator_id = data["indicator_id"]
    if isinstance(indicator_id, bool) or not isinstance(indicator_id, int):
        message = _("Give the indicator's id, a whole number.")
        raise ValidationFailed(message, errors={"indicator_id": [message]})
    proposal_indicators.remove_milestone_indicator(proposal=proposal, actor=user, indicator_id=indicator_id)
    db.session.commit()
    return None


def _grant_indicators(user: Any, grant: Any) -> list[_Shown]:
    everything = can_see_unverified_readings(user, grant) is None
    return [_Shown(i, i.readings if everything else [r for r in i.readings if r.status.value == "verified"])
            for t in grant.tranches for i in t.indicators]


@blp.route("/grants/<int:grant_id>/indicators", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(GrantIndicatorSchema))
def list_grant_indicators(args: dict[str, Any], grant_id: int) -> Any:
    """Each tranche's indicators: baseline, target, payment condition, latest verified value, readings (the
    grantee and staff; 404 for others)."""
    user = require_user()
    return page_of_items(_grant_indicators(user, grant_queries.get_visible_grant(user, grant_id)), args)


@blp.route("/tranches/<int:tranche_id>/readings", methods=["POST"])
@requires(Role.INNOVATOR, hidden=grant_queries.get_visible_tranche)
@blp.arguments(ReadingInSchema)
@blp.response(201, ReadingSchema)
@blp.alt_response(409, description="the tranche is paid, or a value awaits verification")
def report_reading(data: dict[str, Any], tranche_id: int) -> Any:
    """Report the measured value of one of the tranche's indicators, by code (the grantee's innovators)."""
    user = require_user()
    tranche = grant_queries.get_visible_tranche(user, tranche_id)
    reading = grant_indicators.report_reading(indicator=grant_indicators.indicator_of(tranche, data["code"]),
                                              actor=user, value=data["value"], note=data["note"])
    db.session.commit()
    return reading


@blp.route("/tranches/<int:tranche_id>/readings/review", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=grant_queries.get_visible_tranche)
@blp.arguments(ReadingReviewInSchema)
@blp.response(200, ReadingSchema)
@blp.alt_response(409, description="no value of the indicator awaits verification")
def review_reading(data: dict[str, Any], tranche_id: int) -> Any:
    """Verify or reject the value of an indicator awaiting verification (a fund manager other than its reporter)."""
    user = require_user()
    tranche = grant_queries.get_visible_tranche(user, tranche_id)
    reading = grant_indicators.review_pending(indicator=grant_indicators.indicator_of(tranche, data["code"]),
                                              actor=user, verify=data["decision"] == "verified",
                                              comment=data["comment"])
    db.session.commit()
    return reading


@blp.route("/tranches/<int:tranche_id>/conditions", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=grant_queries.get_visible_tranche)
@blp.arguments(PaymentConditionInSchema)
@blp.response(200, TrancheIndicatorSchema)
@blp.alt_response(409, description="the tranche is paid or being paid")
def set_condition(data: dict[str, Any], tranche_id: int) -> Any:
    """Make an indicator a payment condition of its unpaid tranche, or not (fund managers)."""
    user = require_user()
    tranche = grant_queries.get_visible_tranche(user, tranche_id)
    item = grant_indicators.set_condition(indicator=grant_indicators.indicator_of(tranche, data["code"]), actor=user,
                                          is_condition=data["is_condition"])
    db.session.commit()
    return item
