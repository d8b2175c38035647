"""Pages: the reviewer's queue and blind review, panels, rounds, assignment, ranking, decisions, feedback.

Every page loads through `review.queries` and asks `review.policy` (or lets the service ask it):
the same functions the API calls.
"""
from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.accounts.models import User
from facility.challenges.models import render_markdown
from facility.core.exports import csv_response
from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import id_arg, page_arg
from facility.core.pages import Page
from facility.core.policy import require
from facility.core.views import register_dashboard_panel
from facility.extensions import db
from facility.proposals.models import Proposal
from facility.review import assignments, conflicts, dashboard, decisions, panels, policy, queries, ranking, reviews
from facility.review.blind import beneficiary_labels
from facility.review.forms import (
    AcceptInvitationForm,
    ActionForm,
    AssignForm,
    ConflictForm,
    DecisionForm,
    InviteForm,
    ManualAssignForm,
    ObserverForm,
    ReasonForm,
    RoundForm,
    review_form_class,
)
from facility.review.models import Assignment, PanelMember, PanelRole, RoundKind

bp = Blueprint("review", __name__, url_prefix="/review")
RANKING_PER_PAGE = 50  # rows of the ranking per page; ranks are the whole round's


def register(app: Flask) -> None:
    """Called by create_app for every package's views: the reviewer's dashboard panel."""
    for provider in dashboard.PROVIDERS:
        register_dashboard_panel(app, provider)
    # Pages of lower packages (a challenge, a proposal) link to the ranking only once it has a round.
    app.jinja_env.globals["review_rounds_of"] = queries.rounds_of


def _user() -> Any:
    return current_user._get_current_object()


def _status(form: Any) -> int:
    return 422 if form.errors or form.form_errors else 200


# --- reviewers: queue, panel proposals, conflicts, the blind review ----------------------------------


@bp.route("/")
@login_required
def queue() -> ResponseReturnValue:
    user = _user()
    require(policy.can_see_queue(user))
    pagination = db.paginate(queries.queue_query(user), page=page_arg(), per_page=25, error_out=False)
    done, total = queries.queue_progress(user)
    return render_template("review/queue.html", pagination=pagination,
                           titles=queries.with_blind_titles(pagination.items), done=done, total=total,
                           panels=queries.challenges_of_reviewer(user))


@bp.route("/challenges/<int:challenge_id>")
@login_required
def reviewer_panel(challenge_id: int) -> ResponseReturnValue:
    """The proposals of a panel the reviewer sits on (blind titles), to declare conflicts."""
    user = _user()
    page = queries.reviewer_panel(user, queries.get_visible_challenge(user, challenge_id))
    return render_template("review/reviewer_panel.html", challenge=page.challenge, proposals=page.proposals,
                           titles=page.titles, conflicts=page.conflicts, form=ConflictForm())


@bp.route("/proposals/<int:proposal_id>/conflict", methods=["POST"])
@login_required
def declare_conflict(proposal_id: int) -> ResponseReturnValue:
    proposal = queries.get_proposal(proposal_id)
    form = ConflictForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
    elif attempt_or_flash(conflicts.declare_conflict, actor=_user(), proposal=proposal, reason=form.reason.data,
                          abstain=form.abstain.data) is not FAILED:
        db.session.commit()
        flash(_("Recorded. You will not be assigned this proposal."), "success")
    return redirect(url_for("review.reviewer_panel", challenge_id=proposal.challenge_id))


def _review_form(page: queries.ReviewPage) -> Any:
    form_class = review_form_class(page.criteria, eligibility=not page.round.is_scored)
    current = page.review
    data: dict[str, Any] = {}
    if current is not None and request.method == "GET":
        data["comment"] = current.comment
        for cid, score in current.score_map.items():
            data[f"c_{cid}"] = str(score)
        if current.eligible is not None:
            data["eligible"] = "pass" if current.eligible else "fail"
    return form_class(data=data)


