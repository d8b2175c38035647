"""Pages: the public challenge list and page, drafting, approval, deadlines, clarifications."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.accounts.policy import is_fund_manager
from facility.challenges import policy, queries, sdg, services
from facility.challenges.forms import (
    FIELD_MAP,
    ActionForm,
    AnswerForm,
    ChallengeForm,
    ExtendDeadlineForm,
    FilterForm,
    QuestionForm,
    ReturnForm,
)
from facility.challenges.models import FocusArea
from facility.cities import queries as city_queries
from facility.cities.queries import city_of_official
from facility.cities.services import valid_country
from facility.core.dashboard import work_item
from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import NAME_CHARS, page_arg
from facility.core.policy import require
from facility.core.views import register_dashboard_panel
from facility.extensions import db

bp = Blueprint("challenges", __name__, url_prefix="/challenges")

PAGE_SIZE = 20


def _user():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _timezone() -> str:
    return current_user.timezone if current_user.is_authenticated and current_user.timezone else "UTC"


@bp.route("")
def index():
    form = FilterForm(request.args)
    filters: dict[str, str] = {}
    # Bad filter values are shown as errors and ignored; the list still answers (no 500).
    if form.status.data in set(queries.STATUS_FILTERS) - {"published"}:
        filters["status"] = form.status.data
    elif form.status.data:
        form.status.errors = [_("Unknown status.")]
    if form.country.data:
        country = valid_country(form.country.data)
        if country:
            filters["country"] = country
        else:
            form.country.errors = [_("Choose a country from the list.")]
    if form.focus_area.data in {f.value for f in FocusArea}:
        filters["focus_area"] = form.focus_area.data
    elif form.focus_area.data:
        form.focus_area.errors = [_("Unknown focus area.")]
    if form.sdg_target.data:
        target = form.sdg_target.data.strip().lower()
        if sdg.is_target(target):
            filters["sdg_target"] = target
        else:
            form.sdg_target.errors = [_("Not an SDG target code; use codes such as 11.2 or 11.a.")]
    if form.q.data and form.q.data.strip():
        if len(form.q.data.strip()) <= NAME_CHARS:
            filters["q"] = form.q.data.strip()
        else:  # as the API refuses it; the list still answers, unfiltered
            form.q.errors = [_("At most %(n)s characters; this has %(got)s.", n=NAME_CHARS, got=len(form.q.data.strip()))]
    page = page_arg()
    pagination = db.paginate(queries.public_challenges(**filters), page=page, per_page=PAGE_SIZE, error_out=False,
                             count=False)
    pagination.total = queries.count_public_challenges(**filters)  # the lean count: the status index alone
    return render_template("challenges/index.html", form=form, pagination=pagination)


@bp.route("/mine")
@role_required(Role.CITY_OFFICIAL)
def mine():
    city = city_of_official(_user())
    if city is None:
        flash(_("Create your city's profile first."), "info")
        return redirect(url_for("cities.new_city"))
    return render_template("challenges/mine.html", city=city, challenges=queries.challenges_of_city(city))


@bp.route("/approvals")
@role_required(Role.FUND_MANAGER, Role.AUDITOR)  # auditors read the queue; approving is can_approve
def approvals():
    return render_template("challenges/approvals.html", challenges=queries.approval_queue())


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.CITY_OFFICIAL)
def new():
    user = _user()
    city = city_of_official(user)
    if city is None:
        flash(_("Create your city's profile first."), "info")
        return redirect(url_for("cities.new_city"))
    if not city.is_verified:
        flash(_("The facility has not verified your city yet; challenges can be drafted once it has."), "info")
        return redirect(url_for("cities.show", city_id=city.id))
    form = ChallengeForm()
    if form.validate_on_submit():
        challenge = attempt(form, services.create_challenge, field_map=FIELD_MAP, actor=user, city=city,
                            **form.data_for_service(_timezone()))
        if challenge is not FAILED:
            db.session.commit()
            flash(_("Draft saved. Submit it for approval when it is ready."), "success")
            return redirect(url_for("challenges.show", challenge_id=challenge.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("challenges/form.html", form=form, challenge=None, city=city), status


@bp.route("/<int:challenge_id>/edit", methods=["GET", "POST"])
@role_required(Role.CITY_OFFICIAL)
def edit(challenge_id: int):
    user = _user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    require(policy.can_edit(user, challenge))
    form = ChallengeForm()
    if request.method == "GET":
        form.fill_from(challenge, _timezone())
    if form.validate_on_submit() and attempt(form, services.update_challenge, field_map=FIELD_MAP, challenge=challenge,
                                             actor=user, **form.data_for_service(_timezone())) is not FAILED:
        db.session.commit()
        flash(_("Draft saved."), "success")
        return redirect(url_for("challenges.show", challenge_id=challenge.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("challenges/form.html", form=form, challenge=challenge, city=challenge.city), status


def _render_show(challenge, status: int = 200, **forms):
    user = _user()
    clarifications = queries.visible_clarifications(user, challenge)
    answer_forms = {c.id: forms.get(f"answer_{c.id}") or AnswerForm(prefix=f"a{c.id}")
                    for c in clarifications if policy.can_answer(user, c) is None}
    return render_template(
        "challenges/show.html",
        challenge=challenge,
        clarifications=clarifications,
        question_form=forms.get("question") or QuestionForm(),
        answer_forms=answer_forms,
        extend_form=forms.get("extend") or ExtendDeadlineForm(),
        return_form=forms.get("return_") or ReturnForm(),
        action_form=ActionForm(),
        can_ask=policy.can_ask(user, challenge) is None,
        can_extend=policy.can_extend_deadline(user, challenge) is None,
    ), status


@bp.route("/<int:challenge_id>")
def show(challenge_id: int):
    return _render_show(queries.get_visible_challenge(_user(), challenge_id))


def _lifecycle(challenge_id: int, action, message: str):
    user = _user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    form = ActionForm()
    if form.validate_on_submit() and attempt_or_flash(action, challenge=challenge, actor=user) is not FAILED:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("challenges.show", challenge_id=challenge_id))


@bp.route("/<int:challenge_id>/submit", methods=["POST"])
@role_required(Role.CITY_OFFICIAL)
def submit(challenge_id: int):
    return _lifecycle(challenge_id, services.submit_challenge, _("Submitted to the facility for approval."))


@bp.route("/<int:challenge_id>/approve", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def approve(challenge_id: int):
    return _lifecycle(challenge_id, services.approve_challenge, _("Approved and published."))


@bp.route("/<int:challenge_id>/finish", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def finish(challenge_id: int):
    return _lifecycle(challenge_id, services.finish_challenge, _("Marked as finished."))


@bp.route("/<int:challenge_id>/return", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def return_to_draft(challenge_id: int):
    user = _user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    form = ReturnForm()
    if form.validate_on_submit() and attempt(form, services.return_to_draft, challenge=challenge, actor=user,
                                             reason=form.reason.data) is not FAILED:
        db.session.commit()
        flash(_("Sent back to the city."), "success")
        return redirect(url_for("challenges.show", challenge_id=challenge_id))
    return _render_show(challenge, 422, return_=form)


@bp.route("/<int:challenge_id>/extend", methods=["POST"])
@role_required(Role.FUND_MANAGER, Role.CITY_OFFICIAL)
def extend(challenge_id: int):
    user = _user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    refusal = policy.can_extend_deadline(user, challenge)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()  # the wrong person: 403 before the form; a closed challenge is explained with the form
    form = ExtendDeadlineForm()
    if form.validate_on_submit():
        new_closes_at = form.new_closes_at.data.replace(tzinfo=ZoneInfo(_timezone()))
        if attempt(form, services.extend_deadline, challenge=challenge, actor=user, new_closes_at=new_closes_at,
                   reason=form.reason.data) is not FAILED:
            db.session.commit()
            flash(_("The deadline is extended and applicants are being notified."), "success")
            return redirect(url_for("challenges.show", challenge_id=challenge_id))
    return _render_show(challenge, 422, extend=form)


@bp.route("/<int:challenge_id>/clarifications", methods=["POST"])
@login_required
def ask(challenge_id: int):
    user = _user()
    challenge = queries.get_visible_challenge(user, challenge_id)
    form = QuestionForm()
    if form.validate_on_submit() and attempt(form, services.ask_clarification, challenge=challenge, actor=user,
                                             question=form.question.data) is not FAILED:
        db.session.commit()
        flash(_("Your question is sent to the city. Answers are published on this page."), "success")
        return redirect(url_for("challenges.show", challenge_id=challenge_id))
    return _render_show(challenge, 422, question=form)


@bp.route("/<int:challenge_id>/clarifications/<int:clarification_id>/answer", methods=["POST"])
@role_required(Role.CITY_OFFICIAL)
def answer(challenge_id: int, clarification_id: int):
    user = _user()
    clarification = queries.get_visible_clarification(user, clarification_id, challenge_id=challenge_id)
    form = AnswerForm(prefix=f"a{clarification.id}")
    if form.validate_on_submit() and attempt(form, services.answer_clarification, clarification=clarification,
                                             actor=user, answer=form.answer.data) is not FAILED:
        db.session.commit()
        flash(_("Answer published."), "success")
        return redirect(url_for("challenges.show", challenge_id=challenge_id))
    return _render_show(clarification.challenge, 422, **{f"answer_{clarification.id}": form})


def _dashboard_panel(user) -> dict | None:
    """City officials: their city and the questions to answer. Fund managers: cities to verify and
    challenges to approve, each with how many and the oldest waiting."""
    links, items = [], []
    if user.has_role(Role.CITY_OFFICIAL):
        city = city_of_official(user)
        if city is None:
            links.append((url_for("cities.new_city"), _("Create your city's profile")))
        else:
            links.append((url_for("cities.show", city_id=city.id), _("Your city: %(name)s", name=city.name)))
            links.append((url_for("challenges.new"), _("Draft a new challenge")))
            questions = queries.clarifications_to_answer(city.id)
            href = (url_for("challenges.show", challenge_id=questions.first_id) if questions.first_id
                    else url_for("challenges.mine"))
            items.append(work_item(_("Questions to answer"), questions, href))
    if is_fund_manager(user):
        items.append(work_item(_("Cities to verify"), city_queries.cities_to_verify(),
                               url_for("cities.verification_queue")))
        items.append(work_item(_("Challenges to approve"), queries.challenges_to_approve(),
                               url_for("challenges.approvals")))
    if not links and not items:
        return None
    return {"title": _("Cities and challenges"), "template": "challenges/_dashboard.html", "links": links,
            "items": items}


def register(app) -> None:
    register_dashboard_panel(app, _dashboard_panel)
