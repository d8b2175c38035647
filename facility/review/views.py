"""Pages: the reviewer's queue and blind review, panels, rounds, assignment, ranking, decisions, feedback."""
from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.models import Role, User
from facility.accounts.permissions import role_required
from facility.challenges.models import Challenge, render_markdown
from facility.core.errors import DomainError
from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import id_arg, page_arg
from facility.extensions import db
from facility.proposals.models import COMPETING_STATUSES, Proposal
from facility.review import services
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
from facility.review.models import (
    Assignment,
    Conflict,
    PanelInvitation,
    PanelMember,
    PanelRole,
    ReviewRound,
    RoundKind,
)

bp = Blueprint("review", __name__, url_prefix="/review")


def register(app) -> None:
    from facility.core.views import register_dashboard_panel

    register_dashboard_panel(app, _dashboard_panel)


def _dashboard_panel(user):
    if not user.has_role(Role.REVIEWER):
        return None
    done, total = services.queue_progress(user)
    return {"title": _("Your reviews"), "template": "review/_dashboard.html", "done": done, "total": total}


def _user():
    return current_user._get_current_object()


def _challenge_or_404(challenge_id: int) -> Challenge:
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None:
        abort(404)
    return challenge


def _manager_challenge(challenge_id: int) -> Challenge:
    challenge = _challenge_or_404(challenge_id)
    if not services.can_manage_panel(challenge, _user()):
        abort(403)
    return challenge


def _round_or_404(round_id: int) -> ReviewRound:
    round_ = db.session.get(ReviewRound, round_id)
    if round_ is None:
        abort(404)
    return round_


def _assignment_or_404(assignment_id: int) -> Assignment:
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        abort(404)
    return assignment


def _status(form) -> int:
    return 422 if form.errors or form.form_errors else 200


# --- reviewers: queue, panel proposals, conflicts, the blind review ----------------------------------


@bp.route("/")
@role_required(Role.REVIEWER)
def queue():
    user = _user()
    page = page_arg()
    pagination = db.paginate(services.queue_query(user), page=page, per_page=25, error_out=False)
    titles = services.blind_titles([a.proposal for a in pagination.items])
    done, total = services.queue_progress(user)
    return render_template("review/queue.html", pagination=pagination, titles=titles, done=done, total=total,
                           panels=services.challenges_of_reviewer(user))


@bp.route("/challenges/<int:challenge_id>")
@role_required(Role.REVIEWER)
def reviewer_panel(challenge_id: int):
    """The proposals of a panel the reviewer sits on (blind titles), to declare conflicts."""
    challenge = _challenge_or_404(challenge_id)
    user = _user()
    if not services.is_panel_reviewer(challenge, user):
        abort(404)
    proposals = list(db.session.execute(
        sa.select(Proposal).where(Proposal.challenge_id == challenge.id, Proposal.status.in_(COMPETING_STATUSES))
        .order_by(Proposal.id)).scalars())
    conflicts = services.detect_conflicts(proposals, [user])
    return render_template("review/reviewer_panel.html", challenge=challenge, proposals=proposals,
                           titles=services.blind_titles(proposals), conflicts=conflicts, form=ConflictForm(),
                           label=services.conflict_reason_label)


@bp.route("/proposals/<int:proposal_id>/conflict", methods=["POST"])
@role_required(Role.REVIEWER)
def declare_conflict(proposal_id: int):
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None:
        abort(404)
    form = ConflictForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
    elif attempt_or_flash(services.declare_conflict, actor=_user(), proposal=proposal, reason=form.reason.data,
                          abstain=form.abstain.data) is not FAILED:
        db.session.commit()
        flash(_("Recorded. You will not be assigned this proposal."), "success")
    return redirect(url_for("review.reviewer_panel", challenge_id=proposal.challenge_id))


