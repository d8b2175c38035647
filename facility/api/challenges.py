"""API: challenges, their lifecycle, deadline extensions and clarification questions."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
from flask import url_for
from flask_login import current_user

from facility.accounts.models import OrgType, Role
from facility.api import api_blueprint, requires
from facility.api.auth import public, require_role, require_user
from facility.api.schemas import (
    NullableList,
    PageArgs,
    cents_field,
    datetime_field,
    id_field,
    page_of,
    page_of_items,
    paginate,
)
from facility.challenges import queries, sdg, services
from facility.challenges.models import DESCRIPTOR_CHARS, Challenge, FocusArea, Phase
from facility.cities.queries import get_visible_city
from facility.core.inputs import NAME_CHARS, REASON_CHARS
from facility.core.models import utcnow
from facility.core.search import API_NOTE
from facility.extensions import db

blp = api_blueprint("api_challenges", __name__, "Challenges, rubric, deadlines and clarifications")

_SDG_TARGET = ma.validate.OneOf(sdg.SDG_TARGETS, error="Not an SDG target code; use codes such as 11.2 or 11.a.")


class CriterionInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NAME_CHARS))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=REASON_CHARS))
    weight = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 100))
    descriptor_low = ma.fields.String(load_default="", validate=ma.validate.Length(max=DESCRIPTOR_CHARS),
                                      metadata={"description": "what a low score (0–3) means; plain text"})
    descriptor_mid = ma.fields.String(load_default="", validate=ma.validate.Length(max=DESCRIPTOR_CHARS),
                                      metadata={"description": "what a middle score (4–6) means; plain text"})
    descriptor_high = ma.fields.String(load_default="", validate=ma.validate.Length(max=DESCRIPTOR_CHARS),
                                       metadata={"description": "what a high score (7–10) means; plain text"})


class ChallengeFieldsSchema(ma.Schema):
    title = ma.fields.String(validate=ma.validate.Length(min=1, max=NAME_CHARS))
    summary = ma.fields.String(validate=ma.validate.Length(min=1, max=services.SUMMARY_CHARS))
    description = ma.fields.String(validate=ma.validate.Length(min=1, max=services.DESCRIPTION_CHARS),
                                   metadata={"description": "Markdown; raw HTML is not rendered"})
    focus_area = ma.fields.String(validate=ma.validate.OneOf([f.value for f in FocusArea]))
    sdg_targets = NullableList(ma.fields.String(validate=_SDG_TARGET),
                                 metadata={"description": "SDG target codes, e.g. 11.2, 11.a"})
    prize_pool_cents = cents_field()
    max_award_cents = cents_field()
    opens_at = datetime_field()
    closes_at = datetime_field()
    eligible_org_types = NullableList(ma.fields.String(validate=ma.validate.OneOf([t.value for t in OrgType])),
                                        load_default=list, metadata={"description": "empty: every type"})
    eligible_countries = NullableList(ma.fields.String(validate=ma.validate.Length(equal=3)), load_default=list,
                                        metadata={"description": "ISO 3166-1 alpha-3; empty: every country"})
    criteria = NullableList(ma.fields.Nested(CriterionInSchema),
                              metadata={"description": "the rubric; weights sum to 100"})


_REQUIRED = ("title", "summary", "description", "focus_area", "sdg_targets", "prize_pool_cents",
             "max_award_cents", "opens_at", "closes_at", "criteria")


class ChallengeInSchema(ChallengeFieldsSchema):
    city_id = id_field(required=True)

    @ma.validates_schema
    def _required(self, data, **kwargs):
        missing = {name: ["Missing data for required field."] for name in _REQUIRED if name not in data}
        if missing:
            raise ma.ValidationError(missing)


class ChallengePatchSchema(ChallengeFieldsSchema):
    eligible_org_types = NullableList(ma.fields.String(validate=ma.validate.OneOf([t.value for t in OrgType])))
    eligible_countries = NullableList(ma.fields.String(validate=ma.validate.Length(equal=3)))


class CriterionSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    description = ma.fields.String()
    weight = ma.fields.Integer()
    position = ma.fields.Integer()
    descriptor_low = ma.fields.String()
    descriptor_mid = ma.fields.String()
    descriptor_high = ma.fields.String()


class CityNameSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    country = ma.fields.String(metadata={"description": "ISO 3166-1 alpha-3"})


class CityRefSchema(CityNameSchema):
    priority_score = ma.fields.Integer()


class ChallengeRowFields(ma.Schema):
    """The fields of a challenge that a list shows, and `url`, the item with the full text and the rubric."""

    id = ma.fields.Integer()
    url = ma.fields.Function(lambda c: url_for("api_challenges.get_challenge", challenge_id=c.id),
                             metadata={"type": "string", "description": "the challenge: its description and rubric"})
    city = ma.fields.Nested(CityNameSchema)
    title = ma.fields.String()
    summary = ma.fields.String()
    focus_area = ma.fields.Function(lambda c: c.focus_area.value)
    sdg_targets = ma.fields.List(ma.fields.String())
    prize_pool_cents = ma.fields.Integer(metadata={"description": "US cents"})
    max_award_cents = ma.fields.Integer(metadata={"description": "US cents"})
    opens_at = ma.fields.AwareDateTime()
    closes_at = ma.fields.AwareDateTime(metadata={"description": "the deadline for proposals"})
    status = ma.fields.Function(lambda c: c.status.value)
    phase = ma.fields.Function(lambda c: c.phase.value if c.phase else None,
                               metadata={"description": "upcoming, open or closed (published challenges)"})
    is_open = ma.fields.Boolean()


def summary_row(challenge: Challenge, now: datetime) -> dict[str, Any]:
    """A row of the list, as ChallengeRowFields would dump it at `now`, built directly: a 50-row page costs
    a tenth of marshmallow's field-by-field dump (benchmarks/api_list.py; a test holds the two equal)."""
    phase = challenge.phase_at(now)
    city = challenge.city
    return {"id": challenge.id, "url": url_for("api_challenges.get_challenge", challenge_id=challenge.id),
            "city": {"id": city.id, "name": city.name, "country": city.country}, "title": challenge.title,
            "summary": challenge.summary, "focus_area": challenge.focus_area.value,
            "sdg_targets": list(challenge.sdg_targets), "prize_pool_cents": challenge.prize_pool_cents,
            "max_award_cents": challenge.max_award_cents, "opens_at": challenge.opens_at.isoformat(),
            "closes_at": challenge.closes_at.isoformat(), "status": challenge.status.value,
            "phase": phase.value if phase else None, "is_open": phase == Phase.OPEN}


