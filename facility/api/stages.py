"""API: staged prizes. Add a challenge's next stage (a draft pre-filled from it: `challenges.stages`);
list the previous stage's grants with whether each may advance; invite one (`grants.stages`); read who
advanced into a stage and why."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_login import current_user

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import public, require_user
from facility.api.challenges import ChallengeSchema, InvitationSchema
from facility.api.schemas import PageArgs, cents_field, datetime_field, id_field, page_of, page_of_items
from facility.challenges import queries as challenge_queries
from facility.challenges import stages as challenge_stages
from facility.challenges.stages import STAGE_NAME_CHARS
from facility.core.errors import NotFound
from facility.core.inputs import REASON_CHARS
from facility.core.policy import require
from facility.extensions import db
from facility.grants import policy as grant_policy
from facility.grants import stage_facts
from facility.grants import stages as grant_stages
from facility.grants.models import Grant

blp = api_blueprint("api_stages", __name__, "Staged prizes: stages and invitations")


class NextStageInSchema(ma.Schema):
    stage_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=STAGE_NAME_CHARS),
                                  metadata={"description": "e.g. Scale"})
    previous_stage_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=STAGE_NAME_CHARS),
                                           metadata={"description": "names this stage (e.g. Pilot) if it has no "
                                                                    "name yet"})
    prize_pool_cents = cents_field(required=True)
    max_award_cents = cents_field(required=True)
    opens_at = datetime_field(required=True, metadata={"description": "not before this stage's deadline"})
    closes_at = datetime_field(required=True)
    invitation_only = ma.fields.Boolean(load_default=True)


class InviteInSchema(ma.Schema):
    grant_id = id_field(required=True, metadata={"description": "a grant of the previous stage"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS),
                              metadata={"description": "why the organisation advances; shown publicly"})


class CandidateSchema(ma.Schema):
    grant_id = ma.fields.Function(lambda c: c.grant.id, metadata={"type": "integer"})
    organization_id = ma.fields.Function(lambda c: c.grant.organization_id, metadata={"type": "integer"})
    organization_name = ma.fields.Function(lambda c: c.grant.organization.name, metadata={"type": "string"})
    grant_status = ma.fields.Function(lambda c: c.grant.status.value, metadata={"type": "string"})
    eligible = ma.fields.Boolean()
    problem = ma.fields.String(metadata={"description": "why it may not advance (empty when it may)"})


@blp.route("/challenges/<int:challenge_id>/stages", methods=["POST"])
@requires(Role.CITY_OFFICIAL, Role.FUND_MANAGER, hidden=challenge_queries.get_visible_challenge)
@blp.arguments(NextStageInSchema)
@blp.response(201, ChallengeSchema)
@blp.alt_response(409, description="the challenge is not approved, or already has a next stage")
def add_stage(data: dict[str, Any], challenge_id: int) -> Any:
    """Add the next stage after this one (the city's officials, fund managers): a draft copy of it with its
    own pool and dates, invitation-only unless said otherwise; it is then submitted and approved as usual."""
    user = require_user()
    stage = challenge_stages.add_next_stage(actor=user, challenge=challenge_queries.get_visible_challenge(
        user, challenge_id), **data)
    db.session.commit()
    return stage


@blp.route("/challenges/<int:challenge_id>/invitation-candidates", methods=["GET"])
@requires(Role.CITY_OFFICIAL, Role.FUND_MANAGER, hidden=challenge_queries.get_visible_challenge)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CandidateSchema))
@blp.alt_response(409, description="the stage takes no invitations (not invitation-only, or closed)")
def list_candidates(args: dict[str, Any], challenge_id: int) -> Any:
    """The previous stage's grants, each with whether its organisation may be invited to this stage and why not."""
    user = require_user()
    stage = challenge_queries.get_visible_challenge(user, challenge_id)
    require(grant_policy.can_invite_to_stage(user, stage))
    return page_of_items(stage_facts.candidates(stage), args)


@blp.route("/challenges/<int:challenge_id>/invitations", methods=["POST"])
@requires(Role.CITY_OFFICIAL, Role.FUND_MANAGER, hidden=challenge_queries.get_visible_challenge)
@blp.arguments(InviteInSchema)
@blp.response(201, InvitationSchema)
@blp.alt_response(409, description="the grant may not advance (another stage's, a milestone not accepted, "
                                   "cancelled, already invited) or the stage takes no invitations")
def invite(data: dict[str, Any], challenge_id: int) -> Any:
    """Invite the organisation of a grant of the previous stage into this invitation-only stage, with the public
    reason (fund managers, the city's officials); its members are e-mailed."""
    user = require_user()
    stage = challenge_queries.get_visible_challenge(user, challenge_id)
    grant = db.session.get(Grant, data["grant_id"])
    if grant is None:
        require(grant_policy.can_invite_to_stage(user, stage))  # the wrong person is refused before a 404
        raise NotFound(_("No grant %(id)s.", id=data["grant_id"]))
    invitation = grant_stages.invite_to_next_stage(actor=user, grant=grant, next_stage=stage, reason=data["reason"])
    db.session.commit()
    return invitation


@blp.route("/challenges/<int:challenge_id>/invitations", methods=["GET"])
@public
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(InvitationSchema))
def list_invitations(args: dict[str, Any], challenge_id: int) -> Any:
    """Who advanced into the stage and why (whoever may see the stage)."""
    return page_of_items(challenge_queries.invitations_of(
        challenge_queries.get_visible_challenge(current_user, challenge_id)), args)
