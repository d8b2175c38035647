"""Every page with an object is reachable by links: the demo's roles crawl the site from their dashboards.

Each demo role signs in, starts at /dashboard and follows every same-site `<a href>` (GET only, at
most `MAX_PAGES` pages per role). Then every GET rule of the url map that takes an object id and is a
page must have been reached by at least one role. To add a page to the check, add nothing: it is in
the url map. To add a role, add its demo login to `ROLES`. A rule that no link can reach by design
goes into `EXCLUDED` with its reason.
"""
from __future__ import annotations

import io
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import HTTPException

from facility.accounts.models import User
from facility.challenges.models import Challenge
from facility.core.models import utcnow
from facility.demo import DEMO_PASSWORD, seed
from facility.extensions import db
from facility.grants.awards import accept_grant
from facility.grants.milestones import submit_milestone_report
from facility.grants.models import Grant, GrantStatus
from facility.proposals.models import Proposal, ProposalStatus
from facility.proposals.services import add_attachment
from facility.review import facts
from facility.review import queries as review_queries
from facility.review.assignments import add_assignment
from facility.review.decisions import prepare_decision, release_decisions
from facility.review.models import Assignment, DecisionKind, ReviewRound, RoundKind
from tests.conftest import sign_in
from tests.factories.challenges import make_challenge
from tests.factories.grants import NO_SPENDING

# The demo logins that crawl (facility/accounts/demo.py). One per role, and the second fund manager,
# who approves what the first one requested.
ROLES = [
    "admin@demo.facility",
    "fund.manager@demo.facility",
    "fund.manager2@demo.facility",
    "auditor@demo.facility",
    "official@kampala.demo",
    "founder@solarkiosk.demo",
    "lead@waterwatch.demo",
    "reviewer1@demo.facility",
    "donor@foundation.demo",
]

# Rules that take an argument but are not reached by a link, each with its reason.
EXCLUDED = {
    "static": "stylesheets and images, not pages",
    "accounts.reset_password": "token link, sent only by e-mail",
    "review.accept_invitation": "token link, sent only by e-mail to someone without an account",
    "payments.checkout": "a redirect to Stripe's hosted checkout, reached by a form post when pledging by card",
    "review.release": "the release's confirmation, linked from the ranking only while decisions are pending with "
                      "every review in; the completed demo has released its decisions (tests/reach/test_confirmations.py "
                      "follows the link)",
    "appeals.new": "the request for reconsideration, linked from a declined proposal's page and feedback only within "
                   "the appeal window and until it is appealed; the demo's one released decline is already appealed "
                   "(tests/review/test_appeal_pages.py follows the link)",
}

# State pages end with "What happens next" (templates/_next_steps.html).
STATE_PAGES = {"challenges.show", "proposals.show", "review.review", "review.ranking", "grants.grant",
               "grants.award", "grants.report", "grants.contribution", "disbursements.show"}

