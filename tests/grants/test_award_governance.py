"""Award governance: an award follows the panel's released decision (or says, audited, why not), and awards above
`AWARD_APPROVAL_ABOVE_CENTS` wait for the approval tiers before the grant is offered (services, pages, dashboard,
a race of approvers)."""
# ruff: noqa: F811 - test arguments name the fixtures of the package's conftest
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin

from facility.accounts.models import User
from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import award_approvals, awards, policy, queries
from facility.grants.models import Grant, GrantApproval, GrantStatus
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code, pool_code
from facility.ledger.verify import verify_ledger
from facility.proposals.models import ProposalStatus
from facility.review.models import Decision, DecisionKind
from tests.conftest import get_csrf
from tests.factories.accounts import stale_factor

REASON = "The city's panel could not sit before the rains; the committee reviewed it with the city."
BIG = 6_000_000  # USD 60,000: above the default threshold (USD 50,000), in the two-approval tier


def _count(model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _actions() -> list[str]:
    return list(db.session.execute(sa.select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def _mails_to(user) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(OutboundEmail)
                              .where(OutboundEmail.to_address == user.email)).scalar_one()


@pytest.fixture
def big(make_challenge, make_proposal, make_user, fund):
    """`big(recommended=True, amount=BIG)`: a closed challenge whose pool holds 20,000,000 and a proposal asking
    `amount` in one milestone, its grantee's innovator and the awarding fund manager."""
    def _make(*, recommended=True, amount=BIG):
        challenge = make_challenge(max_award_cents=10_000_000)
        proposal = make_proposal(challenge, amounts=(amount,), recommended=recommended)
        fund(challenge=challenge, pool=20_000_000)
        return proposal, make_user("fund_manager"), make_user("innovator", organization=proposal.organization)
    return _make


def _decide(proposal, kind: DecisionKind, *, released: bool = True) -> None:
    db.session.add(Decision(challenge_id=proposal.challenge_id, proposal_id=proposal.id, kind=kind,
                            released_at=utcnow() if released else None))
    db.session.commit()


# --- an award follows the panel ---------------------------------------------------------------------------------

def test_only_a_released_award_recommendation_selects_a_proposal(app, big):
    proposal, manager, _ = big(recommended=False, amount=1_000_000)
    assert not policy.panel_selects(proposal)
    _decide(proposal, DecisionKind.AWARD_RECOMMENDATION, released=False)  # prepared, not released
    assert not policy.panel_selects(proposal)
    _decide(proposal, DecisionKind.SHORTLIST)
    refusal = policy.can_award(manager, proposal)
    assert refusal.error is Conflict
    assert refusal.reason == ("The panel's released decision does not select this proposal; give a reason to "
                              "override.")
    assert policy.can_award_overriding(manager, proposal) is None  # every other rule holds
    with pytest.raises(Conflict, match="give a reason to override"):
        awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_000_000)
    db.session.rollback()
    assert _count(Grant) == 0
    _decide(proposal, DecisionKind.AWARD_RECOMMENDATION)  # the latest released decision recommends it
    assert policy.panel_selects(proposal) and policy.can_award(manager, proposal) is None
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_000_000,
                                  override_reason="not needed: the panel recommends it")
    assert grant.award_override_reason is None and grant.award_override_by_id is None
    assert "grant.award_override" not in _actions()


def test_a_later_released_decline_unselects(app, big):
    proposal, manager, _ = big(amount=1_000_000)  # recommended
    _decide(proposal, DecisionKind.DECLINE)
    assert not policy.panel_selects(proposal)