def _review_values(form: Any, page: queries.ReviewPage) -> dict[str, Any]:
    """The service's arguments from the form: scores by criterion id, the comment, the eligibility."""
    scores = {c.id: int(getattr(form, f"c_{c.id}").data) for c in page.criteria
              if getattr(form, f"c_{c.id}").data not in (None, "", "None")}
    eligible = {"pass": True, "fail": False}.get(form.eligible.data) if not page.round.is_scored else None
    return {"scores": scores, "comment": form.comment.data, "eligible": eligible,
            "field_map": {f"scores.{c.id}": f"c_{c.id}" for c in page.criteria}}


def _save_review(form: Any, page: queries.ReviewPage, user: User) -> ResponseReturnValue | None:
    """Save, or submit once confirmed (`confirm`); the redirect on success, None when refused."""
    assignment = page.assignment
    submit = bool(form.confirm.data)
    if attempt(form, reviews.save_review, actor=user, assignment=assignment, submit=submit,
               **_review_values(form, page)) is FAILED:
        return None
    db.session.commit()
    flash(_("Your review is submitted.") if submit else _("Draft saved."), "success")
    if form.save_next.data:
        following = queries.next_assignment(assignment)
        if following is not None:
            return redirect(url_for("review.review", assignment_id=following.id))
        return redirect(url_for("review.queue"))
    return redirect(url_for("review.review", assignment_id=assignment.id))


@bp.route("/assignments/<int:assignment_id>", methods=["GET", "POST"])
@login_required
def review(assignment_id: int) -> ResponseReturnValue:
    """The blind proposal and the scoring form: draft, submit, or save and go to the next."""
    user = _user()
    page = queries.review_page(user, queries.get_visible_assignment(user, assignment_id))
    form = _review_form(page)
    if form.validate_on_submit() and not form.back.data:  # back from the confirmation: the form as posted
        if form.submit_review.data and not form.confirm.data:
            # "Submit review (final)": checked as the submission will be, then confirmed; nothing is written yet.
            values = _review_values(form, page)
            if attempt(form, reviews.check_review, actor=user, assignment=page.assignment, submit=True,
                       **values) is not FAILED:
                return render_template("review/confirm_review.html", assignment=page.assignment, round=page.round,
                                       criteria=page.criteria, proposal=page.proposal, form=form,
                                       eligible=values["eligible"])
        else:
            done = _save_review(form, page, user)
            if done is not None:
                return done
        page = queries.review_page(user, page.assignment)
    return render_template("review/review.html", assignment=page.assignment, round=page.round,
                           criteria=page.criteria, proposal=page.proposal,
                           approach_html=render_markdown(page.proposal["approach"]), form=form,
                           beneficiaries=beneficiary_labels(page.proposal["beneficiary_groups"]),
                           others=page.others, review=page.review), _status(form)


# --- invitations -----------------------------------------------------------------------------------


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    invitation = panels.invitation_for_token(token)
    if invitation is None:
        return render_template("review/invitation_invalid.html"), 404
    refusal = policy.can_accept_invitation(_user(), invitation)
    if refusal is not None:
        flash(refusal.reason, "info")
        return redirect(url_for("core.dashboard"))
    form = AcceptInvitationForm(data={"name": invitation.name} if request.method == "GET" else None)
    if form.validate_on_submit() and attempt(form, panels.accept_invitation, invitation=invitation,
                                             name=form.name.data, password=form.password.data) is not FAILED:
        db.session.commit()
        flash(_("Your reviewer account is ready. Sign in to see your panel."), "success")
        return redirect(url_for("accounts.signin"))
    return render_template("review/accept_invitation.html", form=form, invitation=invitation), _status(form)


# --- fund managers (and observers): the panel ---------------------------------------------------------


def _panel_page(challenge_id: int, status: int = 200, **forms: Any) -> ResponseReturnValue:
    page = queries.panel_page(_user(), queries.get_visible_challenge(_user(), challenge_id))
    observer_form = forms.get("observer_form") or ObserverForm()
    observer_form.user_id.choices = [(u.id, u.name) for u in page.officials]
    manual_forms = {}
    for r in page.rounds:
        f = forms.get("manual_forms", {}).get(r.id) or ManualAssignForm(prefix=f"r{r.id}")
        f.proposal_id.choices = [(p.id, f"{p.id} — {p.title}") for p in page.proposals]
        f.reviewer_id.choices = [(u.id, u.name) for u in page.reviewers]
        manual_forms[r.id] = f
    return render_template(
        "review/panel.html", challenge=page.challenge, manager=page.manager, members=page.members,
        invitations=page.invitations, rounds=page.rounds, by_round=page.by_round,
        proposals={p.id: p for p in page.proposals}, conflicts=page.conflicts, declared=page.declared,
        outstanding=page.outstanding, without_reviewers=page.without_reviewers,
        invite_form=forms.get("invite_form") or InviteForm(),
        observer_form=observer_form, assign_form=forms.get("assign_form") or AssignForm(),
        manual_forms=manual_forms, action_form=ActionForm(), outcome=forms.get("outcome"),
    ), status