class ChallengeSummarySchema(ChallengeRowFields):
    """A row of the list (ChallengeRowFields), dumped by `summary_row`."""

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        now = utcnow()
        return [summary_row(c, now) for c in obj] if (self.many if many is None else many) else summary_row(obj, now)


class StageSchema(ma.Schema):
    """One stage of a staged prize, as the chain lists it."""

    id = ma.fields.Integer()
    url = ma.fields.Function(lambda c: url_for("api_challenges.get_challenge", challenge_id=c.id),
                             metadata={"type": "string"})
    title = ma.fields.String()
    stage_name = ma.fields.String()
    status = ma.fields.Function(lambda c: c.status.value)
    invitation_only = ma.fields.Boolean()
    opens_at = ma.fields.AwareDateTime()
    closes_at = ma.fields.AwareDateTime()
    prize_pool_cents = ma.fields.Integer(metadata={"description": "US cents"})


class InvitationSchema(ma.Schema):
    """An organisation invited into an invitation-only stage: who advanced, from which grant, and why."""

    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    organization_id = ma.fields.Integer()
    organization_name = ma.fields.Function(lambda i: i.organization.name, metadata={"type": "string"})
    source_grant_id = ma.fields.Integer(allow_none=True, metadata={"description": "its grant in the previous stage"})
    reason = ma.fields.String(metadata={"description": "why it advanced (public)"})
    created_at = ma.fields.AwareDateTime()


def _stages(challenge: Challenge) -> list[dict[str, Any]]:
    return StageSchema(many=True).dump(queries.visible_stages(current_user, challenge))


def _invitations(challenge: Challenge) -> list[dict[str, Any]]:
    return InvitationSchema(many=True).dump(queries.invitations_of(challenge) if challenge.invitation_only else [])


