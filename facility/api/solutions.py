"""API: the solutions library (grants whose milestones were all accepted) and replication challenges started
from them (`solutions.replication`)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for
from flask_login import current_user

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import public, require_user
from facility.api.challenges import ChallengePatchSchema
from facility.api.public_schemas import COUNTRY_CODES
from facility.api.schemas import PageArgs, page_of, paginate
from facility.challenges.models import FocusArea
from facility.cities.queries import city_of_official
from facility.extensions import db
from facility.solutions import queries, replication

blp = api_blueprint("api_solutions", __name__, "Solutions library and replications")


def _viewer() -> Any:
    return current_user._get_current_object() if current_user.is_authenticated else None


class LibraryArgs(PageArgs):
    focus_area = ma.fields.String(validate=ma.validate.OneOf([f.value for f in FocusArea]))
    country = ma.fields.String(validate=ma.validate.OneOf(COUNTRY_CODES, error="Not an ISO 3166-1 alpha-3 country "
                                                          "code in capitals, e.g. NPL."),
                               metadata={"description": "the piloting city's country, ISO 3166-1 alpha-3"})


class PlaceSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    country = ma.fields.String(allow_none=True, metadata={"description": "ISO 3166-1 alpha-3"})


class ResultSchema(ma.Schema):
    position = ma.fields.Integer()
    title = ma.fields.String()
    public_summary = ma.fields.String(metadata={"description": "the grantee's public account of the milestone"})


class ReplicationRowSchema(ma.Schema):
    challenge_id = ma.fields.Function(lambda r: r.challenge.id)
    title = ma.fields.Function(lambda r: r.challenge.title)
    city = ma.fields.Function(lambda r: PlaceSchema().dump(r.challenge.city), metadata={"type": "object"})
    status = ma.fields.Function(lambda r: r.challenge.status.value,
                                metadata={"description": "the challenge's status (drafts only to those who see them)"})
    grants_awarded = ma.fields.Integer(metadata={"description": "grants the replication awarded, not cancelled"})
    paid_cents = ma.fields.Integer(metadata={"description": "US cents paid to them, net of refunds"})


class SolutionSchema(ma.Schema):
    """A solution: the grant's public record (title, grantee, piloting city, challenge, amount), its accepted
    milestones' public summaries and its replications with their results. Never KPI values or report text."""

    id = ma.fields.Function(lambda row: row.grant.id, metadata={"type": "integer", "description": "the grant's id"})
    url = ma.fields.Function(lambda row: url_for("api_solutions.get_solution", grant_id=row.grant.id),
                             metadata={"type": "string"})
    title = ma.fields.Function(lambda row: row.grant.proposal.title, metadata={"type": "string"})
    grantee = ma.fields.Function(lambda row: PlaceSchema().dump(row.grant.organization), metadata={"type": "object"})
    city = ma.fields.Function(lambda row: PlaceSchema().dump(row.grant.challenge.city), metadata={"type": "object"})
    challenge_id = ma.fields.Function(lambda row: row.grant.challenge_id, metadata={"type": "integer"})
    challenge_title = ma.fields.Function(lambda row: row.grant.challenge.title, metadata={"type": "string"})
    focus_area = ma.fields.Function(lambda row: row.grant.challenge.focus_area.value, metadata={"type": "string"})
    amount_cents = ma.fields.Function(lambda row: row.grant.amount_cents,
                                      metadata={"type": "integer", "description": "US cents awarded"})
    results = ma.fields.List(ma.fields.Nested(ResultSchema))
    replications = ma.fields.List(ma.fields.Nested(ReplicationRowSchema))


class ReplicationSchema(ma.Schema):
    id = ma.fields.Integer()
    solution_grant_id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    challenge_url = ma.fields.Function(lambda r: url_for("api_challenges.get_challenge", challenge_id=r.challenge_id),
                                       metadata={"type": "string", "description": "the draft replication challenge"})
    invited_organization_id = ma.fields.Integer(allow_none=True, metadata={"description": "the original grantee"})
    created_at = ma.fields.AwareDateTime()


@blp.route("/solutions", methods=["GET"])
@public
@blp.arguments(LibraryArgs, location="query")
@blp.response(200, page_of(SolutionSchema))
def list_solutions(args: dict[str, Any]) -> Any:
    """Every solution (a grant, not cancelled, whose every milestone was accepted and every indicator verified),
    newest award first; filter by focus_area and the piloting city's country (422 for an unknown one)."""
    focus_area = FocusArea(args["focus_area"]) if args.get("focus_area") else None
    page = paginate(queries.library_query(queries.LibraryFilter(focus_area=focus_area, country=args.get("country"))),
                    page=args["page"], per_page=args["per_page"])
    return {**page, "items": queries.solution_rows(_viewer(), page["items"])}


@blp.route("/solutions/<int:grant_id>", methods=["GET"])
@public
@blp.response(200, SolutionSchema)
def get_solution(grant_id: int) -> Any:
    """One solution with its results and replications (404 for a grant that is not a solution)."""
    return queries.solution_rows(_viewer(), [queries.get_solution(grant_id)])[0]


@blp.route("/solutions/<int:grant_id>/replications", methods=["POST"])
@requires(Role.CITY_OFFICIAL)
@blp.arguments(ChallengePatchSchema)
@blp.response(201, ReplicationSchema)
@blp.alt_response(409, description="not a solution, the city is not verified, or it is the piloting city")
def create_replication(data: dict[str, Any], grant_id: int) -> Any:
    """An official of a verified city starts a replication of the solution in their city: a draft challenge
    pre-filled from the original (any field given here replaces the pre-filled one) inviting the original
    grantee, open to everyone. It then follows the challenge's path (submit, approval)."""
    actor = require_user()
    made = replication.start_replication(actor=actor, grant=queries.get_grant(grant_id),
                                         city=city_of_official(actor), **data)
    db.session.commit()
    return made