def _managed_challenge(challenge_id: int) -> Any:
    """The challenge whose panel the caller manages (404 unknown, 403 for anyone but fund managers)."""
    challenge = queries.get_visible_challenge(_user(), challenge_id)
    require(policy.can_manage_panel(_user(), challenge))
    return challenge


@bp.route("/challenges/<int:challenge_id>/panel")
@login_required
def panel(challenge_id: int) -> ResponseReturnValue:
    return _panel_page(challenge_id)


@bp.route("/challenges/<int:challenge_id>/panel/invite", methods=["POST"])
@login_required
def invite(challenge_id: int) -> ResponseReturnValue:
    challenge = _managed_challenge(challenge_id)
    form = InviteForm()
    if form.validate_on_submit():
        result = attempt(form, panels.invite_reviewer, actor=_user(), challenge=challenge, email=form.email.data,
                         name=form.name.data)
        if result is not FAILED:
            db.session.commit()
            flash(_("Added to the panel.") if isinstance(result, PanelMember) else _("Invitation sent."), "success")
            return redirect(url_for("review.panel", challenge_id=challenge.id))
    return _panel_page(challenge_id, 422, invite_form=form)


@bp.route("/challenges/<int:challenge_id>/panel/observers", methods=["POST"])
@login_required
def add_observer(challenge_id: int) -> ResponseReturnValue:
    challenge = _managed_challenge(challenge_id)
    form = ObserverForm()
    user = db.session.get(User, id_arg(request.form, "user_id") or 0)
    form.user_id.choices = [(user.id, user.name)] if user else []
    if form.validate_on_submit() and user is not None:
        if attempt(form, panels.add_panel_member, actor=_user(), challenge=challenge, user=user,
                   role=PanelRole.OBSERVER) is not FAILED:
            db.session.commit()
            flash(_("Observer added."), "success")
            return redirect(url_for("review.panel", challenge_id=challenge.id))
    elif user is None:
        form.user_id.errors = [_("Choose a city official.")]
    return _panel_page(challenge_id, 422, observer_form=form)


@bp.route("/challenges/<int:challenge_id>/rounds", methods=["POST"])
@login_required
def add_round(challenge_id: int) -> ResponseReturnValue:
    challenge = queries.get_visible_challenge(_user(), challenge_id)
    require(policy.can_manage_rounds(_user(), challenge))
    if ActionForm().validate_on_submit() and attempt_or_flash(
            panels.add_shortlist_round, actor=_user(), challenge=challenge) is not FAILED:
        db.session.commit()
        flash(_("Shortlist round added."), "success")
    return redirect(url_for("review.panel", challenge_id=challenge.id))


@bp.route("/rounds/<int:round_id>", methods=["GET", "POST"])
@login_required
def edit_round(round_id: int) -> ResponseReturnValue:
    round_ = queries.get_round(round_id)
    require(policy.can_edit_round(_user(), round_))
    form = RoundForm(data=None if request.method == "POST" else {
        "opens_at": round_.opens_at.replace(tzinfo=None), "closes_at": round_.closes_at.replace(tzinfo=None),
        "can_review": round_.can_review, "can_see_others": round_.can_see_others})
    if form.validate_on_submit() and attempt(
            form, panels.update_round, actor=_user(), round_=round_, opens_at=form.opens_at.data.replace(tzinfo=UTC),
            closes_at=form.closes_at.data.replace(tzinfo=UTC), can_review=form.can_review.data,
            can_see_others=form.can_see_others.data) is not FAILED:
        db.session.commit()
        flash(_("Round saved."), "success")
        return redirect(url_for("review.panel", challenge_id=round_.challenge_id))
    return render_template("review/round.html", round=round_, form=form), _status(form)