@bp.route("/assignments/<int:assignment_id>", methods=["GET", "POST"])
@role_required(Role.REVIEWER)
def review(assignment_id: int):
    """The blind proposal and the scoring form: draft, submit, or save and go to the next."""
    assignment = _assignment_or_404(assignment_id)
    user = _user()
    if not services.can_open_assignment(assignment, user):
        abort(404)
    round_ = assignment.round
    criteria = list(round_.challenge.criteria) if round_.is_scored else []
    form_class = review_form_class(criteria, eligibility=not round_.is_scored)
    current = assignment.review
    data = {}
    if current is not None and request.method == "GET":
        data["comment"] = current.comment
        for cid, score in current.score_map.items():
            data[f"c_{cid}"] = str(score)
        if current.eligible is not None:
            data["eligible"] = "pass" if current.eligible else "fail"
    form = form_class(data=data)
    if form.validate_on_submit():
        submit = bool(form.submit_review.data)
        scores = {c.id: int(getattr(form, f"c_{c.id}").data) for c in criteria
                  if getattr(form, f"c_{c.id}").data not in (None, "", "None")}
        eligible = {"pass": True, "fail": False}.get(form.eligible.data) if not round_.is_scored else None
        if attempt(form, services.save_review, field_map={f"scores.{c.id}": f"c_{c.id}" for c in criteria},
                   actor=user, assignment=assignment, scores=scores, comment=form.comment.data, eligible=eligible,
                   submit=submit) is not FAILED:
            db.session.commit()
            flash(_("Your review is submitted.") if submit else _("Draft saved."), "success")
            if form.save_next.data:
                following = services.next_assignment(assignment)
                if following is not None:
                    return redirect(url_for("review.review", assignment_id=following.id))
                return redirect(url_for("review.queue"))
            return redirect(url_for("review.review", assignment_id=assignment.id))
    others = services.others_reviews(assignment, user)
    proposal = services.blind_view(assignment.proposal)
    return render_template("review/review.html", assignment=assignment, round=round_, criteria=criteria,
                           proposal=proposal, approach_html=render_markdown(proposal["approach"]), form=form,
                           others=others, review=assignment.review), _status(form)


# --- invitations -----------------------------------------------------------------------------------


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render_template("review/invitation_invalid.html"), 404
    if current_user.is_authenticated:
        flash(_("Sign out first to accept an invitation for another address."), "info")
        return redirect(url_for("core.dashboard"))
    form = AcceptInvitationForm(data={"name": invitation.name} if request.method == "GET" else None)
    if form.validate_on_submit() and attempt(form, services.accept_invitation, invitation=invitation,
                                             name=form.name.data, password=form.password.data) is not FAILED:
        db.session.commit()
        flash(_("Your reviewer account is ready. Sign in to see your panel."), "success")
        return redirect(url_for("accounts.signin"))
    return render_template("review/accept_invitation.html", form=form, invitation=invitation), _status(form)


# --- fund managers (and observers): the panel ---------------------------------------------------------


