"""Pages: propose an amendment to a grant, and an amendment's page (old and new schedule, approvals, actions)."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.core.errors import DomainError
from facility.core.forms import FAILED, apply_errors, attempt, attempt_or_flash
from facility.core.policy import Decision, require
from facility.extensions import db
from facility.grants import amendments, policy, queries
from facility.grants.forms import AMENDMENT_BLANK_ROWS, ActionForm, AmendmentForm, RejectAmendmentForm
from facility.grants.models import TrancheStatus
from facility.ledger.verify import register_check

bp = Blueprint("grant_amendments", __name__)
ROW_ERROR = re.compile(r"tranches\.(\d+)\.(\w+)")
ROW_FIELDS = {"title": "title", "amount_cents": "amount", "due_date": "due_date", "id": "title"}


def _me():
    return current_user._get_current_object()


def _refuse_role(decision: Decision) -> None:
    if decision is not None and not decision.is_state:
        decision.raise_()


def _prefilled(grant: Any) -> AmendmentForm:
    rows = [{"tranche_id": str(t.id), "title": t.title, "amount": Decimal(t.amount_cents) / 100,
             "due_date": t.due_date} for t in grant.tranches if t.status != TrancheStatus.CANCELLED]
    rows += [{}] * AMENDMENT_BLANK_ROWS
    return AmendmentForm(formdata=None, data={"rows": rows})


def _row_errors(form: AmendmentForm, where: list[int]):
    """Show the service's `tranches.<n>.<field>` errors on the form's rows (the n-th filled row)."""
    def show(shown_on: AmendmentForm, error: DomainError) -> None:
        rest = {}
        for name, messages in error.errors.items():
            match = ROW_ERROR.fullmatch(name)
            if match and int(match.group(1)) < len(where):
                row = shown_on.rows[where[int(match.group(1))]]
                field = getattr(row, ROW_FIELDS.get(match.group(2), "title"))
                field.errors = list(field.errors) + list(messages)
            else:
                rest[name] = messages
        error.errors = rest
        apply_errors(shown_on, error)
    return show


@bp.route("/grants/<int:grant_id>/amendments/new", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def propose(grant_id: int):
    grant = queries.get_visible_grant(_me(), grant_id)
    require(policy.can_propose_amendment(_me(), grant))
    posted = request.method == "POST"
    form = AmendmentForm() if posted else _prefilled(grant)
    if posted and form.validate_on_submit():
        items, where = form.schedule()
        amendment = attempt(form, amendments.propose_amendment, show_errors=_row_errors(form, where), grant=grant,
                            actor=_me(), reason=form.reason.data, tranches=items)
        if amendment is not FAILED:
            db.session.commit()
            flash(_("Amendment %(n)s proposed.", n=amendment.number), "success")
            return redirect(url_for("grant_amendments.show", amendment_id=amendment.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("grants/amendment_new.html", form=form, grant=grant,
                           threshold=amendments.approval_above_cents()), status


@bp.route("/amendments/<int:amendment_id>")
@login_required
def show(amendment_id: int):
    amendment = queries.get_visible_amendment(_me(), amendment_id)
    state = amendments.amendment_approval_state(amendment) if amendment.needs_approval else None
    return render_template("grants/amendment.html", amendment=amendment, grant=amendment.grant, state=state,
                           action_form=ActionForm(prefix="amend"), reject_form=RejectAmendmentForm(prefix="reject"))


def _act(amendment_id: int, decide, service, done: str, **kwargs: Any):
    amendment = queries.get_visible_amendment(_me(), amendment_id)
    _refuse_role(decide(_me(), amendment))
    form = ActionForm(prefix="amend")
    if not form.validate_on_submit():
        abort(400)
    if attempt_or_flash(service, amendment=amendment, actor=_me(), **kwargs) is not FAILED:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("grant_amendments.show", amendment_id=amendment_id))


@bp.route("/amendments/<int:amendment_id>/approve", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def approve(amendment_id: int):
    return _act(amendment_id, policy.can_approve_amendment, amendments.approve_amendment, _("Your approval is recorded."))


@bp.route("/amendments/<int:amendment_id>/accept", methods=["POST"])
@login_required
def accept(amendment_id: int):
    return _act(amendment_id, policy.can_accept_amendment, amendments.accept_amendment,
                _("Amendment accepted: it is now in force."))


@bp.route("/amendments/<int:amendment_id>/reject", methods=["POST"])
@login_required
def reject(amendment_id: int):
    amendment = queries.get_visible_amendment(_me(), amendment_id)
    _refuse_role(policy.can_reject_amendment(_me(), amendment))
    form = RejectAmendmentForm(prefix="reject")
    if form.validate_on_submit() and attempt(form, amendments.reject_amendment, field_map={}, amendment=amendment,
                                             actor=_me(), reason=form.reason.data) is not FAILED:
        db.session.commit()
        flash(_("Amendment rejected."), "success")
        return redirect(url_for("grant_amendments.show", amendment_id=amendment_id))
    state = amendments.amendment_approval_state(amendment) if amendment.needs_approval else None
    return render_template("grants/amendment.html", amendment=amendment, grant=amendment.grant, state=state,
                           action_form=ActionForm(prefix="amend"), reject_form=form), 422


def register(app: Flask) -> None:
    """The amendment pages, the grant page's helpers, and the ledger-verify check (commitment = undisbursed tranches)."""
    app.register_blueprint(bp)
    app.jinja_env.globals["grant_amendments"] = queries.grant_amendments
    app.jinja_env.globals["agreement_versions"] = queries.agreement_versions
    register_check(amendments.check_commitments_match_tranches)