# Prefixes that are not pages a person browses.
NOT_PAGES = ("/api/", "/webhooks/", "/healthz", "/static/")
SKIP = ("/signout",)
MAX_PAGES = 600


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _same_site_links(base_path: str, html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    found = []
    for href in parser.hrefs:
        parts = urlsplit(urljoin("http://localhost" + base_path, href))
        if parts.netloc != "localhost" or parts.scheme not in ("http", "https"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith(NOT_PAGES) and not path.startswith(SKIP):
            found.append(path)
    return found


def _sign_in(client, email: str) -> None:
    response = sign_in(client, email, DEMO_PASSWORD)  # demo staff also pass the second step
    assert response.status_code == 302, f"{email} cannot sign in"


def _page_key(path: str) -> str:
    """One visit per page and per query string shape: `?page=2` and `?page=3` are the same page."""
    base, _, query = path.partition("?")
    keys = sorted(part.split("=")[0] for part in query.split("&") if part)
    return base + ("?" + "&".join(keys) if keys else "")


def crawl(app, email: str) -> tuple[set[str], list[str]]:
    """The endpoints `email` reaches from /dashboard by links, and the pages that answered 5xx or are
    state pages without their "What happens next" section."""
    client = app.test_client()
    _sign_in(client, email)
    adapter = app.url_map.bind("localhost")
    reached: set[str] = set()
    broken: list[str] = []
    seen: set[str] = set()
    todo = ["/dashboard"]
    while todo and len(seen) < MAX_PAGES:
        path = todo.pop(0)
        key = _page_key(path)
        if key in seen:
            continue
        seen.add(key)
        response = client.get(path)
        body = response.get_data()  # read it whole: a streamed download (CSV, XLSX) closes its context then
        if response.status_code >= 500:
            broken.append(path)
        if response.status_code != 200:
            continue
        try:
            endpoint, _args = adapter.match(path.partition("?")[0], method="GET")
        except HTTPException:  # answered 200 but matched no rule (cannot happen for a Flask page)
            continue
        reached.add(endpoint)
        if response.mimetype == "text/html":
            html = body.decode()
            if endpoint in STATE_PAGES and 'id="next-steps-h"' not in html:
                broken.append(f"{path} has no 'What happens next'")
            todo.extend(_same_site_links(path, html))
    return reached, broken


def pages_with_an_object(app) -> set[str]:
    """GET rules with a converter argument that are pages (not the API, static files, webhooks)."""
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.arguments and not rule.rule.startswith(NOT_PAGES)}


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _user(email: str) -> User:
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _complete_the_demo() -> None:
    """States the demo does not show yet, made through the services: an open challenge nobody has
    entered, released decisions, an outstanding assignment, an accepted grant with a reported milestone
    and evidence, a proposal's file."""
    manager, innovator = _user("fund.manager@demo.facility"), _user("lead@waterwatch.demo")
    now = utcnow()
    make_challenge(via="models", state="published", title="Cooler bus stops",
                   opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30))
    # Released decisions on the first challenge whose reviews are all in.
    for challenge in db.session.execute(sa.select(Challenge).order_by(Challenge.id)).scalars():
        proposals = [p for p in review_queries.round_proposals(round_) if p.status != ProposalStatus.AWARDED] \
            if (round_ := review_queries.round_of(challenge, RoundKind.SCORING)) else []
        if proposals and not facts.outstanding_assignments(challenge):
            for proposal in proposals:
                prepare_decision(actor=manager, proposal=proposal, kind=DecisionKind.SHORTLIST)
            release_decisions(actor=manager, challenge=challenge)
            break
    # An assignment nobody has started, on a round still open: the panel offers to waive it.
    rounds = db.session.execute(sa.select(ReviewRound).where(ReviewRound.kind == RoundKind.SCORING)
                                .order_by(ReviewRound.id)).scalars().all()
    for round_ in (r for r in rounds if r.is_open):
        taken = {(a.proposal_id, a.reviewer_id) for a in db.session.execute(
            sa.select(Assignment).where(Assignment.round_id == round_.id)).scalars()}
        free = [(p, r) for p in review_queries.round_proposals(round_) for r in facts.panel_reviewers(round_.challenge)
                if (p.id, r.id) not in taken and not facts.is_conflicted(p, r)]
        if free:
            add_assignment(actor=manager, round_=round_, proposal=free[0][0], reviewer=free[0][1])
            break
    grant = db.session.execute(sa.select(Grant).where(Grant.organization_id == innovator.organization_id,
                                                      Grant.status == GrantStatus.OFFERED)).scalars().first()
    if grant is not None:
        accept_grant(grant=grant, actor=innovator)
        submit_milestone_report(tranche=grant.tranches[0], actor=innovator, text="Delivered as planned.", spending=NO_SPENDING,
                                files=[("evidence.pdf", PDF)])
    draft = db.session.execute(sa.select(Proposal).where(Proposal.organization_id == innovator.organization_id,
                                                         Proposal.status == ProposalStatus.DRAFT)).scalars().first()
    if draft is not None:
        add_attachment(actor=innovator, proposal=draft, filename="plan.pdf", stream=io.BytesIO(PDF))


@pytest.fixture
def demo(app):
    seed(echo=lambda _msg: None)
    _complete_the_demo()
    db.session.commit()


def test_every_page_with_an_object_is_reached_by_some_role(app, demo):
    reached_by: dict[str, set[str]] = {}
    broken: list[str] = []
    for email in ROLES:
        reached, failures = crawl(app, email)
        broken += [f"{email}: {path}" for path in failures]
        for endpoint in reached:
            reached_by.setdefault(endpoint, set()).add(email)
    assert not broken, "pages answered with a server error or lack their next steps:\n" + "\n".join(broken)
    unreached = sorted(pages_with_an_object(app) - set(reached_by) - set(EXCLUDED))
    assert not unreached, ("no demo role reaches these pages by links from its dashboard "
                           f"(add a link, or an entry in EXCLUDED with its reason): {', '.join(unreached)}")


def test_exclusions_name_real_rules(app):
    """A stale exclusion would hide a page that is no longer excluded for a reason."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(EXCLUDED) <= endpoints


def test_the_crawler_finds_links_and_skips_other_sites():
    html = '<a href="/a">a</a><a href="https://example.org/x">x</a><a href="b?page=2">b</a><a href="/signout">o</a>'
    assert _same_site_links("/dir/page", html) == ["/a", "/dir/b?page=2"]
