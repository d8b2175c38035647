"""Pages of the solutions library: the public library and a solution's page (no sign-in), and the city
official's replication form. Each asks `solutions.policy` (as the service and the API do)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.challenges.forms import FIELD_MAP
from facility.challenges.models import FocusArea
from facility.cities.queries import city_of_official
from facility.cities.services import valid_country
from facility.core.forms import FAILED, attempt
from facility.core.inputs import page_arg
from facility.core.views import register_dashboard_panel
from facility.extensions import db
from facility.portfolio import register as public_register
from facility.solutions import policy, queries, replication
from facility.solutions.forms import LibraryFilterForm, ReplicationForm

bp = Blueprint("solutions", __name__, url_prefix="/solutions")
IS_SOLUTION_GLOBAL = "is_solution"
REPLICATION_GLOBAL = "replication_of"


def _user() -> Any:
    return current_user._get_current_object() if current_user.is_authenticated else None


def _timezone() -> str:
    return current_user.timezone if current_user.is_authenticated and current_user.timezone else "UTC"


def _filters(form: LibraryFilterForm) -> queries.LibraryFilter:
    """The valid filters of the form; a bad value is shown on the form and ignored (the list still answers)."""
    focus_area = country = None
    if form.focus_area.data:
        try:
            focus_area = FocusArea(form.focus_area.data)
        except ValueError:
            form.focus_area.errors = [_("Unknown focus area.")]
    if form.country.data:
        country = valid_country(form.country.data)
        if country is None:
            form.country.errors = [_("Choose a country from the list.")]
    return queries.LibraryFilter(focus_area=focus_area, country=country)


@bp.route("")
def index() -> ResponseReturnValue:
    """Every solution, newest first, filtered by focus area and the piloting city's country, paginated."""
    form = LibraryFilterForm(request.args)
    pagination = db.paginate(queries.library_query(_filters(form)), page=page_arg(), per_page=queries.PER_PAGE,
                             error_out=False)
    rows = queries.solution_rows(_user(), pagination.items)
    return render_template("solutions/index.html", form=form, pagination=pagination, rows=rows)


@bp.route("/<int:grant_id>")
def show(grant_id: int) -> ResponseReturnValue:
    """A solution: its results (accepted milestones and their public summaries), city, grantee, and where it
    has been replicated, with each replication's results."""
    grant = queries.get_solution(grant_id)
    row = queries.solution_rows(_user(), [grant])[0]
    return render_template("solutions/show.html", item=public_register.public_grant(grant.id), row=row,
                           may_replicate=_may_replicate(grant))


def _may_replicate(grant: Any) -> bool:
    user = _user()
    if user is None or not user.has_role(Role.CITY_OFFICIAL):
        return False
    return policy.can_replicate(user, grant, city_of_official(user), is_solution=True) is None


@bp.route("/<int:grant_id>/replicate", methods=["GET", "POST"])
@role_required(Role.CITY_OFFICIAL)
def replicate(grant_id: int) -> ResponseReturnValue:
    """The replication form (`policy.can_replicate`): pre-filled from the solution; saving makes a draft."""
    user = _user()
    grant = queries.get_grant(grant_id)
    city = city_of_official(user)
    solution = queries.is_solution(grant.id)
    refusal = policy.can_replicate(user, grant, city, is_solution=solution)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()
    if refusal is not None:
        flash(refusal.reason, "error")  # the page it came from says why
        if solution:
            return redirect(url_for("solutions.show", grant_id=grant.id))
        return redirect(url_for("solutions.index"))
    assert city is not None  # the policy checked it
    form = ReplicationForm()
    if request.method == "GET":
        form.fill_from_fields(replication.prefill(grant, city), _timezone())
    if form.validate_on_submit():
        made = attempt(form, replication.start_replication, field_map=FIELD_MAP, actor=user, grant=grant, city=city,
                       **form.data_for_service(_timezone()))
        if made is not FAILED:
            db.session.commit()
            flash(_("Replication draft saved; the original grantee is invited. Submit it for approval when it "
                    "is ready."), "success")
            return redirect(url_for("challenges.show", challenge_id=made.challenge_id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("solutions/replicate.html", form=form, grant=grant, city=city), status


def _dashboard_panel(user: Any) -> dict | None:
    """City officials: the solutions they may replicate in their city."""
    if not user.has_role(Role.CITY_OFFICIAL):
        return None
    return {"title": _("Solutions to replicate"), "template": "challenges/_dashboard.html",
            "links": [(url_for("solutions.index"), _("Proven solutions your city can replicate"))], "items": []}


def register(app: Flask) -> None:
    """The dashboard panel, and the template globals the pages of lower packages ask: `is_solution(grant_id)`
    (the public grant page's "Replicate this solution") and `replication_of(challenge)` (the challenge page's
    "Replicates <solution>")."""
    register_dashboard_panel(app, _dashboard_panel)
    app.jinja_env.globals[IS_SOLUTION_GLOBAL] = queries.is_solution
    app.jinja_env.globals[REPLICATION_GLOBAL] = queries.replication_of
