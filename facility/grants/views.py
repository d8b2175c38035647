"""Pages: facility totals, contributions, awards, grant agreements, payout details, milestone reports."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.challenges.models import Challenge
from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import page_arg
from facility.core.uploads import upload_path
from facility.extensions import db
from facility.grants import services
from facility.grants.forms import (
    ActionForm,
    AwardForm,
    ConfirmWireForm,
    EvidenceForm,
    PayoutForm,
    PledgeForm,
    ReturnReportForm,
)
from facility.grants.models import (
    Contribution,
    ContributionMethod,
    ContributionStatus,
    EvidenceFile,
    Grant,
    GrantStatus,
    MilestoneReport,
    ReportStatus,
    Tranche,
    TrancheStatus,
)
from facility.ledger.services import balance, pool_code
from facility.proposals.models import Proposal

bp = Blueprint("grants", __name__)
PER_PAGE = 25


AMOUNT_FIELD = {"amount_cents": "amount"}  # service field -> form field


def _me():
    return current_user._get_current_object()


def _status(form) -> int:
    return 422 if form.errors or form.form_errors else 200


def _page() -> int:
    return page_arg()


# --- public ------------------------------------------------------------------------

@bp.route("/facility")
def facility():
    return render_template("grants/facility.html", figures=services.facility_figures())


# --- contributions -------------------------------------------------------------------

@bp.route("/contributions", methods=["GET", "POST"])
@role_required(Role.DONOR)
def contributions():
    user = _me()
    form = PledgeForm()
    if form.validate_on_submit():
        contribution = attempt(form, services.pledge_contribution, field_map=AMOUNT_FIELD, actor=user,
                               amount_cents=form.amount.cents, method=form.method.data)
        if contribution is not FAILED:
            db.session.commit()
            checkout = services.checkout_url(contribution)
            if checkout:
                return redirect(checkout)
            if contribution.method == ContributionMethod.STRIPE:
                flash(_("Card payments are not available at the moment; your pledge %(ref)s is saved.",
                        ref=contribution.reference), "info")
            else:
                flash(_("Thank you. Your pledge %(ref)s is saved; the bank details are below.",
                        ref=contribution.reference), "success")
            return redirect(url_for("grants.contribution", contribution_id=contribution.id))
    condition = Contribution.pledged_by_id == user.id
    if user.organization_id is not None:
        condition = sa.or_(condition, Contribution.donor_organization_id == user.organization_id)
    pagination = db.paginate(sa.select(Contribution).where(condition).order_by(Contribution.id.desc()),
                             page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template("grants/contributions.html", form=form, pagination=pagination), _status(form)


@bp.route("/contributions/<int:contribution_id>")
@login_required
def contribution(contribution_id: int):
    item = db.session.get(Contribution, contribution_id)
    if item is None or not item.can_view(current_user):
        abort(404)
    instructions = None
    if item.method == ContributionMethod.WIRE and item.status == ContributionStatus.PLEDGED:
        instructions = services.wire_instructions(item)
    checkout = services.checkout_url(item) if item.status == ContributionStatus.CHECKOUT_OPEN else None
    return render_template("grants/contribution.html", contribution=item, instructions=instructions,
                           checkout=checkout)


@bp.route("/staff/contributions")
@role_required(Role.FUND_MANAGER)
def pending_wires():
    query = (sa.select(Contribution)
             .where(Contribution.method == ContributionMethod.WIRE, Contribution.status == ContributionStatus.PLEDGED)
             .options(joinedload(Contribution.donor_organization), joinedload(Contribution.pledged_by))
             .order_by(Contribution.id))
    pagination = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template("grants/pending_wires.html", pagination=pagination)


@bp.route("/contributions/<int:contribution_id>/confirm", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def confirm_wire(contribution_id: int):
    item = db.session.get(Contribution, contribution_id)
    if item is None or not item.can_view(current_user):
        abort(404)
    form = ConfirmWireForm()  # the amount is typed from the bank statement, not pre-filled
    if form.validate_on_submit() and attempt(
            form, services.confirm_wire_contribution, field_map=AMOUNT_FIELD, contribution=item, actor=_me(),
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
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or not proposal.can_view(current_user):
        abort(404)
    form = AwardForm()
    if request.method == "GET":
        form.amount.data = Decimal(proposal.requested_cents) / 100
    if form.validate_on_submit():
        grant = attempt(form, services.award_proposal, field_map=AMOUNT_FIELD, proposal=proposal, actor=_me(),
                        amount_cents=form.amount.cents, tranches=form.tranche_specs())
        if grant is not FAILED:
            db.session.commit()
            flash(_("Grant awarded; the applicant has been told."), "success")
            return redirect(url_for("grants.grant", grant_id=grant.id))
    pool = balance(pool_code(proposal.challenge_id))
    return render_template("grants/award.html", form=form, proposal=proposal, pool=pool,
                           release_form=ActionForm(prefix="release")), _status(form)


@bp.route("/challenges/<int:challenge_id>/release-pool", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def release_pool(challenge_id: int):
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or not challenge.can_view(current_user):
        abort(404)
    form = ActionForm(prefix="release")
    if not form.validate_on_submit():
        abort(400)
    transaction = attempt_or_flash(services.release_unused_pool, challenge=challenge, actor=_me())
    if transaction is not FAILED:
        db.session.commit()
        flash(_("The unused prize pool was returned to unallocated funds (transaction %(id)s).",
                id=transaction.id), "success")
    return redirect(request.referrer if (request.referrer or "").startswith(request.host_url)
                    else url_for("grants.grants"))


# --- grants ----------------------------------------------------------------------------

@bp.route("/grants")
@login_required
def grants():
    user = _me()
    query = (sa.select(Grant).options(joinedload(Grant.organization), joinedload(Grant.proposal))
             .order_by(Grant.id.desc()))
    if not user.has_role(Role.FUND_MANAGER, Role.ADMIN):
        query = query.where(Grant.organization_id == (user.organization_id or -1))
    pagination = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template("grants/grants.html", pagination=pagination)


def _load_grant(grant_id: int) -> Grant:
    grant = db.session.execute(
        sa.select(Grant).where(Grant.id == grant_id).options(
            selectinload(Grant.tranches).selectinload(Tranche.reports).selectinload(MilestoneReport.files),
            selectinload(Grant.payout_accounts), joinedload(Grant.proposal), joinedload(Grant.organization))
    ).scalar_one_or_none()
    if grant is None or not grant.can_view(current_user):
        abort(404)
    return grant


@bp.route("/grants/<int:grant_id>")
@login_required
def grant(grant_id: int):
    item = _load_grant(grant_id)
    return render_template("grants/grant.html", grant=item, accept_form=ActionForm(prefix="accept"))


@bp.route("/grants/<int:grant_id>/accept", methods=["POST"])
@login_required
def accept(grant_id: int):
    item = _load_grant(grant_id)
    form = ActionForm(prefix="accept")
    if not form.validate_on_submit():
        abort(400)
    if not item.acts_for_grantee(current_user):
        abort(403)
    if attempt_or_flash(services.accept_grant, grant=item, actor=_me()) is not FAILED:
        db.session.commit()
        flash(_("Agreement accepted. Next, give your payout details."), "success")
    return redirect(url_for("grants.grant", grant_id=grant_id))


@bp.route("/grants/<int:grant_id>/payout", methods=["GET", "POST"])
@login_required
def payout(grant_id: int):
    item = _load_grant(grant_id)
    if not item.can_set_payout(current_user):
        abort(403)
    form = PayoutForm()
    if form.validate_on_submit() and attempt(
            form, services.set_payout_account, field_map={"confirm_password": "current_password"},
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


# --- milestone evidence -------------------------------------------------------------------

@bp.route("/tranches/<int:tranche_id>/evidence", methods=["GET", "POST"])
@login_required
def evidence(tranche_id: int):
    tranche = db.session.get(Tranche, tranche_id)
    if tranche is None or not tranche.can_view(current_user):
        abort(404)
    if not tranche.grant.acts_for_grantee(current_user):
        abort(403)
    form = EvidenceForm()
    if form.validate_on_submit():
        files = [(upload.filename or "file", upload.read()) for upload in (form.files.data or [])
                 if upload and upload.filename]
        if attempt(form, services.submit_milestone_report, field_map={"kpi_values": "kpis"}, tranche=tranche,
                   actor=_me(), text=form.text.data, kpi_values=form.kpi_values, files=files) is not FAILED:
            db.session.commit()
            flash(_("Milestone report sent; a fund manager will review it."), "success")
            return redirect(url_for("grants.grant", grant_id=tranche.grant_id))
    return render_template("grants/evidence.html", form=form, tranche=tranche), _status(form)


@bp.route("/evidence/<int:file_id>")
@login_required
def evidence_file(file_id: int):
    item = db.session.get(EvidenceFile, file_id)
    if item is None or not item.report.can_view(current_user):
        abort(404)
    return send_file(upload_path(services.EVIDENCE_AREA, item.storage_key), mimetype=item.content_type,
                     as_attachment=True, download_name=item.original_filename)


@bp.route("/staff/evidence")
@role_required(Role.FUND_MANAGER)
def evidence_queue():
    query = (sa.select(MilestoneReport).where(MilestoneReport.status == ReportStatus.SUBMITTED)
             .options(joinedload(MilestoneReport.tranche).joinedload(Tranche.grant).joinedload(Grant.organization),
                      joinedload(MilestoneReport.submitted_by))
             .order_by(MilestoneReport.id))
    pagination = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template("grants/evidence_queue.html", pagination=pagination)


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
@login_required
def report(report_id: int):
    item = db.session.get(MilestoneReport, report_id)
    if item is None or not item.can_view(current_user):
        abort(404)
    accept_form = ActionForm(prefix="accept")
    return_form = ReturnReportForm(prefix="return")
    if request.method == "POST":
        if not current_user.has_role(Role.FUND_MANAGER):
            abort(403)
        # Errors of either button are shown with the return form (the accept form has no fields).
        done = FAILED
        if accept_form.submit.data and accept_form.validate_on_submit():
            done = attempt(return_form, services.accept_milestone_report, report=item, actor=_me())
            message = _("Report accepted; the tranche may now be disbursed.")
        elif return_form.submit.data and return_form.validate_on_submit():
            done = attempt(return_form, services.return_milestone_report, report=item, actor=_me(),
                           comment=return_form.comment.data)
            message = _("Report sent back to the grantee.")
        if done is not FAILED:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("grants.evidence_queue"))
    return render_template("grants/report.html", report=item, accept_form=accept_form,
                           return_form=return_form), 422 if request.method == "POST" else 200


# --- dashboard panels ----------------------------------------------------------------------

def _donor_panel(user):
    if not user.has_role(Role.DONOR):
        return None
    rows = db.session.execute(
        sa.select(Contribution).where(Contribution.pledged_by_id == user.id).order_by(Contribution.id.desc()).limit(5)
    ).scalars().all()
    return {"title": _("Your contributions"), "template": "grants/_panel_donor.html", "contributions": rows}


def _grantee_panel(user):
    if not user.has_role(Role.INNOVATOR) or user.organization_id is None:
        return None
    rows = db.session.execute(
        sa.select(Grant).where(Grant.organization_id == user.organization_id)
        .options(selectinload(Grant.tranches), joinedload(Grant.proposal)).order_by(Grant.id.desc()).limit(10)
    ).unique().scalars().all()
    if not rows:
        return None
    items = []
    for item in rows:
        upcoming = next((t for t in item.tranches if t.status == TrancheStatus.PENDING), None)
        items.append({"grant": item, "next": upcoming})
    return {"title": _("Your grants"), "template": "grants/_panel_grantee.html", "items": items,
            "offered": GrantStatus.OFFERED}


def _fund_manager_panel(user):
    if not user.has_role(Role.FUND_MANAGER):
        return None
    wires = db.session.execute(sa.select(sa.func.count(Contribution.id)).where(
        Contribution.method == ContributionMethod.WIRE, Contribution.status == ContributionStatus.PLEDGED)).scalar_one()
    reports = db.session.execute(sa.select(sa.func.count(MilestoneReport.id)).where(
        MilestoneReport.status == ReportStatus.SUBMITTED)).scalar_one()
    return {"title": _("Money to handle"), "template": "grants/_panel_fund_manager.html", "wires": wires,
            "reports": reports}


def register(app) -> None:
    from facility.core.views import register_dashboard_panel

    for provider in (_donor_panel, _grantee_panel, _fund_manager_panel):
        register_dashboard_panel(app, provider)
