"""Who may do what in an evaluation, and when: one function per action.

Each `can_<action>(user, obj)` returns None when allowed, or a `Refusal` saying why not (role
first, then the object's state). Services call it first (`require(...)`), pages and the API
call the same function to decide what to show, and templates ask `may("review.<action>", obj)`.

Roles: fund managers form panels, run rounds and assignment, waive, decide and release; a
panel's reviewers declare conflicts and write their reviews; the challenge city's officials
observe their panel and see a round's ranking once it has closed; the applicant's members read
the feedback once a decision is released.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.models import Role
from facility.accounts.policy import (
    fund_manager_refusal,
    has_role,
    is_auditor,
    is_fund_manager,
    is_signed_in,
    require_signed_in,
    role_refusal,
)
from facility.challenges import policy as challenge_policy
from facility.challenges.models import Challenge
from facility.cities.policy import is_official
from facility.core.models import utcnow
from facility.core.policy import Decision, conflict, first, forbidden, hidden
from facility.proposals.models import COMPETING_STATUSES, Proposal, ProposalStatus
from facility.proposals.policy import is_member as is_applicant_member
from facility.review import appeal_facts, facts
from facility.review.models import (
    Appeal,
    Assignment,
    DecisionKind,
    PanelInvitation,
    PanelMember,
    ReviewerAffiliation,
    ReviewRound,
)


def _fund_manager(user: Any, message: str) -> Decision:
    return fund_manager_refusal(user, message)


def _reads_reviews(user: Any) -> bool:
    """Fund managers, and auditors (who read every panel, ranking and feedback, and change nothing)."""
    return is_fund_manager(user) or is_auditor(user)


# --- panels and rounds -------------------------------------------------------------------------------


def can_manage_panel(user: Any, challenge: Challenge) -> Decision:
    """Fund managers form a challenge's panel: add reviewers and observers, invite by e-mail."""
    return _fund_manager(user, _("Only fund managers form evaluation panels."))


def can_follow_panel(user: Any, challenge: Challenge) -> Decision:
    """The panel's progress page: fund managers, auditors, and the panel's observers (the city's officials).

    Other fund managers' and city officials' roles are told they may not (403); everyone else
    is not told the page exists (404)."""
    if _reads_reviews(user) or facts.is_panel_observer(challenge, user):
        return None
    if has_role(user, Role.FUND_MANAGER, Role.CITY_OFFICIAL):
        return forbidden(_("Only fund managers and the panel's observers follow this panel."))
    return hidden(_("No such panel."))


def can_manage_rounds(user: Any, challenge: Challenge) -> Decision:
    """Fund managers add a challenge's shortlist round."""
    return _fund_manager(user, _("Only fund managers manage review rounds."))


def can_edit_round(user: Any, round_: ReviewRound) -> Decision:
    """Fund managers set a round's dates and permissions, closed or not (new dates reopen it)."""
    return _fund_manager(user, _("Only fund managers manage review rounds."))


def can_close_round(user: Any, round_: ReviewRound) -> Decision:
    """Fund managers close a round early, while it is still open."""
    return first(lambda: _fund_manager(user, _("Only fund managers manage review rounds.")),
                 lambda: conflict(_("This round is already closed.")) if round_.is_closed else None)


# --- assignment ----------------------------------------------------------------------------------------


def can_assign(user: Any, round_: ReviewRound) -> Decision:
    """Fund managers assign a round's proposals to reviewers, by hand or automatically."""
    return _fund_manager(user, _("Only fund managers assign reviewers."))


def can_assign_automatically(user: Any, round_: ReviewRound) -> Decision:
    """Automatic assignment: a fund manager, while the round is not closed."""
    return first(lambda: can_assign(user, round_),
                 lambda: conflict(_("This round is closed.")) if round_.is_closed else None)


def can_remove_assignment(user: Any, assignment: Assignment) -> Decision:
    """A fund manager removes an assignment whose review is not submitted (a submitted one is waived)."""
    submitted = assignment.review is not None and assignment.review.is_submitted
    return first(lambda: can_assign(user, assignment.round),
                 lambda: conflict(_("The review is submitted; waive it instead of removing it.")) if submitted else None)


def can_waive(user: Any, assignment: Assignment) -> Decision:
    """A fund manager waives an outstanding assignment: not already waived, its review not in."""

    def state() -> Decision:
        if assignment.is_waived:
            return conflict(_("This assignment is already waived."))
        if assignment.review is not None and assignment.review.is_submitted:
            return conflict(_("This review is already in."))
        return None

    return first(lambda: _fund_manager(user, _("Only fund managers waive reviews.")), state)


# --- the reviewer's side -------------------------------------------------------------------------------


def _reviewer(user: Any) -> Decision:
    return None if has_role(user, Role.REVIEWER) else role_refusal(user, _("Only reviewers review proposals."))


def can_see_queue(user: Any, _obj: Any = None) -> Decision:
    """Reviewers have a review queue (what they are assigned, and the panels they sit on)."""
    return _reviewer(user)


