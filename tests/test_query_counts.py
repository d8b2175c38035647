"""Issue 15, "Performance": no list page's query count grows with the rows it shows.

Each list page (and API list) is read with 5 rows, then with 50 (a page of 20 shows 20): the number of
reads is the same. Rows are built with the factories (tests/factories), directly as rows where the page
only needs rows to list.
"""
from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest

from facility.accounts.models import Organization, OrgKind, OrgType
from facility.audit.services import record
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants.contributions import pledge_contribution
from facility.proposals.models import Proposal, ProposalStatus
from tests import factories
from tests.factories.disbursements import payable_grants, request_and_approve
from tests.factories.ledger import fund, fund_facility
from tests.review.conftest import assign, build_world

_serial = itertools.count()


def _challenges(n: int) -> None:
    city, _ = factories.cities.make_city(via="models", name=f"City {next(_serial)}")
    now = utcnow()
    for _ in range(n):
        factories.challenges.make_challenge(city, via="models", state="published", title=f"Open {next(_serial)}",
                                            opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30))
    db.session.commit()


def _grants(n: int) -> None:
    for _ in range(n):
        payable_grants(1, tag=uuid.uuid4().hex[:8])


def _disbursements(n: int) -> None:
    grants, requester, approver = payable_grants(n, tag=uuid.uuid4().hex[:8])
    request_and_approve(grants, requester, approver, enqueue=False)


def _ledger(n: int) -> None:
    for _ in range(n):
        fund(key=f"rows-{next(_serial)}", unallocated=1_000)


def _audit(n: int) -> None:
    for i in range(n):
        record("city.verified", object_type="City", object_id=i + 1, ip_address="")
    db.session.commit()


def _users(n: int) -> None:
    for _ in range(n):
        factories.accounts.make_user("innovator")


class _Review:
    """A review world (tests/review/conftest.py): proposals of one challenge, a reviewer assigned to them."""

    def __init__(self, make_user, make_org) -> None:
        self.world = build_world(make_user, make_org, n_proposals=0, n_reviewers=1)
        self.reviewer = self.world.reviewers[0]

    def proposals(self, n: int) -> list[Proposal]:
        added = []
        for i in range(n):
            org = Organization(name=f"Applicant {next(_serial)}", kind=OrgKind.INNOVATOR, org_type=OrgType.SME,
                               country="KEN")
            proposal = Proposal(challenge=self.world.challenge, organization=org, title=f"Plan {i}",
                                status=ProposalStatus.SUBMITTED, submitted_at=utcnow())
            db.session.add(proposal)
            added.append(proposal)
        db.session.commit()
        return added

    def assignments(self, n: int) -> None:
        for proposal in self.proposals(n):
            assign(self.world, self.reviewer, proposal)


def _reads(client, count_queries, path: str, headers: dict) -> int:
    client.get(path, headers=headers)  # warm: caches, the session's first touch
    with count_queries(selects_only=True) as reads:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
    return reads()


def _same_with_5_and_50(client, count_queries, path: str, grow, headers: dict | None = None) -> None:
    headers = headers or {}
    grow(5)
    few = _reads(client, count_queries, path, headers)
    grow(45)
    many = _reads(client, count_queries, path, headers)
    assert many == few, f"{path}: {few} reads with 5 rows, {many} with 50"


PUBLIC = [("/challenges", _challenges), ("/api/v1/challenges", _challenges), ("/grants", _grants),
          ("/api/v1/grants", _grants), ("/facility/ledger", _ledger), ("/api/v1/facility/ledger", _ledger)]


@pytest.mark.parametrize(("path", "grow"), PUBLIC, ids=[path for path, _ in PUBLIC])
def test_public_lists(client, count_queries, path, grow):
    fund_facility(key="test:query-counts")
    _same_with_5_and_50(client, count_queries, path, grow)


STAFF = [("/disbursements", "fund_manager", _disbursements), ("/audit", "auditor", _audit),
         ("/admin/users", "admin", _users)]


@pytest.mark.parametrize(("path", "role", "grow"), STAFF, ids=[path for path, _, _ in STAFF])
def test_staff_lists(client, login, make_user, count_queries, path, role, grow):
    fund_facility(key="test:query-counts")
    login(client, make_user(role))
    _same_with_5_and_50(client, count_queries, path, grow)


def test_api_disbursements(client, make_user, api_headers, count_queries):
    fund_facility(key="test:query-counts")
    _same_with_5_and_50(client, count_queries, "/api/v1/disbursements", _disbursements,
                        api_headers(make_user("fund_manager")))


def test_proposals_of_a_challenge(client, login, make_user, make_org, api_headers, count_queries):
    review = _Review(make_user, make_org)
    challenge = review.world.challenge.id
    login(client, review.world.manager)
    _same_with_5_and_50(client, count_queries, f"/challenges/{challenge}/proposals", review.proposals)
    _same_with_5_and_50(client, count_queries, f"/api/v1/challenges/{challenge}/proposals", review.proposals,
                        api_headers(review.world.manager))


def test_review_queue(client, login, make_user, make_org, api_headers, count_queries):
    review = _Review(make_user, make_org)
    login(client, review.reviewer)
    _same_with_5_and_50(client, count_queries, "/review/", review.assignments)
    _same_with_5_and_50(client, count_queries, "/api/v1/me/assignments", review.assignments,
                        api_headers(review.reviewer))


def test_api_contributions_of_a_donor(client, make_user, api_headers, count_queries):
    donor_org = factories.accounts.make_org(name="Harbour Foundation", kind=OrgKind.DONOR, country="NOR")
    donor = make_user("donor", organization=donor_org)

    def pledges(n: int) -> None:
        for _ in range(n):
            pledge_contribution(actor=donor, amount_cents=10_000, method="wire")
        db.session.commit()

    _same_with_5_and_50(client, count_queries, "/api/v1/contributions", pledges, api_headers(donor))


def test_api_cities(client, count_queries):
    def cities(n: int) -> None:
        for _ in range(n):
            factories.cities.make_city(via="models", name=f"City {next(_serial)}")
        db.session.commit()

    _same_with_5_and_50(client, count_queries, "/api/v1/cities", cities)
