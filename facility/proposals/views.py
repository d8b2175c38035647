"""Pages: draft, edit, submit and withdraw a proposal; attachments; a challenge's proposals;
the innovator's dashboard panel."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.challenges.models import Challenge
from facility.challenges.queries import get_visible_challenge
from facility.challenges.services import register_extension_recipients
from facility.core.dashboard import work_item
from facility.core.errors import DomainError, ValidationFailed
from facility.core.forms import FAILED, attempt, note_form_errors
from facility.core.inputs import page_arg
from facility.core.labels import label
from facility.core.policy import require
from facility.core.views import register_dashboard_panel
from facility.extensions import db
from facility.proposals import policy, queries, services
from facility.proposals.downloads import send_attachment
from facility.proposals.forms import MILESTONE_ROWS, ActionForm, ProposalForm, UploadForm
from facility.proposals.models import BUDGET_CATEGORIES, Proposal, budget_key

bp = Blueprint("proposals", __name__)
LIST_PER_PAGE = 50
BUDGET_FIELDS = {f"budget.{budget_key(c)}": f"budget_{c.value}" for c in BUDGET_CATEGORIES}  # service -> form


def _user():
    return current_user._get_current_object()


def _visible_proposal(proposal_id: int) -> Proposal:
    return queries.get_visible_proposal(current_user, proposal_id)


def _apply_proposal_errors(form: ProposalForm, error: DomainError) -> None:
    """Put service errors next to the fields; milestone N is the Nth row someone filled in."""
    rows = [row for _i, row in form.filled_milestones()]
    names = {"title": "title", "summary": "summary", "approach": "approach", "team": "team",
             "requested_cents": "requested", "beneficiary_groups": "beneficiary_groups",
             "privacy_impact": "privacy_impact", **BUDGET_FIELDS}
    sub = {"title": "title", "due_date": "due_date", "amount_cents": "amount", "deliverable": "deliverable"}
    leftover: dict[str, list[str]] = {}
    for key, messages in error.errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "milestones" and parts[1].isdigit() and int(parts[1]) < len(rows):
            field = getattr(rows[int(parts[1])], sub.get(parts[2], ""), None)
            if field is not None:
                field.errors = list(field.errors) + list(messages)
                continue
        if key in names:
            field = getattr(form, names[key])
            field.errors = list(field.errors) + list(messages)
            continue
        leftover[key] = messages
    for messages in leftover.values():
        form.form_errors.extend(messages)
    if not error.errors:
        form.form_errors.append(error.detail)


def _form_from(proposal: Proposal) -> ProposalForm:
    milestones = [{"title": m.title, "due_date": m.due_date, "amount": m.amount_cents or None,
                   "deliverable": m.deliverable} for m in proposal.milestones]
    form = ProposalForm(data={
        "title": proposal.title, "summary": proposal.summary, "approach": proposal.approach,
        "team": proposal.team, "requested": proposal.requested_cents or None,
        "beneficiary_groups": list(proposal.beneficiary_groups), "privacy_impact": proposal.privacy_impact,
        "milestones": milestones,
        **{f"budget_{category.value}": cents for category, cents in proposal.budget.items()},
    })
    if len(milestones) >= MILESTONE_ROWS:
        form.milestones.append_entry()  # always one empty row to add a milestone without JavaScript
    return form


def _status_code(form) -> int:
    return 422 if form.errors or form.form_errors else 200


# --- drafting ------------------------------------------------------------------------------

@bp.route("/challenges/<int:challenge_id>/proposals/new", methods=["GET", "POST"])
@role_required(Role.INNOVATOR)
def new(challenge_id: int):
    challenge = get_visible_challenge(current_user, challenge_id)
    existing = queries.org_proposal(challenge, current_user.organization_id) if current_user.organization_id else None
    if existing is not None:
        flash(_("Your organisation already has a proposal for this challenge."), "info")
        return redirect(url_for("proposals.show", proposal_id=existing.id))
    if policy.can_create(current_user, challenge) is not None:
        abort(403)  # a closed challenge too: the page offers no form to fill in
    form = ProposalForm()
    if form.add_milestone.data and request.method == "POST":
        form.milestones.append_entry()
    elif form.validate_on_submit():
        proposal = attempt(form, services.create_proposal, show_errors=_apply_proposal_errors, actor=_user(),
                           challenge=challenge, data=form.service_data())
        if proposal is not FAILED:
            db.session.commit()
            flash(_("Draft saved. You can come back to it until the deadline."), "success")
            return redirect(url_for("proposals.show", proposal_id=proposal.id))
    return render_template("proposals/edit.html", form=form, challenge=challenge, proposal=None), _status_code(form)


@bp.route("/proposals/<int:proposal_id>/edit", methods=["GET", "POST"])
@login_required
def edit(proposal_id: int):
    proposal = _visible_proposal(proposal_id)
    refusal = policy.can_edit(current_user, proposal)
    if refusal is not None and refusal.is_state:
        flash(_("This proposal can no longer be changed."), "error")
        return redirect(url_for("proposals.show", proposal_id=proposal.id))
    require(refusal)
    if request.method == "GET":
        form = _form_from(proposal)
    else:
        form = ProposalForm()
    if request.method == "POST" and form.add_milestone.data:
        form.milestones.append_entry()
    elif form.validate_on_submit() and attempt(form, services.update_proposal, show_errors=_apply_proposal_errors,
                                               actor=_user(), proposal=proposal, data=form.service_data()) is not FAILED:
        db.session.commit()
        flash(_("Draft saved."), "success")
        return redirect(url_for("proposals.show", proposal_id=proposal.id))
    return render_template("proposals/edit.html", form=form, challenge=proposal.challenge,
                           proposal=proposal), _status_code(form)


@bp.route("/proposals/<int:proposal_id>")
def show(proposal_id: int, submit_errors: dict | None = None, upload_form: UploadForm | None = None):
    proposal = _visible_proposal(proposal_id)
    problems = None
    if policy.can_submit(current_user, proposal) is None and submit_errors is None:
        problems = services.submission_problems(proposal)  # a checklist before submitting
    status = 422 if submit_errors or (upload_form is not None and upload_form.errors) else 200
    if submit_errors:
        note_form_errors()  # the refused submission's errors are on no form: "Error:" in the title all the same
    return render_template(
        "proposals/show.html", proposal=proposal, challenge=proposal.challenge,
        action_form=ActionForm(), upload_form=upload_form or UploadForm(), submit_errors=submit_errors,
        problems=problems, field_labels=_field_labels(),
    ), status


def _field_labels() -> dict[str, str]:
    return {
        "title": _("Title"), "summary": _("Summary"), "approach": _("Approach"), "team": _("Team"),
        "requested_cents": _("Amount requested"), "beneficiary_groups": _("Who benefits"),
        "privacy_impact": _("Privacy and human-rights impact"), "milestones": _("Milestones"),
        "organization.org_type": _("Type of organisation"), "organization.country": _("Country"),
        "file": _("File"), "budget": _("Budget"),
        **{f"budget.{budget_key(c)}": _("Budget: %(category)s", category=label(c)) for c in BUDGET_CATEGORIES},
    }


@bp.route("/proposals/<int:proposal_id>/submit", methods=["POST"])
@login_required
def submit(proposal_id: int):
    proposal = _visible_proposal(proposal_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.submit_proposal(actor=_user(), proposal=proposal)
    except ValidationFailed as error:
        db.session.rollback()
        return show(proposal_id, submit_errors=error.errors)
    db.session.commit()
    flash(_("Proposal submitted. We have e-mailed you a confirmation."), "success")
    return redirect(url_for("proposals.show", proposal_id=proposal.id))


@bp.route("/proposals/<int:proposal_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(proposal_id: int):
    """GET: what withdrawing does, and a button to confirm (asks `policy.can_withdraw`, as the service does)."""
    proposal = _visible_proposal(proposal_id)
    if request.method == "GET":
        require(policy.can_withdraw(current_user, proposal))
        return render_template("proposals/withdraw.html", proposal=proposal, challenge=proposal.challenge)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.withdraw_proposal(actor=_user(), proposal=proposal)
    db.session.commit()
    flash(_("Proposal withdrawn."), "info")
    return redirect(url_for("proposals.show", proposal_id=proposal.id))


# --- attachments -----------------------------------------------------------------------------

@bp.route("/proposals/<int:proposal_id>/attachments", methods=["POST"])
@login_required
def upload(proposal_id: int):
    proposal = _visible_proposal(proposal_id)
    form = UploadForm()
    if form.validate_on_submit():
        data = form.file.data
        # A file the service refuses (empty, too large, not a PDF or image, one too many): at the field.
        if attempt(form, services.add_attachment, actor=_user(), proposal=proposal, filename=data.filename or "",
                   stream=data.stream) is not FAILED:
            db.session.commit()
            flash(_("File uploaded."), "success")
            return redirect(url_for("proposals.show", proposal_id=proposal.id) + "#attachments")
    elif form.csrf_token.errors:
        abort(400)
    return show(proposal_id, upload_form=form)


@bp.route("/proposals/<int:proposal_id>/attachments/<int:attachment_id>")
def download(proposal_id: int, attachment_id: int):
    return send_attachment(queries.get_visible_attachment(current_user, proposal_id, attachment_id))


@bp.route("/proposals/<int:proposal_id>/attachments/<int:attachment_id>/delete", methods=["POST"])
@login_required
def delete_attachment(proposal_id: int, attachment_id: int):
    attachment = queries.get_visible_attachment(current_user, proposal_id, attachment_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.delete_attachment(actor=_user(), attachment=attachment)
    db.session.commit()
    flash(_("File removed."), "info")
    return redirect(url_for("proposals.show", proposal_id=proposal_id) + "#attachments")


# --- a challenge's proposals -----------------------------------------------------------------

@bp.route("/challenges/<int:challenge_id>/proposals")
@login_required
def challenge_proposals(challenge_id: int):
    challenge = queries.get_listable_challenge(current_user, challenge_id)
    pagination = db.paginate(queries.challenge_proposals(current_user, challenge), page=page_arg(),
                             per_page=LIST_PER_PAGE, error_out=False)
    return render_template("proposals/challenge_proposals.html", challenge=challenge, pagination=pagination)


# --- dashboard -------------------------------------------------------------------------------

def innovator_panel(user) -> dict | None:
    """The innovator organisation's drafts with their challenge deadlines, and open challenges to enter.
    (Submitted proposals and their decisions are review's panel: decisions live there.)"""
    if not user.has_role(Role.INNOVATOR) or user.organization_id is None:
        return None
    drafts = queries.drafts_waiting(user.organization_id)
    href = url_for("proposals.edit", proposal_id=drafts.first_id) if drafts.first_id else url_for("challenges.index")
    return {"title": _("Your proposals: drafts and open challenges"), "template": "proposals/_dashboard_panel.html",
            "items": [work_item(_("Drafts to finish and submit"), drafts, href, _("first deadline"))],
            "drafts": queries.drafts_of(user.organization_id),
            "open_challenges": queries.open_challenges_without_proposal(user.organization_id)}


def challenge_links(challenge: Challenge) -> dict:
    """What the viewer can do about proposals on a challenge's page (for `_challenge_actions.html`)."""
    user = current_user
    links: dict = {}
    if policy.is_innovator_with_organisation(user, challenge):
        existing = queries.org_proposal(challenge, user.organization_id)
        if existing is not None:
            links["own"] = existing
        elif policy.can_create(user, challenge) is None:
            links["new"] = url_for("proposals.new", challenge_id=challenge.id)
        elif (refusal := policy.invitation_refusal(user, challenge)) is not None and challenge.is_open:
            links["refused"] = refusal.reason  # instead of the apply button: why this organisation may not
    if policy.can_list(user, challenge) is None:
        links["list"] = url_for("proposals.challenge_proposals", challenge_id=challenge.id)
    return links


def register(app) -> None:
    app.add_template_global(challenge_links, "proposal_links")
    app.config.setdefault("ATTACHMENT_MAX_BYTES", services.DEFAULT_ATTACHMENT_MAX_BYTES)
    app.config.setdefault("ATTACHMENT_MAX_COUNT", services.DEFAULT_ATTACHMENT_MAX_COUNT)
    register_dashboard_panel(app, innovator_panel)
    # Applicants hear about deadline extensions (challenges cannot import proposals: a hook).
    register_extension_recipients(queries.applicant_emails)
