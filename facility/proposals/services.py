"""Proposal rules: drafting, submission (deadline, eligibility, completeness), withdrawal,
attachments and the snapshot reviewers see.

Services flush but never commit; the page, API handler or command that calls them
commits once. Every refusal raises a `DomainError` and changes nothing.
"""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.models import Organization, User
from facility.audit.services import record
from facility.challenges.models import Challenge
from facility.core.errors import Conflict, ValidationFailed
from facility.core.hooks import after_commit
from facility.core.inputs import NAME_CHARS, clean_text
from facility.core.labels import label
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.core.templating import money
from facility.core.uploads import save_upload, sniff, upload_path
from facility.extensions import db
from facility.proposals import policy
from facility.proposals.budgets import clean_budget, replace_budget
from facility.proposals.indicators import follow_milestones, snapshot_indicators
from facility.proposals.lifecycle import set_proposal_status
from facility.proposals.models import (
    Attachment,
    BeneficiaryGroup,
    Milestone,
    Proposal,
    ProposalSnapshot,
    ProposalStatus,
)
from facility.proposals.queries import org_proposal

MAX_MILESTONES = 20
TITLE_MAX = NAME_CHARS
SUMMARY_MAX = 1000
TEXT_MAX = 50_000
DEFAULT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_ATTACHMENT_MAX_COUNT = 10
# Content types we accept, judged by the file's first bytes (never its name or declared type).
ATTACHMENT_AREA = "attachments"  # folder under the instance folder
ALLOWED_CONTENT_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/webp")
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
TEXT_FIELDS = ("title", "summary", "approach", "team", "privacy_impact")


# --- input checks ----------------------------------------------------------------------

LIMITS = {"title": TITLE_MAX, "summary": SUMMARY_MAX, "approach": TEXT_MAX, "team": TEXT_MAX,
          "privacy_impact": TEXT_MAX, "milestones.title": TITLE_MAX, "milestones.deliverable": TEXT_MAX}
"""Characters per field: the form, the API schema and these services use the same numbers."""
SINGLE_LINE = {"title", "milestones.title"}
MARKDOWN = {"approach"}  # white space is meaning in Markdown (indented lists, code): only the ends are stripped


def _text(value: Any, kind: str, field: str, errors: dict[str, list[str]]) -> str:
    """`core.inputs.clean_text` with the limit of `kind`; its refusal is collected into `errors`."""
    limit = LIMITS[kind]
    try:
        if kind in MARKDOWN:
            text = (value or "").strip()
            if len(text) > limit:
                message = _("At most %(n)s characters; this has %(got)s.", n=f"{limit:,}", got=f"{len(text):,}")
                raise ValidationFailed(message, errors={field: [message]})
            return text
        return clean_text(value, field, limit=limit, multiline=kind not in SINGLE_LINE)
    except ValidationFailed as error:
        errors.setdefault(field, []).extend(error.errors[field])
        return ""


