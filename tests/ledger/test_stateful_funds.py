"""Hypothesis drives random money flows through the ledger's funds against a shadow model.

Contributions into the general fund or an earmarked fund (a focus area, a country group, a region,
one challenge), allocations to prize pools drawing only the funds the challenge is eligible for (in
`challenges.funding`'s order), awards to grant commitments as tranches, disbursements of a tranche,
amendments (pool <-> commitment, a tranche grows or shrinks), cancellations (the commitment back to
the pool, general money first), refunds (a fund's paid money back to its share of the pool). Every
movement goes through `ledger.services.transfer`, the way the services move money.

After every step: every transaction balances and every check of `ledger-verify` passes (the earmark
check `grants.attribution.check_earmarks_within_purpose` among them), no fund share or guarded account
is below zero, the stored shares equal the model's, no earmark holds money of a challenge it may not
pay for, and each grant's commitment equals its undisbursed tranches.
"""
from __future__ import annotations

from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from facility.accounts.models import Organization, OrgKind, OrgType
from facility.challenges.funding import eligible
from facility.challenges.models import Challenge, ChallengeStatus, FocusArea
from facility.cities.models import City, ClimateRisk
from facility.core.errors import Conflict
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants.amendments import check_commitments_match_tranches
from facility.grants.models import Grant, GrantStatus
from facility.ledger import balances as ledger_balances
from facility.ledger import services as ledger
from facility.ledger import verify as ledger_verify
from facility.ledger.models import LedgerAccount
from facility.proposals.models import Proposal, ProposalStatus
from tests.conftest import _reset_database

U, D = ledger.UNALLOCATED, ledger.DISBURSED
GENERAL = ledger.GENERAL_FUND
# (country, focus area) of the three challenges; grants 0..4 belong to challenges GRANT_CHALLENGE[i].
CHALLENGES = (("UGA", "inclusive_innovation"), ("FJI", "public_interest_tech"), ("IND", "inclusive_innovation"))
GRANT_CHALLENGE = (0, 1, 2, 0, 1)
EARMARKS = (None, ("focus_area", "inclusive_innovation"), ("focus_area", "public_interest_tech"),
            ("country_group", "SIDS"), ("country_group", "LDC"), ("region", "Asia"), ("region", "Europe"),
            ("challenge", 1), ("challenge", 2))  # ("challenge", i): the i-th challenge
amounts = st.one_of(st.integers(1, 5_000), st.integers(1, 10**8))
OUTCOMES: Counter[str] = Counter()


def _world() -> tuple[list[Challenge], list[Grant]]:
    """Three published challenges (in Uganda, Fiji and India) and five grants, inserted as rows."""
    now = utcnow()
    challenges, grants = [], []
    for n, (country, area) in enumerate(CHALLENGES):
        city = City(organization=Organization(name=f"City {n}", kind=OrgKind.CITY, country=country), name=f"City {n}",
                    country=country, population=100_000, informal_settlement_share_pct=20,
                    climate_risk=ClimateRisk.LOW, verified_at=now)
        challenges.append(Challenge(city=city, title=f"Challenge {n}", summary="s", description="d",
                                    focus_area=FocusArea(area), sdg_targets=[], prize_pool_cents=1,
                                    max_award_cents=1, opens_at=now - timedelta(days=9),
                                    closes_at=now - timedelta(days=1), status=ChallengeStatus.PUBLISHED))
    for n, index in enumerate(GRANT_CHALLENGE):
        org = Organization(name=f"Grantee {n}", kind=OrgKind.INNOVATOR, org_type=OrgType.NGO, country="KEN")
        proposal = Proposal(challenge=challenges[index], organization=org, title=f"P {n}", summary="s",
                            requested_cents=1, status=ProposalStatus.AWARDED, submitted_at=now)
        grants.append(Grant(proposal=proposal, challenge=challenges[index], organization=org, amount_cents=1,
                            status=GrantStatus.ACTIVE, awarded_at=now))
    db.session.add_all(challenges + grants)
    db.session.flush()
    # Every purpose account open from the start, as approving, awarding and paying open them.
    ledger.unallocated_account()
    ledger.disbursed_account()
    for challenge in challenges:
        ledger.pool_account(challenge.id)
    for grant in grants:
        ledger.commitment_account(grant.id)
    db.session.commit()
    return challenges, grants


