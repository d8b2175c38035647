"""API: awards, grants, payout accounts, milestone evidence, cancellations and refunds."""
from __future__ import annotations

import marshmallow as ma
from flask import jsonify
from flask_login import current_user

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.amendments import amendments_brief
from facility.api.auth import ApiError, public, require_user
from facility.api.public_schemas import (
    GrantCoreSchema,
    PublicGrantSchema,
    PublicGrantSummarySchema,
    PublicTrancheSchema,
    RegisterArgs,
    enum_value,
)
from facility.api.schemas import cents_field, date_field, page_of, paginate
from facility.core.inputs import COMMENT_CHARS, NAME_CHARS, REASON_CHARS, REFERENCE_CHARS
from facility.disbursements.schemas import grant_disbursements_data
from facility.extensions import db
from facility.grants import (
    award_approvals,
    awards,
    cancellation,
    milestones,
    payouts,
    policy,
    queries,
    refunds,
    summaries,
)
from facility.grants import indicators as grant_indicators
from facility.grants.budget import budget_data
from facility.grants.models import PayoutRail, RefundDestination
from facility.portfolio import register
from facility.proposals.models import budget_key

blp = api_blueprint("api_grants", __name__, "Awards, grants, milestones, cancellations and refunds")


# --- schemas -------------------------------------------------------------------

class TrancheInSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NAME_CHARS))
    amount_cents = cents_field(required=True)
    due_date = date_field(allow_none=True, load_default=None)
    deliverable = ma.fields.String(load_default="", validate=ma.validate.Length(max=COMMENT_CHARS))


class AwardSchema(ma.Schema):
    amount_cents = cents_field(required=True)
    tranches = ma.fields.List(ma.fields.Nested(TrancheInSchema), load_default=None,
                              validate=ma.validate.Length(min=1, max=awards.MAX_TRANCHES),
                              metadata={"description": "required when amount_cents differs from the request"})
    override_reason = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(max=REASON_CHARS),
        metadata={"description": "required (at least 20 characters) when the panel's released decision does not "
                                 "select the proposal: why the award departs from it (audited, shown on the grant)"})


class ReportSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.Function(lambda r: enum_value(r.status))
    text = ma.fields.String()
    kpi_values = ma.fields.Dict()
    reviewer_comment = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    reviewed_at = ma.fields.AwareDateTime(allow_none=True)
    spending = ma.fields.Function(lambda r: {budget_key(c): cents for c, cents in r.spending.items()},
                                  metadata={"description": "US cents spent in the period, per budget category"})
    public_summary = ma.fields.String(metadata={"description": "public: shown on the grant's public page"})
    files = ma.fields.Function(lambda r: [{"id": f.id, "filename": f.original_filename, "content_type": f.content_type,
                                           "size_bytes": f.size_bytes, "sha256": f.sha256} for f in r.files])


class TrancheSchema(ma.Schema):
    id = ma.fields.Integer()
    position = ma.fields.Integer()
    title = ma.fields.String()
    deliverable = ma.fields.String()
    due_date = ma.fields.Date(allow_none=True)
    amount_cents = ma.fields.Integer()
    status = ma.fields.Function(lambda t: enum_value(t.status))
    reports = ma.fields.List(ma.fields.Nested(ReportSchema))


class PayoutAccountSchema(ma.Schema):
    id = ma.fields.Integer()
    rail = ma.fields.Function(lambda a: enum_value(a.rail))
    account_holder = ma.fields.String(allow_none=True)
    bank_name = ma.fields.String(allow_none=True)
    masked_account = ma.fields.String(allow_none=True, metadata={"description": "only the last 4 characters"})
    swift_masked = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class PublicRefundSchema(ma.Schema):
    """Money the grantee paid back, as anyone sees it."""

    id = ma.fields.Integer()
    amount_cents = ma.fields.Integer(metadata={"description": "US cents received back"})
    received_on = ma.fields.Date()
    destination = ma.fields.Function(lambda r: enum_value(r.destination),
                                     metadata={"description": "pool (the challenge's prize pool) or unallocated"})


