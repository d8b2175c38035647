"""A facility at full scale for `seed-scale` (issue 15, "Performance"): bulk rows through the real schema.

At factor 1: 200 verified cities in 60 countries, 10,000 challenges in every state, 100,000 proposals,
about 300,000 reviews (three per proposal that left its draft, five scores each), 10,000 grants with
40,000 tranches, a ledger of about 1,000,000 entries, 100,000 audit events and contributions from 1,000
donors. Every count scales with `factor` (never below a small minimum, so a tiny factor still has every
kind of row).

Rows go in with SQLAlchemy Core `insert()` executemany in batches, with ids chosen here (after the
highest already stored), so the money is consistent by construction: each ledger transaction is two
entries summing to zero, each stored balance is the sum of its entries, each grant's commitment equals
its unpaid tranches, each paid tranche has one paid disbursement with one posting. Audit events are
signed and chained exactly as `audit.services.record` does (`keyed_hash`), after the chain's head.
Flushes, never commits: the command commits.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from facility.accounts import totp
from facility.accounts.demo import DEMO_TOTP_SECRET
from facility.accounts.models import Organization, OrgKind, OrgType, Role, User, UserRole
from facility.accounts.services import hash_password
from facility.challenges.models import Challenge, ChallengeStatus, Criterion, FocusArea
from facility.cities.countries import read_copy
from facility.cities.models import City, ClimateRisk
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals.models import Proposal, ProposalStatus
from facility.review.models import Assignment, PanelMember, Review, ReviewRound, ReviewStatus, RoundKind, Score
from facility.review.statistics import weighted_hundredths
from facility.seed_scale_money import seed_audit, seed_grants, seed_ledger
from facility.seed_scale_rows import (
    CHALLENGE_STATES,
    FUNDED_STATES,
    GRANT_CENTS,
    REVIEWED_STATES,
    TRANCHES,
    WEIGHTS,
    ChallengePlan,
    Progress,
    Scale,
    Writer,
)

SCALE_PASSWORD = "scale-facility-2026"
__all__ = ["SCALE_PASSWORD", "Scale", "expected_rows", "seed_scale"]


def expected_rows(scale: Scale) -> int:
    """About how many rows `seed_scale` writes (the progress bar's length)."""
    return (scale.cities * 3 + scale.donors * 3 + scale.reviewers * 2 + scale.innovators * 3
            + scale.challenges * 6 + scale.proposals * 25 + scale.grants * (TRANCHES * 3 + 2)
            + scale.ledger_entries * 3 // 2 + scale.audit_events)


def seed_scale(*, factor: float = 1.0, progress: Progress = lambda _n: None,
               seed: int = 15) -> dict[str, int]:
    """Write a facility at `factor` of full scale; answers the rows written per table. Flushes, never commits."""
    if factor <= 0:
        raise ValueError("factor must be positive")
    scale = Scale(factor)
    rng = random.Random(seed)
    writer = Writer(progress)
    now = utcnow().replace(microsecond=0)
    people = _people(writer, scale, now)
    challenges = _challenges(writer, scale, people, now)
    proposals = _proposals(writer, scale, people, challenges, now, rng)
    _reviews(writer, scale, people, challenges, proposals, now, rng)
    grants = seed_grants(writer, scale, people, challenges, proposals, now)
    seed_ledger(writer, scale, people, challenges, grants, now)
    seed_audit(writer, scale, people, now)
    writer.fix_sequences()
    db.session.flush()
    return dict(writer.counts)

# --- people and places ---------------------------------------------------------------------------------

def _people(w: Writer, scale: Scale, now: datetime) -> dict[str, Any]:
    org_id, user_id, city_id = w.next_id(Organization), w.next_id(User), w.next_id(City)
    run = f"{user_id}"  # e-mails are unique per run: a second run adds a second facility's people
    password = hash_password(SCALE_PASSWORD)
    orgs: list[dict] = []
    users: list[dict] = []
    roles: list[dict] = []

    def person(role: Role, email: str, name: str, organization_id: int | None = None, **extra: Any) -> int:
        uid = user_id + len(users)
        users.append({"id": uid, "email": email, "name": name, "password_hash": password,
                      "organization_id": organization_id, "created_at": now, "updated_at": now, **extra})
        roles.append({"user_id": uid, "role": role})
        return uid

    secret = _encrypted_secret(DEMO_TOTP_SECRET)
    mfa: dict[str, Any] = {"totp_secret_encrypted": secret, "mfa_enrolled_at": now, "totp_enabled_at": now}
    staff = {"admin": person(Role.ADMIN, f"admin.{run}@scale.facility", "Scale Admin", **mfa),
             "auditor": person(Role.AUDITOR, f"auditor.{run}@scale.facility", "Scale Auditor", **mfa)}
    managers = [person(Role.FUND_MANAGER, f"fund.manager{i}.{run}@scale.facility", f"Fund Manager {i}",
                       approval_limit_cents=10**12, **mfa) for i in range(1, 4)]
    countries = [row["alpha3"] for row in read_copy() if row["alpha3"]][:scale.countries]
    cities, officials = [], []
    for i in range(scale.cities):
        oid = org_id + len(orgs)
        orgs.append({"id": oid, "name": f"City Authority {i + 1}", "kind": OrgKind.CITY,
                     "country": countries[i % len(countries)], "created_at": now, "updated_at": now})
        officials.append(person(Role.CITY_OFFICIAL, f"official{i + 1}.{run}@scale.facility", f"Official {i + 1}", oid))
        cities.append({"id": city_id + i, "organization_id": oid, "name": f"Scale City {i + 1}",
                       "country": countries[i % len(countries)], "population": 200_000 + 37_000 * i,
                       "informal_settlement_share_pct": 5 + i % 60, "climate_risk": list(ClimateRisk)[i % 3],
                       "verified_at": now - timedelta(days=700), "verified_by_id": managers[0],
                       "created_by_id": officials[-1], "created_at": now - timedelta(days=720), "updated_at": now})
    innovator_orgs, innovators = [], []
    for i in range(scale.innovators):
        oid = org_id + len(orgs)
        orgs.append({"id": oid, "name": f"Innovator {i + 1}", "kind": OrgKind.INNOVATOR,
                     "org_type": list(OrgType)[i % 5], "country": countries[i % len(countries)],
                     "created_at": now, "updated_at": now})
        innovator_orgs.append(oid)
        innovators.append(person(Role.INNOVATOR, f"innovator{i + 1}.{run}@scale.facility", f"Innovator {i + 1}", oid))
    donor_orgs, donors = [], []
    for i in range(scale.donors):
        oid = org_id + len(orgs)
        orgs.append({"id": oid, "name": f"Donor Foundation {i + 1}", "kind": OrgKind.DONOR,
                     "country": countries[(i * 7) % len(countries)], "created_at": now, "updated_at": now})
        donor_orgs.append(oid)
        donors.append(person(Role.DONOR, f"donor{i + 1}.{run}@scale.facility", f"Donor {i + 1}", oid))
    reviewers = [person(Role.REVIEWER, f"reviewer{i + 1}.{run}@scale.facility", f"Reviewer {i + 1}")
                 for i in range(scale.reviewers)]
    w.insert(Organization, orgs)
    w.insert(User, users)
    w.insert(UserRole, roles)
    w.insert(City, cities)
    return {**staff, "managers": managers, "cities": [c["id"] for c in cities], "officials": officials,
            "innovator_orgs": innovator_orgs, "innovators": innovators, "donor_orgs": donor_orgs, "donors": donors,
            "reviewers": reviewers, "run": run}


def _encrypted_secret(secret: str) -> str:
    holder = User(email="", name="", password_hash="")  # never added to the session
    totp.store_secret(holder, secret)
    return str(holder.totp_secret_encrypted)

def _challenges(w: Writer, scale: Scale, people: dict, now: datetime) -> list[ChallengePlan]:
    first, first_criterion = w.next_id(Challenge), w.next_id(Criterion)
    finished = [i for i in range(scale.challenges) if CHALLENGE_STATES[i % 10] == "finished"]
    out: list[ChallengePlan] = []
    rows: list[dict] = []
    criteria: list[dict] = []
    for i in range(scale.challenges):
        state = CHALLENGE_STATES[i % 10]
        cid, city = first + i, i % scale.cities
        ids = [first_criterion + 5 * i + k for k in range(5)]
        out.append(ChallengePlan(cid, state, ids, city, []))
        opens, closes = {"upcoming": (now + timedelta(days=10), now + timedelta(days=70)),
                         "open": (now - timedelta(days=20), now + timedelta(days=40)),
                         }.get(state, (now - timedelta(days=200 + i % 300), now - timedelta(days=100 + i % 300)))
        status = {"draft": ChallengeStatus.DRAFT, "pending": ChallengeStatus.PENDING_APPROVAL,
                  "cancelled": ChallengeStatus.CANCELLED, "finished": ChallengeStatus.FINISHED
                  }.get(state, ChallengeStatus.PUBLISHED)
        funded = state in FUNDED_STATES
        rows.append({"id": cid, "city_id": people["cities"][city], "title": f"Challenge {i + 1}: resilient services",
                     "summary": "Better services for informal settlements, at scale.",
                     "description": "A challenge of the scale seed, with a rubric of five criteria.",
                     "focus_area": list(FocusArea)[i % 2], "sdg_targets": ["11.1", "11.5"],
                     "prize_pool_cents": 0, "max_award_cents": GRANT_CENTS, "opens_at": opens, "closes_at": closes,
                     "status": status, "created_by_id": people["officials"][city],
                     "submitted_at": None if state == "draft" else opens - timedelta(days=30),
                     "approved_at": opens - timedelta(days=20) if funded else None,
                     "approved_by_id": people["managers"][0] if funded else None,
                     "created_at": opens - timedelta(days=40), "updated_at": now})
        criteria.extend({"id": ids[k], "challenge_id": cid, "name": f"Criterion {k + 1}", "weight": WEIGHTS[k],
                         "position": k} for k in range(5))
    # Grants go to finished challenges, as evenly as their number allows.
    for n in range(scale.grants):
        out[finished[n % len(finished)]].grants += 1
    for challenge, row in zip(out, rows, strict=True):
        if challenge.state in FUNDED_STATES:
            challenge.pool_cents = (challenge.grants + 2) * GRANT_CENTS
            row["prize_pool_cents"] = challenge.pool_cents
        elif challenge.state in ("draft", "pending", "cancelled"):
            row["prize_pool_cents"] = 3 * GRANT_CENTS
    w.insert(Challenge, rows)
    w.insert(Criterion, criteria)
    return out


def _proposals(w: Writer, scale: Scale, people: dict, challenges: list[ChallengePlan], now: datetime,
               rng: random.Random) -> dict[int, dict]:
    first = w.next_id(Proposal)
    taking = [c for c in challenges if c.state in REVIEWED_STATES]
    big = next(c for c in taking if c.state == "closed")
    for _ in range(scale.big_challenge):
        big.proposals.append(0)
    others = [c for c in taking if c is not big]
    for n in range(scale.proposals - scale.big_challenge):
        others[n % len(others)].proposals.append(0)
    rows: dict[int, dict] = {}
    pid = first
    for challenge in taking:
        for k in range(len(challenge.proposals)):
            org = (challenge.id * 31 + k) % len(people["innovator_orgs"])
            if challenge.state == "open":
                status = ProposalStatus.DRAFT if k % 20 == 19 else ProposalStatus.SUBMITTED
            elif challenge.state == "closed":
                status = (ProposalStatus.SHORTLISTED if k % 10 == 0 else ProposalStatus.WITHDRAWN if k % 50 == 7
                          else ProposalStatus.SUBMITTED)
            else:
                status = ProposalStatus.AWARDED if k < challenge.grants else ProposalStatus.DECLINED
            submitted = None if status == ProposalStatus.DRAFT else now - timedelta(days=rng.randint(1, 300))
            rows[pid] = {"id": pid, "challenge_id": challenge.id, "organization_id": people["innovator_orgs"][org],
                         "created_by_id": people["innovators"][org], "title": f"Proposal {pid}: solar kiosks",
                         "summary": "Pay-as-you-go solar and water points run by residents.",
                         "approach": "Pilot in two settlements, then scale with the city.",
                         "team": "Five engineers and three community organisers.",
                         "requested_cents": GRANT_CENTS, "beneficiary_groups": ["urban_poor", "women"],
                         "privacy_impact": "No personal data kept beyond contact details.", "status": status,
                         "submitted_at": submitted,
                         "withdrawn_at": now if status == ProposalStatus.WITHDRAWN else None,
                         "created_at": (submitted or now) - timedelta(days=3), "updated_at": now}
            challenge.proposals[k] = pid
            pid += 1
    w.insert(Proposal, rows.values())
    return rows


def _reviews(w: Writer, scale: Scale, people: dict, challenges: list[ChallengePlan], proposals: dict[int, dict],
             now: datetime, rng: random.Random) -> None:
    """A scoring round per challenge taking proposals, a panel of six, three reviews of each proposal that left
    its draft (five scores 0..10 and the stored weighted total)."""
    round_id, member_id = w.next_id(ReviewRound), w.next_id(PanelMember)
    assignment_id = w.next_id(Assignment)
    reviewers = people["reviewers"]
    rounds: list[dict] = []
    members: list[dict] = []
    assignments: list[dict] = []
    reviews: list[dict] = []
    scores: list[dict] = []
    for challenge in (c for c in challenges if c.state in REVIEWED_STATES):
        rid = round_id + len(rounds)
        closed = challenge.state != "open"
        rounds.append({"id": rid, "challenge_id": challenge.id, "kind": RoundKind.SCORING,
                       "opens_at": now - timedelta(days=90), "closes_at": now + timedelta(days=30),
                       "can_review": True, "can_see_others": False, "closed_at": now if closed else None})
        panel = [reviewers[(challenge.id * 6 + k) % len(reviewers)] for k in range(6)]
        base = member_id + len(members)
        members.extend([{"id": base + k, "challenge_id": challenge.id, "user_id": uid,
                         "added_by_id": people["managers"][0], "created_at": now} for k, uid in enumerate(panel)])
        weights = dict(zip(challenge.criteria, WEIGHTS, strict=True))
        for pid in challenge.proposals:
            if proposals[pid]["status"] == ProposalStatus.DRAFT:
                continue
            for k in range(3):
                aid = assignment_id + len(assignments)
                reviewer = panel[(pid + 2 * k) % 6]
                assignments.append({"id": aid, "round_id": rid, "proposal_id": pid, "reviewer_id": reviewer,
                                    "created_by_id": people["managers"][0], "created_at": now - timedelta(days=60)})
                given = {cid: min(10, max(0, rng.randint(0, 10) + reviewer % 5 - 2)) for cid in challenge.criteria}
                reviews.append({"id": aid, "assignment_id": aid, "status": ReviewStatus.SUBMITTED,
                                "comment": "A considered comment on the approach, the team and the budget.",
                                "submitted_at": now - timedelta(days=30), "weighted_points":
                                weighted_hundredths(given, weights), "created_at": now - timedelta(days=40),
                                "updated_at": now - timedelta(days=30)})
                scores.extend({"review_id": aid, "criterion_id": cid, "score": s} for cid, s in given.items())
    w.insert(ReviewRound, rounds)
    w.insert(PanelMember, members)
    w.insert(Assignment, assignments)
    w.insert(Review, reviews)
    w.insert(Score, scores)