def _panel_page(challenge: Challenge, status: int = 200, **forms):
    user = _user()
    if not services.can_follow_panel(challenge, user):
        abort(403 if user.has_role(Role.FUND_MANAGER, Role.CITY_OFFICIAL) else 404)
    manager = services.can_manage_panel(challenge, user)
    members = list(db.session.execute(
        sa.select(PanelMember).where(PanelMember.challenge_id == challenge.id)
        .options(joinedload(PanelMember.user)).order_by(PanelMember.id)).scalars())
    invitations = list(db.session.execute(
        sa.select(PanelInvitation).where(PanelInvitation.challenge_id == challenge.id,
                                         PanelInvitation.accepted_at.is_(None)).order_by(PanelInvitation.id)).scalars())
    rounds = services.rounds_of(challenge)
    assignments = list(db.session.execute(
        sa.select(Assignment).join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .where(ReviewRound.challenge_id == challenge.id)
        .options(joinedload(Assignment.reviewer), joinedload(Assignment.proposal), joinedload(Assignment.review))
        .order_by(Assignment.round_id, Assignment.proposal_id, Assignment.id)).unique().scalars())
    by_round: dict[int, list[Assignment]] = {}
    for a in assignments:
        by_round.setdefault(a.round_id, []).append(a)
    proposals = list(db.session.execute(
        sa.select(Proposal).where(Proposal.challenge_id == challenge.id, Proposal.status.in_(COMPETING_STATUSES))
        .options(joinedload(Proposal.organization)).order_by(Proposal.id)).scalars())
    reviewers = [m.user for m in members if m.role == PanelRole.REVIEWER]
    conflicts = services.detect_conflicts(proposals, reviewers) if manager else {}
    declared = {(c.proposal_id, c.reviewer_id): c for c in db.session.execute(
        sa.select(Conflict).where(Conflict.proposal_id.in_([p.id for p in proposals]))).scalars()} if manager else {}
    officials = []
    if manager:
        officials = [u for u in db.session.execute(
            sa.select(User).where(User.organization_id == challenge.city.organization_id).order_by(User.id)).scalars()
            if u.has_role(Role.CITY_OFFICIAL) and u.id not in {m.user_id for m in members}]
    observer_form = forms.get("observer_form") or ObserverForm()
    observer_form.user_id.choices = [(u.id, u.name) for u in officials]
    manual_forms = {}
    for r in rounds:
        f = forms.get("manual_forms", {}).get(r.id) or ManualAssignForm(prefix=f"r{r.id}")
        f.proposal_id.choices = [(p.id, f"{p.id} — {p.title}") for p in proposals]
        f.reviewer_id.choices = [(u.id, u.name) for u in reviewers]
        manual_forms[r.id] = f
    return render_template(
        "review/panel.html", challenge=challenge, manager=manager, members=members, invitations=invitations,
        rounds=rounds, by_round=by_round, proposals={p.id: p for p in proposals}, conflicts=conflicts,
        declared=declared, label=services.conflict_reason_label, outstanding=services.outstanding_assignments(challenge),
        invite_form=forms.get("invite_form") or InviteForm(), observer_form=observer_form,
        assign_form=forms.get("assign_form") or AssignForm(), manual_forms=manual_forms, action_form=ActionForm(),
        outcome=forms.get("outcome"),
    ), status


@bp.route("/challenges/<int:challenge_id>/panel")
@login_required
def panel(challenge_id: int):
    return _panel_page(_challenge_or_404(challenge_id))


