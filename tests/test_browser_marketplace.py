"""The marketplace walk in a real browser: a city drafts and submits a challenge, a fund manager
approves it, an innovator finds it through the filters, drafts and submits a proposal, and the
city sees the proposal once the deadline has passed. Markup typed into fields never executes."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from facility.accounts.models import OrgKind, OrgType
from facility.cities import services as city_services
from facility.extensions import db
from tests.browser import browser_page, fill_proposal_form, live_server, require_chromium, sign_in_page
from tests.conftest import PASSWORD, fund_facility

pytestmark = [pytest.mark.browser, pytest.mark.serial]

START = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)
XSS = '<img src=x onerror="window.__pwned=1">'


def _sign_in(page, base, email):
    sign_in_page(page, base, email, PASSWORD)


def test_city_fund_manager_and_innovator_walk(app, backend, make_user, make_org):
    if backend != "sqlite":
        pytest.skip("one browser run is enough; the database layer is covered on PostgreSQL elsewhere")
    require_chromium()
    with time_machine.travel(START, tick=True) as clock:
        fund_facility()
        fund_manager = make_user("fund_manager", email="fm@facility.example")
        official = make_user("city_official", email="official@kampala.example")
        city = city_services.create_city(actor=official, name="Kampala", country="UGA", population=1_700_000,
                                         informal_settlement_share_pct=60, climate_risk="high")
        city_services.verify_city(city=city, actor=fund_manager)
        org = make_org(name="Boda Data Cooperative", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP, country="UGA")
        make_user("innovator", email="lead@boda.example", organization=org)
        db.session.commit()

        opens, closes = START + timedelta(days=1), START + timedelta(days=10)
        with live_server(app) as base, browser_page() as page:
            page.on("dialog", lambda dialog: dialog.dismiss())

            # The city drafts the challenge and submits it for approval.
            _sign_in(page, base, "official@kampala.example")
            page.goto(base + "/challenges/new")
            page.fill("#title", "Safer boda-boda stages " + XSS)
            page.fill("#summary", "Fewer road injuries at motorcycle-taxi stages.")
            page.fill("#description", "## Problem\n\nInjuries. " + XSS + " [x](javascript:alert(1))")
            page.select_option("#focus_area", "inclusive_innovation")
            page.fill("#sdg_targets", "11.2, 3.6")
            page.fill("#prize_pool", "200000")
            page.fill("#max_award", "50000")
            page.fill("#opens_at", opens.strftime("%Y-%m-%dT%H:%M"))
            page.fill("#closes_at", closes.strftime("%Y-%m-%dT%H:%M"))
            page.fill("#criteria-0-name", "Impact")
            page.fill("#criteria-0-weight", "60")
            page.fill("#criteria-1-name", "Feasibility")
            page.fill("#criteria-1-weight", "40")
            page.click("button:has-text('Save draft'), input[value='Save draft']")
            page.click("button:has-text('Submit for approval')")
            main = page.inner_text("main")
            # The status is shown by its label, never by its code.
            assert "Waiting for the facility's approval" in main and "pending_approval" not in main
            challenge_url = page.url

            # A fund manager approves it from the approval queue.
            page.context.clear_cookies()
            _sign_in(page, base, "fm@facility.example")
            page.goto(base + "/challenges/approvals")
            page.click("text=Safer boda-boda stages")
            page.click("button:has-text('Approve')")
            assert "Published" in page.inner_text("main")

            # Once it opens, the innovator finds it through the filters and proposes.
            clock.move_to(opens + timedelta(hours=1))
            page.context.clear_cookies()
            _sign_in(page, base, "lead@boda.example")
            page.goto(base + "/challenges")
            page.select_option("#country", "UGA")  # a list of country names (the value is the code)
            page.select_option("#focus_area", "inclusive_innovation")
            page.fill("#sdg_target", "11.2")
            page.click("button:has-text('Filter'), input[value='Filter']")
            page.click("text=Safer boda-boda stages")
            assert page.evaluate("window.__pwned") is None, "markup in the challenge executed"
            assert page.locator("main a[href^='javascript:']").count() == 0
            page.click("text=Propose a solution")
            fill_proposal_form(page, fields={
                "title": "Stage safety kits " + XSS, "summary": "Helmets, lights and first-aid training at 40 stages.",
                "approach": "Work with stage chairpersons. " + XSS, "team": "Three riders and a nurse.",
                "requested": "40000", "privacy_impact": "No personal data is collected; counts only."},
                beneficiary="urban_poor", budget={"personnel": "22000", "equipment": "18000"}, milestones=[
                    ("Kits at 20 stages", opens + timedelta(days=60), "15000", "Photos and a list of stages."),
                    ("Kits at 40 stages and training", opens + timedelta(days=150), "25000", "Training records.")])
            assert "submitted" in page.inner_text("main").lower()
            assert page.evaluate("window.__pwned") is None, "markup in the proposal executed"

            # The city cannot see proposals before the deadline, and can after it.
            page.context.clear_cookies()
            _sign_in(page, base, "official@kampala.example")
            challenge_id = challenge_url.rstrip("/").split("/")[-1]
            response = page.goto(f"{base}/challenges/{challenge_id}/proposals")
            assert response.status in (403, 404)
            clock.move_to(closes + timedelta(hours=1))
            page.context.clear_cookies()
            _sign_in(page, base, "official@kampala.example")
            page.goto(f"{base}/challenges/{challenge_id}/proposals")
            assert "Stage safety kits" in page.inner_text("main")
            page.click("text=Stage safety kits")
            assert page.evaluate("window.__pwned") is None
