"""The money and the audit trail of `seed-scale` (`facility.seed_scale`): grants and tranches, the ledger
(contributions, pools, awards, payments, two entries a transaction), disbursements and the signed, chained
audit events."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from facility.audit.keys import keys_from_config
from facility.audit.models import AuditEvent
from facility.audit.services import GENESIS, keyed_hash
from facility.core.database import lock_audit_chain
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.models import (
    Contribution,
    ContributionMethod,
    ContributionStatus,
    Grant,
    GrantStatus,
    PayoutRail,
    Tranche,
    TrancheStatus,
)
from facility.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from facility.ledger.services import DISBURSED, UNALLOCATED, commitment_code, contributions_code, pool_code
from facility.seed_scale_rows import FUNDED_STATES, GRANT_CENTS, TRANCHES, ChallengePlan, Scale, Writer

# --- grants and money ---------------------------------------------------------------------------------

def seed_grants(w: Writer, scale: Scale, people: dict, challenges: list[ChallengePlan], proposals: dict[int, dict],
            now: datetime) -> list[dict]:
    """Grants of the awarded proposals: 70 % active (two tranches paid, one accepted, one pending; one in
    twenty has a payment awaiting approval), 20 % completed, 10 % offered."""
    grant_id, tranche_id = w.next_id(Grant), w.next_id(Tranche)
    grants: list[dict] = []
    tranches: list[dict] = []
    for challenge in (c for c in challenges if c.state == "finished"):
        for pid in challenge.proposals[:challenge.grants]:
            n = len(grants)
            gid = grant_id + n
            status = (GrantStatus.OFFERED if n % 10 == 9 else GrantStatus.COMPLETED if n % 10 >= 7
                      else GrantStatus.ACTIVE)
            awarded = now - timedelta(days=90 + n % 200)
            accepted = status != GrantStatus.OFFERED
            grants.append({"id": gid, "proposal_id": pid, "challenge_id": challenge.id,
                           "organization_id": proposals[pid]["organization_id"], "amount_cents": GRANT_CENTS,
                           "status": status, "awarded_by_id": people["managers"][0], "awarded_at": awarded,
                           "accepted_by_id": proposals[pid]["created_by_id"] if accepted else None,
                           "accepted_at": awarded + timedelta(days=5) if accepted else None,
                           "agreement_text": "The grantee delivers the milestones below; tranches follow evidence.",
                           "created_at": awarded, "updated_at": now, "_requested": status == GrantStatus.ACTIVE
                           and n % 20 == 0})
            for k in range(TRANCHES):
                if status == GrantStatus.COMPLETED:
                    t_status = TrancheStatus.PAID
                elif status == GrantStatus.OFFERED:
                    t_status = TrancheStatus.PENDING
                else:
                    t_status = [TrancheStatus.PAID, TrancheStatus.PAID, TrancheStatus.ACCEPTED,
                                TrancheStatus.PENDING][k]
                    if k == 2 and grants[-1]["_requested"]:
                        t_status = TrancheStatus.DISBURSING
                tranches.append({"id": tranche_id + len(tranches), "grant_id": gid, "position": k + 1,
                                 "title": f"Milestone {k + 1}", "deliverable": "Evidence of the milestone's delivery.",
                                 "due_date": (awarded + timedelta(days=90 * (k + 1))).date(),
                                 "amount_cents": GRANT_CENTS // TRANCHES, "status": t_status})
    w.insert(Grant, ({k: v for k, v in g.items() if not k.startswith("_")} for g in grants))
    w.insert(Tranche, tranches)
    for grant in grants:
        index = (grant["id"] - grant_id) * TRANCHES
        grant["_tranches"] = tranches[index:index + TRANCHES]
    return grants


class _Books:
    """Ledger rows being built: accounts (with the running balance of each), transactions and entries."""

    def __init__(self, w: Writer, now: datetime) -> None:
        self.account_id, self.transaction_id = w.next_id(LedgerAccount), w.next_id(LedgerTransaction)
        self.entry_id = w.next_id(LedgerEntry)
        self.accounts: dict[str, dict] = {}
        self.new_accounts = 0
        self.transactions: list[dict] = []
        self.entries: list[dict] = []
        self.now = now

    def account(self, code: str, name: str, kind: AccountKind, guarded: bool, *, shared: bool = False) -> dict:
        """The account `code`, new here; a `shared` one (the facility's own) may be stored already."""
        if shared and code not in self.accounts:
            stored = db.session.connection().execute(sa.select(LedgerAccount.id, LedgerAccount.balance_cents)
                                                     .where(LedgerAccount.code == code)).one_or_none()
            if stored is not None:
                self.accounts[code] = {"id": stored.id, "code": code, "balance_cents": stored.balance_cents,
                                       "_stored": True}
        if code not in self.accounts:
            self.accounts[code] = {"id": self.account_id + self.new_accounts, "code": code, "name": name,
                                   "kind": kind, "guarded": guarded, "balance_cents": 0, "created_at": self.now,
                                   "base_code": code, "fund_id": None}
            self.new_accounts += 1
        return self.accounts[code]

    def post(self, *, key: str, kind: str, description: str, debit: dict, credit: dict, cents: int,
             at: datetime, actor: int, meta: dict) -> int:
        tid = self.transaction_id + len(self.transactions)
        self.transactions.append({"id": tid, "key": key, "kind": kind, "description": description, "created_at": at,
                                  "created_by_id": actor, "metadata": meta})
        for account, amount in ((debit, cents), (credit, -cents)):
            self.entries.append({"id": self.entry_id + len(self.entries), "transaction_id": tid,
                                 "account_id": account["id"], "amount_cents": amount})
            account["balance_cents"] += amount
        return tid


def seed_ledger(w: Writer, scale: Scale, people: dict, challenges: list[ChallengePlan], grants: list[dict],
            now: datetime) -> None:
    """Contributions in, pools approved, awards committed, tranches paid: two entries a transaction, in date
    order; contributions fill the ledger up to its scale."""
    books = _Books(w, now)
    manager = people["managers"][0]
    unallocated = books.account(UNALLOCATED, "Facility unallocated funds", AccountKind.ASSET, True, shared=True)
    disbursed = books.account(DISBURSED, "Disbursed to grantees", AccountKind.EXPENSE, False, shared=True)
    funded = [c for c in challenges if c.state in FUNDED_STATES]
    paid = [t for g in grants for t in g["_tranches"] if t["status"] == TrancheStatus.PAID]
    needed = sum(c.pool_cents for c in funded)
    others = len(funded) + len(grants) + len(paid)
    count = max(scale.donors, scale.ledger_entries // 2 - others)
    raised = needed + needed // 10 + count  # a tenth stays unallocated
    contribution_id = w.next_id(Contribution)
    contributions = []
    start = now - timedelta(days=730)
    for n in range(count):
        cid = contribution_id + n
        donor = n % scale.donors
        cents = raised // count + (raised % count if n == count - 1 else 0)
        at = start + timedelta(seconds=n * (300 * 86400 // count))
        income = books.account(contributions_code(people["donor_orgs"][donor]),
                               f"Contributions of Donor Foundation {donor + 1}", AccountKind.INCOME, False)
        tid = books.post(key=f"contribution:{cid}", kind="contribution", description=f"Contribution UIF-C-{cid:06d}",
                         debit=unallocated, credit=income, cents=cents, at=at, actor=manager,
                         meta={"contribution_id": cid, "method": "wire", "fund_id": None})
        contributions.append({"id": cid, "donor_organization_id": people["donor_orgs"][donor],
                              "pledged_by_id": people["donors"][donor], "amount_cents": cents,
                              "method": ContributionMethod.WIRE, "status": ContributionStatus.RECEIVED,
                              "reference": f"UIF-C-{cid:06d}", "received_cents": cents, "received_on": at.date(),
                              "bank_reference": f"WIRE-{cid}", "confirmed_by_id": manager, "received_at": at,
                              "ledger_transaction_id": tid, "created_at": at, "updated_at": at})
    at = start + timedelta(days=310)
    for challenge in funded:
        pool = books.account(pool_code(challenge.id), f"Prize pool of challenge {challenge.id}", AccountKind.ASSET, True)
        books.post(key=f"approve-challenge:{challenge.id}", kind="challenge_approval",
                   description=f"Prize pool of challenge {challenge.id}", debit=pool, credit=unallocated,
                   cents=challenge.pool_cents, at=at, actor=manager,
                   meta={"challenge_id": challenge.id, "funds": [[None, challenge.pool_cents]]})
    for grant in grants:
        commitment = books.account(commitment_code(grant["id"]), f"Commitment of grant {grant['id']}",
                                   AccountKind.ASSET, True)
        grant["_transaction"] = books.post(
            key=f"award:{grant['proposal_id']}", kind="award", description=f"Award to proposal {grant['proposal_id']}",
            debit=commitment, credit=books.accounts[pool_code(grant["challenge_id"])], cents=grant["amount_cents"],
            at=at + timedelta(days=10), actor=manager,
            meta={"proposal_id": grant["proposal_id"], "grant_id": grant["id"], "challenge_id": grant["challenge_id"],
                  "funds": [[None, grant["amount_cents"]]]})
    disbursements = _disbursements(w, books, people, grants, disbursed, at + timedelta(days=40))
    w.insert(LedgerAccount, (a for a in books.accounts.values() if "_stored" not in a))
    table = LedgerAccount.__table__
    for account in (a for a in books.accounts.values() if "_stored" in a):
        w.connection.execute(sa.update(table).where(table.c.id == account["id"])
                             .values(balance_cents=account["balance_cents"]))
    w.insert(LedgerTransaction, books.transactions)
    w.insert(LedgerEntry, books.entries)
    w.insert(Contribution, contributions)
    w.connection.execute(sa.update(Grant.__table__).where(Grant.__table__.c.id == sa.bindparam("gid"))
                         .values(ledger_transaction_id=sa.bindparam("tid")),
                         [{"gid": g["id"], "tid": g["_transaction"]} for g in grants])
    w.insert(Disbursement, disbursements)


def _disbursements(w: Writer, books: _Books, people: dict, grants: list[dict], disbursed: dict,
                   at: datetime) -> list[dict]:
    """One paid disbursement (with its posting) per paid tranche, one awaiting approval per disbursing one."""
    first = w.next_id(Disbursement)
    rows: list[dict] = []
    manager, approver = people["managers"][0], people["managers"][1]
    for grant in grants:
        commitment = books.accounts[commitment_code(grant["id"])]
        for tranche in grant["_tranches"]:
            if tranche["status"] not in (TrancheStatus.PAID, TrancheStatus.DISBURSING):
                continue
            did = first + len(rows)
            row = {"id": did, "tranche_id": tranche["id"], "live_tranche_id": tranche["id"], "grant_id": grant["id"],
                   "amount_cents": tranche["amount_cents"], "rail": PayoutRail.MANUAL,
                   "status": DisbursementStatus.REQUESTED, "required_approvals": 1, "requested_by_id": manager,
                   "created_at": at, "updated_at": at}
            if tranche["status"] == TrancheStatus.PAID:
                tid = books.post(key=f"disbursement:{did}", kind="disbursement",
                                 description=f"Disbursement {did} of grant {grant['id']}", debit=disbursed,
                                 credit=commitment, cents=tranche["amount_cents"], at=at, actor=approver,
                                 meta={"disbursement_id": did, "grant_id": grant["id"], "tranche_id": tranche["id"]})
                row.update(status=DisbursementStatus.PAID, paid_at=at, ledger_transaction_id=tid,
                           bank_reference=f"BANK-{did}")
            rows.append(row)
            at += timedelta(minutes=7)
    return rows


# --- the audit trail ---------------------------------------------------------------------------------

AUDIT_ACTIONS = (("contribution.confirmed", "Contribution"), ("challenge.approved", "Challenge"),
                 ("grant.awarded", "Grant"), ("disbursement.approved", "Disbursement"),
                 ("proposal.submitted", "Proposal"), ("review.assigned", "Assignment"), ("city.verified", "City"))


def seed_audit(w: Writer, scale: Scale, people: dict, now: datetime) -> None:
    """Audit events signed and chained exactly as `audit.services.record` does, after the chain's head."""
    lock_audit_chain()
    head = w.connection.execute(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    prev = head or GENESIS
    keys = keys_from_config(current_app.config)
    first = w.next_id(AuditEvent)
    start = now - timedelta(days=365)
    managers = people["managers"]

    def events() -> Iterator[dict]:
        nonlocal prev
        for n in range(scale.audit_events):
            action, object_type = AUDIT_ACTIONS[n % len(AUDIT_ACTIONS)]
            who = managers[n % len(managers)]
            event = AuditEvent(occurred_at=start + timedelta(seconds=n * (360 * 86400 // scale.audit_events)),
                               actor_id=who, actor_label=f"fund.manager{n % len(managers) + 1}.{people['run']}"
                               f"@scale.facility", action=action, object_type=object_type, object_id=str(n + 1),
                               ip_address="127.0.0.1", details={"seed": "scale", "n": n})
            digest = keyed_hash(prev, event, keys.signing_id, keys.signing_key)
            yield {"id": first + n, "occurred_at": event.occurred_at, "actor_id": who, "actor_label": event.actor_label,
                   "action": action, "object_type": object_type, "object_id": event.object_id,
                   "ip_address": event.ip_address, "details": event.details, "prev_hash": prev, "hash": digest,
                   "key_id": keys.signing_id}
            prev = digest

    w.insert(AuditEvent, events())
