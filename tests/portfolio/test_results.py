"""The results framework: targets as data, capital raised by quarter (against the ledger), engagement by
its definitions, how the money follows policy, the filters, and the public page."""
from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from facility.accounts.models import OrgKind, OrgType
from facility.challenges.models import ChallengeStatus, FocusArea
from facility.core import public_cache
from facility.core.labels import label
from facility.extensions import db
from facility.grants import contributions
from facility.ledger.balances import facility_totals
from facility.ledger.services import (
    DISBURSED,
    commitment_code,
    disbursed_account,
    pool_account,
    post_transaction,
    unallocated_account,
)
from facility.portfolio import results, targets
from facility.portfolio.filters import PortfolioFilter
from facility.portfolio.results import Quarter
from facility.proposals.models import ProposalStatus
from tests import factories
from tests.portfolio.test_foundations import assert_time_runs_from_the_right

BILLION = 100_000_000_000


# --- scenes ------------------------------------------------------------------------------------

def contribute(when: datetime, cents: int, clock, key: str) -> None:
    """A contribution booked in the ledger at `when` (the clock moved there and back)."""
    back = clock.now
    clock.move_to(when)
    factories.ledger.fund_facility(cents, key=key)
    clock.move_to(back)


def challenge_in(name: str, *, country: str = "UGA", population: int = 400_000, share: int = 60, risk: str = "high",
                 verified: bool = True, status=ChallengeStatus.PUBLISHED, focus_area: str = "inclusive_innovation",
                 sdg_targets=("11.1",)):
    city, _ = factories.cities.make_city(via="models", name=name, country=country, population=population,
                                         share=share, risk=risk, verified=verified)
    now = datetime.now(UTC)
    return factories.challenges.make_challenge(
        city, via="models", state=status, title=f"Challenge in {name}", summary="s", description="d",
        focus_area=focus_area, sdg_targets=list(sdg_targets), prize_pool_cents=10_000_000,
        max_award_cents=10_000_000, opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=1),
        criteria=[])


def innovator(name: str, org_type: OrgType = OrgType.STARTUP):
    return factories.accounts.make_org(name=name, kind=OrgKind.INNOVATOR, org_type=org_type)


def granted(challenge, cents: int, manager, *, paid: int = 0, groups=("women",)):
    """A grant of `cents` on `challenge` (its pool funded first), `paid` of it disbursed in the ledger."""
    post_transaction(key=f"test-in:{challenge.id}", actor=None, kind="contribution",
                     entries=[(unallocated_account(), cents),
                              (factories.ledger.contributions_account(None), -cents)])
    post_transaction(key=f"test-pool:{challenge.id}", actor=None, kind="pool",
                     entries=[(pool_account(challenge.id), cents), (unallocated_account(), -cents)])
    proposal = factories.proposals.make_proposal(challenge, via="models", org=innovator(f"Org {challenge.id}"),
                                                 title=f"P{challenge.id}", amounts=(cents,))
    proposal.beneficiary_groups = list(groups)
    grant = factories.grants.award(proposal, manager, amount_cents=cents)  # as the panel recommended
    if paid:
        disbursed_account()
        post_transaction(key=f"test-paid:{grant.id}", actor=None, kind="disbursement",
                         entries=[(DISBURSED, paid), (commitment_code(grant.id), -paid)])
    db.session.commit()
    return grant


@pytest.fixture
def manager(app):
    return factories.accounts.make_user("fund_manager")


@pytest.fixture
def portfolio(app, clock, manager):
    """Three grants: a small LDC city with high climate risk and 60 % informal settlements (UGA), a large
    Global North city (DEU) with low risk and 10 %, and a medium Global South city (BRA), 20 %."""
    kampala = challenge_in("Gulu", country="UGA", population=400_000, share=60, risk="high",
                           sdg_targets=("11.1", "11.2"))
    berlin = challenge_in("Berlin", country="DEU", population=3_600_000, share=10, risk="low",
                          focus_area="public_interest_tech", sdg_targets=("11.3",))
    recife = challenge_in("Recife", country="BRA", population=800_000, share=20, risk="medium",
                          sdg_targets=("11.2",))
    grants = [granted(kampala, 6_000_000, manager, paid=2_000_000, groups=("women", "urban_poor")),
              granted(berlin, 3_000_000, manager, paid=3_000_000, groups=("youth",)),
              granted(recife, 1_000_000, manager, groups=("women",))]
    return grants


# --- targets as data ---------------------------------------------------------------------------

