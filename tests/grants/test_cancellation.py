"""Cancelling a grant (grants.cancellation): unpaid tranches cancelled, the undisbursed commitment back in the
pool fund by fund, in one transaction; audited, the grantee told; refused when it must be; the pages."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.grants import awards, cancellation
from facility.grants.models import Grant, GrantStatus, TrancheStatus
from facility.ledger import balances as ledger_balances
from facility.ledger import services as ledger
from facility.ledger import verify as ledger_verify
from facility.ledger.models import LedgerTransaction
from facility.proposals.models import ProposalStatus
from tests import factories
from tests.conftest import csrf_token_from


def _fresh(grant_id: int) -> Grant:
    db.session.expire_all()
    return db.session.get(Grant, grant_id)


def test_cancelling_an_offered_grant_returns_its_whole_commitment_to_the_pool(grant_setup):
    grant, manager, grantee = grant_setup
    pool_before = ledger_balances.balance(ledger.pool_code(grant.challenge_id))
    assert ledger_balances.balance(ledger.commitment_code(grant.id)) == 3_000_000

    cancellation.cancel_grant(grant=grant, actor=manager, reason="  The grantee organisation was dissolved.  ")
    db.session.commit()

    grant = _fresh(grant.id)
    assert grant.status is GrantStatus.CANCELLED
    assert grant.cancel_reason == "The grantee organisation was dissolved."
    assert grant.cancelled_by_id == manager.id and grant.cancelled_at is not None
    assert {t.status for t in grant.tranches} == {TrancheStatus.CANCELLED}
    assert ledger_balances.balance(ledger.commitment_code(grant.id)) == 0
    assert ledger_balances.balance(ledger.pool_code(grant.challenge_id)) == pool_before + 3_000_000
    posting = db.session.execute(sa.select(LedgerTransaction).where(
        LedgerTransaction.key == f"grant-cancel:{grant.id}")).scalar_one()
    assert posting.kind == "grant-cancellation" and posting.meta["grant_id"] == grant.id
    assert grant.proposal.status is ProposalStatus.AWARDED  # no proposal transition leaves "awarded"
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "grant.cancelled")).scalar_one()
    assert event.details["returned_cents"] == 3_000_000 and event.details["from"] == "offered"
    mails = db.session.execute(sa.select(OutboundEmail).where(OutboundEmail.to_address == grantee.email)).scalars()
    assert any("cancelled" in mail.subject for mail in mails)
    assert ledger_verify.verify_ledger() == []


def test_a_grant_awaiting_approval_and_an_active_one_can_be_cancelled(grant_setup, active_grant):
    pending, manager, _ = grant_setup
    pending.status = GrantStatus.PENDING_APPROVAL  # as an award above the approval threshold leaves it
    db.session.commit()
    cancellation.cancel_grant(grant=pending, actor=manager, reason="The award was not approved.")
    active, other_manager, _ = active_grant
    cancellation.cancel_grant(grant=active, actor=other_manager, reason="The project stopped.")
    db.session.commit()
    assert _fresh(pending.id).status is GrantStatus.CANCELLED and _fresh(active.id).status is GrantStatus.CANCELLED


def test_a_reason_is_required_and_nothing_changes_without_one(grant_setup):
    grant, manager, _ = grant_setup
    with pytest.raises(ValidationFailed) as error:
        cancellation.cancel_grant(grant=grant, actor=manager, reason="   ")
    assert "reason" in error.value.errors
    db.session.rollback()
    grant = _fresh(grant.id)
    assert grant.status is GrantStatus.OFFERED and ledger_balances.balance(ledger.commitment_code(grant.id)) == 3_000_000


def test_a_cancelled_grant_cannot_be_cancelled_again_and_others_may_not_cancel(grant_setup, make_user):
    grant, manager, grantee = grant_setup
    for person in (grantee, make_user("auditor"), make_user("donor")):
        with pytest.raises(PermissionDenied):
            cancellation.cancel_grant(grant=grant, actor=person, reason="No.")
        db.session.rollback()
    cancellation.cancel_grant(grant=grant, actor=manager, reason="Duplicate award.")
    db.session.commit()
    with pytest.raises(Conflict, match="cannot be cancelled"):
        cancellation.cancel_grant(grant=_fresh(grant.id), actor=manager, reason="Again.")
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(LedgerTransaction.id)).where(
        LedgerTransaction.kind == "grant-cancellation")).scalar_one() == 1


def test_earmarked_money_returns_to_the_same_funds_share_of_the_pool(make_challenge, make_proposal, make_user):
    challenge = make_challenge()
    proposal = make_proposal(challenge, amounts=(1_000_000, 2_000_000))
    manager = make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    earmarked = ledger.create_fund(name="Water fund", earmark_kind="challenge", earmark_value=str(challenge.id),
                                   actor=None)
    unallocated = ledger.unallocated_account()
    ledger.post_transaction(key="test-earmarked", kind="contribution", actor=None, entries=[
        (ledger.fund_share(unallocated, earmarked), 1_200_000), (ledger.contributions_account(None), -1_200_000)])
    ledger.post_transaction(key="test-general", kind="contribution", actor=None, entries=[
        (unallocated, 4_000_000), (ledger.contributions_code(None), -4_000_000)])
    ledger.transfer(key="test-approve", source=ledger.UNALLOCATED, target=ledger.pool_account(challenge.id),
                    amount_cents=5_200_000, actor=None, kind="allocation")
    db.session.commit()
    before = ledger_balances.fund_balances(ledger.pool_code(challenge.id))
    assert before == {earmarked.id: 1_200_000, None: 4_000_000}
    grant = factories.grants.make_grant(proposal, manager, grantee, amount_cents=3_000_000)
    assert ledger_balances.fund_balances(ledger.commitment_code(grant.id)) == {earmarked.id: 1_200_000, None: 1_800_000}

    cancellation.cancel_grant(grant=grant, actor=manager, reason="Stopped.")
    db.session.commit()
    assert ledger_balances.fund_balances(ledger.pool_code(challenge.id)) == before
    posting = db.session.execute(sa.select(LedgerTransaction).where(
        LedgerTransaction.key == f"grant-cancel:{grant.id}")).scalar_one()
    assert posting.meta["funds"] == [[None, 1_800_000], [earmarked.id, 1_200_000]]  # general money first
    assert ledger_verify.verify_ledger() == []


def test_a_cancelled_grant_cannot_be_accepted_paid_out_or_reported(grant_setup):
    grant, manager, grantee = grant_setup
    cancellation.cancel_grant(grant=grant, actor=manager, reason="Stopped.")
    db.session.commit()
    with pytest.raises(Conflict):
        awards.accept_grant(grant=_fresh(grant.id), actor=grantee)
    db.session.rollback()


# --- pages ------------------------------------------------------------------------------------

def test_the_cancel_page_warns_asks_a_reason_and_a_confirmation(client, login, grant_setup):
    grant, manager, _ = grant_setup
    login(client, manager)
    page = client.get(f"/grants/{grant.id}")
    assert f'/grants/{grant.id}/cancel"' in page.get_data(as_text=True)  # "Cancel the grant" offered
    form = client.get(f"/grants/{grant.id}/cancel")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "cannot be undone" in html and 'name="reason"' in html
    token = csrf_token_from(html)
    unconfirmed = client.post(f"/grants/{grant.id}/cancel", data={"csrf_token": token, "reason": "Stopped."})
    assert unconfirmed.status_code == 422 and _fresh(grant.id).status is GrantStatus.OFFERED
    done = client.post(f"/grants/{grant.id}/cancel", data={"csrf_token": token, "reason": "The project stopped.",
                                                            "confirm": "y"})
    assert done.status_code == 302
    assert _fresh(grant.id).status is GrantStatus.CANCELLED
    html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "The project stopped." in html and 'id="cancellation-heading"' in html
    assert f'/grants/{grant.id}/cancel"' not in html  # no second cancellation offered
    again = client.get(f"/grants/{grant.id}/cancel")
    assert again.status_code == 409


def test_the_cancel_page_refuses_others(client, login, grant_setup, make_user):
    grant, _, grantee = grant_setup
    assert client.get(f"/grants/{grant.id}/cancel").status_code == 302  # signed out: to sign in
    login(client, grantee)
    assert client.get(f"/grants/{grant.id}/cancel").status_code == 403
    html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert f'/grants/{grant.id}/cancel"' not in html


def test_the_public_page_shows_a_cancellation(client, grant_setup):
    grant, manager, _ = grant_setup
    cancellation.cancel_grant(grant=grant, actor=manager, reason="Duplicate award.")
    db.session.commit()
    html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "This grant was cancelled." in html and "Duplicate award." in html