def _clean_fields(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Check the shape and limits of the editable fields present in `data` (drafts may be partial)."""
    clean: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in data:
            clean[name] = _text(data[name], name, name, errors)
    if "title" in clean and not clean["title"]:
        errors.setdefault("title", []).append(_("Give the proposal a title."))
    if "requested_cents" in data:
        value = data["requested_cents"]
        if value is None:
            value = 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.setdefault("requested_cents", []).append(_("Enter an amount of zero or more."))
        clean["requested_cents"] = value
    if "beneficiary_groups" in data:
        groups = list(data["beneficiary_groups"] or [])
        allowed = {g.value for g in BeneficiaryGroup}
        unknown = [g for g in groups if g not in allowed]
        if unknown:
            errors.setdefault("beneficiary_groups", []).append(
                _("Unknown group: %(groups)s.", groups=", ".join(map(str, unknown))))
        # Keep the canonical order and drop duplicates.
        clean["beneficiary_groups"] = [g.value for g in BeneficiaryGroup if g.value in groups]
    if "milestones" in data:
        rows = list(data["milestones"] or [])
        if len(rows) > MAX_MILESTONES:
            errors.setdefault("milestones", []).append(ngettext("Use at most %(n)d milestone.",
                                                                "Use at most %(n)d milestones.",
                                                                MAX_MILESTONES, n=MAX_MILESTONES))
        milestones = []
        for index, row in enumerate(rows[:MAX_MILESTONES]):
            prefix = f"milestones.{index}"
            title = _text(row.get("title"), "milestones.title", f"{prefix}.title", errors)
            deliverable = _text(row.get("deliverable"), "milestones.deliverable", f"{prefix}.deliverable", errors)
            amount = row.get("amount_cents")
            amount = 0 if amount is None else amount
            due = row.get("due_date")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                errors.setdefault(f"{prefix}.amount_cents", []).append(_("Enter an amount of zero or more."))
            if due is not None and not isinstance(due, date):
                errors.setdefault(f"{prefix}.due_date", []).append(_("Enter a date."))
            milestones.append({"title": title, "deliverable": deliverable, "amount_cents": amount,
                               "due_date": due})
        clean["milestones"] = milestones
    if "budget" in data:
        clean["budget"] = clean_budget(data["budget"], errors)
    return clean


def _apply(proposal: Proposal, clean: dict[str, Any]) -> None:
    for name in (*TEXT_FIELDS, "requested_cents", "beneficiary_groups"):
        if name in clean:
            setattr(proposal, name, clean[name])
    if "milestones" in clean:
        # Replace the whole list: positions stay dense and in the order given; indicators follow their milestone.
        old_titles = {milestone.position: milestone.title for milestone in proposal.milestones}
        proposal.milestones.clear()
        db.session.flush()
        for position, row in enumerate(clean["milestones"], start=1):
            proposal.milestones.append(Milestone(position=position, **row))
        db.session.flush()
        follow_milestones(proposal, old_titles)
    if "budget" in clean:
        replace_budget(proposal, clean["budget"])


# --- drafting --------------------------------------------------------------------------

def create_proposal(*, actor: User, challenge: Challenge, data: dict[str, Any]) -> Proposal:
    """Rule `policy.can_create`: an innovator of an innovator organisation drafts a proposal to an
    open challenge; one live (not withdrawn) proposal per organisation per challenge."""
    require(policy.can_create(actor, challenge))
    # Serialise drafts of one organisation (row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE
    # already serialises writers) so two at once cannot both pass the one-per-challenge check.
    organization_id = actor.organization_id
    assert organization_id is not None  # policy.can_create: an innovator organisation's member
    db.session.execute(sa.select(Organization.id).where(Organization.id == organization_id).with_for_update())
    if org_proposal(challenge, organization_id) is not None:
        raise Conflict(_("Your organisation already has a proposal for this challenge; edit that one."))
    errors: dict[str, list[str]] = {}
    clean = _clean_fields({"title": "", **data}, errors)
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    proposal = Proposal(challenge=challenge, organization_id=organization_id, created_by_id=actor.id,
                        status=ProposalStatus.DRAFT, title=clean["title"])
    db.session.add(proposal)
    _apply(proposal, clean)
    db.session.flush()
    record("proposal.created", actor=actor, obj=proposal, details={"challenge_id": challenge.id})
    return proposal


def _lock(proposal: Proposal) -> None:
    """Re-read the proposal under a row lock (PostgreSQL) so that two requests at once (a double
    click on "submit") act one after the other on its current state."""
    db.session.refresh(proposal, with_for_update=True)


def _require_editable(actor: User, proposal: Proposal) -> None:
    _lock(proposal)
    require(policy.can_edit(actor, proposal))


def update_proposal(*, actor: User, proposal: Proposal, data: dict[str, Any]) -> Proposal:
    """Rule `policy.can_edit`: the applicant's innovators change a draft while the challenge is open
    (fields given are replaced; milestones and the budget, when given, replace the whole list)."""
    _require_editable(actor, proposal)
    errors: dict[str, list[str]] = {}
    clean = _clean_fields(data, errors)
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    _apply(proposal, clean)
    proposal.updated_at = utcnow()
    db.session.flush()
    record("proposal.updated", actor=actor, obj=proposal, details={"fields": sorted(clean)})
    return proposal


# --- submission ------------------------------------------------------------------------

def submission_problems(proposal: Proposal, *, today: date | None = None) -> dict[str, list[str]]:
    """Every reason the proposal cannot be submitted yet (eligibility and completeness, including the
    rule that the budget lines add up to the amount requested), by field."""
    challenge = proposal.challenge
    org = proposal.organization
    today = today or utcnow().date()
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if challenge.eligible_org_types and (org.org_type is None or org.org_type.value not in challenge.eligible_org_types):
        add("organization.org_type", _("This challenge is open to these kinds of organisation only: %(types)s.",
                                       types=", ".join(str(label(t)) for t in challenge.eligible_types)))
    if challenge.eligible_countries and org.country not in challenge.eligible_countries:
        add("organization.country", _("This challenge is open to organisations from these countries only: "
                                      "%(countries)s.", countries=", ".join(challenge.eligible_countries)))
    for name, message in (("title", _("Give the proposal a title.")),
                          ("summary", _("Write a summary.")),
                          ("approach", _("Describe your approach.")),
                          ("privacy_impact", _("Write the privacy and human-rights impact statement."))):
        if not (getattr(proposal, name) or "").strip():
            add(name, message)
    if not proposal.beneficiary_groups:
        add("beneficiary_groups", _("Choose at least one group that benefits."))
    if proposal.requested_cents <= 0:
        add("requested_cents", _("Enter the amount you request."))
    elif proposal.requested_cents > challenge.max_award_cents:
        add("requested_cents", _("The most this challenge awards is %(amount)s.",
                                 amount=money(challenge.max_award_cents)))
    if not proposal.budget_lines:
        add("budget", _("Give the budget by category; it must add up to the amount requested."))
    elif proposal.budget_total_cents != proposal.requested_cents:
        add("budget", _("The budget adds up to %(total)s, not the %(requested)s requested.",
                        total=money(proposal.budget_total_cents), requested=money(proposal.requested_cents)))
    if not proposal.milestones:
        add("milestones", _("Add at least one milestone."))
    else:
        total = proposal.milestones_total_cents
        if total != proposal.requested_cents:
            add("milestones", _("The milestones add up to %(total)s, not the %(requested)s requested.",
                                total=money(total), requested=money(proposal.requested_cents)))
        for index, milestone in enumerate(proposal.milestones):
            prefix = f"milestones.{index}"
            if not milestone.title:
                add(f"{prefix}.title", _("Give the milestone a title."))
            if not milestone.deliverable:
                add(f"{prefix}.deliverable", _("Say what will be delivered."))
            if milestone.amount_cents <= 0:
                add(f"{prefix}.amount_cents", _("Each milestone's amount must be more than zero."))
            if milestone.due_date is None:
                add(f"{prefix}.due_date", _("Give the due date."))
            elif milestone.due_date <= today:
                add(f"{prefix}.due_date", _("The due date must be after today."))
    return errors


def snapshot_data(proposal: Proposal) -> dict[str, Any]:
    """Everything a reviewer sees, as plain JSON, independent of the live rows."""
    org = proposal.organization
    return {
        "proposal_id": proposal.id,
        "challenge_id": proposal.challenge_id,
        "organization": {"id": org.id, "name": org.name, "country": org.country,
                         "org_type": org.org_type.value if org.org_type else None},
        "title": proposal.title,
        "summary": proposal.summary,
        "approach": proposal.approach,
        "team": proposal.team,
        "requested_cents": proposal.requested_cents,
        "beneficiary_groups": list(proposal.beneficiary_groups),
        "privacy_impact": proposal.privacy_impact,
        "budget": proposal.budget_by_key,
        "milestones": [
            {"position": m.position, "title": m.title, "due_date": m.due_date.isoformat() if m.due_date else None,
             "amount_cents": m.amount_cents, "deliverable": m.deliverable}
            for m in proposal.milestones
        ],
        "attachments": [
            {"id": a.id, "original_filename": a.original_filename, "content_type": a.content_type,
             "size_bytes": a.size_bytes, "sha256": a.sha256}
            for a in proposal.attachments
        ],
        "milestone_indicators": snapshot_indicators(proposal),
        "submitted_at": proposal.submitted_at.isoformat() if proposal.submitted_at else None,
    }


def submit_proposal(*, actor: User, proposal: Proposal) -> ProposalSnapshot:
    """Rule `policy.can_submit`: the applicant's innovators submit a draft before the deadline, when it
    is eligible and complete (every problem reported at once); a snapshot is frozen and a
    confirmation e-mailed."""
    _lock(proposal)
    require(policy.can_submit(actor, proposal))
    problems = submission_problems(proposal)
    if problems:
        raise ValidationFailed(_("The proposal cannot be submitted yet; see each problem."), errors=problems)
    now = utcnow()
    set_proposal_status(proposal=proposal, to=ProposalStatus.SUBMITTED, actor=actor)
    proposal.submitted_at = now
    version = len(proposal.snapshots) + 1
    snapshot = ProposalSnapshot(proposal=proposal, version=version, data=snapshot_data(proposal), created_at=now)
    db.session.add(snapshot)
    db.session.flush()
    record("proposal.submitted", actor=actor, obj=proposal,
           details={"snapshot_version": version, "requested_cents": proposal.requested_cents})
    _confirm_by_mail(actor, proposal)
    return snapshot


def _confirm_by_mail(actor: User, proposal: Proposal) -> None:
    notify([actor], "proposals/submitted", proposal=proposal)


def withdraw_proposal(*, actor: User, proposal: Proposal) -> Proposal:
    """Rule `policy.can_withdraw`: the applicant's innovators withdraw a draft or submitted proposal
    before the deadline."""
    _lock(proposal)
    require(policy.can_withdraw(actor, proposal))
    previous = proposal.status
    set_proposal_status(proposal=proposal, to=ProposalStatus.WITHDRAWN, actor=actor)
    proposal.withdrawn_at = utcnow()
    db.session.flush()
    record("proposal.withdrawn", actor=actor, obj=proposal, details={"from": previous.value})
    return proposal


# --- attachments -----------------------------------------------------------------------

def attachment_path(attachment: Attachment) -> Path:
    """Where the file is: `<instance>/attachments/<key>`, outside the web root."""
    return Path(upload_path(ATTACHMENT_AREA, attachment.storage_key))


def _safe_filename(name: str, content_type: str) -> str:
    # Only for display and the download name; storage uses the random key.
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?')[:200]
    return base or f"attachment{EXTENSIONS[content_type]}"


def add_attachment(*, actor: User, proposal: Proposal, filename: str, stream: IO[bytes]) -> Attachment:
    """The applicant's innovators attach a PDF, PNG, JPEG or WebP file (judged by content)
    to a draft, within the size and count limits."""
    _require_editable(actor, proposal)
    max_bytes = int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_ATTACHMENT_MAX_BYTES))
    max_count = int(current_app.config.get("ATTACHMENT_MAX_COUNT", DEFAULT_ATTACHMENT_MAX_COUNT))
    if len(proposal.attachments) >= max_count:
        raise ValidationFailed(ngettext("A proposal may have at most %(n)d file.",
                                        "A proposal may have at most %(n)d files.", max_count, n=max_count),
                               errors={"file": [ngettext("A proposal may have at most %(n)d file.",
                                                         "A proposal may have at most %(n)d files.", max_count, n=max_count)]})
    content = stream.read(max_bytes + 1)  # never read more than the limit allows
    if not content:
        raise ValidationFailed(_("The file is empty."), errors={"file": [_("The file is empty.")]})
    if len(content) > max_bytes:
        message = _("The file is larger than %(mb)s MB.", mb=round(max_bytes / 1024 / 1024, 1))
        raise ValidationFailed(message, errors={"file": [message]})
    content_type = sniff(content, ALLOWED_CONTENT_TYPES)
    if content_type is None:
        message = _("Upload a PDF, PNG, JPEG or WebP file.")
        raise ValidationFailed(message, errors={"file": [message]})
    stored = save_upload(ATTACHMENT_AREA, filename, content, content_type)
    attachment = Attachment(
        proposal=proposal, original_filename=_safe_filename(filename, content_type), content_type=content_type,
        size_bytes=stored.size_bytes, sha256=stored.sha256, storage_key=stored.storage_key,
        uploaded_by_id=actor.id,
    )
    db.session.add(attachment)
    db.session.flush()
    record("proposal.attachment_added", actor=actor, obj=proposal,
           details={"attachment_id": attachment.id, "sha256": attachment.sha256,
                    "content_type": content_type, "size_bytes": attachment.size_bytes})
    return attachment


def delete_attachment(*, actor: User, attachment: Attachment) -> None:
    """Rule `policy.can_delete_attachment`: the applicant's innovators remove a file from a draft;
    the file goes once the change commits."""
    _lock(attachment.proposal)
    require(policy.can_delete_attachment(actor, attachment))
    path = attachment_path(attachment)
    record("proposal.attachment_deleted", actor=actor, obj=attachment.proposal,
           details={"attachment_id": attachment.id, "sha256": attachment.sha256})
    attachment.proposal.attachments.remove(attachment)
    db.session.flush()
    after_commit(_remove_file, str(path))


def _remove_file(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
