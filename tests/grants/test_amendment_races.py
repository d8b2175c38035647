"""An amendment taking effect and a disbursement request of the same tranche at once (SQLite and PostgreSQL).

Each side runs like a separate request (its own app context, session and connection, committing once). The
amendment's acceptance locks the grant and its tranches, the request locks the tranche: exactly one of them
changes the tranche, and afterwards the ledger verifies and the grant's commitment equals its undisbursed
tranches.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from facility.accounts.models import User
from facility.core.errors import Conflict
from facility.disbursements.models import Disbursement
from facility.disbursements.requests import request_disbursement
from facility.extensions import db
from facility.grants import amendments
from facility.grants.amendment_models import AmendmentStatus, GrantAmendment
from facility.grants.models import Tranche, TrancheStatus
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code
from facility.ledger.verify import verify_ledger
from tests import factories


@pytest.fixture
def payable_grant(make_challenge, make_proposal, make_user, fund):
    """An active grant (USD 10,000 + 20,000) paid by bank, its first tranche's evidence accepted."""
    challenge = make_challenge()
    proposal = make_proposal(challenge)
    fund(challenge=challenge, pool=5_000_000)
    author, requester = make_user("fund_manager"), make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    grant = factories.grants.make_grant(proposal, author, grantee, amount_cents=3_000_000, rail="manual",
                                        accepted_reports=(1,))
    assert grant.tranches[0].status is TrancheStatus.ACCEPTED
    return grant, author, requester, grantee


def _in_request(app, work):
    def _run(_n):
        with app.app_context():
            try:
                work()
                db.session.commit()
                return "ok"
            except Conflict as error:
                db.session.rollback()
                return f"conflict: {error.detail}"
            finally:
                db.session.remove()
    return _run


@pytest.mark.parametrize("change", ["remove", "shrink"])
def test_amendment_and_disbursement_of_one_tranche_at_once(app, payable_grant, change):
    grant, author, requester, grantee = payable_grant
    first_id = grant.tranches[0].id
    rows = [{"id": t.id, "title": t.title, "amount_cents": t.amount_cents, "due_date": t.due_date}
            for t in grant.tranches]
    if change == "remove":
        rows = rows[1:]
    else:
        rows[0]["amount_cents"] = 600_000
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Race", tranches=rows)
    assert amendment.status is AmendmentStatus.APPROVED  # a decrease within the threshold
    db.session.commit()
    ids = {"amendment": amendment.id, "grantee": grantee.id, "requester": requester.id, "grant": grant.id}
    start = threading.Barrier(2)

    def accept():
        start.wait()
        amendments.accept_amendment(amendment=db.session.get(GrantAmendment, ids["amendment"]),
                                    actor=db.session.get(User, ids["grantee"]))

    def pay():
        start.wait()
        request_disbursement(tranche=db.session.get(Tranche, first_id), actor=db.session.get(User, ids["requester"]))

    db.session.commit()  # the test's own transaction must not hold the SQLite lock
    with ThreadPoolExecutor(max_workers=2) as pool:
        accepted, requested = pool.map(lambda work: _in_request(app, work)(0), [accept, pay])
    db.session.expire_all()

    amendment = db.session.get(GrantAmendment, ids["amendment"])
    tranche = db.session.get(Tranche, first_id)
    disbursements = db.session.execute(sa.select(Disbursement).where(Disbursement.tranche_id == first_id)).scalars().all()
    if change == "remove":
        # Exactly one wins: the tranche is cancelled and not being paid, or being paid and the amendment refused.
        assert sorted(r.split(":")[0] for r in (accepted, requested)) == ["conflict", "ok"], (accepted, requested)
        if accepted == "ok":
            assert tranche.status is TrancheStatus.CANCELLED and not disbursements
        else:
            assert "can no longer change it" in accepted
            assert tranche.status is TrancheStatus.DISBURSING and len(disbursements) == 1
            assert amendment.status is AmendmentStatus.APPROVED
    else:
        # The request either came first (the amendment is refused) or pays the amended amount.
        assert requested == "ok"
        if accepted == "ok":
            assert disbursements[0].amount_cents == tranche.amount_cents == 600_000
        else:
            assert "can no longer change it" in accepted and tranche.amount_cents == 1_000_000
            assert disbursements[0].amount_cents == 1_000_000
    assert verify_ledger() == []
    assert amendments.check_commitments_match_tranches() == []
    undisbursed = sum(t.amount_cents for t in db.session.execute(sa.select(Tranche).where(
        Tranche.grant_id == ids["grant"], Tranche.status.not_in([TrancheStatus.PAID, TrancheStatus.CANCELLED])))
        .scalars())
    assert balance(commitment_code(ids["grant"])) == undisbursed
