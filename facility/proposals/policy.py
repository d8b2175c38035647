"""Who may do what to a proposal, and when: one `can_<action>(user, obj)` per action.

Applicants are the innovators of the applicant organisation; the challenge city's officials
see the proposals in the competition once the challenge has closed; facility staff see all.
Services call these first (on the locked row); pages, the API and templates ask the same.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import OrgKind, Role
from facility.accounts.policy import has_role, is_member_of, is_signed_in, reads_everything, role_refusal
from facility.challenges.models import Challenge, ChallengeStatus
from facility.challenges.policy import can_view as can_view_challenge
from facility.challenges.policy import is_city_official
from facility.challenges.queries import is_invited
from facility.core.labels import label
from facility.core.policy import Decision, conflict, hidden
from facility.proposals.models import COMPETING_STATUSES, Attachment, Proposal, ProposalStatus


def is_member(user: Any, proposal: Proposal) -> bool:
    """A member of the applicant organisation (any role)."""
    return is_member_of(user, proposal.organization_id)


def is_applicant(user: Any, proposal: Proposal) -> bool:
    """An innovator of the applicant organisation: may act on the proposal."""
    return is_member(user, proposal) and has_role(user, Role.INNOVATOR)


def can_view(user: Any, proposal: Proposal) -> Decision:
    """The applicant organisation's members and facility staff always; the challenge city's officials
    once the challenge has closed, and only proposals in the competition (not drafts or withdrawn
    ones). Everyone else may not know the proposal exists (reviewers read the frozen snapshot)."""
    if is_member(user, proposal) or reads_everything(user):  # auditors read what staff read
        return None
    if (proposal.status in COMPETING_STATUSES and proposal.challenge.submissions_closed
            and is_city_official(user, proposal.challenge)):
        return None
    return hidden(_("There is no such proposal."))


def invitation_refusal(user: Any, challenge: Challenge) -> Decision:
    """An invitation-only stage takes proposals only from organisations invited from the previous stage
    (`challenges.models.ChallengeInvitation`)."""
    if challenge.invitation_only and not is_invited(challenge, getattr(user, "organization_id", None)):
        return conflict(_("This stage is by invitation: only organisations invited from the previous stage "
                          "may apply."))
    return None


def can_create(user: Any, challenge: Challenge) -> Decision:
    """An innovator of an innovator organisation drafts a proposal to an open challenge it sees, when the
    challenge is by invitation only if the organisation is invited (one per organisation:
    `services.create_proposal` checks that under a lock)."""
    refusal = can_view_challenge(user, challenge)
    if refusal is not None:
        return refusal
    if not (has_role(user, Role.INNOVATOR) and user.organization is not None
            and user.organization.kind == OrgKind.INNOVATOR):
        return role_refusal(user, _("Only innovators of an innovator organisation may propose."))
    if (refusal := invitation_refusal(user, challenge)) is not None:
        return refusal
    if not challenge.is_open:
        return conflict(_("This challenge is not open for proposals."))
    return None


def _applicant(user: Any, proposal: Proposal, message: str) -> Decision:
    return None if is_applicant(user, proposal) else role_refusal(user, message)


def can_edit(user: Any, proposal: Proposal) -> Decision:
    """The applicant's innovators change a draft while the challenge is open."""
    refusal = _applicant(user, proposal, _("Only the applicant organisation's innovators may change this proposal."))
    if refusal is not None:
        return refusal
    if proposal.status != ProposalStatus.DRAFT:
        return conflict(_("This proposal is %(status)s and can no longer be changed.", status=label(proposal.status)))
    if not proposal.challenge.is_open:
        return conflict(_("The challenge is not open; the proposal can no longer be changed."))
    return None


def can_submit(user: Any, proposal: Proposal) -> Decision:
    """The applicant's innovators submit a draft while the challenge is open, to an invitation-only stage
    only while their organisation is invited (eligibility and completeness are
    `services.submission_problems`, reported field by field)."""
    refusal = _applicant(user, proposal, _("Only the applicant organisation's innovators may submit this proposal."))
    if refusal is not None:
        return refusal
    if proposal.status != ProposalStatus.DRAFT:
        return conflict(_("This proposal is %(status)s, not a draft.", status=label(proposal.status)))
    challenge = proposal.challenge
    if (refusal := invitation_refusal(user, challenge)) is not None:
        return refusal
    if challenge.is_open:
        return None
    if challenge.status != ChallengeStatus.PUBLISHED:
        return conflict(_("This challenge no longer accepts proposals."))
    if not challenge.submissions_closed:
        return conflict(_("The challenge does not accept proposals yet."))
    return conflict(_("The deadline has passed; proposals can no longer be submitted."))


def can_withdraw(user: Any, proposal: Proposal) -> Decision:
    """The applicant's innovators withdraw a draft or a submitted proposal before the deadline."""
    refusal = _applicant(user, proposal, _("Only the applicant organisation's innovators may withdraw this proposal."))
    if refusal is not None:
        return refusal
    if proposal.status not in (ProposalStatus.DRAFT, ProposalStatus.SUBMITTED):
        return conflict(_("This proposal is %(status)s and cannot be withdrawn.", status=label(proposal.status)))
    if proposal.challenge.submissions_closed or proposal.challenge.status != ChallengeStatus.PUBLISHED:
        return conflict(_("The deadline has passed; the proposal can no longer be withdrawn."))
    return None


def can_see_attachments(user: Any, proposal: Proposal) -> Decision:
    """Whoever sees the proposal downloads its files."""
    return can_view(user, proposal)


def can_delete_attachment(user: Any, attachment: Attachment) -> Decision:
    """The applicant's innovators remove files from a draft they may still change."""
    return can_edit(user, attachment.proposal)


def can_list(user: Any, challenge: Challenge) -> Decision:
    """A challenge's proposals: facility staff always (every status); the city's officials once the
    challenge has closed (the proposals in the competition only)."""
    if reads_everything(user):
        return None
    if challenge.submissions_closed and is_city_official(user, challenge):
        return None
    return hidden(_("There is no such challenge."))


def sees_every_status(user: Any, challenge: Challenge) -> bool:
    """Staff and auditors see drafts and withdrawn proposals in a challenge's list; the city only the competing ones."""
    return reads_everything(user)


def is_innovator_with_organisation(user: Any, challenge: Challenge) -> bool:
    """An innovator in an organisation: the challenge page links to the organisation's proposal (or offers one)."""
    return is_signed_in(user) and user.organization_id is not None and has_role(user, Role.INNOVATOR)