class RefundSchema(PublicRefundSchema):
    """A refund as the facility's staff see it: with the bank reference, the note and its ledger posting (the
    grantee's view of its grant has the rest, without the bank reference and the note)."""

    bank_reference = ma.fields.String()
    note = ma.fields.String()
    recorded_by_id = ma.fields.Integer(allow_none=True)
    ledger_transaction_id = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


class GrantSchema(GrantCoreSchema):
    # Cancellation and refunds (grants.cancellation, grants.refunds).
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)
    refunds = ma.fields.List(ma.fields.Nested(RefundSchema), dump_only=True,
                             metadata={"description": "money the grantee paid back, oldest first"})
    agreement_text = ma.fields.String()
    tranches = ma.fields.List(ma.fields.Nested(TrancheSchema))
    payout_account = ma.fields.Nested(PayoutAccountSchema, allow_none=True)
    disbursements = ma.fields.List(ma.fields.Dict(), dump_only=True,
                                   metadata={"description": "the grant's payments (disbursements), newest first"})
    budget = ma.fields.Dict(dump_only=True, metadata={"description": (
        "budget against actual spending: `basis` (proposal, scaled_to_award or none), `categories` (per "
        "category `budget_cents`, `actual_cents` from accepted reports, `pending_cents` under review, "
        "`variance_cents`, `variance_pct` (null for a zero budget), `flagged` above `flag_threshold_pct`) "
        "and `total`")})
    amendments = ma.fields.List(ma.fields.Dict(), dump_only=True, metadata={
        "description": "the grant's amendments in brief, newest first (GET /amendments/{id} for one)"})

    approvals = ma.fields.List(ma.fields.Dict(), dump_only=True, metadata={"description": (
        "an award above the approval threshold: each approval given, with `counts` and, when it does not, "
        "`reason`; staff also see `approver_id`, `name` and `limit_cents`")})
    approvals_needed = ma.fields.Dict(dump_only=True, allow_none=True, metadata={"description": (
        "null unless the award needs approval: `count` more approvals needed, `senior` of them from senior "
        "limits, `required` by the tier (`tier_up_to_cents`), and `reasons`")})

    @ma.post_dump(pass_original=True)
    def _refund_references(self, data, grant, **kwargs):
        # A refund's bank reference and note are the facility's staff's (grants.policy), not the grantee's view.
        if "refunds" in data and policy.can_see_refund_references(current_user, grant) is not None:
            data["refunds"] = [{k: v for k, v in refund.items() if k not in ("bank_reference", "note")}
                               for refund in data["refunds"]]
        return data

    @ma.post_dump(pass_original=True)
    def _extras(self, data, grant, **kwargs):
        # The API sits above disbursements, so it asks that package directly (no registry to fill per app).
        data["disbursements"] = grant_disbursements_data(grant)
        data["budget"] = budget_data(grant)
        data["amendments"] = amendments_brief(grant.id)
        data.update(_award_approvals_data(grant))
        return data


def _award_approvals_data(grant):
    """`approvals` and `approvals_needed` of an award that needs (or needed) approval (`grants.policy`)."""
    if not policy.award_has_approvals(grant):
        return {"approvals": [], "approvals_needed": None}
    state = policy.award_approval_state(grant)
    names = policy.can_see_award_approvers(current_user._get_current_object(), grant) is None
    why = {approver.user_id: reason for approver, reason in state.not_counted}
    rows = []
    for approval in grant.award_approvals:
        row = {"id": approval.id, "created_at": approval.created_at.isoformat(),
               "counts": approval.approver_id not in why, "reason": why.get(approval.approver_id)}
        if names:
            row.update(approver_id=approval.approver_id, name=approval.approver.name, limit_cents=approval.limit_cents)
        rows.append(row)
    return {"approvals": rows, "approvals_needed": state.as_json()}