def can_see_reviewer_panel(user: Any, challenge: Challenge) -> Decision:
    """A reviewer sees the (blind) proposals of a panel they sit on, to declare conflicts; other
    reviewers are not told the panel exists."""
    return first(lambda: _reviewer(user),
                 lambda: None if facts.is_panel_reviewer(challenge, user) else hidden(_("No such panel.")))


def can_declare_conflict(user: Any, proposal: Proposal) -> Decision:
    """A reviewer on the proposal's panel declares a conflict (or abstains) on a competing
    proposal, once. Other reviewers are not told the proposal exists."""

    def seat() -> Decision:
        if not facts.is_panel_reviewer(proposal.challenge, user) or proposal.status not in COMPETING_STATUSES:
            return hidden(_("No such proposal."))
        return None

    def once() -> Decision:
        if facts.declared_conflict(proposal, user) is not None:
            return conflict(_("You have already declared a conflict on this proposal."))
        return None

    return first(lambda: _reviewer(user), seat, once)


def can_open_assignment(user: Any, assignment: Assignment) -> Decision:
    """The assigned reviewer, still on the panel, not waived, and not conflicted with the proposal.
    Other reviewers are not told the assignment exists."""

    def theirs() -> Decision:
        allowed = (user.id == assignment.reviewer_id and not assignment.is_waived
                   and facts.is_panel_reviewer(assignment.round.challenge, user)
                   and not facts.is_conflicted(assignment.proposal, user))
        return None if allowed else hidden(_("No such assignment."))

    return first(lambda: _reviewer(user), theirs)


def can_edit_review(user: Any, assignment: Assignment) -> Decision:
    """Whoever may open the assignment writes (and submits) its review while the round is open
    (rounds open when submissions close) and until the review is submitted: then it is final."""

    def state() -> Decision:
        if not assignment.round.is_open:
            return conflict(_("This review round is not open for reviews."))
        if assignment.review is not None and assignment.review.is_submitted:
            return conflict(_("This review is already submitted and can no longer change."))
        return None

    return first(lambda: can_open_assignment(user, assignment), state)


def can_accept_invitation(user: Any, invitation: PanelInvitation) -> Decision:
    """Someone signed out accepts a pending invitation (accepting creates their reviewer account)."""

    def state() -> Decision:
        if invitation.accepted_at is not None:
            return conflict(_("This invitation has already been used."))
        return None

    def signed_out() -> Decision:
        if is_signed_in(user):
            return forbidden(_("Sign out first to accept an invitation for another address."))
        return None

    return first(signed_out, state)


# --- ranking, decisions, feedback -----------------------------------------------------------------------


def may_know_challenge(user: Any, challenge: Challenge) -> bool:
    """Whether `user` may know the challenge exists: anyone for a published one; for the others the
    city's officials, staff, auditors and whoever sits on its panel (`challenges.policy.can_view`)."""
    return challenge_policy.can_view(user, challenge) is None or facts.panel_membership(challenge, user) is not None


def can_see_ranking(user: Any, round_: ReviewRound) -> Decision:
    """Fund managers and auditors always; the challenge city's officials once the round has closed.

    Those who may not know the challenge exists (`may_know_challenge`) are told there is no such
    challenge (404), exactly as for an id that does not exist; insiders with the wrong role get 403."""
    if _reads_reviews(user):
        return None
    if not may_know_challenge(user, round_.challenge):
        return hidden(_("There is no such challenge."))
    return first(
        lambda: require_signed_in(user),
        lambda: None if is_official(user, round_.challenge.city) else forbidden(
            _("The ranking is for fund managers, and for the city's officials after the round closes.")),
        lambda: None if round_.is_closed else forbidden(
            _("The ranking is for fund managers, and for the city's officials after the round closes.")),
    )


def can_prepare_decision(user: Any, proposal: Proposal) -> Decision:
    """A fund manager prepares the panel's decision on a competing proposal not yet awarded."""
    decidable = proposal.status in COMPETING_STATUSES and proposal.status != ProposalStatus.AWARDED
    return first(lambda: _fund_manager(user, _("Only fund managers decide.")),
                 lambda: None if decidable else conflict(_("Only submitted proposals get a panel decision.")))


def can_release_decisions(user: Any, challenge: Challenge) -> Decision:
    """A fund manager releases a challenge's pending decisions together, once every submitted proposal
    awaiting a decision has a reviewer and every assigned review is in or explicitly waived."""

    def state() -> Decision:
        unreviewed, named = facts.proposals_without_reviewers(challenge)
        if unreviewed:
            titles = ", ".join(_("%(id)d (%(title)s)", id=p.id, title=p.title) for p in named)
            more = unreviewed - len(named)
            return conflict(ngettext(
                "%(num)d submitted proposal has no reviewer, so its reviews are missing: %(titles)s. Assign "
                "reviewers to it before decisions are released.",
                "%(num)d submitted proposals have no reviewer, so their reviews are missing: %(titles)s. Assign "
                "reviewers to them before decisions are released.", unreviewed,
                titles=titles + (_(" and %(n)d more", n=more) if more else "")))
        outstanding = facts.outstanding_assignments(challenge)
        if outstanding:
            return conflict(ngettext("%(n)d assigned review is neither in nor waived; decisions cannot be released yet.",
                                     "%(n)d assigned reviews are neither in nor waived; decisions cannot be released yet.",
                                     outstanding, n=outstanding))
        if not facts.pending_decisions(challenge):
            return conflict(_("There are no pending decisions to release."))
        return None

    return first(lambda: _fund_manager(user, _("Only fund managers release decisions.")), state)


