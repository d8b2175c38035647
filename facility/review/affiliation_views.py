"""Pages: a reviewer's declared affiliations (add, remove), and a panel reviewer's for fund managers.

Registered by `facility.create_app` beside the review pages; every page asks `review.policy` (the
services ask it too), the same functions the API calls.
"""
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
from facility.review import affiliations, policy, queries
from facility.review.forms import ActionForm, AffiliationForm
from facility.review.models import AFFILIATION_YEARS

bp = Blueprint("review_affiliations", __name__, url_prefix="/review")
PER_PAGE = 25


def _user() -> Any:
    return current_user._get_current_object()


def _page(query: Any) -> Any:
    return db.paginate(query, page=page_arg(), per_page=PER_PAGE, error_out=False)


@bp.route("/affiliations", methods=["GET", "POST"])
@login_required
def manage() -> ResponseReturnValue:
    """The reviewer's own affiliations, and the form to declare one."""
    user = _user()
    require(policy.can_manage_affiliations(user))
    form = AffiliationForm()
    status = 200
    if form.is_submitted():
        if form.validate() and attempt(form, affiliations.add_affiliation, actor=user,
                                       organization_name=form.organization_name.data,
                                       website_domain=form.website_domain.data, from_year=form.from_year.data,
                                       to_year=form.to_year.data) is not FAILED:
            db.session.commit()
            flash(_("Affiliation declared. Proposals of that organisation will not be assigned to you."), "success")
            return redirect(url_for("review_affiliations.manage"))
        status = 422
    return render_template("review/affiliations.html", pagination=_page(queries.affiliations_query(user)), form=form,
                           action_form=ActionForm(), years=AFFILIATION_YEARS), status


@bp.route("/affiliations/<int:affiliation_id>/remove", methods=["POST"])
@login_required
def remove(affiliation_id: int) -> ResponseReturnValue:
    user = _user()
    affiliation = queries.get_own_affiliation(user, affiliation_id)
    if ActionForm().validate_on_submit() and attempt_or_flash(
            affiliations.remove_affiliation, actor=user, affiliation=affiliation) is not FAILED:
        db.session.commit()
        flash(_("Affiliation removed."), "success")
    return redirect(url_for("review_affiliations.manage"))


@bp.route("/challenges/<int:challenge_id>/reviewers/<int:user_id>/affiliations")
@login_required
def member(challenge_id: int, user_id: int) -> ResponseReturnValue:
    """A panel reviewer's declared affiliations (fund managers, auditors)."""
    user = _user()
    require(policy.can_see_affiliations(user))
    seat = queries.get_panel_reviewer(user, challenge_id, user_id)
    return render_template("review/member_affiliations.html", seat=seat,
                           pagination=_page(queries.affiliations_query(seat.user)), years=AFFILIATION_YEARS)