class FundsMachine(RuleBasedStateMachine):
    app = None  # set by the test

    def __init__(self) -> None:
        super().__init__()
        db.session.remove()
        _reset_database(self.app)
        challenges, grants = _world()
        self.challenge_ids = [c.id for c in challenges]
        self.grant_ids = [g.id for g in grants]
        # What `eligible` needs of a challenge, kept off the session.
        self.views = [SimpleNamespace(id=c.id, focus_area=c.focus_area, city=SimpleNamespace(country=c.city.country))
                      for c in challenges]
        self.funds: dict[int, tuple[str, str]] = {}  # fund id -> earmark
        self.shares: dict[tuple[str, int | None], int] = {}  # (purpose code, fund) -> cents
        self.tranches: dict[int, list[int]] = {g: [] for g in range(len(self.grant_ids))}  # undisbursed
        self.paid: dict[tuple[int, int | None], int] = {}  # (grant index, fund) -> paid and not refunded
        self.cancelled: set[int] = set()
        self.serial = 0

    def teardown(self) -> None:
        db.session.rollback()
        db.session.remove()

    # --- helpers ---------------------------------------------------------------------------

    def pool(self, c: int) -> str:
        return ledger.pool_code(self.challenge_ids[c])

    def commitment(self, g: int) -> str:
        return ledger.commitment_code(self.grant_ids[g])

    def held(self, code: str, fund: int | None) -> int:
        return self.shares.get((code, fund), 0)

    def _order(self, code: str, funds: list[int | None] | None, general_first: bool = False) -> list[int | None]:
        """`transfer`'s drawing order over the model's shares of `code`."""
        present = sorted({f for (c, f) in self.shares if c == code and f is not None})
        if funds is not None:
            return [f for f in dict.fromkeys(funds) if f in present or (f is None and (code, None) in self.shares)]
        general = [None] if (code, None) in self.shares else []
        return general + present if general_first else present + general

    def _transfer(self, name: str, *, source: str, target: str, amount: int, funds=None, general_first=False,
                  guarded_source: bool = True) -> bool:
        """Move `amount` as `transfer` does, and check the ledger did what the model expects."""
        order = self._order(source, funds, general_first)
        split, left = [], amount
        for fund in order:
            part = min(left, max(self.held(source, fund), 0)) if guarded_source else left
            if part > 0:
                split.append((fund, part))
                left -= part
            if left == 0:
                break
        self.serial += 1
        account = self._target_account(target)
        try:
            txn = ledger.transfer(key=f"model-{name}:{self.serial}", source=source, target=account,
                                  amount_cents=amount, funds=funds, general_first=general_first, actor=None,
                                  kind=name)
        except Conflict:
            db.session.rollback()
            assert left > 0, f"{name}: refused a transfer the funds cover"
            OUTCOMES[f"{name} refused"] += 1
            return False
        db.session.commit()
        assert left == 0, f"{name}: booked a transfer the funds do not cover"
        assert [tuple(pair) for pair in txn.meta["funds"]] == split
        for fund, part in split:
            self.shares[(source, fund)] = self.held(source, fund) - part
            self.shares[(target, fund)] = self.held(target, fund) + part
        OUTCOMES[f"{name} booked"] += 1
        self.last_split = split
        return True

    def _target_account(self, code: str) -> LedgerAccount:
        if code == D:
            return ledger.disbursed_account()
        if code.startswith("challenge:"):
            return ledger.pool_account(int(code.split(":")[1]))
        return ledger.commitment_account(int(code.split(":")[1]))

    def _eligible_order(self, c: int) -> list[int | None]:
        """`funding.drawing_plan`'s order for challenge `c`: its own earmarks, other eligible ones, general."""
        view = self.views[c]
        own = [f for f, (k, v) in sorted(self.funds.items()) if k == "challenge" and eligible(k, v, view)]
        other = [f for f, (k, v) in sorted(self.funds.items()) if k != "challenge" and eligible(k, v, view)]
        return [*own, *other, GENERAL]

    # --- rules ------------------------------------------------------------------------------

    @initialize(amount=st.integers(10, 10**8))
    def funded_start(self, amount):
        self._contribute(None, amount)
        self._transfer("allocation", source=U, target=self.pool(0), amount=amount // 2,
                       funds=self._eligible_order(0))
        if self._transfer("award", source=self.pool(0), target=self.commitment(0), amount=amount // 4):
            self.tranches[0].append(amount // 4)
        OUTCOMES.subtract(["allocation booked", "award booked"])  # the start does not count as exercised

    def _contribute(self, earmark, amount):
        fund = None
        if earmark is not None:
            kind, value = earmark
            value = str(self.challenge_ids[value]) if kind == "challenge" else value
            fund = ledger.create_fund(name=f"Fund {kind}={value}", earmark_kind=kind, earmark_value=value, actor=None)
            self.funds[fund.id] = (kind, value)
        self.serial += 1
        ledger.post_transaction(key=f"model-contribution:{self.serial}", kind="contribution", actor=None, entries=[
            (ledger.fund_share(ledger.unallocated_account(), fund), amount),
            (ledger.contributions_account(1), -amount)])
        db.session.commit()
        fund_id = fund.id if fund is not None else None
        self.shares[(U, fund_id)] = self.held(U, fund_id) + amount
        self.shares.setdefault((U, None), self.held(U, None))

    @staticmethod
    def _amount(data, available: int) -> int:
        """Mostly an amount that fits, otherwise one that does not."""
        if available > 0 and data.draw(st.sampled_from([True, True, True, False])):
            return data.draw(st.integers(1, available))
        return data.draw(st.integers(available + 1, available + 10**6))

    @rule(earmark=st.sampled_from(EARMARKS), amount=amounts)
    def contribute(self, earmark, amount):
        self._contribute(earmark, amount)
        OUTCOMES["contribution booked"] += 1

    @rule(c=st.integers(0, len(CHALLENGES) - 1), data=st.data())
    def allocate(self, c, data):
        order = self._eligible_order(c)
        amount = self._amount(data, sum(max(self.held(U, f), 0) for f in order))
        self._transfer("allocation", source=U, target=self.pool(c), amount=amount, funds=order)

    def _live(self, data, *, with_commitment: bool = False) -> int | None:
        live = [g for g in range(len(self.grant_ids)) if g not in self.cancelled
                and (not with_commitment or self.tranches[g])]
        return data.draw(st.sampled_from(live)) if live else None

    def _pool_holds(self, c: int) -> int:
        return sum(max(v, 0) for (code, _f), v in self.shares.items() if code == self.pool(c))

    @rule(data=st.data())
    def award(self, data):
        live = [g for g in range(len(self.grant_ids)) if g not in self.cancelled]
        funded = [g for g in live if self._pool_holds(GRANT_CHALLENGE[g]) > 0]
        if not live:
            return
        g = data.draw(st.sampled_from(funded or live))
        pool = self.pool(GRANT_CHALLENGE[g])
        amount = self._amount(data, self._pool_holds(GRANT_CHALLENGE[g]))
        if self._transfer("award", source=pool, target=self.commitment(g), amount=amount):
            self.tranches[g].append(amount)

    @rule(data=st.data())
    def disburse(self, data):
        g = self._live(data, with_commitment=True)
        if g is None:
            return
        amount = self.tranches[g][0]
        assert self._transfer("disbursement", source=self.commitment(g), target=D, amount=amount)
        self.tranches[g].pop(0)
        for fund, part in self.last_split:
            self.paid[(g, fund)] = self.paid.get((g, fund), 0) + part

    @rule(data=st.data(), increase=st.booleans())
    def amend(self, data, increase):
        """An amendment: a tranche grows (pool => commitment, refused when the pool is short) or shrinks
        (commitment => pool, unrestricted money first)."""
        g = self._live(data, with_commitment=True)
        if g is None:
            return
        index = data.draw(st.integers(0, len(self.tranches[g]) - 1))
        if increase:
            amount = data.draw(amounts)
            if self._transfer("amendment", source=self.pool(GRANT_CHALLENGE[g]), target=self.commitment(g),
                              amount=amount):
                self.tranches[g][index] += amount
        elif self.tranches[g][index] > 1:
            amount = data.draw(st.integers(1, self.tranches[g][index] - 1))
            assert self._transfer("amendment", source=self.commitment(g), target=self.pool(GRANT_CHALLENGE[g]),
                                  amount=amount, general_first=True)
            self.tranches[g][index] -= amount

    @rule(data=st.data())
    def cancel(self, data):
        g = self._live(data, with_commitment=True)
        if g is None:
            return
        assert self._transfer("cancellation", source=self.commitment(g), target=self.pool(GRANT_CHALLENGE[g]),
                              amount=sum(self.tranches[g]), general_first=True)
        self.tranches[g] = []
        self.cancelled.add(g)

    @precondition(lambda self: any(v > 0 for v in self.paid.values()))
    @rule(data=st.data())
    def refund(self, data):
        """Money a grantee returns: each fund's paid share back to the same fund's share of the pool."""
        g, fund = data.draw(st.sampled_from(sorted((k for k, v in self.paid.items() if v > 0),
                                                   key=lambda k: (k[0], k[1] or 0))))
        amount = data.draw(st.integers(1, self.paid[(g, fund)]))
        assert self._transfer("refund", source=D, target=self.pool(GRANT_CHALLENGE[g]), amount=amount,
                              funds=[fund], guarded_source=False)
        self.paid[(g, fund)] -= amount

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def ledger_is_sound(self):
        # Every check but the grants' tranche check: this machine keeps its tranches in the model (checked by
        # `commitments_equal_undisbursed_tranches`), not as rows moved by the grants package.
        assert [problem for _name, check in ledger_verify.ledger_checks() if check is not check_commitments_match_tranches
                for problem in check()] == []

    @invariant()
    def shares_match_the_model(self):
        rows = db.session.execute(sa.select(LedgerAccount.base_code, LedgerAccount.fund_id, LedgerAccount.balance_cents,
                                            LedgerAccount.guarded)).all()
        stored = {(code, fund): cents for code, fund, cents, _g in rows if not code.startswith("donor:")}
        assert {k: v for k, v in stored.items() if v} == {k: v for k, v in self.shares.items() if v}
        assert all(cents >= 0 for _c, _f, cents, guarded in rows if guarded)
        db.session.rollback()

    @invariant()
    def earmarks_stay_in_their_purpose(self):
        for (code, fund), cents in self.shares.items():
            if fund is None or not cents or code in (U, D):
                continue
            c = next(i for i in range(len(CHALLENGES)) if code == self.pool(i)) if code.startswith("challenge:") \
                else GRANT_CHALLENGE[next(g for g in range(len(self.grant_ids)) if code == self.commitment(g))]
            kind, value = self.funds[fund]
            assert eligible(kind, value, self.views[c]), (code, fund, kind, value)

    @invariant()
    def commitments_equal_undisbursed_tranches(self):
        for g in range(len(self.grant_ids)):
            assert ledger_balances.balance(self.commitment(g)) == sum(self.tranches[g])
        db.session.rollback()


def test_random_fund_flows_keep_earmarks_in_their_purpose(app):
    FundsMachine.app = app
    OUTCOMES.clear()
    try:
        run_state_machine_as_test(FundsMachine, settings=settings(
            max_examples=10, stateful_step_count=30, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow]))
    finally:
        FundsMachine.app = None
    for kind in ("contribution", "allocation", "award", "disbursement", "amendment", "cancellation", "refund"):
        assert OUTCOMES[f"{kind} booked"] > 0, OUTCOMES
    for kind in ("allocation", "award"):
        assert OUTCOMES[f"{kind} refused"] > 0, OUTCOMES
