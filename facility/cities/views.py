"""Pages: city profiles, the verification queue."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.cities import policy, queries, services
from facility.cities.forms import ActionForm, CityForm
from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import page_arg
from facility.core.policy import require
from facility.extensions import db

bp = Blueprint("cities", __name__, url_prefix="/cities")

QUEUE_PAGE_SIZE = 50


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.CITY_OFFICIAL)
def new_city():
    user = current_user._get_current_object()
    existing = queries.city_of_official(user)
    if existing is not None:
        return redirect(url_for("cities.show", city_id=existing.id))
    form = CityForm()
    if form.validate_on_submit():
        city = attempt(form, services.create_city, actor=user, **form.data_for_service())
        if city is not FAILED:
            db.session.commit()
            flash(_("Your city profile is saved. The facility will verify it before you can publish challenges."),
                  "success")
            return redirect(url_for("cities.show", city_id=city.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("cities/form.html", form=form, city=None), status


@bp.route("/<int:city_id>")
def show(city_id: int):
    city = queries.get_visible_city(current_user, city_id)
    return render_template("cities/show.html", city=city, action_form=ActionForm(),
                           can_verify=policy.can_verify(current_user, city) is None,
                           is_official=policy.is_official(current_user, city))


@bp.route("/<int:city_id>/edit", methods=["GET", "POST"])
@role_required(Role.CITY_OFFICIAL, Role.ADMIN)
def edit(city_id: int):
    user = current_user._get_current_object()
    city = queries.get_visible_city(user, city_id)
    require(policy.can_edit(user, city))
    form = CityForm(obj=city)
    if request.method == "GET":
        form.climate_risk.data = city.climate_risk.value
    if form.validate_on_submit() and attempt(form, services.update_city, city=city, actor=user,
                                             **form.data_for_service()) is not FAILED:
        db.session.commit()
        flash(_("City profile saved."), "success")
        return redirect(url_for("cities.show", city_id=city.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("cities/form.html", form=form, city=city), status


@bp.route("/verification")
@role_required(Role.FUND_MANAGER, Role.AUDITOR)  # auditors read the queue; verifying is can_verify
def verification_queue():
    cities = queries.verification_queue()
    page = page_arg()
    start = (page - 1) * QUEUE_PAGE_SIZE
    return render_template("cities/verification.html", cities=cities[start:start + QUEUE_PAGE_SIZE],
                           total=len(cities), page=page, pages=max(1, -(-len(cities) // QUEUE_PAGE_SIZE)),
                           action_form=ActionForm())


@bp.route("/<int:city_id>/verify", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def verify(city_id: int):
    user = current_user._get_current_object()
    city = queries.get_visible_city(user, city_id)
    form = ActionForm()
    if form.validate_on_submit() and attempt_or_flash(services.verify_city, city=city, actor=user) is not FAILED:
        db.session.commit()
        flash(_("%(name)s is verified.", name=city.name), "success")
    queue = url_for("cities.verification_queue")
    return redirect(queue if request.form.get("next") == queue else url_for("cities.show", city_id=city.id))