@bp.route("/rounds/<int:round_id>/close", methods=["GET", "POST"])
@login_required
def close_round(round_id: int) -> ResponseReturnValue:
    """GET: what closing does and a button to confirm (the same policy as the POST: 403, or the refusal flashed)."""
    round_ = queries.get_round(round_id)
    refusal = policy.can_close_round(_user(), round_)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()
    if request.method == "GET":
        if refusal is None:
            return render_template("review/close_round.html", round=round_)
        flash(refusal.reason, "error")
    elif ActionForm().validate_on_submit() and attempt_or_flash(
            panels.close_round, actor=_user(), round_=round_) is not FAILED:
        db.session.commit()
        flash(_("Round closed."), "success")
    return redirect(url_for("review.panel", challenge_id=round_.challenge_id))


@bp.route("/challenges/<int:challenge_id>/assign", methods=["POST"])
@login_required
def assign(challenge_id: int) -> ResponseReturnValue:
    challenge = _managed_challenge(challenge_id)
    form = AssignForm()
    if form.validate_on_submit():
        round_ = queries.round_of(challenge, RoundKind(form.round.data))
        if round_ is None:
            form.round.errors = [_("This challenge has no such round yet.")]
        else:
            outcome = attempt(form, assignments.auto_assign, actor=_user(), round_=round_,
                              per_proposal=form.reviewers_per_proposal.data)
            if outcome is not FAILED:
                db.session.commit()
                flash(outcome.message, "success" if not outcome.shortfalls else "warning")
                for line in outcome.details:
                    flash(line, "warning")
                return redirect(url_for("review.panel", challenge_id=challenge.id))
    return _panel_page(challenge_id, 422, assign_form=form)


@bp.route("/rounds/<int:round_id>/assignments", methods=["POST"])
@login_required
def add_assignment(round_id: int) -> ResponseReturnValue:
    round_ = queries.get_round(round_id)
    require(policy.can_assign(_user(), round_))
    form = ManualAssignForm(prefix=f"r{round_.id}")
    proposal = db.session.get(Proposal, id_arg(request.form, f"r{round_.id}-proposal_id") or 0)
    reviewer = db.session.get(User, id_arg(request.form, f"r{round_.id}-reviewer_id") or 0)
    form.proposal_id.choices = [(proposal.id, proposal.title)] if proposal else []
    form.reviewer_id.choices = [(reviewer.id, reviewer.name)] if reviewer else []
    if form.validate_on_submit() and proposal is not None and reviewer is not None:
        if attempt(form, assignments.add_assignment, actor=_user(), round_=round_, proposal=proposal,
                   reviewer=reviewer) is not FAILED:
            db.session.commit()
            flash(_("Assigned."), "success")
            return redirect(url_for("review.panel", challenge_id=round_.challenge_id))
    else:
        form.form_errors.append(_("Choose a proposal and a reviewer."))
    return _panel_page(round_.challenge_id, 422, manual_forms={round_.id: form})


def _managed_assignment(assignment_id: int) -> Assignment:
    """The assignment a fund manager acts on (404 unknown, 403 for anyone else)."""
    assignment = queries.get_assignment(assignment_id)
    require(policy.can_assign(_user(), assignment.round))
    return assignment


@bp.route("/assignments/<int:assignment_id>/remove", methods=["POST"])
@login_required
def remove_assignment(assignment_id: int) -> ResponseReturnValue:
    assignment = _managed_assignment(assignment_id)
    challenge_id = assignment.round.challenge_id
    if ActionForm().validate_on_submit() and attempt_or_flash(
            assignments.remove_assignment, actor=_user(), assignment=assignment) is not FAILED:
        db.session.commit()
        flash(_("Assignment removed."), "success")
    return redirect(url_for("review.panel", challenge_id=challenge_id))


