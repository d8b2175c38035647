"""Pages: facility totals, contributions, awards, grant agreements, payout details, milestone reports."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.challenges import funding
from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import page_arg
from facility.core.policy import Decision, require
from facility.core.uploads import send_stored, upload_path
from facility.core.views import register_dashboard_panel
from facility.extensions import db
from facility.grants import attribution as attribution_rules
from facility.grants import (
    award_approvals,
    awards,
    budget,
    cancellation,
    contributions,
    dashboard,
    indicators,
    milestones,
    payouts,
    policy,
    queries,
    receipts,
    refunds,
    summaries,
)
from facility.grants.forms import (
    EARMARK_FIELDS,
    SPENDING_FIELDS,
    ActionForm,
    AwardForm,
    CancelGrantForm,
    ConfirmWireForm,
    EvidenceForm,
    PayoutForm,
    PledgeForm,
    PublicSummaryForm,
    RefundForm,
    ReturnReportForm,
)
from facility.grants.models import ContributionMethod, ContributionStatus, GrantStatus
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code, pool_code
from facility.ledger.verify import register_check

bp = Blueprint("grants", __name__)
PUBLIC_GRANT_ENDPOINT = "portfolio_public.grant"  # facility.portfolio.public_views
PER_PAGE = 25


AMOUNT_FIELD = {"amount_cents": "amount"}  # service field -> form field


def _me():
    return current_user._get_current_object()


def _status(form) -> int:
    return 422 if form.errors or form.form_errors else 200


def _page() -> int:
    return page_arg()


def _refuse_role(decision: Decision) -> None:
    """Answer 403 when the person may not do this at all; a state refusal is left for the page to explain."""
    if decision is not None and not decision.is_state:
        decision.raise_()


def _paginate(query: Any) -> Any:
    return db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)


# --- public ------------------------------------------------------------------------

@bp.route("/facility")
def facility():
    return render_template("grants/facility.html", figures=queries.facility_figures())


# --- contributions -------------------------------------------------------------------

@bp.route("/contributions", methods=["GET", "POST"], endpoint="contributions")
@login_required
def contributions_page():
    """Pledge (optionally earmarked); `?challenge=N` (the challenge page's "Co-fund" link) chooses that
    challenge, and lets the officials of its city in (they pledge only to co-fund their city's challenges)."""
    user = _me()
    cofunded = contributions.challenge_to_cofund(request.args.get("challenge", type=int))
    require(policy.can_cofund(user, cofunded) if cofunded is not None else policy.can_pledge(user))
    form = PledgeForm()
    if cofunded is not None and request.method == "GET":
        form.earmark_kind.data, form.earmark_challenge.data = "challenge", cofunded.id
    if form.validate_on_submit():
        contribution = attempt(form, contributions.pledge_contribution, field_map={**AMOUNT_FIELD, **EARMARK_FIELDS},
                               actor=user, amount_cents=form.amount.cents, method=form.method.data,
                               anonymous=form.anonymous.data, earmark=form.earmark())
        if contribution is not FAILED:
            db.session.commit()
            checkout = contributions.checkout_url(contribution)  # a card pledge is taken only with Stripe
            if checkout:
                return redirect(checkout)
            flash(_("Thank you. Your pledge %(ref)s is saved; the bank details are below.",
                    ref=contribution.reference), "success")
            return redirect(url_for("grants.contribution", contribution_id=contribution.id))
    pagination = _paginate(queries.contributions_of(user))
    return render_template("grants/contributions.html", form=form, pagination=pagination, cofunded=cofunded,
                           donor=policy.can_pledge(user) is None), _status(form)


@bp.route("/contributions/attribution")
@login_required
def attribution():
    """Which grants the caller's contributions paid for: exact for earmarked funds, pro rata for the
    general fund (`grants.attribution`); each table is paginated on its own."""
    user = _me()
    require(policy.can_view_attribution(user))
    share = attribution_rules.pooled_share(user)
    earmarked = attribution_rules.earmarked_page(user, page=_page(), per_page=PER_PAGE)
    pooled = attribution_rules.pooled_page(share, page=page_arg("pooled_page"), per_page=PER_PAGE) \
        if share.donor_cents else None
    return render_template("grants/attribution.html", earmarked=earmarked, pooled=pooled, share=share)


@bp.route("/contributions/<int:contribution_id>")
@login_required
def contribution(contribution_id: int):
    item = queries.get_visible_contribution(_me(), contribution_id)
    instructions = None
    if item.method == ContributionMethod.WIRE and item.status == ContributionStatus.PLEDGED:
        instructions = contributions.wire_instructions(item)
    checkout = contributions.checkout_url(item) if item.status == ContributionStatus.CHECKOUT_OPEN else None
    funded = queries.funded_since(item) if item.status == ContributionStatus.RECEIVED else None
    return render_template("grants/contribution.html", contribution=item, instructions=instructions,
                           checkout=checkout, funded=funded)


@bp.route("/contributions/<int:contribution_id>/receipt.pdf")
@login_required
def receipt(contribution_id: int):
    """The PDF receipt of a received contribution: its donor, their organisation and staff (409 before)."""
    item = queries.get_visible_contribution(_me(), contribution_id)  # 404 for anyone else
    require(policy.can_download_receipt(_me(), item))
    return Response(receipts.render_receipt(item), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{receipts.receipt_filename(item)}"',
        "Cache-Control": "private, no-store"})


@bp.route("/staff/contributions")
@login_required
def pending_wires():
    require(policy.can_see_money_queues(_me()))
    return render_template("grants/pending_wires.html", pagination=_paginate(queries.pending_wires()))


@bp.route("/contributions/<int:contribution_id>/confirm", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def confirm_wire(contribution_id: int):
    item = queries.get_visible_contribution(_me(), contribution_id)
    form = ConfirmWireForm()  # the amount is typed from the bank statement, not pre-filled
    if form.validate_on_submit() and attempt(
            form, contributions.confirm_wire_contribution, field_map=AMOUNT_FIELD, contribution=item, actor=_me(),
            received_cents=form.amount.cents, received_on=form.received_on.data,
            bank_reference=form.bank_reference.data) is not FAILED:
        db.session.commit()
        flash(_("Contribution %(ref)s confirmed and booked.", ref=item.reference), "success")
        return redirect(url_for("grants.pending_wires"))
    return render_template("grants/confirm_wire.html", form=form, contribution=item), _status(form)


# --- awards --------------------------------------------------------------------------

@bp.route("/proposals/<int:proposal_id>/award", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def award(proposal_id: int):
    proposal = queries.get_proposal_to_award(_me(), proposal_id)
    form = AwardForm()
    if request.method == "GET":
        form.amount.data = Decimal(proposal.requested_cents) / 100
    if form.validate_on_submit():
        grant = attempt(form, awards.award_proposal, field_map=AMOUNT_FIELD, proposal=proposal, actor=_me(),
                        amount_cents=form.amount.cents, tranches=form.tranche_specs(),
                        override_reason=form.override_reason.data)
        if grant is not FAILED:
            db.session.commit()
            if grant.status == GrantStatus.PENDING_APPROVAL:
                flash(_("Grant awarded; it awaits the approval of other fund managers before it is offered."),
                      "success")
            else:
                flash(_("Grant awarded; the applicant has been told."), "success")
            return redirect(url_for("grants.grant", grant_id=grant.id))
    pool = balance(pool_code(proposal.challenge_id))
    return render_template("grants/award.html", form=form, proposal=proposal, pool=pool,
                           panel_selects=policy.panel_selects(proposal),
                           ), _status(form)


@bp.route("/challenges/<int:challenge_id>/release-pool", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def release_pool(challenge_id: int):
    """GET: how much returns and a button to confirm (asks `policy.can_release_pool`, as the service does:
    403 for who may not, the refusal of the moment flashed on the challenge's page); POST: return it."""
    challenge = queries.get_challenge_to_release(_me(), challenge_id)
    here = url_for("grants.release_pool", challenge_id=challenge_id)
    if request.method == "GET":
        refusal = policy.can_release_pool(_me(), challenge)
        _refuse_role(refusal)
        problem = refusal.reason if refusal is not None else awards.release_problem(challenge)
        if problem is not None:
            flash(problem, "error")
            return redirect(url_for("challenges.show", challenge_id=challenge_id))
        return render_template("grants/release_pool.html", challenge=challenge,
                               amount=balance(pool_code(challenge_id)))
    form = ActionForm(prefix="release")
    if not form.validate_on_submit():
        abort(400)
    transaction = attempt_or_flash(awards.release_unused_pool, challenge=challenge, actor=_me())
    if transaction is not FAILED:
        db.session.commit()
        flash(_("The unused prize pool was returned to unallocated funds (transaction %(id)s).",
                id=transaction.id), "success")
    referrer = request.referrer or ""
    if referrer.startswith(request.host_url) and not referrer.partition("?")[0].endswith(here):
        return redirect(referrer)
    return redirect(url_for("challenges.show", challenge_id=challenge_id))


# --- grants ----------------------------------------------------------------------------

@bp.route("/grants/mine")
@login_required
def grants():
    """The signed-in user's organisation's grants (every grant for staff); `/grants` is the public register."""
    return render_template("grants/grants.html", pagination=_paginate(queries.visible_grants(_me())))


@bp.route("/grants/<int:grant_id>")
def grant(grant_id: int):
    """The full record for the grantee organisation and staff; the public page for everyone else."""
    user = _me()
    if not queries.may_see_full_grant(user, grant_id):
        # The public page lives in `portfolio`, above this package: named, not imported (like the checkout).
        return current_app.view_functions[PUBLIC_GRANT_ENDPOINT](grant_id=grant_id)
    item = queries.get_visible_grant(user, grant_id)
    return render_template("grants/grant.html", grant=item, accept_form=ActionForm(prefix="accept"),
                           summary_forms=_summary_forms(item), grant_budget=budget.grant_budget(item),
                           **_award_approval_context(item))


def _summary_forms(grant, posted=None) -> dict:
    """A public-summary form for each accepted report the user may summarise (`posted`: the one sent)."""
    forms = {}
    for tranche in grant.tranches:
        for item in tranche.reports:
            if posted is not None and item.id == posted[0]:
                forms[item.id] = posted[1]
            elif policy.can_write_public_summary(_me(), item) is None:
                forms[item.id] = PublicSummaryForm(prefix=f"summary-{item.id}", formdata=None,
                                                   data={"public_summary": item.public_summary})
    return forms


@bp.route("/grants/<int:grant_id>/accept", methods=["POST"])
@login_required
def accept(grant_id: int):
    item = queries.get_visible_grant(_me(), grant_id)
    form = ActionForm(prefix="accept")
    if not form.validate_on_submit():
        abort(400)
    _refuse_role(policy.can_accept(_me(), item))
    if attempt_or_flash(awards.accept_grant, grant=item, actor=_me()) is not FAILED:
        db.session.commit()
        flash(_("Agreement accepted. Next, give your payout details."), "success")
    return redirect(url_for("grants.grant", grant_id=grant_id))


@bp.route("/grants/<int:grant_id>/payout", methods=["GET", "POST"])
@login_required
def payout(grant_id: int):
    item = queries.get_visible_grant(_me(), grant_id)
    require(policy.can_set_payout(_me(), item))  # 403 for others, 409 once the grant is completed or cancelled
    form = PayoutForm()
    if form.validate_on_submit() and attempt(
            form, payouts.set_payout_account, field_map={"confirm_password": "current_password"},
            grant=item, actor=_me(), rail=form.rail.data, stripe_account_id=form.stripe_account_id.data,
            account_holder=form.account_holder.data, bank_name=form.bank_name.data,
            account_number=form.account_number.data, iban=form.iban.data, swift=form.swift.data,
            confirm_password=form.current_password.data) is not FAILED:
        db.session.commit()
        flash(_("Payout details saved."), "success")
        return redirect(url_for("grants.grant", grant_id=grant_id))
    # Never send bank details back to the browser, not even what was just typed.
    for name in ("account_number", "iban", "current_password"):
        getattr(form, name).raw_data = None
        getattr(form, name).data = ""
    return render_template("grants/payout.html", form=form, grant=item,
                           current=item.payout_account), _status(form)


# --- award approvals ------------------------------------------------------------------------

def _award_approval_context(grant) -> dict:
    """The grant page's approvals block: the state (for awards that need or had approval) and its button."""
    if not policy.award_has_approvals(grant):
        return {"award_approvals": None}
    return {"award_approvals": policy.award_approval_state(grant), "approve_award_form": ActionForm(prefix="approve"),
            "show_approver_names": policy.can_see_award_approvers(_me(), grant) is None}


@bp.route("/grants/<int:grant_id>/approve-award", methods=["POST"])
@login_required
def approve_award(grant_id: int):
    """Another fund manager approves an award awaiting approval (a fresh factor when the tier needs several)."""
    item = queries.get_visible_grant(_me(), grant_id)
    form = ActionForm(prefix="approve")
    if not form.validate_on_submit():
        abort(400)
    _refuse_role(policy.can_approve_award(_me(), item))
    require(policy.step_up_to_approve_award(_me(), item))  # to the confirm page, and back here
    approved = attempt_or_flash(award_approvals.approve_award, grant=item, actor=_me())
    if approved is not FAILED:
        db.session.commit()
        flash(_("Award approved; the grant is offered and the grantee told.") if approved.status == GrantStatus.OFFERED
              else _("Award approved; more approvals are needed before it is offered."), "success")
    return redirect(url_for("grants.grant", grant_id=grant_id))


# --- milestone evidence -------------------------------------------------------------------

@bp.route("/tranches/<int:tranche_id>/evidence", methods=["GET", "POST"])
@login_required
def evidence(tranche_id: int):
    tranche = queries.get_visible_tranche(_me(), tranche_id)
    _refuse_role(policy.can_report(_me(), tranche))
    form = EvidenceForm()
    values = {item.code: request.form.get(f"indicator-{item.id}", "") for item in tranche.indicators}
    if form.validate_on_submit() and attempt(
            form, indicators.report_milestone_with_values, field_map={"kpi_values": "kpis", **SPENDING_FIELDS},
            tranche=tranche, actor=_me(), text=form.text.data, spending=form.spending_data(),
            kpi_values=form.kpi_values, files=form.uploads, values=values) is not FAILED:
        db.session.commit()
        flash(_("Milestone report sent; a fund manager will review it."), "success")
        return redirect(url_for("grants.grant", grant_id=tranche.grant_id))
    return render_template("grants/evidence.html", form=form, tranche=tranche, values=values), _status(form)


@bp.route("/evidence/<int:file_id>")
@login_required
def evidence_file(file_id: int):
    item = queries.get_visible_evidence_file(_me(), file_id)
    return send_stored(upload_path(milestones.EVIDENCE_AREA, item.storage_key), content_type=item.content_type,
                       download_name=item.original_filename)


@bp.route("/staff/evidence")
@login_required
def evidence_queue():
    require(policy.can_see_money_queues(_me()))
    return render_template("grants/evidence_queue.html", pagination=_paginate(queries.evidence_queue()))


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
@login_required
def report(report_id: int):
    item = queries.get_visible_report(_me(), report_id)
    accept_form = ActionForm(prefix="accept")
    return_form = ReturnReportForm(prefix="return")
    if request.method == "POST":
        _refuse_role(policy.can_review(_me(), item))
        # Errors of either button are shown with the return form (the accept form has no fields).
        done = FAILED
        if accept_form.submit.data and accept_form.validate_on_submit():
            done = attempt(return_form, milestones.accept_milestone_report, report=item, actor=_me())
            message = _("Report accepted; the tranche may now be disbursed.")
        elif return_form.submit.data and return_form.validate_on_submit():
            done = attempt(return_form, milestones.return_milestone_report, report=item, actor=_me(),
                           comment=return_form.comment.data)
            message = _("Report sent back to the grantee.")
        if done is not FAILED:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("grants.evidence_queue"))
    return render_template("grants/report.html", report=item, accept_form=accept_form,
                           return_form=return_form), 422 if request.method == "POST" else 200


@bp.route("/reports/<int:report_id>/public-summary", methods=["POST"])
@login_required
def public_summary(report_id: int):
    """The grantee publishes (or rewrites) the public summary of an accepted milestone."""
    item = queries.get_visible_report(_me(), report_id)
    require(policy.can_write_public_summary(_me(), item))  # 403 for others, 409 before acceptance
    form = PublicSummaryForm(prefix=f"summary-{item.id}")
    if form.validate_on_submit() and attempt(form, summaries.write_public_summary, report=item, actor=_me(),
                                             text=form.public_summary.data) is not FAILED:
        db.session.commit()
        flash(_("Public summary published on the grant's public page."), "success")
        return redirect(url_for("grants.grant", grant_id=item.tranche.grant_id))
    grant = queries.get_visible_grant(_me(), item.tranche.grant_id)
    return render_template("grants/grant.html", grant=grant, accept_form=ActionForm(prefix="accept"),
                           summary_forms=_summary_forms(grant, posted=(item.id, form)),
                           grant_budget=budget.grant_budget(grant), **_award_approval_context(grant)), 422


# --- cancellation and refunds ------------------------------------------------------------------

@bp.route("/grants/<int:grant_id>/cancel", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def cancel_grant(grant_id: int):
    """A fund manager cancels a grant: a reason and an explicit confirmation (409 once completed or cancelled)."""
    item = queries.get_visible_grant(_me(), grant_id)
    require(policy.can_cancel_grant(_me(), item))
    form = CancelGrantForm()
    if form.validate_on_submit() and attempt(form, cancellation.cancel_grant, grant=item, actor=_me(),
                                             reason=form.reason.data) is not FAILED:
        db.session.commit()
        flash(_("The grant was cancelled; its undisbursed money is back in the challenge's prize pool."), "success")
        return redirect(url_for("grants.grant", grant_id=grant_id))
    return render_template("grants/cancel.html", form=form, grant=item,
                           returned=balance(commitment_code(item.id))), _status(form)


@bp.route("/grants/<int:grant_id>/refunds/new", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def record_refund(grant_id: int):
    """A fund manager records money the grantee paid back (409 while nothing paid is left to refund)."""
    item = queries.get_visible_grant(_me(), grant_id)
    require(policy.can_record_refund(_me(), item))
    form = RefundForm()
    if form.validate_on_submit() and attempt(
            form, refunds.record_refund, field_map=AMOUNT_FIELD, grant=item, actor=_me(),
            amount_cents=form.amount.cents, bank_reference=form.bank_reference.data,
            received_on=form.received_on.data, destination=form.destination.data, note=form.note.data) is not FAILED:
        db.session.commit()
        flash(_("Refund recorded and booked in the ledger."), "success")
        return redirect(url_for("grants.grant", grant_id=grant_id, _anchor="refunds-heading"))
    return render_template("grants/refund.html", form=form, grant=item,
                           refundable=refunds.refundable_cents(item.id)), _status(form)


def register(app: Flask) -> None:
    for provider in (dashboard.donor_panel, dashboard.grantee_panel, dashboard.fund_manager_panel):
        register_dashboard_panel(app, provider)
    # A proposal's page (a lower package) links to its grant once awarded.
    app.jinja_env.globals["grant_of_proposal"] = queries.grant_of_proposal
    register_check(refunds.check_refunds_within_payments)  # in ledger-verify
    register_check(refunds.check_cancelled_commitments_empty)
    # A challenge's page (a lower package) shows which funds paid into its pool (challenges.funding).
    app.jinja_env.globals["pool_funding_of"] = funding.pool_funding
    register_check(attribution_rules.check_earmarks_within_purpose)
