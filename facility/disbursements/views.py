"""Pages: the disbursement queue and page (request, approve, confirm, cancel, re-queue, reveal bank details), card
checkout, Stripe webhooks.

Each action asks `disbursements.policy` (the same function its service asks): a person who may
not act at all gets a 403 page; one who may act, but not now, is told why.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.core.dashboard import work_item
from facility.core.errors import PermissionDenied
from facility.core.forms import FAILED, apply_errors, attempt, attempt_or_flash
from facility.core.inputs import page_arg
from facility.core.policy import Decision, require
from facility.core.providers import stripe_configured
from facility.core.views import register_dashboard_panel
from facility.disbursements import bank_details, payments, policy, queries, requests
from facility.disbursements.forms import ButtonForm, ConfirmPaymentForm, FilterForm, ReasonForm
from facility.disbursements.grant_cancellation import settle_payments_of_cancelled_grant
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.disbursements.stripe_gateway import GatewayError, GatewayNotConfigured, WebhookRejected, get_gateway
from facility.disbursements.webhooks import handle_stripe_event
from facility.extensions import csrf, db, limiter
from facility.grants import queries as grant_queries
from facility.grants.cancellation import before_cancel
from facility.grants.models import ContributionStatus
from facility.ledger.verify import register_check

log = logging.getLogger(__name__)
S = DisbursementStatus
bp = Blueprint("disbursements", __name__)
payments_bp = Blueprint("payments", __name__)
PER_PAGE = 25


def _me() -> Any:
    return current_user._get_current_object()


# --- the queue and one disbursement ---------------------------------------------------

@bp.route("/disbursements")
@login_required
def queue() -> ResponseReturnValue:
    require(policy.can_view_queue(_me()))
    form = FilterForm(request.args)
    wanted = form.status.data if form.validate() else ""
    pagination = queries.disbursement_queue(statuses=queries.queue_statuses(wanted), page=page_arg(),
                                            per_page=PER_PAGE)
    missing = {d.id: policy.approvals_state(d, names=False).missing for d in pagination.items
               if d.status is S.REQUESTED}
    return render_template("disbursements/queue.html", pagination=pagination, form=form, status=wanted,
                           missing=missing)


@bp.route("/disbursements/<int:disbursement_id>")
@login_required
def show(disbursement_id: int) -> ResponseReturnValue:
    return _render(queries.get_visible_disbursement(_me(), disbursement_id))


def _render(disbursement: Disbursement, *, confirm_form: Any = None, fail_form: Any = None,
            status: int = 200) -> ResponseReturnValue:
    return render_template(
        "disbursements/disbursement.html", d=disbursement, button=ButtonForm(),
        approvals=policy.approvals_state(disbursement),
        confirm_form=confirm_form or _confirm_form(disbursement),
        fail_form=fail_form or ReasonForm(prefix="fail"),
    ), status


def _confirm_form(disbursement: Disbursement) -> ConfirmPaymentForm:
    """The bank-reference form, its currency pre-filled with the one the grant's last local payment was in."""
    if disbursement.status is not S.AWAITING_CONFIRMATION:
        return ConfirmPaymentForm(prefix="confirm")
    return ConfirmPaymentForm(prefix="confirm", data={"local_currency": queries.last_local_currency(disbursement.grant_id)})


@bp.route("/tranches/<int:tranche_id>/disbursements", methods=["POST"])
@login_required
def request_payment(tranche_id: int) -> ResponseReturnValue:
    tranche = grant_queries.get_visible_tranche(_me(), tranche_id)
    require(policy.can_manage(_me()))
    if not ButtonForm().validate_on_submit():
        abort(400)
    back = redirect(url_for("grants.grant", grant_id=tranche.grant_id))
    refusal = policy.can_request(_me(), tranche)
    if refusal is not None:
        flash(refusal.reason, "error")
        return back
    disbursement = attempt_or_flash(requests.request_disbursement, tranche=tranche, actor=_me())
    if disbursement is FAILED:
        return back
    db.session.commit()
    flash(_("Payment requested. Another fund manager must approve it."), "success")
    return redirect(url_for("disbursements.show", disbursement_id=disbursement.id))


def _allowed(disbursement_id: int, can: Callable[[Any, Disbursement], Decision]) -> tuple[Disbursement, Decision]:
    """The disbursement (404 if not visible; 403 unless a fund manager) and why `can` refuses now, if it does."""
    disbursement = queries.get_visible_disbursement(_me(), disbursement_id)
    require(policy.can_manage(_me(), disbursement))
    return disbursement, can(_me(), disbursement)