class PayoutAccountInSchema(ma.Schema):
    rail = ma.fields.String(required=True, validate=ma.validate.OneOf([r.value for r in PayoutRail]),
                            metadata={"description": "manual (bank or mobile money), or stripe only where Stripe is "
                                                     "configured: without it a Stripe payout is refused (422, "
                                                     "errors.rail)"})
    stripe_account_id = ma.fields.String(validate=ma.validate.Length(max=payouts.STRIPE_ACCOUNT_CHARS))
    account_holder = ma.fields.String(validate=ma.validate.Length(max=NAME_CHARS))
    bank_name = ma.fields.String(validate=ma.validate.Length(max=NAME_CHARS))
    account_number = ma.fields.String(validate=ma.validate.Length(max=payouts.ACCOUNT_NUMBER_CHARS))
    iban = ma.fields.String(validate=ma.validate.Length(max=payouts.ACCOUNT_NUMBER_CHARS))
    swift = ma.fields.String(validate=ma.validate.Length(max=payouts.SWIFT_CHARS))
    confirm_password = ma.fields.String(load_only=True, validate=ma.validate.Length(max=payouts.PASSWORD_CHARS),
                                        metadata={"description": "the caller's password; needed to change an account"})


class SpendingInSchema(ma.Schema):
    """What was spent in the reporting period per budget category, in US cents: every category, zero allowed."""

    personnel_cents = cents_field(minimum=0, required=True)
    equipment_cents = cents_field(minimum=0, required=True)
    services_cents = cents_field(minimum=0, required=True)
    travel_cents = cents_field(minimum=0, required=True)
    other_cents = cents_field(minimum=0, required=True)


class EvidenceInSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=milestones.REPORT_CHARS))
    spending = ma.fields.Nested(SpendingInSchema, required=True,
                                metadata={"description": "what was spent in this reporting period, per category"})
    kpi_values = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(min=1,
                                                                                 max=milestones.KPI_NAME_CHARS)),
                                values=ma.fields.Float(allow_nan=False), load_default=dict)
    indicator_values = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(min=1, max=30)),
                                      values=ma.fields.Raw(), load_default=dict, metadata={
                                          "description": "the measured value of the tranche's indicators, by code"})


class ReturnReportSchema(ma.Schema):
    comment = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=milestones.RETURN_COMMENT_CHARS))


class PoolReleaseSchema(ma.Schema):
    transaction_id = ma.fields.Integer()
    key = ma.fields.String()
    amount_cents = ma.fields.Integer()


# --- contributions ---------------------------------------------------------------

