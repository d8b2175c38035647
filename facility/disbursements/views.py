"""Pages: the disbursement queue and page (request, approve, confirm, cancel, re-queue), card checkout, Stripe webhooks."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from facility.accounts.models import Role
from facility.core.errors import NotFound
from facility.core.forms import FAILED, apply_errors, attempt, attempt_or_flash
from facility.core.inputs import page_arg
from facility.disbursements import services
from facility.disbursements.forms import STATUS_LABELS, ButtonForm, ConfirmPaymentForm, FilterForm, ReasonForm
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.disbursements.stripe_gateway import GatewayError, GatewayNotConfigured, WebhookRejected, get_gateway
from facility.extensions import csrf, db, limiter
from facility.grants.models import Contribution, ContributionStatus, Grant, Tranche
from facility.ledger.services import register_check

log = logging.getLogger(__name__)
bp = Blueprint("disbursements", __name__)
payments_bp = Blueprint("payments", __name__)
PER_PAGE = 25
NEEDING_ATTENTION = (DisbursementStatus.REQUESTED, DisbursementStatus.AWAITING_CONFIRMATION,
                     DisbursementStatus.FAILED, DisbursementStatus.RETRYING)


def _me():
    return current_user._get_current_object()


def _load(disbursement_id: int) -> Disbursement:
    try:
        disbursement = services.load(disbursement_id)
    except NotFound:
        abort(404)
    if not disbursement.can_view(current_user):
        abort(404)
    return disbursement


# --- the queue and one disbursement ---------------------------------------------------

@bp.route("/disbursements")
@login_required
def queue():
    if not current_user.has_role(Role.FUND_MANAGER, Role.ADMIN):
        abort(403)
    form = FilterForm(request.args)
    wanted = form.status.data if form.validate() else ""
    query = (sa.select(Disbursement).options(
        joinedload(Disbursement.grant).joinedload(Grant.organization), joinedload(Disbursement.tranche),
        joinedload(Disbursement.requested_by)).order_by(Disbursement.id.desc()))
    if wanted == "all":
        pass
    elif wanted:
        query = query.where(Disbursement.status == DisbursementStatus(wanted))
    else:
        query = query.where(Disbursement.status.in_(NEEDING_ATTENTION))
    pagination = db.paginate(query, page=page_arg(), per_page=PER_PAGE, error_out=False)
    return render_template("disbursements/queue.html", pagination=pagination, form=form, labels=STATUS_LABELS,
                           status=wanted)


@bp.route("/disbursements/<int:disbursement_id>")
@login_required
def show(disbursement_id: int):
    disbursement = _load(disbursement_id)
    return _render(disbursement)


def _render(disbursement: Disbursement, *, reason_form=None, confirm_form=None, fail_form=None, status=200):
    return render_template(
        "disbursements/disbursement.html", d=disbursement, labels=STATUS_LABELS,
        can_approve=services.can_approve(disbursement, current_user), is_manager=services.is_fund_manager(current_user),
        button=ButtonForm(), reason_form=reason_form or ReasonForm(prefix="cancel"),
        confirm_form=confirm_form or ConfirmPaymentForm(prefix="confirm"),
        fail_form=fail_form or ReasonForm(prefix="fail"),
    ), status


@bp.route("/tranches/<int:tranche_id>/disbursements", methods=["POST"])
@login_required
def request_payment(tranche_id: int):
    tranche = db.session.get(Tranche, tranche_id)
    if tranche is None or not tranche.can_view(current_user):
        abort(404)
    if not services.is_fund_manager(current_user):
        abort(403)
    if not ButtonForm().validate_on_submit():
        abort(400)
    disbursement = attempt_or_flash(services.request_disbursement, tranche=tranche, actor=_me())
    if disbursement is FAILED:
        return redirect(url_for("grants.grant", grant_id=tranche.grant_id))
    db.session.commit()
    flash(_("Payment requested. Another fund manager must approve it."), "success")
    return redirect(url_for("disbursements.show", disbursement_id=disbursement.id))


def _button(disbursement_id: int, service, message: str, *, refusal=None):
    """A state-changing button; `refusal(disbursement)` may return why this fund manager may not press it."""
    disbursement = _load(disbursement_id)
    if not services.is_fund_manager(current_user):
        abort(403)
    if not ButtonForm().validate_on_submit():
        abort(400)
    refused = refusal(disbursement) if refusal is not None else None
    if refused:
        flash(refused, "error")
    elif attempt_or_flash(service, disbursement=disbursement, actor=_me()) is not FAILED:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("disbursements.show", disbursement_id=disbursement_id))


@bp.route("/disbursements/<int:disbursement_id>/approve", methods=["POST"])
@login_required
def approve(disbursement_id: int):
    def own_request(disbursement: Disbursement) -> str | None:
        # Four eyes: the requester is told why on the page, not shown a bare 403 page.
        if disbursement.requested_by_id == current_user.id:
            return _("You requested this payment; another fund manager must approve it.")
        return None

    return _button(disbursement_id, services.approve_disbursement, _("Approved."), refusal=own_request)


@bp.route("/disbursements/<int:disbursement_id>/requeue", methods=["POST"])
@login_required
def requeue(disbursement_id: int):
    return _button(disbursement_id, services.requeue_disbursement, _("Queued for payment again."))


# Which form of the disbursement page each prefix is (to re-render it with its errors).
_FORM_SLOTS = {"cancel": "reason_form", "confirm": "confirm_form", "fail": "fail_form"}


def _with_form(disbursement_id: int, form_class, prefix: str, service, message: str, fields: tuple[str, ...]):
    disbursement = _load(disbursement_id)
    if not services.is_fund_manager(current_user):
        abort(403)
    form = form_class(prefix=prefix)
    refusals: list[str] = []

    def show(shown_on, error) -> None:
        # Field errors go on the form; a refusal of the state (already paid, cancelled meanwhile) is flashed,
        # since the page no longer shows the form it came from.
        if error.errors:
            apply_errors(shown_on, error)
        else:
            refusals.append(error.detail)

    if form.validate_on_submit():
        if attempt(form, service, show_errors=show, disbursement=disbursement, actor=_me(),
                   **{name: getattr(form, name).data for name in fields}) is not FAILED:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("disbursements.show", disbursement_id=disbursement_id))
        if refusals:
            flash(refusals[0], "error")
            return redirect(url_for("disbursements.show", disbursement_id=disbursement_id))
    disbursement = _load(disbursement_id)  # after a rollback: fresh rows
    return _render(disbursement, status=422, **{_FORM_SLOTS[prefix]: form})


@bp.route("/disbursements/<int:disbursement_id>/cancel", methods=["POST"])
@login_required
def cancel(disbursement_id: int):
    return _with_form(disbursement_id, ReasonForm, "cancel", services.cancel_disbursement, _("Cancelled."),
                      fields=("reason",))


@bp.route("/disbursements/<int:disbursement_id>/confirm", methods=["POST"])
@login_required
def confirm(disbursement_id: int):
    return _with_form(disbursement_id, ConfirmPaymentForm, "confirm", services.confirm_manual_payment,
                      _("Payment confirmed and booked."), fields=("bank_reference",))


@bp.route("/disbursements/<int:disbursement_id>/fail", methods=["POST"])
@login_required
def fail(disbursement_id: int):
    return _with_form(disbursement_id, ReasonForm, "fail", services.fail_manual_payment,
                      _("Marked as failed."), fields=("reason",))


# --- card contributions: Stripe Checkout ------------------------------------------------

@payments_bp.route("/contributions/<int:contribution_id>/checkout")
@login_required
def checkout(contribution_id: int):
    """Send the donor to Stripe's payment page for a card pledge (the webhook books the money)."""
    contribution = db.session.get(Contribution, contribution_id)
    if contribution is None or not contribution.can_view(current_user):
        abort(404)
    back = url_for("grants.contribution", contribution_id=contribution.id)
    if contribution.pledged_by_id != current_user.id:
        abort(403)
    if contribution.status != ContributionStatus.CHECKOUT_OPEN:
        flash(_("This contribution is not waiting for a card payment."), "info")
        return redirect(back)
    try:
        session = get_gateway().create_checkout_session(
            contribution_id=contribution.id, amount_cents=contribution.amount_cents, donor_email=current_user.email,
            success_url=url_for("grants.contribution", contribution_id=contribution.id, checkout="done",
                                _external=True),
            cancel_url=url_for("grants.contribution", contribution_id=contribution.id, _external=True))
    except GatewayNotConfigured as error:
        log.error("checkout for contribution %s: %s", contribution.id, error)
        flash(_("Card payments are not available at the moment. You can pledge by wire instead."), "error")
        return redirect(back)
    except GatewayError as error:
        # Stripe's own wording is English and technical: it goes to the log, the donor gets ours.
        log.warning("checkout for contribution %s: %s", contribution.id, error)
        flash(_("Card payments cannot be taken right now. Try again later or pledge by wire."), "error")
        return redirect(back)
    return redirect(session.url, code=303)