def _button(disbursement_id: int, can: Callable[[Any, Disbursement], Decision], service: Callable[..., Any],
            message: str) -> ResponseReturnValue:
    """A state-changing button: a refusal (the requester approving, the wrong status) is flashed on the page."""
    disbursement, refusal = _allowed(disbursement_id, can)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if refusal is not None:
        flash(refusal.reason, "error")
    elif attempt_or_flash(service, disbursement=disbursement, actor=_me()) is not FAILED:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("disbursements.show", disbursement_id=disbursement_id))


def _confirmation(disbursement_id: int, can: Callable[[Any, Disbursement], Decision], template: str,
                  status: int = 200, **context: Any) -> ResponseReturnValue:
    """The GET of an irreversible action: what it does and a button to confirm. Asks the same policy function
    as the POST, with the same answers: 404 if not visible, 403 unless a fund manager, a flashed refusal."""
    disbursement, refusal = _allowed(disbursement_id, can)
    if refusal is not None:
        flash(refusal.reason, "error")
        return redirect(url_for("disbursements.show", disbursement_id=disbursement_id))
    return render_template(template, d=disbursement, approvals=policy.approvals_state(disbursement, names=False),
                           **context), status


@bp.route("/disbursements/<int:disbursement_id>/approve", methods=["GET", "POST"])
@login_required
def approve(disbursement_id: int) -> ResponseReturnValue:
    if request.method == "GET":
        return _confirmation(disbursement_id, policy.can_approve, "disbursements/approve.html")
    return _button(disbursement_id, policy.can_approve, requests.approve_disbursement, _("Approved."))


@bp.route("/disbursements/<int:disbursement_id>/requeue", methods=["POST"])
@login_required
def requeue(disbursement_id: int) -> ResponseReturnValue:
    return _button(disbursement_id, policy.can_requeue, requests.requeue_disbursement, _("Queued for payment again."))


# Which form of the disbursement page (or the cancellation's page) each prefix is (to re-render it with its errors).
_FORM_SLOTS = {"cancel": "reason_form", "confirm": "confirm_form", "fail": "fail_form"}


def _with_form(disbursement_id: int, can: Callable[[Any, Disbursement], Decision], form_class: type, prefix: str,
               service: Callable[..., Any], message: str, fields: tuple[str, ...],
               page: str | None = None) -> ResponseReturnValue:
    """A form's POST; its errors are shown on the disbursement page, or on the confirmation `page` it came from."""
    disbursement, refusal = _allowed(disbursement_id, can)
    back = redirect(url_for("disbursements.show", disbursement_id=disbursement_id))
    if refusal is not None:  # the page no longer shows the form it came from: say why
        flash(refusal.reason, "error")
        return back
    form = form_class(prefix=prefix)
    refusals: list[str] = []

    def show(shown_on: Any, error: Any) -> None:
        # Field errors go on the form; a refusal of the state (cancelled meanwhile) is flashed.
        if error.errors:
            apply_errors(shown_on, error)
        else:
            refusals.append(error.detail)

    if form.validate_on_submit():
        if attempt(form, service, show_errors=show, disbursement=disbursement, actor=_me(),
                   **{name: getattr(form, name).data for name in fields}) is not FAILED:
            db.session.commit()
            flash(message, "success")
            return back
        if refusals:
            flash(refusals[0], "error")
            return back
    if page is not None:
        return _confirmation(disbursement_id, can, page, status=422, **{_FORM_SLOTS[prefix]: form})
    disbursement = queries.get_visible_disbursement(_me(), disbursement_id)  # after a rollback: fresh rows
    return _render(disbursement, status=422, **{_FORM_SLOTS[prefix]: form})