@bp.route("/challenges/<int:challenge_id>/panel/invite", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def invite(challenge_id: int):
    challenge = _manager_challenge(challenge_id)
    form = InviteForm()
    if form.validate_on_submit():
        result = attempt(form, services.invite_reviewer, actor=_user(), challenge=challenge, email=form.email.data,
                         name=form.name.data)
        if result is not FAILED:
            db.session.commit()
            flash(_("Added to the panel.") if isinstance(result, PanelMember) else _("Invitation sent."), "success")
            return redirect(url_for("review.panel", challenge_id=challenge.id))
    return _panel_page(challenge, 422, invite_form=form)


@bp.route("/challenges/<int:challenge_id>/panel/observers", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def add_observer(challenge_id: int):
    challenge = _manager_challenge(challenge_id)
    form = ObserverForm()
    user = db.session.get(User, id_arg(request.form, "user_id") or 0)
    form.user_id.choices = [(user.id, user.name)] if user else []
    if form.validate_on_submit() and user is not None:
        if attempt(form, services.add_panel_member, actor=_user(), challenge=challenge, user=user,
                   role=PanelRole.OBSERVER) is not FAILED:
            db.session.commit()
            flash(_("Observer added."), "success")
            return redirect(url_for("review.panel", challenge_id=challenge.id))
    elif user is None:
        form.user_id.errors = [_("Choose a city official.")]
    return _panel_page(challenge, 422, observer_form=form)


@bp.route("/challenges/<int:challenge_id>/rounds", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def add_round(challenge_id: int):
    challenge = _manager_challenge(challenge_id)
    if ActionForm().validate_on_submit() and attempt_or_flash(
            services.add_shortlist_round, actor=_user(), challenge=challenge) is not FAILED:
        db.session.commit()
        flash(_("Shortlist round added."), "success")
    return redirect(url_for("review.panel", challenge_id=challenge.id))


@bp.route("/rounds/<int:round_id>", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def edit_round(round_id: int):
    round_ = _round_or_404(round_id)
    if not round_.can_manage(_user()):
        abort(403)
    form = RoundForm(data=None if request.method == "POST" else {
        "opens_at": round_.opens_at.replace(tzinfo=None), "closes_at": round_.closes_at.replace(tzinfo=None),
        "can_review": round_.can_review, "can_see_others": round_.can_see_others})
    if form.validate_on_submit() and attempt(
            form, services.update_round, actor=_user(), round_=round_, opens_at=form.opens_at.data.replace(tzinfo=UTC),
            closes_at=form.closes_at.data.replace(tzinfo=UTC), can_review=form.can_review.data,
            can_see_others=form.can_see_others.data) is not FAILED:
        db.session.commit()
        flash(_("Round saved."), "success")
        return redirect(url_for("review.panel", challenge_id=round_.challenge_id))
    return render_template("review/round.html", round=round_, form=form, action_form=ActionForm()), _status(form)


@bp.route("/rounds/<int:round_id>/close", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def close_round(round_id: int):
    round_ = _round_or_404(round_id)
    if ActionForm().validate_on_submit() and attempt_or_flash(
            services.close_round, actor=_user(), round_=round_) is not FAILED:
        db.session.commit()
        flash(_("Round closed."), "success")
    return redirect(url_for("review.panel", challenge_id=round_.challenge_id))


@bp.route("/challenges/<int:challenge_id>/assign", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def assign(challenge_id: int):
    challenge = _manager_challenge(challenge_id)
    form = AssignForm()
    if form.validate_on_submit():
        round_ = services.round_of(challenge, RoundKind(form.round.data))
        if round_ is None:
            form.round.errors = [_("This challenge has no such round yet.")]
        else:
            outcome = attempt(form, services.auto_assign, actor=_user(), round_=round_,
                              per_proposal=form.reviewers_per_proposal.data)
            if outcome is not FAILED:
                db.session.commit()
                flash(outcome.message, "success" if not outcome.shortfalls else "warning")
                for line in outcome.details:
                    flash(line, "warning")
                return redirect(url_for("review.panel", challenge_id=challenge.id))
    return _panel_page(challenge, 422, assign_form=form)


@bp.route("/rounds/<int:round_id>/assignments", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def add_assignment(round_id: int):
    round_ = _round_or_404(round_id)
    challenge = _manager_challenge(round_.challenge_id)
    form = ManualAssignForm(prefix=f"r{round_.id}")
    proposal = db.session.get(Proposal, id_arg(request.form, f"r{round_.id}-proposal_id") or 0)
    reviewer = db.session.get(User, id_arg(request.form, f"r{round_.id}-reviewer_id") or 0)
    form.proposal_id.choices = [(proposal.id, proposal.title)] if proposal else []
    form.reviewer_id.choices = [(reviewer.id, reviewer.name)] if reviewer else []
    if form.validate_on_submit() and proposal is not None and reviewer is not None:
        if attempt(form, services.add_assignment, actor=_user(), round_=round_, proposal=proposal,
                   reviewer=reviewer) is not FAILED:
            db.session.commit()
            flash(_("Assigned."), "success")
            return redirect(url_for("review.panel", challenge_id=challenge.id))
    else:
        form.form_errors.append(_("Choose a proposal and a reviewer."))
    return _panel_page(challenge, 422, manual_forms={round_.id: form})


@bp.route("/assignments/<int:assignment_id>/remove", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def remove_assignment(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    challenge_id = assignment.round.challenge_id
    if ActionForm().validate_on_submit() and attempt_or_flash(
            services.remove_assignment, actor=_user(), assignment=assignment) is not FAILED:
        db.session.commit()
        flash(_("Assignment removed."), "success")
    return redirect(url_for("review.panel", challenge_id=challenge_id))


@bp.route("/assignments/<int:assignment_id>/waive", methods=["GET", "POST"])
@role_required(Role.FUND_MANAGER)
def waive(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    form = ReasonForm()
    if form.validate_on_submit() and attempt(form, services.waive_assignment, actor=_user(), assignment=assignment,
                                             reason=form.reason.data) is not FAILED:
        db.session.commit()
        flash(_("Review waived."), "success")
        return redirect(url_for("review.panel", challenge_id=assignment.round.challenge_id))
    return render_template("review/waive.html", assignment=assignment, form=form), _status(form)


# --- ranking, CSV, decisions -------------------------------------------------------------------------


def _ranking_round(challenge: Challenge) -> ReviewRound:
    kind = request.args.get("round", RoundKind.SCORING.value)
    if kind not in (RoundKind.SCORING.value, RoundKind.SHORTLIST.value):
        abort(404)
    round_ = services.round_of(challenge, RoundKind(kind))
    user = _user()
    if round_ is None:
        abort(404 if user.has_role(Role.FUND_MANAGER) else 403)
    if not services.can_see_ranking(round_, user):
        abort(403)
    return round_


@bp.route("/challenges/<int:challenge_id>/ranking")
@login_required
def ranking(challenge_id: int):
    challenge = _challenge_or_404(challenge_id)
    round_ = _ranking_round(challenge)
    report = services.ranking(round_)
    # Organisation names for fund managers and the city (never reviewers: they cannot reach this page).
    org_names = dict(db.session.execute(
        sa.select(Proposal.id, Proposal.organization_id).where(Proposal.challenge_id == challenge.id)).all())
    from facility.accounts.models import Organization

    names = dict(db.session.execute(sa.select(Organization.id, Organization.name).where(
        Organization.id.in_(set(org_names.values())))).all()) if org_names else {}
    return render_template("review/ranking.html", challenge=challenge, report=report, round=round_,
                           org_name={pid: names.get(oid, "") for pid, oid in org_names.items()},
                           manager=services.can_manage_panel(challenge, _user()), decision_form=DecisionForm(),
                           action_form=ActionForm(), decision_label=services.decision_label)


@bp.route("/challenges/<int:challenge_id>/ranking.csv")
@login_required
def ranking_csv(challenge_id: int):
    challenge = _challenge_or_404(challenge_id)
    round_ = _ranking_round(challenge)
    body = services.ranking_csv(services.ranking(round_))
    filename = f"ranking-challenge-{challenge.id}-{round_.kind.value}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/challenges/<int:challenge_id>/decisions/<int:proposal_id>", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def prepare_decision(challenge_id: int, proposal_id: int):
    challenge = _manager_challenge(challenge_id)
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or proposal.challenge_id != challenge.id:
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        flash(_("Choose a decision."), "error")
    elif attempt_or_flash(services.prepare_decision, actor=_user(), proposal=proposal, kind=form.kind.data,
                          note=form.note.data) is not FAILED:
        db.session.commit()
        flash(_("Decision prepared; it stays pending until released."), "success")
    return redirect(url_for("review.ranking", challenge_id=challenge.id, round=request.args.get("round", "scoring")))


@bp.route("/challenges/<int:challenge_id>/decisions/release", methods=["POST"])
@role_required(Role.FUND_MANAGER)
def release(challenge_id: int):
    challenge = _manager_challenge(challenge_id)
    if ActionForm().validate_on_submit():
        released = attempt_or_flash(services.release_decisions, actor=_user(), challenge=challenge)
        if released is not FAILED:
            db.session.commit()
            flash(_("%(n)d decisions released; the applicants are being notified.", n=len(released)), "success")
    return redirect(url_for("review.ranking", challenge_id=challenge.id))


# --- applicants: feedback --------------------------------------------------------------------------------


@bp.route("/proposals/<int:proposal_id>/feedback")
@login_required
def feedback(proposal_id: int):
    """The released decision and the reviewers' comments, without their names (applicant's members)."""
    proposal = db.session.execute(sa.select(Proposal).where(Proposal.id == proposal_id)
                                  .options(selectinload(Proposal.snapshots))).scalar_one_or_none()
    if proposal is None:
        abort(404)
    try:
        result = services.feedback(proposal, _user())
    except DomainError:
        abort(404)
    return render_template("review/feedback.html", proposal=proposal, feedback=result,
                           decision_label=services.decision_label)
