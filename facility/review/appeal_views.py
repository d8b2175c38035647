"""Pages of appeals: the applicant's request for reconsideration and their appeal's page; the fund
managers' queue of appeals and the outcome form. Each asks `review.policy` (as the services and the API)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import page_arg
from facility.core.policy import require
from facility.extensions import db
from facility.review import appeal_facts, appeals, facts, policy, queries
from facility.review.appeal_forms import AppealForm, OutcomeForm, WithdrawForm

bp = Blueprint("appeals", __name__, url_prefix="/review")


@bp.app_template_global("latest_appeal")
def latest_appeal(proposal: Any) -> Any:
    """The proposal's latest appeal, for the pages that show a released decision."""
    return appeal_facts.latest_appeal(proposal)


def _user() -> Any:
    return current_user._get_current_object()


def _status(form: Any) -> int:
    return 422 if form.errors or form.form_errors else 200


@bp.route("/proposals/<int:proposal_id>/appeal", methods=["GET", "POST"])
@login_required
def new(proposal_id: int) -> ResponseReturnValue:
    """The applicant's "Ask for reconsideration" form (`policy.can_appeal`)."""
    proposal = queries.get_proposal(proposal_id)
    refusal = policy.can_appeal(_user(), proposal)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()  # not the applicant's: 404
    if refusal is not None:
        flash(refusal.reason, "error")  # not (or no longer) appealable: the proposal's page says why
        return redirect(url_for("proposals.show", proposal_id=proposal.id))
    form = AppealForm()
    if form.validate_on_submit():
        appeal = attempt(form, appeals.submit_appeal, actor=_user(), proposal=proposal, grounds=form.grounds.data,
                         statement=form.statement.data)
        if appeal is not FAILED:
            db.session.commit()
            flash(_("Your appeal is submitted; a fund manager who took no part in the decision will decide it."),
                  "success")
            return redirect(url_for("appeals.show", appeal_id=appeal.id))
    decision = facts.latest_released_decision(proposal)
    return render_template("review/appeals/new.html", proposal=proposal, decision=decision, form=form,
                           closes=appeal_facts.window_closes(decision) if decision else None), _status(form)


@bp.route("/appeals")
@login_required
def queue() -> ResponseReturnValue:
    """Every appeal, those awaiting a decision first (fund managers and auditors), paginated."""
    require(policy.can_see_appeals(_user()))
    pagination = db.paginate(queries.appeals_query(), page=page_arg(), per_page=25, error_out=False)
    return render_template("review/appeals/queue.html", pagination=pagination, counts=appeals.appeal_counts())


@bp.route("/appeals/<int:appeal_id>")
@login_required
def show(appeal_id: int) -> ResponseReturnValue:
    """The appeal, its outcome and reasons; for a fund manager who may decide it, the outcome form."""
    appeal = queries.get_appeal(_user(), appeal_id)
    return render_template("review/appeals/show.html", appeal=appeal, form=OutcomeForm(), withdraw_form=WithdrawForm())


@bp.route("/appeals/<int:appeal_id>/outcome", methods=["POST"])
@login_required
def decide(appeal_id: int) -> ResponseReturnValue:
    """Uphold or dismiss the appeal with reasons (`policy.can_handle_appeal`)."""
    appeal = queries.get_appeal(_user(), appeal_id)
    refusal = policy.can_handle_appeal(_user(), appeal)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()  # the wrong role, or a fund manager who took part: 403
    form = OutcomeForm()
    if form.validate_on_submit() and attempt(form, appeals.decide_appeal, actor=_user(), appeal=appeal,
                                             outcome=form.outcome.data, reasons=form.reasons.data) is not FAILED:
        db.session.commit()
        flash(_("The appeal is decided; the applicant is being told."), "success")
        return redirect(url_for("appeals.show", appeal_id=appeal.id))
    return render_template("review/appeals/show.html", appeal=appeal, form=form, withdraw_form=WithdrawForm()), \
        _status(form)


@bp.route("/appeals/<int:appeal_id>/withdrawal", methods=["POST"])
@login_required
def withdraw(appeal_id: int) -> ResponseReturnValue:
    """The applicant withdraws its appeal while it awaits a decision (`policy.can_withdraw_appeal`)."""
    appeal = queries.get_appeal(_user(), appeal_id)
    form = WithdrawForm()
    if form.validate_on_submit() and attempt_or_flash(appeals.withdraw_appeal, actor=_user(),
                                                                 appeal=appeal) is not FAILED:
        db.session.commit()
        flash(_("Your appeal is withdrawn; the decision stands."), "success")
    return redirect(url_for("appeals.show", appeal_id=appeal.id))
