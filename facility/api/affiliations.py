"""API: the caller's declared affiliations (reviewers), read by the conflict-of-interest detection."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import require_user
from facility.api.schemas import PageArgs, page_of, paginate
from facility.core.inputs import MAX_YEAR, MIN_YEAR, NAME_CHARS
from facility.core.policy import require
from facility.extensions import db
from facility.review import affiliations, policy, queries

blp = api_blueprint("api_affiliations", __name__, "Reviewers' declared affiliations")


class AffiliationInSchema(ma.Schema):
    organization_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NAME_CHARS))
    website_domain = ma.fields.String(load_default=None, allow_none=True,
                                      validate=ma.validate.Length(max=affiliations.WEBSITE_CHARS),
                                      metadata={"description": "e.g. example.org (a website address is read "
                                                               "down to its domain)"})
    from_year = ma.fields.Integer(load_default=None, allow_none=True, strict=True,
                                  validate=ma.validate.Range(MIN_YEAR, MAX_YEAR))
    to_year = ma.fields.Integer(load_default=None, allow_none=True, strict=True,
                                validate=ma.validate.Range(MIN_YEAR, MAX_YEAR),
                                metadata={"description": "the year it ended; null: current"})


class AffiliationSchema(ma.Schema):
    id = ma.fields.Integer()
    organization_name = ma.fields.String()
    website_domain = ma.fields.String(allow_none=True)
    organization_id = ma.fields.Integer(allow_none=True,
                                        metadata={"description": "the registered organisation it matched, if any"})
    from_year = ma.fields.Integer(allow_none=True)
    to_year = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()


@blp.route("/me/affiliations", methods=["GET"])
@requires(Role.REVIEWER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(AffiliationSchema))
def list_affiliations(args: dict[str, Any]) -> Any:
    """The caller's declared affiliations, current ones first (reviewer)."""
    actor = require_user()
    require(policy.can_manage_affiliations(actor))
    return paginate(queries.affiliations_query(actor), page=args["page"], per_page=args["per_page"])


@blp.route("/me/affiliations", methods=["POST"])
@requires(Role.REVIEWER)
@blp.arguments(AffiliationInSchema)
@blp.response(201, AffiliationSchema)
def add_affiliation(data: dict[str, Any]) -> Any:
    """Declare an organisation the caller worked with (reviewer): while current or ended within three
    years, its proposals are conflicted for the caller and never assigned to them."""
    affiliation = affiliations.add_affiliation(actor=require_user(), **data)
    db.session.commit()
    return affiliation


@blp.route("/me/affiliations/<int:affiliation_id>", methods=["DELETE"])
@requires(Role.REVIEWER)
@blp.response(204)
def remove_affiliation(affiliation_id: int) -> Any:
    """Remove one of the caller's declared affiliations (reviewer; anyone else's is not found)."""
    actor = require_user()
    affiliations.remove_affiliation(actor=actor, affiliation=queries.get_own_affiliation(actor, affiliation_id))
    db.session.commit()
    return None