# --- Stripe webhooks ------------------------------------------------------------------

@payments_bp.route("/webhooks/stripe", methods=["POST"])
@csrf.exempt
@limiter.exempt
def stripe_webhook():
    """Stripe's events: verified by signature and timestamp, acted on once per event id."""
    payload = request.get_data(cache=False, as_text=False)
    try:
        event = get_gateway().verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except WebhookRejected as rejected:
        return jsonify({"error": rejected.reason, "message": rejected.message}), 400
    outcome = services.handle_stripe_event(event=event.to_dict())
    db.session.commit()
    return jsonify({"received": True, "outcome": outcome}), 200


# --- hooks into the grant page, the API and ledger-verify ---------------------------------

def grant_disbursements(grant: Grant) -> list[Disbursement]:
    """A grant's disbursements with their timelines, newest first (two queries)."""
    from sqlalchemy.orm import selectinload

    from facility.disbursements.models import DisbursementEvent

    return list(db.session.execute(
        sa.select(Disbursement).where(Disbursement.grant_id == grant.id)
        .options(selectinload(Disbursement.events).joinedload(DisbursementEvent.actor))
        .order_by(Disbursement.id.desc())
    ).scalars())


def _grant_extra(grant: Grant) -> list[dict]:
    from facility.api.disbursements import DisbursementSchema

    return DisbursementSchema(many=True).dump(grant_disbursements(grant))


def _fund_manager_panel(user):
    if not user.has_role(Role.FUND_MANAGER):
        return None
    rows = db.session.execute(
        sa.select(Disbursement.status, sa.func.count(Disbursement.id))
        .where(Disbursement.status.in_(NEEDING_ATTENTION)).group_by(Disbursement.status)).all()
    counts = {status: count for status, count in rows}
    return {"title": _("Disbursements"), "template": "disbursements/_panel.html", "counts": counts,
            "labels": STATUS_LABELS, "order": NEEDING_ATTENTION}


def register(app) -> None:
    from facility.core.views import register_dashboard_panel
    from facility.disbursements import jobs  # noqa: F401 - registers the periodic sweep
    from facility.grants.extras import register_grant_extra

    app.register_blueprint(payments_bp)
    register_grant_extra("disbursements", _grant_extra)
    register_check(services.check_paid_disbursements_posted_once)
    register_dashboard_panel(app, _fund_manager_panel)
    app.jinja_env.globals.update(grant_disbursements=grant_disbursements, disbursement_labels=STATUS_LABELS,
                                 disbursement_button=ButtonForm)