def test_the_targets_file_holds_the_results_framework():
    config = targets.load()
    capital = config.target("capital_raised")
    assert (capital.value, capital.unit, capital.deadline) == (BILLION, "cents", date(2030, 12, 31))
    assert [(config.target(k).value, config.target(k).deadline) for k in
            ("national_governments", "city_governments", "technology_companies")] == \
        [(20, date(2025, 12, 31)), (200, date(2025, 12, 31)), (300, date(2025, 12, 31))]
    assert all(t.source and t.definition_id in targets.DEFINITIONS for t in config.targets.values())
    assert config.large_informal_settlements_min_pct == 30


@pytest.mark.parametrize("change, message", [
    (lambda d: d["targets"].pop(0), "missing targets: capital_raised"),
    (lambda d: d["targets"][1].update(unit="people"), "unit must be one of"),
    (lambda d: d["targets"][1].update(value=True), "positive integer"),
    (lambda d: d["targets"][1].update(deadline="end of 2025"), "ISO date"),
    (lambda d: d["targets"][1].update(definition="nope"), "unknown definition"),
    (lambda d: d["targets"][1].pop("source"), "missing source"),
    (lambda d: d["targets"].append(dict(d["targets"][1])), "appears twice"),
    (lambda d: d["policy"].update(large_informal_settlements_min_pct=0), "from 1 to 100"),
])
def test_a_bad_targets_file_is_refused_with_its_reason(change, message):
    data = json.loads(targets.DATA_FILE.read_text())
    change(data)
    with pytest.raises(targets.TargetsError, match=message):
        targets.parse(data)


# --- capital raised ----------------------------------------------------------------------------

def test_quarters_count_and_order():
    assert Quarter.of(date(2027, 3, 1)) == Quarter(2027, 1) and Quarter.of(date(2026, 10, 1)).key == "2026-Q4"
    assert [q.key for q in results.quarters_between(Quarter(2026, 3), Quarter(2027, 1))] == \
        ["2026-Q3", "2026-Q4", "2027-Q1"]
    assert results.quarters_between(Quarter(2027, 1), Quarter(2026, 4)) == []