def can_see_feedback(user: Any, proposal: Proposal) -> Decision:
    """The applicant organisation's members, fund managers and auditors, once a decision is released.
    Everyone else, and everyone before the release, is not told there is any (404)."""
    if not (is_applicant_member(user, proposal) or _reads_reviews(user)):
        return hidden(_("No such proposal."))
    if facts.latest_released_decision(proposal) is None:
        return hidden(_("No decision has been released yet."))
    return None


# --- declared affiliations ---------------------------------------------------------------------------


def can_manage_affiliations(user: Any, _obj: Any = None) -> Decision:
    """Reviewers declare the organisations they worked with, and remove them: their own only."""
    if has_role(user, Role.REVIEWER):
        return None
    return role_refusal(user, _("Only reviewers declare their affiliations."))


def can_remove_affiliation(user: Any, affiliation: ReviewerAffiliation) -> Decision:
    """A reviewer removes one of their own affiliations; nobody else's (not told it exists)."""
    return first(lambda: can_manage_affiliations(user),
                 lambda: None if affiliation.reviewer_id == user.id else hidden(_("No such affiliation.")))


def can_see_affiliations(user: Any, _member: PanelMember | None = None) -> Decision:
    """Fund managers (and auditors, who read every panel) see the affiliations a panel's reviewer declared."""
    if _reads_reviews(user):
        return None
    return role_refusal(user, _("Only fund managers see a reviewer's declared affiliations."))


# --- appeals ---------------------------------------------------------------------------------------------


def can_appeal(user: Any, proposal: Proposal) -> Decision:
    """A member of the applicant organisation asks for reconsideration of the proposal's latest released
    decision, if it declined the proposal (a shortlist or an award recommendation has nothing to appeal), was
    not set aside, has not been appealed yet, and was released at most `APPEAL_WINDOW_DAYS` days ago.
    Everyone else is not told the proposal exists (404)."""
    if not is_applicant_member(user, proposal):
        return hidden(_("No such proposal."))

    def state() -> Decision:
        decision = facts.latest_released_decision(proposal)
        if (decision is None or decision.kind != DecisionKind.DECLINE or decision.is_set_aside
                or proposal.status != ProposalStatus.DECLINED):
            return conflict(_("Only a released decision to decline a proposal can be appealed."))
        if appeal_facts.appeal_of(decision) is not None:
            return conflict(_("This decision has already been appealed."))
        closes = appeal_facts.window_closes(decision)
        if closes is not None and utcnow() > closes:
            return conflict(ngettext(
                "A decision may be appealed within %(num)d day of its release; this one was released on %(date)s.",
                "A decision may be appealed within %(num)d days of its release; this one was released on %(date)s.",
                appeal_facts.window_days(), date=f"{decision.released_at:%Y-%m-%d}"))
        return None

    return state()


def can_see_appeal(user: Any, appeal: Appeal) -> Decision:
    """The applicant organisation's members, fund managers and auditors; everyone else gets 404."""
    if is_applicant_member(user, appeal.proposal) or _reads_reviews(user):
        return None
    return hidden(_("No such appeal."))


def can_see_appeals(user: Any, _obj: Any = None) -> Decision:
    """The queue of appeals: fund managers (who handle them) and auditors (who read them)."""
    if _reads_reviews(user):
        return None
    return role_refusal(user, _("Only fund managers handle appeals."))


def can_withdraw_appeal(user: Any, appeal: Appeal) -> Decision:
    """A member of the applicant organisation withdraws its appeal while it awaits a decision; fund managers
    and auditors may read it but not withdraw it (403); everyone else is not told it exists (404)."""
    if not is_applicant_member(user, appeal.proposal):
        if _reads_reviews(user):
            return forbidden(_("Only the applicant may withdraw an appeal."))
        return hidden(_("No such appeal."))
    return None if appeal.is_open else conflict(_("This appeal has already been decided or withdrawn."))


def can_handle_appeal(user: Any, appeal: Appeal) -> Decision:
    """A fund manager who took no part in the decision (did not prepare or release it, does not sit on the
    challenge's panel, was never assigned the proposal) decides an appeal still awaiting a decision."""

    def impartial() -> Decision:
        if appeal_facts.took_part(user, appeal.decision):
            return forbidden(_("You took part in this decision, so another fund manager must handle the appeal."))
        return None

    def state() -> Decision:
        return None if appeal.is_open else conflict(_("This appeal has already been decided or withdrawn."))

    return first(lambda: _fund_manager(user, _("Only fund managers handle appeals.")), impartial, state)
