"""API: city profiles and their verification."""
from __future__ import annotations

import marshmallow as ma
from flask_login import current_user

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import public, require_role, require_user
from facility.api.schemas import PageArgs, page_of, paginate
from facility.cities import queries, services
from facility.cities.models import ClimateRisk
from facility.core.inputs import NAME_CHARS
from facility.extensions import db

blp = api_blueprint("api_cities", __name__, "Cities: profiles, country groups, priority and verification")


class CityInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NAME_CHARS))
    country = ma.fields.String(required=True, validate=ma.validate.Length(equal=3),
                               metadata={"description": "ISO 3166-1 alpha-3, e.g. UGA"})
    population = ma.fields.Integer(required=True, strict=True,
                                   validate=ma.validate.Range(min=1, max=services.MAX_POPULATION))
    informal_settlement_share_pct = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(0, 100))
    climate_risk = ma.fields.String(required=True, validate=ma.validate.OneOf([r.value for r in ClimateRisk]))


class PriorityComponentSchema(ma.Schema):
    key = ma.fields.String()
    points = ma.fields.Integer()
    maximum = ma.fields.Integer()
    reason = ma.fields.String()


class CitySchema(ma.Schema):
    id = ma.fields.Integer()
    organization_id = ma.fields.Integer()
    name = ma.fields.String()
    country = ma.fields.String()
    population = ma.fields.Integer()
    informal_settlement_share_pct = ma.fields.Integer()
    climate_risk = ma.fields.Function(lambda c: c.climate_risk.value)
    size_class = ma.fields.Function(lambda c: c.size_class.value)
    country_groups = ma.fields.List(ma.fields.String())
    global_south = ma.fields.Boolean()
    priority_score = ma.fields.Integer(metadata={"description": "0..100; see priority_components"})
    priority_components = ma.fields.Function(
        lambda c: PriorityComponentSchema(many=True).dump(c.priority_components()))
    is_verified = ma.fields.Boolean()
    verified_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()


@blp.route("/cities", methods=["POST"])
@requires(Role.CITY_OFFICIAL)
@blp.arguments(CityInSchema)
@blp.response(201, CitySchema)
def create_city(data):
    """A city official creates their city's profile (and its organisation)."""
    user = require_role(Role.CITY_OFFICIAL)
    city = services.create_city(actor=user, **data)
    db.session.commit()
    return city


@blp.route("/cities", methods=["GET"])
@public
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CitySchema))
def list_cities(args):
    """Verified cities, by name."""
    return paginate(queries.verified_cities(), page=args["page"], per_page=args["per_page"])


@blp.route("/cities/<int:city_id>", methods=["GET"])
@public
@blp.response(200, CitySchema)
def get_city(city_id):
    """A city (unverified ones only to their officials and facility staff)."""
    return queries.get_visible_city(current_user, city_id)


@blp.route("/cities/<int:city_id>/verify", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, CitySchema)
def verify_city(city_id):
    """A fund manager verifies a city (409 when already verified)."""
    user = require_user()
    city = queries.get_visible_city(user, city_id)
    services.verify_city(city=city, actor=user)
    db.session.commit()
    return city