def test_an_override_needs_a_written_reason_and_is_audited(app, big):
    proposal, manager, grantee = big(recommended=False, amount=1_000_000)
    for short in ("ok", "   ", "too short a reason"):
        with pytest.raises((ValidationFailed, Conflict)) as caught:
            awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_000_000, override_reason=short)
        if isinstance(caught.value, ValidationFailed):
            assert "override_reason" in caught.value.errors
        db.session.rollback()
    assert _count(Grant) == 0 and balance(pool_code(proposal.challenge_id)) == 20_000_000
    assert proposal.status == ProposalStatus.SUBMITTED
    with pytest.raises(ValidationFailed) as caught:
        awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_000_000, override_reason="x" * 2001)
    assert "override_reason" in caught.value.errors
    db.session.rollback()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_000_000,
                                  override_reason=f"  {REASON}  ")
    db.session.commit()
    assert grant.award_override_reason == REASON and grant.award_override_by_id == manager.id
    assert grant.status == GrantStatus.OFFERED  # below the approval threshold
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "grant.award_override")).scalar_one()
    assert event.details["reason"] == REASON and event.actor_id == manager.id
    assert _mails_to(grantee) == 1


def test_the_role_is_refused_before_the_reason_is_read(app, big, make_user):
    proposal, _, grantee = big(recommended=False, amount=1_000_000)
    for who in (grantee, make_user("auditor"), AnonymousUserMixin()):
        with pytest.raises(PermissionDenied):
            awards.award_proposal(proposal=proposal, actor=who, amount_cents=1_000_000, override_reason="x")
        db.session.rollback()


# --- awards above the threshold wait for approval ------------------------------------------------------------------

def test_an_award_above_the_threshold_is_approved_before_it_is_offered(app, big, make_user):
    proposal, manager, grantee = big()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=BIG)
    db.session.commit()
    assert grant.status == GrantStatus.PENDING_APPROVAL
    # The money is committed already: the pool is reserved while the approvers decide.
    assert balance(commitment_code(grant.id)) == BIG and balance(pool_code(proposal.challenge_id)) == 20_000_000 - BIG
    assert _mails_to(grantee) == 0  # told once it is offered
    assert policy.can_accept(grantee, grant).error is Conflict
    with pytest.raises(Conflict):
        awards.accept_grant(grant=grant, actor=grantee)
    db.session.rollback()
    state = policy.award_approval_state(grant)
    assert (state.tier.approvals, state.missing, state.counted) == (2, 2, ())
    first, second = make_user("fund_manager", name="Ana First"), make_user("fund_manager", name="Ben Second")
    award_approvals.approve_award(grant=grant, actor=first)
    db.session.commit()
    assert grant.status == GrantStatus.PENDING_APPROVAL and _mails_to(grantee) == 0
    approval = db.session.execute(sa.select(GrantApproval)).scalar_one()
    assert (approval.approver_id, approval.limit_cents) == (first.id, 50_000_000)  # the default limit, kept
    assert policy.award_approval_state(grant).missing == 1
    award_approvals.approve_award(grant=grant, actor=second)
    db.session.commit()
    assert grant.status == GrantStatus.OFFERED and policy.award_approval_state(grant).complete
    assert _mails_to(grantee) == 1
    actions = _actions()
    assert actions.count("grant.award_approved") == 2 and actions.count("grant.offered") == 1
    assert actions.index("grant.offered") > max(i for i, a in enumerate(actions) if a == "grant.award_approved")
    awards.accept_grant(grant=grant, actor=grantee)
    db.session.commit()
    assert grant.status == GrantStatus.ACTIVE
    assert verify_ledger() == []


def test_who_may_approve_an_award(app, big, make_user, make_org):
    proposal, manager, grantee = big()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=BIG)
    db.session.commit()
    other = make_user("fund_manager")
    # The one who awarded never approves it; nor other roles, another organisation or the anonymous.
    assert policy.can_approve_award(manager, grant).error is PermissionDenied
    with pytest.raises(PermissionDenied, match="You awarded this grant"):
        award_approvals.approve_award(grant=grant, actor=manager)
    db.session.rollback()
    for who in (grantee, make_user("auditor"), make_user("admin"), make_user("innovator", organization=make_org()),
                AnonymousUserMixin()):
        assert policy.can_approve_award(who, grant).error is PermissionDenied, who
    # Within the approver's limit only.
    low = make_user("fund_manager")
    low.approval_limit_cents = 5_000_000  # USD 50,000: below this award
    refusal = policy.can_approve_award(low, grant)
    assert refusal.error is PermissionDenied and "above your approval limit of" in refusal.reason
    with pytest.raises(PermissionDenied):
        award_approvals.approve_award(grant=grant, actor=low)
    db.session.rollback()
    assert _count(GrantApproval) == 0
    # The same person counts once.
    award_approvals.approve_award(grant=grant, actor=other)
    db.session.commit()
    assert policy.can_approve_award(other, grant).error is Conflict
    with pytest.raises(Conflict, match="already approved"):
        award_approvals.approve_award(grant=grant, actor=other)
    db.session.rollback()
    assert _count(GrantApproval) == 1
    award_approvals.approve_award(grant=grant, actor=make_user("fund_manager"))
    db.session.commit()
    # Offered: nothing left to approve.
    assert policy.can_approve_award(make_user("fund_manager"), grant).error is Conflict