@blp.route("/proposals/<int:proposal_id>/award", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(AwardSchema)
@blp.response(201, GrantSchema)
def award(data, proposal_id):
    """Award a proposal: a grant with tranches from the milestones, or from `tranches` (409 if the pool is short).

    Only a proposal the panel's released decision selects (an award recommendation), unless `override_reason`
    says why the award departs from it (409 without one). Above `AWARD_APPROVAL_ABOVE_CENTS` the grant is
    `pending_approval` until other fund managers approve it (`POST /grants/{id}/approve`)."""
    user = require_user()
    proposal = queries.get_proposal_to_award(user, proposal_id)
    grant = awards.award_proposal(proposal=proposal, actor=user, amount_cents=data["amount_cents"],
                                  tranches=data.get("tranches"), override_reason=data.get("override_reason"))
    db.session.commit()
    return queries.get_visible_grant(user, grant.id)


@blp.route("/grants", methods=["GET"])
@public
@blp.arguments(RegisterArgs, location="query")
@blp.response(200, page_of(PublicGrantSummarySchema))
def list_grants(args):
    """The public grants register (anyone), with the filters of `/grants`; `mine=true`: the caller's
    organisation's grants (every grant for fund managers and admins), with `q` those whose proposal matches it.
    On the public register `q` searches what a row shows: the proposal's title, the grantee and the challenge."""
    q = args.pop("q", None)
    if args.pop("mine"):
        query = queries.search_grants(require_user(), q)
    else:
        filters, portfolio_form, register_form = register.RegisterFilter.from_args(
            {k: str(v) for k, v in args.items() if k not in ("page", "per_page")})
        errors = {**portfolio_form.errors, **register_form.errors}
        if errors:
            raise ApiError(422, "Some filters are not valid.",
                           errors={name: [str(m) for m in messages] for name, messages in errors.items()})
        query = register.search_register(register.register_query(filters), q)
    return paginate(query, page=args["page"], per_page=args["per_page"])


class PublicGrantViewSchema(PublicGrantSchema):
    """The public view with its cancellation and refunds (no bank references)."""

    cancelled_at = ma.fields.AwareDateTime(allow_none=True, dump_only=True)
    cancel_reason = ma.fields.String(allow_none=True, dump_only=True)
    refunds = ma.fields.List(ma.fields.Nested(PublicRefundSchema), dump_only=True,
                             metadata={"description": "money the grantee paid back, oldest first"})

    @ma.post_dump(pass_original=True)
    def _cancellation_and_refunds(self, data, item, **kwargs):
        grant = item.grant
        data["cancelled_at"] = grant.cancelled_at.isoformat() if grant.cancelled_at else None
        data["cancel_reason"] = grant.cancel_reason
        data["refunds"] = PublicRefundSchema(many=True).dump(grant.refunds)
        return data


class TrancheViewSchema(TrancheSchema, PublicTrancheSchema):
    """A tranche in either view of a grant (documentation: each view has its own fields)."""


class GrantViewSchema(GrantSchema, PublicGrantViewSchema):
    """A grant: the full record (agreement, tranches with reports, masked payout account, disbursements)
    for the grantee organisation and staff; the public view (the register's facts, progress, tranches with
    paid dates and public summaries) for everyone else. The other view's fields are absent."""

    tranches = ma.fields.List(ma.fields.Nested(TrancheViewSchema))


@blp.route("/grants/<int:grant_id>", methods=["GET"])
@public
@blp.response(200, GrantViewSchema)
def get_grant(grant_id):
    """A grant's public view (tranches, progress, public summaries) for anyone; the grantee organisation
    and staff get the full record instead."""
    user = current_user._get_current_object()
    if queries.may_see_full_grant(user, grant_id):
        return jsonify(GrantSchema().dump(queries.get_visible_grant(user, grant_id)))
    return jsonify(PublicGrantViewSchema().dump(register.public_grant(grant_id)))


@blp.route("/grants/<int:grant_id>/accept", methods=["POST"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_grant)
@blp.response(200, GrantSchema)
def accept(grant_id):
    """The grantee accepts the grant agreement (offered -> active)."""
    user = require_user()
    grant = queries.get_visible_grant(user, grant_id)
    awards.accept_grant(grant=grant, actor=user)
    db.session.commit()
    return grant


@blp.route("/grants/<int:grant_id>/approve", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_grant)
@blp.response(200, GrantSchema)
def approve_award(grant_id):
    """Another fund manager approves an award awaiting approval, within their limit (403 for the one who awarded
    it and above the approver's limit, 409 twice or when not awaiting approval); send a fresh code in `X-OTP`
    when the tier needs more than one approval. With enough approvals the grant is offered."""
    user = require_user()
    grant = queries.get_visible_grant(user, grant_id)
    award_approvals.approve_award(grant=grant, actor=user)
    db.session.commit()
    return queries.get_visible_grant(user, grant_id)


@blp.route("/grants/<int:grant_id>/payout-account", methods=["GET"])
@blp.response(200, PayoutAccountSchema)
def get_payout_account(grant_id):
    """The payout account in force, masked (404 when none is given)."""
    grant = queries.get_visible_grant(require_user(), grant_id)
    if grant.payout_account is None:
        raise ApiError(404, "No payout account has been given for this grant.")
    return grant.payout_account


@blp.route("/grants/<int:grant_id>/payout-account", methods=["PUT"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_grant)
@blp.arguments(PayoutAccountInSchema)
@blp.response(200, PayoutAccountSchema)
def put_payout_account(data, grant_id):
    """Give or change where the grant is paid; a change needs `confirm_password`. Answers with masked values."""
    user = require_user()
    grant = queries.get_visible_grant(user, grant_id)
    account = payouts.set_payout_account(grant=grant, actor=user, **data)
    db.session.commit()
    return account


class CancelGrantInSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS),
                              metadata={"description": "why the grant is cancelled; the grantee is told"})


class RefundInSchema(ma.Schema):
    amount_cents = cents_field(required=True, metadata={"description": "US cents received back, at most what "
                                                                       "was paid to the grant less earlier refunds"})
    bank_reference = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REFERENCE_CHARS))
    received_on = date_field(required=True, metadata={"description": "the day the money arrived; not in the future"})
    destination = ma.fields.String(load_default=RefundDestination.POOL.value,
                                   validate=ma.validate.OneOf([d.value for d in RefundDestination]),
                                   metadata={"description": "pool (default: the challenge's prize pool) or "
                                                            "unallocated (the facility's unallocated funds)"})
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=COMMENT_CHARS))