@bp.route("/assignments/<int:assignment_id>/waive", methods=["GET", "POST"])
@login_required
def waive(assignment_id: int) -> ResponseReturnValue:
    assignment = queries.get_assignment(assignment_id)
    refusal = policy.can_waive(_user(), assignment)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()  # the wrong role; a state refusal is shown on the form when it is sent
    form = ReasonForm()
    if form.validate_on_submit() and attempt(form, assignments.waive_assignment, actor=_user(),
                                             assignment=assignment, reason=form.reason.data) is not FAILED:
        db.session.commit()
        flash(_("Review waived."), "success")
        return redirect(url_for("review.panel", challenge_id=assignment.round.challenge_id))
    return render_template("review/waive.html", assignment=assignment, form=form), _status(form)


# --- ranking, CSV, decisions -------------------------------------------------------------------------


def _ranking_round(challenge_id: int) -> Any:
    challenge = queries.get_visible_challenge(_user(), challenge_id)
    return queries.get_ranking_round(_user(), challenge, request.args.get("round", RoundKind.SCORING.value))


@bp.route("/challenges/<int:challenge_id>/ranking", endpoint="ranking")
@login_required
def ranking_page(challenge_id: int) -> ResponseReturnValue:
    round_ = _ranking_round(challenge_id)
    challenge = round_.challenge
    page = page_arg()
    report = ranking.ranking(round_, rows=slice((page - 1) * RANKING_PER_PAGE, page * RANKING_PER_PAGE))
    pagination: Page[Any] = Page(items=[], total=report.ranked_total + report.unranked_total, page=page,
                      per_page=RANKING_PER_PAGE)
    return render_template("review/ranking.html", challenge=challenge, report=report, round=round_,
                           pagination=pagination, org_name=queries.applicant_names(challenge),
                           decision_form=DecisionForm(), action_form=ActionForm())


@bp.route("/challenges/<int:challenge_id>/ranking.csv")
@login_required
def ranking_csv(challenge_id: int) -> ResponseReturnValue:
    round_ = _ranking_round(challenge_id)
    filename = f"ranking-challenge-{round_.challenge_id}-{round_.kind.value}.csv"
    return csv_response(ranking.CSV_COLUMNS, ranking.ranking_rows(ranking.ranking(round_)), filename)


@bp.route("/challenges/<int:challenge_id>/decisions/<int:proposal_id>", methods=["POST"])
@login_required
def prepare_decision(challenge_id: int, proposal_id: int) -> ResponseReturnValue:
    challenge = _managed_challenge(challenge_id)
    proposal = queries.get_proposal(proposal_id, challenge=challenge)
    form = DecisionForm()
    if not form.validate_on_submit():
        flash(_("Choose a decision."), "error")
    elif attempt_or_flash(decisions.prepare_decision, actor=_user(), proposal=proposal, kind=form.kind.data,
                          note=form.note.data) is not FAILED:
        db.session.commit()
        flash(_("Decision prepared; it stays pending until released."), "success")
    return redirect(url_for("review.ranking", challenge_id=challenge.id, round=request.args.get("round", "scoring")))


@bp.route("/challenges/<int:challenge_id>/decisions/release", methods=["GET", "POST"])
@login_required
def release(challenge_id: int) -> ResponseReturnValue:
    """GET: the decisions to release and a button to confirm (asks `policy.can_release_decisions`, as the service)."""
    challenge = _managed_challenge(challenge_id)
    if request.method == "GET":
        refusal = policy.can_release_decisions(_user(), challenge)
        if refusal is None:
            return render_template("review/release.html", challenge=challenge,
                                   decisions=queries.pending_decisions(challenge))
        flash(refusal.reason, "error")
    elif ActionForm().validate_on_submit():
        released = attempt_or_flash(decisions.release_decisions, actor=_user(), challenge=challenge)
        if released is not FAILED:
            db.session.commit()
            flash(_("%(n)d decisions released; the applicants are being notified.", n=len(released)), "success")
    return redirect(url_for("review.ranking", challenge_id=challenge.id))


# --- applicants: feedback --------------------------------------------------------------------------------


@bp.route("/proposals/<int:proposal_id>/feedback")
@login_required
def feedback(proposal_id: int) -> ResponseReturnValue:
    """The released decision and the reviewers' comments, without their names (applicant's members)."""
    proposal = queries.get_proposal(proposal_id)
    return render_template("review/feedback.html", proposal=proposal, feedback=decisions.feedback(proposal, _user()))
