"""API: proposals, their submission and attachments."""
from __future__ import annotations

import marshmallow as ma
from flask import url_for
from flask_smorest.fields import Upload

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.accounts import OrganizationSchema
from facility.api.auth import require_user
from facility.api.schemas import NullableList, PageArgs, cents_field, date_field, page_of, paginate
from facility.challenges.queries import get_visible_challenge
from facility.core.inputs import NAME_CHARS
from facility.core.search import API_NOTE
from facility.extensions import db
from facility.proposals import queries, services
from facility.proposals.downloads import send_attachment
from facility.proposals.models import BeneficiaryGroup

blp = api_blueprint("api_proposals", __name__, "Proposals")


class MilestoneInSchema(ma.Schema):
    title = ma.fields.String(validate=ma.validate.Length(max=services.TITLE_MAX))
    due_date = date_field(allow_none=True, metadata={"description": "ISO 8601 date, after the day of submission"})
    amount_cents = cents_field(minimum=0, allow_none=True)
    deliverable = ma.fields.String(validate=ma.validate.Length(max=services.LIMITS["milestones.deliverable"]))


class BudgetInSchema(ma.Schema):
    """Amounts per budget category in US cents (zero or more); a category left out or `null` is not given."""

    personnel_cents = cents_field(minimum=0, allow_none=True)
    equipment_cents = cents_field(minimum=0, allow_none=True)
    services_cents = cents_field(minimum=0, allow_none=True)
    travel_cents = cents_field(minimum=0, allow_none=True)
    other_cents = cents_field(minimum=0, allow_none=True)


class BudgetSchema(ma.Schema):
    personnel_cents = ma.fields.Integer(allow_none=True)
    equipment_cents = ma.fields.Integer(allow_none=True)
    services_cents = ma.fields.Integer(allow_none=True)
    travel_cents = ma.fields.Integer(allow_none=True)
    other_cents = ma.fields.Integer(allow_none=True)


class ProposalPatchSchema(ma.Schema):
    """Every field optional: drafts may be incomplete. `milestones`, when given, replaces the list."""

    title = ma.fields.String(validate=ma.validate.Length(min=1, max=services.TITLE_MAX))
    summary = ma.fields.String(validate=ma.validate.Length(max=services.SUMMARY_MAX))
    approach = ma.fields.String(validate=ma.validate.Length(max=services.TEXT_MAX),
                                metadata={"description": "Markdown"})
    team = ma.fields.String(validate=ma.validate.Length(max=services.TEXT_MAX))
    requested_cents = cents_field(minimum=0)
    milestones = NullableList(ma.fields.Nested(MilestoneInSchema),
                                validate=ma.validate.Length(max=services.MAX_MILESTONES))
    beneficiary_groups = NullableList(ma.fields.String(validate=ma.validate.OneOf([g.value for g in BeneficiaryGroup])))
    privacy_impact = ma.fields.String(validate=ma.validate.Length(max=services.TEXT_MAX),
                                      metadata={"description": "privacy and human-rights impact statement"})
    budget = ma.fields.Nested(BudgetInSchema, allow_none=True, metadata={
        "description": "the budget by category; when given it replaces the whole budget (`null` clears it). "
                       "To submit, the categories must add up to `requested_cents`."})


class ProposalCreateSchema(ProposalPatchSchema):
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=services.TITLE_MAX))


class MilestoneSchema(ma.Schema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    title = ma.fields.String()
    due_date = ma.fields.Date(allow_none=True)
    amount_cents = ma.fields.Integer()
    deliverable = ma.fields.String()


class AttachmentSchema(ma.Schema):
    id = ma.fields.Integer()
    original_filename = ma.fields.String()
    content_type = ma.fields.String(metadata={"description": "judged from the content"})
    size_bytes = ma.fields.Integer()
    sha256 = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    url = ma.fields.Function(lambda a: url_for("api_proposals.download_attachment", proposal_id=a.proposal_id,
                                               attachment_id=a.id))


class ProposalSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    organization = ma.fields.Nested(OrganizationSchema)
    title = ma.fields.String()
    requested_cents = ma.fields.Integer()
    status = ma.fields.Function(lambda p: p.status.value)
    submitted_at = ma.fields.AwareDateTime(allow_none=True)


class ProposalSchema(ProposalSummarySchema):
    summary = ma.fields.String()
    approach = ma.fields.String(metadata={"description": "Markdown source"})
    approach_html = ma.fields.String(metadata={"description": "the approach rendered and sanitised"})
    team = ma.fields.String()
    beneficiary_groups = ma.fields.List(ma.fields.String())
    privacy_impact = ma.fields.String()
    milestones = ma.fields.List(ma.fields.Nested(MilestoneSchema))
    budget = ma.fields.Nested(BudgetSchema, attribute="budget_by_key", metadata={
        "description": "US cents per category (personnel, equipment, services, travel, other); null: not given"})
    attachments = ma.fields.List(ma.fields.Nested(AttachmentSchema))
    withdrawn_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()
    snapshot_version = ma.fields.Function(
        lambda p: p.latest_snapshot.version if p.latest_snapshot else None,
        metadata={"description": "the version of the submitted snapshot reviewers see"})


class UploadSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "PDF, PNG, JPEG or WebP (judged by content)"})