def test_above_the_senior_bound_a_senior_limit_is_needed(app, big, make_user):
    proposal, manager, _ = big(amount=8_000_000)
    app.config["APPROVAL_TIERS"] = [{"up_to_cents": 5_000_000, "approvals": 1},
                                    {"up_to_cents": None, "approvals": 2, "senior": 1}]
    app.config["SENIOR_APPROVAL_LIMIT_CENTS"] = 100_000_000
    try:
        grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=8_000_000)
        award_approvals.approve_award(grant=grant, actor=make_user("fund_manager"))  # one, not senior
        ordinary = make_user("fund_manager")
        refusal = policy.can_approve_award(ordinary, grant)
        assert refusal.error is PermissionDenied and "senior limit" in refusal.reason
        senior = make_user("fund_manager")
        senior.approval_limit_cents = 100_000_000
        award_approvals.approve_award(grant=grant, actor=senior)
        assert grant.status == GrantStatus.OFFERED
    finally:
        app.config.pop("APPROVAL_TIERS")
        app.config.pop("SENIOR_APPROVAL_LIMIT_CENTS")


def test_the_threshold_is_configurable(app, big):
    proposal, manager, _ = big()
    app.config["AWARD_APPROVAL_ABOVE_CENTS"] = 10_000_000
    try:
        grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=BIG)
    finally:
        app.config.pop("AWARD_APPROVAL_ABOVE_CENTS")
    assert grant.status == GrantStatus.OFFERED and not policy.award_has_approvals(grant)


def test_racing_approvers_count_once_each_and_offer_once(app, big, make_user):
    """Three fund managers approve a two-approval award at once: two approvals count, the third is refused
    (already offered), and the grant is offered (and its grantee told) once."""
    proposal, manager, grantee = big()
    grant_id = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=BIG).id
    approver_ids = [make_user("fund_manager").id for _ in range(3)]
    db.session.commit()

    def approve(n):
        with app.app_context():
            try:
                award_approvals.approve_award(grant=db.session.get(Grant, grant_id),
                                              actor=db.session.get(User, approver_ids[n]))
                db.session.commit()
                return "ok"
            except Conflict:
                db.session.rollback()
                return "conflict"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = sorted(pool.map(approve, range(3)))
    db.session.expire_all()
    assert outcomes == ["conflict", "ok", "ok"]
    grant = db.session.get(Grant, grant_id)
    assert grant.status == GrantStatus.OFFERED and _count(GrantApproval) == 2
    assert _actions().count("grant.offered") == 1 and _mails_to(grantee) == 1


# --- pages -----------------------------------------------------------------------------------------------------