class ChallengeSchema(ChallengeRowFields):
    """A challenge in full: the list's fields, the description, eligibility, the rubric and its stages."""

    previous_stage_id = ma.fields.Integer(allow_none=True, metadata={"description": "the stage before this one"})
    stage_name = ma.fields.String(metadata={"description": "e.g. Pilot or Scale; empty for a one-stage challenge"})
    invitation_only = ma.fields.Boolean(metadata={"description": "only organisations invited may apply"})
    stages = ma.fields.Function(_stages, metadata={
        "type": "array", "items": {"type": "object"},
        "description": "the chain of stages, first to last, that the caller may see (StageSchema); empty for a "
                       "one-stage challenge"})
    invitations = ma.fields.Function(_invitations, metadata={
        "type": "array", "items": {"type": "object"},
        "description": "who advanced into this invitation-only stage and why (InvitationSchema)"})

    city = ma.fields.Nested(CityRefSchema)
    description = ma.fields.String(metadata={"description": "Markdown source"})
    description_html = ma.fields.String(metadata={"description": "sanitised HTML"})
    eligible_org_types = ma.fields.List(ma.fields.String())
    eligible_countries = ma.fields.List(ma.fields.String())
    criteria = ma.fields.List(ma.fields.Nested(CriterionSchema))
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    approved_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class ChallengeListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(queries.STATUS_FILTERS))
    country = ma.fields.String(validate=ma.validate.Length(equal=3))
    focus_area = ma.fields.String(validate=ma.validate.OneOf([f.value for f in FocusArea]))
    sdg_target = ma.fields.String(validate=_SDG_TARGET)
    q = ma.fields.String(validate=ma.validate.Length(max=NAME_CHARS), metadata={
        "description": "free text: every word, in the title, summary or description, the best match first" + API_NOTE})


class ReasonSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS))


class ExtensionInSchema(ReasonSchema):
    new_closes_at = datetime_field(required=True)


class ExtensionSchema(ma.Schema):
    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    old_closes_at = ma.fields.AwareDateTime()
    new_closes_at = ma.fields.AwareDateTime()
    reason = ma.fields.String()
    created_at = ma.fields.AwareDateTime()


class QuestionInSchema(ma.Schema):
    question = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=services.QUESTION_CHARS))


class AnswerInSchema(ma.Schema):
    answer = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=services.ANSWER_CHARS))


class ClarificationSchema(ma.Schema):
    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    question = ma.fields.String()
    answer = ma.fields.String(allow_none=True)
    status = ma.fields.Function(lambda c: "answered" if c.is_answered else "open")
    created_at = ma.fields.AwareDateTime()
    answered_at = ma.fields.AwareDateTime(allow_none=True)


def _current_fields(challenge) -> dict:
    """A draft's fields as the service takes them, for PATCH to overlay."""
    fields = {name: getattr(challenge, name) for name in services.FIELDS if name != "criteria"}
    fields["focus_area"] = challenge.focus_area.value
    fields["criteria"] = [{"name": c.name, "description": c.description, "weight": c.weight}
                          for c in challenge.criteria]
    return fields