@blp.route("/grants/<int:grant_id>/cancel", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(CancelGrantInSchema)
@blp.response(200, GrantSchema)
def cancel_grant(data, grant_id):
    """Cancel a grant awaiting approval, offered or active: its unpaid tranches are cancelled and its undisbursed
    commitment returns to the challenge's pool (409 once completed or cancelled, or while a payment is being made)."""
    user = require_user()
    grant = queries.get_visible_grant(user, grant_id)
    cancellation.cancel_grant(grant=grant, actor=user, reason=data["reason"])
    db.session.commit()
    return grant


@blp.route("/grants/<int:grant_id>/refunds", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(RefundInSchema)
@blp.response(201, RefundSchema)
def record_refund(data, grant_id):
    """Record money the grantee paid back (in full or part of what it was paid less earlier refunds; 422 above
    that): it returns through the ledger to the pool or to unallocated funds, split by fund as it was paid."""
    user = require_user()
    grant = queries.get_visible_grant(user, grant_id)
    refund = refunds.record_refund(grant=grant, actor=user, **data)
    db.session.commit()
    return refund


@blp.route("/challenges/<int:challenge_id>/release-pool", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, PoolReleaseSchema)
def release_pool(challenge_id):
    """Return what is left in a finished challenge's prize pool to unallocated funds."""
    user = require_user()
    challenge = queries.get_challenge_to_release(user, challenge_id)
    transaction = awards.release_unused_pool(challenge=challenge, actor=user)
    db.session.commit()
    amount = max(entry.amount_cents for entry in transaction.entries)
    return {"transaction_id": transaction.id, "key": transaction.key, "amount_cents": amount}


# --- milestone evidence ---------------------------------------------------------------

@blp.route("/tranches/<int:tranche_id>/evidence", methods=["POST"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_tranche)
@blp.arguments(EvidenceInSchema)
@blp.response(201, ReportSchema)
def submit_evidence(data, tranche_id):
    """The grantee reports a milestone (files are uploaded on the page); the tranche awaits review."""
    user = require_user()
    tranche = queries.get_visible_tranche(user, tranche_id)
    report = grant_indicators.report_milestone_with_values(
        tranche=tranche, actor=user, text=data["text"], spending=data["spending"], kpi_values=data.get("kpi_values"),
        values=data.get("indicator_values"))
    db.session.commit()
    return report


@blp.route("/milestone-reports/<int:report_id>/accept", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.response(200, ReportSchema)
def accept_report(report_id):
    """A fund manager accepts a milestone report; the tranche may then be disbursed."""
    user = require_user()
    report = queries.get_visible_report(user, report_id)
    milestones.accept_milestone_report(report=report, actor=user)
    db.session.commit()
    return report


@blp.route("/milestone-reports/<int:report_id>/return", methods=["POST"])
@requires(Role.FUND_MANAGER)
@blp.arguments(ReturnReportSchema)
@blp.response(200, ReportSchema)
def return_report(data, report_id):
    """A fund manager sends a report back with a comment; the milestone is pending again."""
    user = require_user()
    report = queries.get_visible_report(user, report_id)
    milestones.return_milestone_report(report=report, actor=user, comment=data["comment"])
    db.session.commit()
    return report


class PublicSummaryInSchema(ma.Schema):
    public_summary = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=summaries.SUMMARY_CHARS))


@blp.route("/milestone-reports/<int:report_id>/public-summary", methods=["PUT"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_report)
@blp.arguments(PublicSummaryInSchema)
@blp.response(200, ReportSchema)
def put_public_summary(data, report_id):
    """The grantee writes (or rewrites) the public summary of an accepted milestone (409 before acceptance)."""
    user = require_user()
    report = queries.get_visible_report(user, report_id)
    summaries.write_public_summary(report=report, actor=user, text=data["public_summary"])
    db.session.commit()
    return report