@blp.route("/challenges/<int:challenge_id>/proposals", methods=["POST"])
@requires(Role.INNOVATOR, hidden=get_visible_challenge)
@blp.arguments(ProposalCreateSchema)
@blp.response(201, ProposalSchema)
def create_proposal(data, challenge_id):
    """Draft a proposal to an open challenge (innovators; one per organisation and challenge)."""
    user = require_user()
    challenge = get_visible_challenge(user, challenge_id)
    proposal = services.create_proposal(actor=user, challenge=challenge, data=data)
    db.session.commit()
    return proposal


class ProposalListArgs(PageArgs):
    q = ma.fields.String(validate=ma.validate.Length(max=NAME_CHARS),
                         metadata={"description": "free text: every word, in the title, summary or approach" + API_NOTE})


@blp.route("/challenges/<int:challenge_id>/proposals", methods=["GET"])
@blp.arguments(ProposalListArgs, location="query")
@blp.response(200, page_of(ProposalSummarySchema))
def list_proposals(args, challenge_id):
    """A challenge's proposals: fund managers (all), the city's officials after the deadline (submitted ones);
    with `q`, those matching it, the best match first."""
    user = require_user()
    challenge = queries.get_listable_challenge(user, challenge_id)
    return paginate(queries.challenge_proposals(user, challenge, q=args.get("q")),
                    page=args["page"], per_page=args["per_page"])


@blp.route("/proposals/<int:proposal_id>", methods=["GET"])
@blp.response(200, ProposalSchema)
def get_proposal(proposal_id):
    """A proposal, for whoever may see it (404 for everyone else)."""
    user = require_user()
    return queries.get_visible_proposal(user, proposal_id, full=True)


@blp.route("/proposals/<int:proposal_id>", methods=["PATCH"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_proposal)
@blp.arguments(ProposalPatchSchema)
@blp.response(200, ProposalSchema)
def patch_proposal(data, proposal_id):
    """Change a draft (the applicant's innovators; 409 once submitted or after the deadline)."""
    user = require_user()
    proposal = queries.get_visible_proposal(user, proposal_id)
    services.update_proposal(actor=user, proposal=proposal, data=data)
    db.session.commit()
    return proposal


@blp.route("/proposals/<int:proposal_id>/submit", methods=["POST"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_proposal)
@blp.response(200, ProposalSchema)
@blp.alt_response(409, description="not a draft, or outside the submission window")
@blp.alt_response(422, description="ineligible or incomplete; `errors` lists every problem")
def submit_proposal(proposal_id):
    """Submit a draft: deadline, eligibility and completeness are checked, a snapshot is frozen."""
    user = require_user()
    proposal = queries.get_visible_proposal(user, proposal_id)
    services.submit_proposal(actor=user, proposal=proposal)
    db.session.commit()
    return proposal


@blp.route("/proposals/<int:proposal_id>/withdraw", methods=["POST"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_proposal)
@blp.response(200, ProposalSchema)
def withdraw_proposal(proposal_id):
    """Withdraw a draft or submitted proposal before the deadline (the applicant's innovators)."""
    user = require_user()
    proposal = queries.get_visible_proposal(user, proposal_id)
    services.withdraw_proposal(actor=user, proposal=proposal)
    db.session.commit()
    return proposal


@blp.route("/proposals/<int:proposal_id>/attachments", methods=["POST"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_proposal)
@blp.arguments(UploadSchema, location="files")
@blp.response(201, AttachmentSchema)
def upload_attachment(files, proposal_id):
    """Attach a file to a draft (multipart field `file`)."""
    user = require_user()
    proposal = queries.get_visible_proposal(user, proposal_id)
    upload = files["file"]
    attachment = services.add_attachment(actor=user, proposal=proposal, filename=upload.filename or "",
                                         stream=upload.stream)
    db.session.commit()
    return attachment


@blp.route("/proposals/<int:proposal_id>/attachments/<int:attachment_id>", methods=["GET"])
@blp.response(200, description="the file, as a download")
def download_attachment(proposal_id, attachment_id):
    """Download a file of a proposal the caller may see."""
    return send_attachment(queries.get_visible_attachment(require_user(), proposal_id, attachment_id))


@blp.route("/proposals/<int:proposal_id>/attachments/<int:attachment_id>", methods=["DELETE"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_attachment)
@blp.response(204)
def delete_attachment(proposal_id, attachment_id):
    """Remove a file from a draft (the applicant's innovators)."""
    user = require_user()
    services.delete_attachment(actor=user, attachment=queries.get_visible_attachment(user, proposal_id, attachment_id))
    db.session.commit()