@blp.route("/challenges", methods=["GET"])
@public
@blp.arguments(ChallengeListArgs, location="query")
@blp.response(200, page_of(ChallengeSummarySchema))
def list_challenges(args):
    """Published and finished challenges; filter by status (published, upcoming, open, closed, finished),
    country, focus_area, sdg_target and free text q (every word, in the title, summary or description; the
    best match first: a title hit before a summary hit). Each row is what a list shows; its `url` is the
    challenge with the description and the rubric."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(queries.public_challenges(**args), page=page, per_page=per_page,
                    count=lambda: queries.count_public_challenges(**args))


@blp.route("/challenges", methods=["POST"])
@requires(Role.CITY_OFFICIAL)
@blp.arguments(ChallengeInSchema)
@blp.response(201, ChallengeSchema)
def create_challenge(data):
    """An official of a verified city drafts a challenge (weights sum to 100)."""
    user = require_role(Role.CITY_OFFICIAL)
    city = get_visible_city(user, data.pop("city_id"))
    challenge = services.create_challenge(actor=user, city=city, **data)
    db.session.commit()
    return challenge


@blp.route("/challenges/<int:challenge_id>", methods=["GET"])
@public
@blp.response(200, ChallengeSchema)
def get_challenge(challenge_id):
    """A challenge (drafts and pending ones only to the city's officials and facility staff)."""
    return queries.get_visible_challenge(current_user, challenge_id)


@blp.route("/challenges/<int:challenge_id>", methods=["PATCH"])
@requires(Role.CITY_OFFICIAL, hidden=queries.get_visible_challenge)
@blp.arguments(ChallengePatchSchema)
@blp.response(200, ChallengeSchema)
def update_challenge(data, challenge_id):
    """The city's officials change a draft; fields not sent stay as they are."""
    user = require_user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    fields = _current_fields(challenge)
    fields.update(data)
    services.update_challenge(challenge=challenge, actor=user, **fields)
    db.session.commit()
    return challenge


def _action(challenge_id: int, action) -> object:
    user = require_user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    action(challenge=challenge, actor=user)
    db.session.commit()
    return challenge


@blp.route("/challenges/<int:challenge_id>/submit", methods=["POST"])
@requires(Role.CITY_OFFICIAL, hidden=queries.get_visible_challenge)
@blp.response(200, ChallengeSchema)
def submit_challenge(challenge_id):
    """The city's official submits a draft for approval (draft -> pending_approval)."""
    return _action(challenge_id, services.submit_challenge)


@blp.route("/challenges/<int:challenge_id>/approve", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, ChallengeSchema)
def approve_challenge(challenge_id):
    """A fund manager approves and publishes a pending challenge."""
    return _action(challenge_id, services.approve_challenge)


@blp.route("/challenges/<int:challenge_id>/return", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(ReasonSchema)
@blp.response(200, ChallengeSchema)
def return_challenge(data, challenge_id):
    """A fund manager sends a pending challenge back to the city as a draft, with a reason."""
    return _action(challenge_id, lambda **kw: services.return_to_draft(reason=data["reason"], **kw))


@blp.route("/challenges/<int:challenge_id>/finish", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, ChallengeSchema)
def finish_challenge(challenge_id):
    """A fund manager marks a closed challenge finished."""
    return _action(challenge_id, services.finish_challenge)


@blp.route("/challenges/<int:challenge_id>/deadline-extensions", methods=["POST"])
@requires(Role.FUND_MANAGER, Role.CITY_OFFICIAL, hidden=queries.get_visible_challenge)
@blp.arguments(ExtensionInSchema)
@blp.response(201, ExtensionSchema)
def extend_deadline(data, challenge_id):
    """A fund manager or the city's official moves the deadline later (audited; applicants are e-mailed)."""
    user = require_user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    extension = services.extend_deadline(challenge=challenge, actor=user, new_closes_at=data["new_closes_at"],
                                         reason=data["reason"])
    db.session.commit()
    return extension


@blp.route("/challenges/<int:challenge_id>/clarifications", methods=["GET"])
@public
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ClarificationSchema))
def list_clarifications(args, challenge_id):
    """Answered questions; unanswered ones too for the asker, the city and fund managers."""
    challenge = queries.get_visible_challenge(current_user, challenge_id)
    return page_of_items(queries.visible_clarifications(current_user, challenge), args)


@blp.route("/challenges/<int:challenge_id>/clarifications", methods=["POST"])
@blp.arguments(QuestionInSchema)
@blp.response(201, ClarificationSchema)
def ask_clarification(data, challenge_id):
    """Any signed-in user asks a question about a published challenge."""
    user = require_user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    clarification = services.ask_clarification(challenge=challenge, actor=user, question=data["question"])
    db.session.commit()
    return clarification


@blp.route("/clarifications/<int:clarification_id>/answer", methods=["POST"])
@requires(Role.CITY_OFFICIAL, hidden=queries.get_visible_clarification)
@blp.arguments(AnswerInSchema)
@blp.response(200, ClarificationSchema)
def answer_clarification(data, clarification_id):
    """The city's official answers a question; the answer becomes public."""
    user = require_user()
    clarification = queries.get_visible_clarification(user, clarification_id)
    services.answer_clarification(clarification=clarification, actor=user, answer=data["answer"])
    db.session.commit()
    return clarification