def test_capital_raised_per_quarter_equals_the_ledger_with_the_rate_since_start(app, clock):
    contribute(datetime(2026, 5, 10, tzinfo=UTC), 100_00, clock, "a")
    contribute(datetime(2026, 11, 3, tzinfo=UTC), 100_00, clock, "b")
    contribute(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), 200_00, clock, "c")
    contribute(datetime(2027, 1, 2, tzinfo=UTC), 200_00, clock, "d")
    capital = results.capital_raised()  # the clock stands at 2027-03-01
    assert capital.raised_cents == facility_totals()["raised"] == 600_00
    assert [(q.quarter.key, q.raised_cents, q.cumulative_cents) for q in capital.quarters] == [
        ("2026-Q2", 100_00, 100_00), ("2026-Q3", 0, 100_00), ("2026-Q4", 300_00, 400_00), ("2027-Q1", 200_00, 600_00)]
    # 2027-Q1 to 2030-Q4, this quarter counted: 16 quarters.
    assert capital.quarters_left == 16
    assert capital.remaining_cents == BILLION - 600_00
    assert capital.needed_per_quarter_cents == -(-(BILLION - 600_00) // 16)
    assert capital.needed_per_quarter_cents * 16 >= capital.remaining_cents
    # Three complete quarters only: the rate is taken over the four quarters since the first contribution.
    assert (capital.rate_basis, capital.rate_per_quarter_cents) == ("since_start", 150_00)
    assert capital.projected_cents == 600_00 + 150_00 * 16
    assert not capital.on_track


def test_the_rate_is_the_last_four_complete_quarters_once_there_are_four(app, clock):
    for key, (when, cents) in enumerate([(datetime(2025, 11, 1), 9_000_00), (datetime(2026, 2, 1), 400_00),
                                         (datetime(2026, 8, 1), 800_00), (datetime(2026, 12, 1), 400_00),
                                         (datetime(2027, 2, 1), 50_00)]):
        contribute(when.replace(tzinfo=UTC), cents, clock, f"k{key}")
    capital = results.capital_raised()
    assert capital.rate_basis == "last_four_quarters"
    assert capital.rate_per_quarter_cents == (400_00 + 0 + 800_00 + 400_00) // 4  # 2026-Q1..Q4, not 2025-Q4
    assert capital.projected_cents == capital.raised_cents + 400_00 * 16


def test_a_target_met_or_a_deadline_passed(app, clock):
    contribute(datetime(2026, 5, 1, tzinfo=UTC), 500_00, clock, "x")
    late = results.capital_raised(today=date(2031, 2, 1))
    assert late.quarters_left == 0 and late.needed_per_quarter_cents == late.remaining_cents == BILLION - 500_00
    assert late.projected_cents == late.raised_cents
    assert [q.quarter.key for q in late.quarters][-1] == "2031-Q1"
    factories.ledger.fund_facility(BILLION, key="big")
    met = results.capital_raised()
    assert met.remaining_cents == 0 and met.needed_per_quarter_cents == 0 and met.on_track


def test_nothing_raised_yet(app, clock):
    capital = results.capital_raised()
    assert capital.quarters == [] and capital.raised_cents == 0
    assert (capital.rate_basis, capital.rate_per_quarter_cents, capital.projected_cents) == ("none", 0, 0)
    assert capital.needed_per_quarter_cents == BILLION // 16


def test_moving_money_inside_the_facility_raises_nothing(app, clock, portfolio):
    # The portfolio's pools, awards and disbursements are internal moves; only contributions count.
    assert results.capital_raised().raised_cents == facility_totals()["raised"] == 10_000_000


# --- engagement --------------------------------------------------------------------------------

def _counts(portfolio_filter=results.NO_FILTER):
    return {e.target.key: e.count for e in results.engagement(portfolio_filter)}


def test_engagement_counts_by_its_definitions(app, clock):
    assert _counts() == {"national_governments": 0, "city_governments": 0, "technology_companies": 0}
    gulu = challenge_in("Gulu", country="UGA")
    challenge_in("Jinja", country="UGA", status=ChallengeStatus.FINISHED)  # finished was published: counts
    challenge_in("Unverified", country="KEN", verified=False)              # unverified city: not engaged
    challenge_in("Drafting", country="TZA", status=ChallengeStatus.DRAFT)  # no published challenge yet
    challenge_in("Waiting", country="RWA", status=ChallengeStatus.PENDING_APPROVAL)
    second = challenge_in("Gulu again", country="UGA")
    assert _counts() == {"national_governments": 1, "city_governments": 3, "technology_companies": 0}

    startup, sme, ngo, drafter, quitter = (innovator("Start"), innovator("Smaller", OrgType.SME),
                                           innovator("Charity", OrgType.NGO), innovator("Drafter"),
                                           innovator("Quitter", OrgType.SME))
    factories.proposals.make_proposal(gulu, via="models", org=startup, title="a")
    factories.proposals.make_proposal(second, via="models", org=startup, title="b")  # same company twice: once
    factories.proposals.make_proposal(gulu, via="models", org=sme, title="c", status=ProposalStatus.AWARDED)
    factories.proposals.make_proposal(gulu, via="models", org=ngo, title="d")  # an NGO is not a company
    factories.proposals.make_proposal(gulu, via="models", org=drafter, title="e", status=ProposalStatus.DRAFT)
    factories.proposals.make_proposal(gulu, via="models", org=quitter, title="f", status=ProposalStatus.WITHDRAWN)
    assert _counts()["technology_companies"] == 2
    figures = results.engagement()
    assert [(e.target.value, e.progress_pct) for e in figures] == [(20, 5.0), (200, 1.5), (300, 0.7)]


def test_engagement_follows_the_filters(app, clock):
    challenge_in("Gulu", country="UGA", population=400_000)
    challenge_in("Berlin", country="DEU", population=3_600_000, focus_area="public_interest_tech")
    assert _counts()["national_governments"] == 2
    assert _counts(PortfolioFilter(country_group="LDC"))["city_governments"] == 1
    assert _counts(PortfolioFilter(size_class="large"))["national_governments"] == 1
    assert _counts(PortfolioFilter(focus_area="public_interest_tech"))["city_governments"] == 1
    assert _counts(PortfolioFilter(region="Oceania"))["city_governments"] == 0


# --- how the money follows policy --------------------------------------------------------------

def test_awarded_and_disbursed_money_equal_the_ledger(app, clock, portfolio):
    whole, _ = results.money_by_policy()
    totals = facility_totals()
    assert whole.grants == 3
    assert whole.awarded_cents == totals["committed"] + totals["disbursed"] == 10_000_000
    assert whole.disbursed_cents == totals["disbursed"] == 5_000_000


def test_the_share_of_money_to_each_priority(app, clock, portfolio):
    _, slices = results.money_by_policy()
    by_key = {m.key: (m.grants, m.awarded_cents, m.disbursed_cents, m.awarded_pct, m.disbursed_pct) for m in slices}
    assert by_key == {
        "small_and_medium_cities": (2, 7_000_000, 2_000_000, 70.0, 40.0),   # Gulu 400k, Recife 800k
        "ldc_lldc_sids": (1, 6_000_000, 2_000_000, 60.0, 40.0),             # Uganda: LDC and LLDC, once
        "global_south": (2, 7_000_000, 2_000_000, 70.0, 40.0),
        "high_climate_risk": (1, 6_000_000, 2_000_000, 60.0, 40.0),
        "large_informal_settlements": (1, 6_000_000, 2_000_000, 60.0, 40.0),  # >= 30 %: Gulu only
    }


def test_the_split_by_focus_area_sdg_target_and_beneficiary_group(app, clock, portfolio):
    focus = {m.key: (m.grants, m.awarded_cents, m.disbursed_cents) for m in results.money_by_focus_area()}
    assert focus == {"inclusive_innovation": (2, 7_000_000, 2_000_000), "public_interest_tech": (1, 3_000_000, 3_000_000)}
    sdg = {m.key: (m.grants, m.awarded_cents) for m in results.money_by_sdg_target()}
    assert sdg["11.1"] == (1, 6_000_000) and sdg["11.2"] == (2, 7_000_000) and sdg["11.3"] == (1, 3_000_000)
    assert sdg["11.4"] == (0, 0) and len(sdg) == 10
    groups = {m.key: (m.grants, m.awarded_cents, m.awarded_pct) for m in results.money_by_beneficiary_group()}
    assert groups["women"] == (2, 7_000_000, 70.0) and groups["urban_poor"] == (1, 6_000_000, 60.0)
    assert groups["youth"] == (1, 3_000_000, 30.0) and groups["migrants"] == (0, 0, 0.0)


def test_the_money_follows_the_filters(app, clock, portfolio):
    whole, slices = results.money_by_policy(PortfolioFilter(country_group="global_south"))
    assert (whole.grants, whole.awarded_cents, whole.disbursed_cents) == (2, 7_000_000, 2_000_000)
    assert {m.key: m.awarded_pct for m in slices}["global_south"] == 100.0
    whole, _ = results.money_by_policy(PortfolioFilter(country="DEU"))
    assert (whole.grants, whole.disbursed_cents) == (1, 3_000_000)
    whole, _ = results.money_by_policy(PortfolioFilter(sdg_target="11.2"))
    assert whole.awarded_cents == 7_000_000
    empty = results.results(PortfolioFilter(region="Oceania"))
    assert empty.money.grants == 0 and all(m.awarded_pct == 0.0 for m in empty.by_policy)


def test_the_figures_take_the_same_number_of_queries_however_many_grants(app, clock, manager, count_queries):
    challenge = challenge_in("Gulu")
    granted(challenge, 1_000_000, manager, paid=100)
    with count_queries(selects_only=True) as few:
        results.results()
    for n in range(4):
        granted(challenge_in(f"More {n}", country="BRA"), 1_000_000, manager)
    with count_queries(selects_only=True) as many:
        results.results()
    assert few() == many() <= 8



# --- the public page ---------------------------------------------------------------------------

def test_the_results_page_is_public_and_shows_the_ledger_figures(client, clock, portfolio):
    contribute(datetime(2026, 8, 1, tzinfo=UTC), 500_00, clock, "page")
    response = client.get("/results")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    raised = facility_totals()["raised"]
    assert raised == 10_000_000 + 500_00
    # The same money shows the same amount here and on the facility page.
    assert "USD 100,500.00" in html and "USD 100,500.00" in client.get("/facility").get_data(as_text=True)
    assert "USD 1,000,000,000.00" in html and "2030" in html and "2025" in html
    for definition in targets.DEFINITIONS.values():
        assert str(definition) in html.replace("&#39;", "'")
    assert "at least 30% of the people live in informal settlements" in html
    for key in ("raised", "cumulative", "engagement", "policy", "focus_area", "sdg_target", "beneficiary_group"):
        assert f'id="chart-{key}-title"' in html and f"/results/{key}.csv" in html
    assert "No data yet." not in html
    # Grants and money per SDG 11 target and per beneficiary group, as tables beside the charts.
    compact = re.sub(r">\s+<", "><", html)
    assert ('<th scope="row">SDG target 11.2</th><td class="num">2</td><td class="num">USD 70,000.00</td>'
            '<td class="num">70.0%</td>') in compact
    assert '<th scope="row">Women</th><td class="num">2</td><td class="num">USD 70,000.00</td>' in compact
    assert "<script" not in html.split("<main", 1)[-1]
    assert "<progress" in html and "table-scroll" in html
    assert "/results" in client.get("/facility").get_data(as_text=True)


def test_a_chart_downloads_its_data_as_csv_with_the_filters(client, clock, portfolio):
    lines = client.get("/results/policy.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Priority,")
    assert lines[1] == "Small and medium-sized cities,70.0,40.0"
    focus = client.get("/results/focus_area.csv?country=DEU").get_data(as_text=True).splitlines()
    assert focus[1:] == [f"{label(FocusArea.PUBLIC_INTEREST_TECH)},30000.00,30000.00"]
    assert client.get("/results/nothing.csv").status_code == 404


def test_the_page_filters_and_reports_a_bad_filter_without_failing(client, clock, portfolio):
    html = client.get("/results?country=DEU").get_data(as_text=True)
    assert "1 grants: USD 30,000.00 awarded, USD 30,000.00 disbursed." in html
    bad = client.get("/results?country=XXX&sdg_target=99.9&size_class=huge&region=Mars")
    assert bad.status_code == 200
    text = bad.get_data(as_text=True)
    assert "Choose a country from the list." in text and "Give an SDG target code" in text
    assert "3 grants: USD 100,000.00 awarded" in text  # the bad values are ignored, not applied


def test_the_charts_read_right_to_left_in_arabic(client, clock, portfolio):
    arabic = client.get("/results", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    english = client.get("/results", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert_time_runs_from_the_right(english, arabic, "cumulative")


def test_the_results_page_takes_the_same_number_of_queries_however_many_grants(client, clock, manager,
                                                                               count_queries):
    granted(challenge_in("Gulu"), 1_000_000, manager, paid=100)
    client.get("/results")
    public_cache.bump()  # the page's own queries, not the shared cache's answer (core.public_cache)
    with count_queries(selects_only=True) as few:
        assert client.get("/results").status_code == 200
    for n in range(4):
        granted(challenge_in(f"More {n}", country="BRA"), 1_000_000, manager)
    with count_queries(selects_only=True) as many:
        client.get("/results")
    assert few() == many()


def test_a_wire_counts_in_the_quarter_the_bank_received_it(app, clock, stripe_on):
    donor = factories.accounts.make_user("donor", organization=factories.accounts.make_org(
        name="Foundation", kind=OrgKind.DONOR, country="NOR"))
    confirmer = factories.accounts.make_user("fund_manager")
    wire = contributions.pledge_contribution(actor=donor, amount_cents=700_00, method="wire")
    contributions.confirm_wire_contribution(contribution=wire, actor=confirmer, received_cents=650_00,
                                            received_on=date(2026, 12, 30), bank_reference="FT-1")
    card = contributions.pledge_contribution(actor=donor, amount_cents=40_00, method="stripe")
    contributions.record_card_contribution(checkout_session_id="cs_test_1", contribution_id=card.id,
                                           amount_cents=40_00)
    db.session.commit()
    capital = results.capital_raised()
    # Confirmed on 2027-03-01 (the clock), received on 2026-12-30; the card payment is booked today.
    assert [(q.quarter.key, q.raised_cents) for q in capital.quarters] == [("2026-Q4", 650_00), ("2027-Q1", 40_00)]
    assert capital.raised_cents == facility_totals()["raised"] == 690_00


def test_the_facility_page_counts_engagement_as_the_results_do(client, clock):
    gulu = challenge_in("Gulu", country="UGA")
    challenge_in("Unverified", country="KEN", verified=False)
    factories.proposals.make_proposal(gulu, via="models", org=innovator("Start"), title="a")
    factories.proposals.make_proposal(gulu, via="models", org=innovator("Charity", OrgType.NGO), title="b")
    counts = _counts()
    assert counts == {"national_governments": 1, "city_governments": 1, "technology_companies": 1}
    page = re.sub(r">\s+<", "><", client.get("/facility").get_data(as_text=True))
    assert (f"<dt>Countries</dt><dd>{counts['national_governments']}</dd>"
            f"<dt>City governments</dt><dd>{counts['city_governments']}</dd>") in page
    assert f"<dt>Technology companies</dt><dd>{counts['technology_companies']}</dd>" in page
    results_page = re.sub(r"\s+", " ", client.get("/results").get_data(as_text=True))
    assert "1 of 20 by" in results_page and "1 of 200 by" in results_page and "1 of 300 by" in results_page