@bp.route("/disbursements/<int:disbursement_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(disbursement_id: int) -> ResponseReturnValue:
    """GET: what cancelling does, the reason to give and a button to confirm; POST: cancel."""
    if request.method == "GET":
        return _confirmation(disbursement_id, policy.can_cancel, "disbursements/cancel.html",
                             reason_form=ReasonForm(prefix="cancel"))
    return _with_form(disbursement_id, policy.can_cancel, ReasonForm, "cancel", requests.cancel_disbursement,
                      _("Cancelled."), fields=("reason",), page="disbursements/cancel.html")


@bp.route("/disbursements/<int:disbursement_id>/confirm", methods=["POST"])
@login_required
def confirm(disbursement_id: int) -> ResponseReturnValue:
    return _with_form(disbursement_id, policy.can_confirm, ConfirmPaymentForm, "confirm",
                      requests.confirm_manual_payment, _("Payment confirmed and booked."),
                      fields=("bank_reference", "local_currency", "local_amount", "exchange_rate"))


@bp.route("/disbursements/<int:disbursement_id>/fail", methods=["POST"])
@login_required
def fail(disbursement_id: int) -> ResponseReturnValue:
    return _with_form(disbursement_id, policy.can_fail, ReasonForm, "fail", requests.fail_manual_payment,
                      _("Marked as failed."), fields=("reason",))


@bp.route("/disbursements/<int:disbursement_id>/bank-details", methods=["POST"])
@login_required
def reveal_bank_details(disbursement_id: int) -> ResponseReturnValue:
    """The full bank details for the finance team (fresh second factor; audited; never cached)."""
    disbursement, refusal = _allowed(disbursement_id, policy.can_reveal_bank_details)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if refusal is not None:
        flash(refusal.reason, "error")
        return redirect(url_for("disbursements.show", disbursement_id=disbursement_id))
    details = attempt_or_flash(bank_details.reveal_bank_details, disbursement=disbursement, actor=_me())
    if details is FAILED:
        return redirect(url_for("disbursements.show", disbursement_id=disbursement_id))
    db.session.commit()  # the audit record of the reveal
    response = make_response(render_template("disbursements/bank_details.html", d=disbursement, details=details))
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Pragma"] = "no-cache"
    return response


# --- card contributions: Stripe Checkout ------------------------------------------------

@payments_bp.route("/contributions/<int:contribution_id>/checkout")
@login_required
def checkout(contribution_id: int) -> ResponseReturnValue:
    """Send the donor to Stripe's payment page for a card pledge (the webhook books the money)."""
    contribution = grant_queries.get_visible_contribution(current_user, contribution_id)
    back = url_for("grants.contribution", contribution_id=contribution.id)
    if contribution.pledged_by_id != current_user.id:
        raise PermissionDenied(_("Only the donor who pledged it pays a contribution by card."))
    if contribution.status != ContributionStatus.CHECKOUT_OPEN:
        flash(_("This contribution is not waiting for a card payment."), "info")
        return redirect(back)
    if not stripe_configured():  # pages link here only with Stripe; an old link still gets an answer
        flash(_("Card payments are not available at the moment. You can pledge by wire instead."), "error")
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
def stripe_webhook() -> ResponseReturnValue:
    """Stripe's events: verified by signature and timestamp, acted on once per event id."""
    payload = request.get_data(cache=False, as_text=False)
    try:
        event = get_gateway().verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except WebhookRejected as rejected:
        return jsonify({"error": rejected.reason, "message": rejected.message}), 400
    outcome = handle_stripe_event(event=event.to_dict())
    db.session.commit()
    return jsonify({"received": True, "outcome": outcome}), 200


# --- what the package adds to the rest of the app ---------------------------------------

def dashboard_panel(user: Any) -> dict[str, Any] | None:
    """The fund managers' payments: tranches to request, disbursements to approve (requested by someone
    else), manual payments to confirm (requested and approved by others), failures and retries; each with the
    oldest waiting."""
    if policy.can_manage(user) is not None:
        return None
    request_, approve = queries.payments_to_request(), queries.disbursements_to_approve(user)
    confirm = queries.payments_to_confirm(user)

    def show_or(figures: Any, status: DisbursementStatus) -> str:
        if figures.count == 1:
            return url_for("disbursements.show", disbursement_id=figures.first_id)
        return url_for("disbursements.queue", status=status.value)

    items = [
        work_item(_("Payments to request (report accepted, not paid)"), request_,
                  url_for("grants.grant", grant_id=request_.first_id) if request_.first_id else url_for("grants.grants")),
        work_item(_("Disbursements to approve"), approve, show_or(approve, S.REQUESTED)),
        work_item(_("Manual payments to confirm with a bank reference"), confirm,
                  show_or(confirm, S.AWAITING_CONFIRMATION)),
        work_item(_("Failed payments"), (failed := queries.in_status(S.FAILED)), show_or(failed, S.FAILED)),
        work_item(_("Payments being retried"), (retry := queries.in_status(S.RETRYING)), show_or(retry, S.RETRYING)),
    ]
    return {"title": _("Payments"), "template": "disbursements/_panel.html", "items": items}


def register(app: Flask) -> None:
    """Wire disbursements into the app, in one place: the payments blueprint (card checkout, Stripe webhooks),
    the fund managers' dashboard panel, the grant page's payments section, the
    ledger-verify check (the workers' periodic sweep is `jobs.PERIODIC`)."""
    app.register_blueprint(payments_bp)
    register_dashboard_panel(app, dashboard_panel)
    app.jinja_env.globals["grant_disbursements"] = queries.grant_disbursements
    register_check(payments.check_paid_disbursements_posted_once)
    before_cancel(app, settle_payments_of_cancelled_grant)  # a grant's cancellation settles its payments first