def test_the_award_page_asks_for_a_reason_only_when_the_panel_did_not_select(client, login, big):
    selected, manager, _ = big(amount=1_000_000)
    login(client, manager)
    page = client.get(f"/proposals/{selected.id}/award").get_data(as_text=True)
    assert "override_reason" not in page
    unselected, _, grantee = big(recommended=False, amount=1_000_000)
    url = f"/proposals/{unselected.id}/award"
    page = client.get(url).get_data(as_text=True)
    assert 'name="override_reason"' in page and re.search(r'<label[^>]*for="override_reason"', page)
    token = get_csrf(client, url)
    refused = client.post(url, data={"csrf_token": token, "amount": "10000"})
    assert refused.status_code == 422 and "give a reason to override" in refused.get_data(as_text=True)
    short = client.post(url, data={"csrf_token": token, "amount": "10000", "override_reason": "because"})
    assert short.status_code == 422 and "at least 20 characters" in short.get_data(as_text=True)
    assert _count(Grant) == 0
    done = client.post(url, data={"csrf_token": token, "amount": "10000", "override_reason": REASON})
    assert done.status_code == 302
    grant = db.session.execute(sa.select(Grant)).scalar_one()
    page = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "This award departs from the panel" in page and REASON.replace("'", "&#39;") in page
    # The public page says so too, with the reason.
    public = client.application.test_client().get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "This award departs from the panel" in public and REASON.replace("'", "&#39;") in public
    login(client, grantee)
    assert "This award departs from the panel" in client.get(f"/grants/{grant.id}").get_data(as_text=True)


def test_the_grant_page_shows_the_approvals_and_the_approve_button(client, login, big, make_user):
    proposal, manager, grantee = big()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=BIG)
    approver = make_user("fund_manager", name="Ana Approver")
    db.session.commit()
    url = f"/grants/{grant.id}"
    login(client, manager)
    page = client.get(url).get_data(as_text=True)
    assert "Awarded, awaiting approval" in page and "0 of 2 approvals count so far." in page
    assert "Amounts up to" in page and "2 more approvals are needed" in page
    assert "Approve this award" not in page  # the one who awarded it
    assert "What happens next" in page
    login(client, approver)
    page = client.get(url).get_data(as_text=True)
    assert "Approve this award" in page
    token = get_csrf(client, url)
    response = client.post(f"/grants/{grant.id}/approve-award", data={"approve-csrf_token": token,
                                                                       "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    page = client.get(url).get_data(as_text=True)
    assert "1 of 2 approvals count so far." in page and "Ana Approver" in page
    assert "You have already approved this award" in page  # the button explains why not again
    login(client, grantee)
    page = client.get(url).get_data(as_text=True)
    assert "1 of 2 approvals count so far." in page and "Ana Approver" not in page  # no names for the grantee
    assert "I accept this agreement" not in page


def test_a_stale_factor_sends_the_approver_to_confirm_it_is_them(client, login, big, make_user):
    proposal, manager, _ = big()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=BIG)
    approver = make_user("fund_manager")
    db.session.commit()
    login(client, approver)
    token = get_csrf(client, f"/grants/{grant.id}")
    stale_factor(approver)
    response = client.post(f"/grants/{grant.id}/approve-award", data={"approve-csrf_token": token})
    assert response.status_code == 302 and "/confirm" in response.headers["Location"]
    assert _count(GrantApproval) == 0


def test_fund_managers_see_awards_to_approve_on_the_dashboard(client, login, big, make_user):
    proposal, manager, _ = big()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=BIG)
    approver = make_user("fund_manager")
    db.session.commit()
    login(client, approver)
    html = client.get("/dashboard").get_data(as_text=True)
    assert re.search(rf'href="/grants/{grant.id}">Awards to approve', html), html
    assert re.search(r"Awards to approve: 1", re.sub(r"<[^>]+>", "", html))
    login(client, manager)  # the one who awarded it has nothing to approve
    text = re.sub(r"<[^>]+>", "", client.get("/dashboard").get_data(as_text=True))
    assert "Awards to approve: 1" not in text
    award_approvals.approve_award(grant=grant, actor=approver)
    db.session.commit()
    login(client, approver)  # approved once: nothing more to do for them
    assert "Awards to approve: 1" not in re.sub(r"<[^>]+>", "", client.get("/dashboard").get_data(as_text=True))


def test_the_queue_leaves_out_awards_above_the_approvers_limit(app, big, make_user):
    proposal, manager, _ = big()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=BIG)
    db.session.commit()
    approver = make_user("fund_manager")
    assert queries.awards_to_approve(approver).count == 1 and queries.awards_to_approve(approver).first_id == grant.id
    approver.approval_limit_cents = BIG - 1
    assert queries.awards_to_approve(approver).count == 0
    assert queries.awards_to_approve(manager).count == 0
