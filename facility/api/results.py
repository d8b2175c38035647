"""API: the results framework (`GET /results`), public, the same figures as the `/results` page.

Every amount is named with its unit (`*_cents`, integer US cents); every share is `*_pct`, a percentage
of the whole with one decimal (0 to 100); counts are plain integers. Targets carry their value, unit,
deadline, source and the definition of what counts, in the caller's language.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from facility.api import api_blueprint
from facility.api.auth import public
from facility.api.public_schemas import COUNTRY_CODES
from facility.challenges import sdg
from facility.challenges.models import FocusArea
from facility.cities.models import SizeClass
from facility.portfolio import results as figures
from facility.portfolio.filters import GROUP_CHOICES, REGION_CHOICES, PortfolioFilter

blp = api_blueprint("api_results", __name__, "The results framework: capital raised, engagement, where the money goes")

PCT = {"description": "percent of the whole, 0 to 100, one decimal"}
CENTS = {"description": "US cents"}


class ResultsArgs(ma.Schema):
    country = ma.fields.String(validate=ma.validate.OneOf(COUNTRY_CODES, error="Not an ISO 3166-1 alpha-3 country "
                                                          "code in capitals, e.g. UGA."),
                               metadata={"description": "ISO 3166-1 alpha-3, e.g. UGA"})
    region = ma.fields.String(validate=ma.validate.OneOf([code for code, _ in REGION_CHOICES]))
    country_group = ma.fields.String(validate=ma.validate.OneOf([code for code, _ in GROUP_CHOICES]))
    size_class = ma.fields.String(validate=ma.validate.OneOf([s.value for s in SizeClass]))
    focus_area = ma.fields.String(validate=ma.validate.OneOf([f.value for f in FocusArea]))
    sdg_target = ma.fields.String(validate=ma.validate.OneOf(sdg.SDG_TARGETS, error="Not an SDG target code; "
                                                             "use codes such as 11.2 or 11.a."))


class TargetSchema(ma.Schema):
    key = ma.fields.String()
    value = ma.fields.Integer(metadata={"description": "in `unit`: US cents for money, a count otherwise"})
    unit = ma.fields.String(metadata={"description": "`cents` or `count`"})
    deadline = ma.fields.Date()
    source = ma.fields.String()
    definition = ma.fields.Function(lambda t: str(t.definition), metadata={"description": "what counts"})


class QuarterSchema(ma.Schema):
    quarter = ma.fields.Function(lambda q: q.quarter.key, metadata={"description": "calendar quarter (UTC), e.g. 2027-Q1"})
    raised_cents = ma.fields.Integer(metadata=CENTS)
    cumulative_cents = ma.fields.Integer(metadata=CENTS)


class CapitalSchema(ma.Schema):
    target = ma.fields.Nested(TargetSchema)
    target_cents = ma.fields.Function(lambda c: c.target.value, metadata=CENTS)
    deadline = ma.fields.Function(lambda c: c.target.deadline.isoformat(), metadata={"format": "date"})
    as_of = ma.fields.Date(attribute="today")
    raised_cents = ma.fields.Integer(metadata={"description": "US cents; equals raised_cents of GET /facility"})
    progress_pct = ma.fields.Float(metadata=PCT)
    remaining_cents = ma.fields.Integer(metadata=CENTS)
    quarters_left = ma.fields.Integer(metadata={"description": "the current quarter to the deadline's, both included"})
    needed_per_quarter_cents = ma.fields.Integer(metadata=CENTS)
    rate_per_quarter_cents = ma.fields.Integer(metadata=CENTS)
    rate_basis = ma.fields.String(metadata={"description": "`last_four_quarters` (the last four complete "
                                            "quarters), `since_start` (per quarter since the first contribution) "
                                            "or `none`"})
    projected_cents = ma.fields.Integer(metadata={"description": "US cents at the deadline at today's rate"})
    projected_pct = ma.fields.Float(metadata=PCT)
    on_track = ma.fields.Boolean()
    quarters = ma.fields.List(ma.fields.Nested(QuarterSchema))


class EngagementSchema(ma.Schema):
    key = ma.fields.Function(lambda e: e.target.key)
    count = ma.fields.Integer()
    target = ma.fields.Nested(TargetSchema)
    progress_pct = ma.fields.Float(metadata=PCT)


class MoneySchema(ma.Schema):
    key = ma.fields.String()
    grants = ma.fields.Integer(metadata={"description": "number of grants"})
    awarded_cents = ma.fields.Integer(metadata=CENTS)
    disbursed_cents = ma.fields.Integer(metadata=CENTS)
    awarded_pct = ma.fields.Float(metadata={"description": "share of all awarded money, percent 0 to 100"})
    disbursed_pct = ma.fields.Float(metadata={"description": "share of all disbursed money, percent 0 to 100"})


class ResultsSchema(ma.Schema):
    capital = ma.fields.Nested(CapitalSchema)
    engagement = ma.fields.List(ma.fields.Nested(EngagementSchema))
    money = ma.fields.Nested(MoneySchema, metadata={"description": "every grant (within the filters)"})
    by_policy = ma.fields.List(ma.fields.Nested(MoneySchema), metadata={"description": (
        "small_and_medium_cities, ldc_lldc_sids, global_south, high_climate_risk, large_informal_settlements")})
    by_focus_area = ma.fields.List(ma.fields.Nested(MoneySchema))
    by_sdg_target = ma.fields.List(ma.fields.Nested(MoneySchema), metadata={
        "description": "SDG 11 targets; a grant counts under each target of its challenge"})
    by_beneficiary_group = ma.fields.List(ma.fields.Nested(MoneySchema), metadata={
        "description": "a grant counts under each group its proposal names"})
    large_informal_settlements_min_pct = ma.fields.Integer(metadata={
        "description": "a city's informal-settlement share (percent) from which it counts as large"})
    filters = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


@blp.route("/results", methods=["GET"])
@public
@blp.arguments(ResultsArgs, location="query")
@blp.response(200, ResultsSchema)
def results(args: dict[str, Any]) -> Any:
    """The results framework: capital raised against USD 1 billion by 2030 (per quarter, the rate needed,
    the projection), engagement against its targets, and how the money follows the facility's policy.
    The filters narrow engagement and money, never the capital raised."""
    portfolio_filter = PortfolioFilter(**args)
    data = figures.results(portfolio_filter)
    return {**{name: getattr(data, name) for name in ResultsSchema._declared_fields if name != "filters"},
            "filters": portfolio_filter.args()}
