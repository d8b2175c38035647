"""Hypothesis drives random amendments and payments of one grant: proposals of random schedules (amounts changed,
tranches removed and added), approvals, rejections, acceptances (some too big for the pool) and tranches paid in
between. After every step the ledger verifies, the grant's commitment equals its undisbursed tranches, its total
equals its tranches in force, and no money appears or vanishes between the pool, the commitment and the payments.
"""
from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from facility.core.errors import Conflict, ValidationFailed
from facility.extensions import db
from facility.grants import amendments, awards
from facility.grants.amendment_models import OPEN_AMENDMENT_STATUSES, AmendmentStatus, GrantAmendment
from facility.grants.models import TRANCHE_TRANSITIONS, UNPAID_TRANCHE_STATUSES, Grant, Tranche, TrancheStatus
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code, disbursed_account, pool_code, transfer
from facility.ledger.verify import verify_ledger

OUTCOMES: Counter[str] = Counter()
amounts = st.integers(1, 4_000_000)


class AmendmentMachine(RuleBasedStateMachine):
    scene: dict = {}  # set by the test: the people (committed once) and a counter

    def __init__(self) -> None:
        super().__init__()
        scene = self.scene
        scene["n"] += 1
        challenge = scene["make_challenge"](max_award_cents=10_000_000)
        proposal = scene["make_proposal"](challenge, org=scene["grantee"].organization)
        scene["fund"](challenge=challenge, pool=5_000_000)
        grant = awards.award_proposal(proposal=proposal, actor=scene["author"], amount_cents=3_000_000)
        awards.accept_grant(grant=grant, actor=scene["grantee"])
        db.session.commit()
        self.grant_id, self.challenge_id = grant.id, challenge.id
        self.money = balance(pool_code(challenge.id)) + balance(commitment_code(grant.id))
        self.paid = 0

    def teardown(self) -> None:
        db.session.rollback()

    @property
    def grant(self) -> Grant:
        return db.session.get(Grant, self.grant_id)

    def _open(self) -> GrantAmendment | None:
        return db.session.execute(sa.select(GrantAmendment).where(
            GrantAmendment.grant_id == self.grant_id, GrantAmendment.status.in_(OPEN_AMENDMENT_STATUSES))).scalar()

    def _try(self, name: str, work) -> None:
        try:
            work()
            db.session.commit()
            OUTCOMES[f"{name} ok"] += 1
        except (Conflict, ValidationFailed):
            db.session.rollback()
            OUTCOMES[f"{name} refused"] += 1

    @rule(data=st.data())
    def propose(self, data):
        rows = []
        for tranche in self.grant.tranches:
            if tranche.status == TrancheStatus.CANCELLED:
                continue
            row = {"id": tranche.id, "title": tranche.title, "amount_cents": tranche.amount_cents,
                   "due_date": tranche.due_date}
            what = data.draw(st.sampled_from(["keep", "keep", "amount", "remove"]))
            if what == "remove":
                continue
            if what == "amount":
                row["amount_cents"] = data.draw(amounts)
            rows.append(row)
        for n in range(data.draw(st.integers(0, 2))):
            rows.append({"title": f"New {n}", "amount_cents": data.draw(amounts), "due_date": None})
        self._try("propose", lambda: amendments.propose_amendment(
            grant=self.grant, actor=self.scene["author"], reason="Random", tranches=rows))

    @precondition(lambda self: self._open() is not None)
    @rule()
    def approve(self):
        self._try("approve", lambda: amendments.approve_amendment(amendment=self._open(), actor=self.scene["approver"]))

    @precondition(lambda self: self._open() is not None)
    @rule()
    def accept(self):
        self._try("accept", lambda: amendments.accept_amendment(amendment=self._open(), actor=self.scene["grantee"]))

    @precondition(lambda self: self._open() is not None)
    @rule()
    def reject(self):
        self._try("reject", lambda: amendments.reject_amendment(amendment=self._open(), actor=self.scene["grantee"],
                                                                reason="No"))

    @rule(data=st.data())
    def pay_a_tranche(self, data):
        """A tranche goes through review and payment (its statuses as milestones and disbursements move them)."""
        unpaid = [t for t in self.grant.tranches if t.status in UNPAID_TRANCHE_STATUSES]
        if not unpaid:
            return
        tranche: Tranche = data.draw(st.sampled_from(unpaid))
        for status in (TrancheStatus.EVIDENCE_SUBMITTED, TrancheStatus.ACCEPTED, TrancheStatus.DISBURSING):
            if TRANCHE_TRANSITIONS.allows(tranche.status, status):
                TRANCHE_TRANSITIONS.move(tranche, status)
        transfer(key=f"pay:{tranche.id}", source=commitment_code(self.grant_id), target=disbursed_account(),
                 amount_cents=tranche.amount_cents, actor=None, kind="disbursement")
        TRANCHE_TRANSITIONS.move(tranche, TrancheStatus.PAID)
        self.paid += tranche.amount_cents
        db.session.commit()
        OUTCOMES["paid"] += 1

    @invariant()
    def money_is_where_the_tranches_say(self):
        db.session.expire_all()
        grant = self.grant
        assert amendments.check_commitments_match_tranches() == []
        assert verify_ledger() == []
        in_force = [t for t in grant.tranches if t.status != TrancheStatus.CANCELLED]
        assert grant.amount_cents == sum(t.amount_cents for t in in_force)
        assert balance(pool_code(self.challenge_id)) + balance(commitment_code(self.grant_id)) + self.paid == self.money
        open_count = db.session.execute(sa.select(sa.func.count(GrantAmendment.id)).where(
            GrantAmendment.grant_id == self.grant_id, GrantAmendment.status.in_(OPEN_AMENDMENT_STATUSES))).scalar_one()
        assert open_count <= 1
        db.session.rollback()


def test_random_amendments_and_payments_keep_the_commitment_right(app, make_challenge, make_proposal, make_user,
                                                                  make_org, fund):
    grantee_org = make_org(name="Stateful grantee")
    AmendmentMachine.scene = {
        "n": 0, "make_challenge": make_challenge, "make_proposal": make_proposal, "fund": fund,
        "author": make_user("fund_manager"), "approver": make_user("fund_manager"),
        "grantee": make_user("innovator", organization=grantee_org)}
    OUTCOMES.clear()
    try:
        run_state_machine_as_test(AmendmentMachine, settings=settings(
            max_examples=15, stateful_step_count=15, deadline=None, database=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
    finally:
        AmendmentMachine.scene = {}
    for outcome in ("propose ok", "propose refused", "accept ok", "paid"):
        assert OUTCOMES[outcome] > 0, OUTCOMES
    assert db.session.execute(sa.select(sa.func.count(GrantAmendment.id)).where(
        GrantAmendment.status == AmendmentStatus.ACCEPTED)).scalar_one() > 0
