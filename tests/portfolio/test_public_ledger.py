"""The public ledger: a donor's dollar followed from contribution to pool to award to tranche payment;
running balances; sums = facility totals = stored balances (and `ledger-verify` says so); the anonymous
donor; filters, pagination, CSV."""
from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from facility.extensions import db
from facility.ledger import movements
from facility.ledger.balances import balance, facility_totals
from facility.ledger.models import LedgerAccount
from facility.ledger.services import DISBURSED, UNALLOCATED
from facility.ledger.verify import verify_ledger
from facility.portfolio import public_ledger
from tests.portfolio import public_scene

GIFT = public_scene.GIFT_CENTS
POOL, AWARD, TRANCHE = 50_000_000, 3_000_000, 1_000_000


def _items(client, query=""):
    return client.get("/api/v1/facility/ledger?per_page=100&" + query).json["items"]


def test_a_donors_dollar_from_contribution_to_payment(client, clock):
    scene = public_scene.build(clock)
    items = list(reversed(_items(client)))  # oldest first
    assert [m["kind"] for m in items] == ["contribution", "allocation", "award", "disbursement"]
    contribution, allocation, award, payment = items
    assert contribution["donor"] == "Harbour Foundation" and contribution["amount_cents"] == GIFT
    assert allocation["amount_cents"] == POOL and allocation["link"] == f"/challenges/{scene.challenge.id}"
    assert award["amount_cents"] == AWARD and award["link"] == f"/grants/{scene.grant.id}"
    tranche = scene.grant.tranches[0]
    assert payment["amount_cents"] == TRANCHE and payment["link"] == f"/grants/{scene.grant.id}#tranche-{tranche.id}"
    # Each link leads, anonymously, to a page that shows the next step.
    assert scene.challenge.title in client.get(allocation["link"]).get_data(as_text=True)
    grant_page = client.get(payment["link"].split("#")[0]).get_data(as_text=True)
    assert f'id="tranche-{tranche.id}"' in grant_page and "Paid" in grant_page
    html = client.get("/facility/ledger").get_data(as_text=True)
    for text in ("Contribution received", "Harbour Foundation", "Allocated to a challenge pool", "Grant awarded",
                 "Tranche paid", f'href="/grants/{scene.grant.id}#tranche-{tranche.id}"'):
        assert text in html, text


def test_running_balances(client, clock):
    public_scene.build(clock)
    balances = [{name.removesuffix("_cents"): cents for name, cents in m["balances"].items()}
                for m in reversed(_items(client))]
    assert balances == [
        {"raised": GIFT, "unallocated": GIFT, "allocated": 0, "committed": 0, "disbursed": 0},
        {"raised": GIFT, "unallocated": GIFT - POOL, "allocated": POOL, "committed": 0, "disbursed": 0},
        {"raised": GIFT, "unallocated": GIFT - POOL, "allocated": POOL - AWARD, "committed": AWARD, "disbursed": 0},
        {"raised": GIFT, "unallocated": GIFT - POOL, "allocated": POOL - AWARD, "committed": AWARD - TRANCHE,
         "disbursed": TRANCHE},
    ]


def test_a_page_of_movements_reads_its_balances_from_either_end_alike(client, clock):
    """`movements_of` sums from the start or from the stored balances back, whichever end is nearer: both
    give the balances of the whole window (`running_movements`), for one row, a page, or rows far apart."""
    public_scene.build(clock)
    every = db.session.execute(sa.select(movements.running_movements())).all()
    by_id = {row.id: tuple(row) for row in every}
    ids = sorted(by_id)
    for chosen in ([ids[0]], [ids[-1]], ids[:2], ids[-2:], [ids[0], ids[-1]], ids):
        got = movements.movements_of(chosen)
        assert [row.id for row in got] == sorted(chosen, reverse=True)
        assert [tuple(row) for row in got] == [by_id[i] for i in sorted(chosen, reverse=True)], chosen
    assert movements.movements_of([]) == []


def test_sums_equal_facility_totals_and_stored_balances(client, clock):
    public_scene.build(clock)
    public_scene.extra_grants(3, country="FJI")
    newest = {name.removesuffix("_cents"): cents for name, cents in _items(client)[0]["balances"].items()}
    totals = facility_totals()
    facility_api = client.get("/api/v1/facility").json
    for name in movements.FIGURES:
        assert newest[name] == totals[name] == facility_api[f"{name}_cents"], name
    assert movements.movement_sums() == {name: totals[name] for name in movements.FIGURES}
    assert newest["unallocated"] == balance(UNALLOCATED) and newest["disbursed"] == balance(DISBURSED)
    html = client.get("/facility/ledger").get_data(as_text=True)
    assert html.count(f"USD {totals['raised'] / 100:,.2f}") >= 2  # "balances now" and the newest row
    assert verify_ledger() == []


def test_ledger_verify_catches_a_mismatch(app, clock):
    public_scene.build(clock)
    runner = app.test_cli_runner()
    sound = runner.invoke(args=["facility", "ledger-verify"])
    assert sound.exit_code == 0, sound.output
    assert "public ledger's movements sum to the facility totals" in sound.output
    # A stored balance that no longer matches its entries: the public ledger and /facility now disagree.
    db.session.execute(sa.update(LedgerAccount).where(LedgerAccount.code == UNALLOCATED)
                       .values(balance_cents=LedgerAccount.balance_cents + 1))
    db.session.commit()
    problems = movements.movements_match_totals()
    assert problems and "unallocated" in problems[0]
    broken = runner.invoke(args=["facility", "ledger-verify"])
    assert broken.exit_code == 1
    assert "public ledger: unallocated movements sum to" in broken.output


def test_anonymous_donor(client, clock):
    scene = public_scene.build(clock, anonymous=True)
    html = client.get("/facility/ledger").get_data(as_text=True)
    assert "anonymous donor" in html and scene.donor_org.name not in html and "Dan Donor" not in html
    assert _items(client, "kind=contribution")[0]["donor"] == "anonymous donor"
    assert scene.donor_org.name not in client.get("/facility/ledger.csv").get_data(as_text=True)


def test_filters(client, clock):
    scene = public_scene.build(clock)
    other = public_scene.extra_grants(2, country="FJI")
    assert [m["kind"] for m in _items(client, "kind=award")] == ["award"] * 3
    assert {m["kind"] for m in _items(client, f"challenge={scene.challenge.id}")} == \
        {"allocation", "award", "disbursement"}
    assert [m["kind"] for m in _items(client, f"grant={scene.grant.id}")] == ["disbursement", "award"]
    assert len(_items(client, f"grant={other[0].id}")) == 1
    gift_day = scene.contribution.received_at.date().isoformat()
    assert [m["kind"] for m in _items(client, f"date_from={gift_day}&date_to={gift_day}")] == ["contribution"]
    assert _items(client, "date_to=2000-01-01") == []
    for bad in ("kind=nope", "date_from=yesterday", "challenge=abc", "grant=-1", "page=0", "challenge=99999999999"):
        assert client.get("/facility/ledger?" + bad).status_code == 200, bad
    assert client.get("/api/v1/facility/ledger?kind=nope").status_code == 422
    csv_text = client.get(f"/facility/ledger.csv?grant={scene.grant.id}").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))) == 3  # header + award + payment


def test_csv(client, clock):
    scene = public_scene.build(clock)
    response = client.get("/facility/ledger.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["kind"] for row in rows] == ["Contribution received", "Allocated to a challenge pool",
                                             "Grant awarded", "Tranche paid"]
    assert rows[0]["donor"] == "Harbour Foundation" and rows[0]["amount_usd"] == "600000.00"
    assert rows[-1]["disbursed_usd"] == "10000.00" and rows[-1]["link"].startswith(f"http://localhost/grants/{scene.grant.id}#")
    assert 'href="/facility/ledger.csv"' in client.get("/facility/ledger").get_data(as_text=True)


def test_pages_cost_the_same(client, clock, count_queries):
    public_scene.build(clock)
    public_scene.extra_grants(30, country="FJI")
    with count_queries() as first:
        html = client.get("/facility/ledger").get_data(as_text=True)
    assert "Page 1 of 2" in html
    with count_queries() as second:
        html = client.get("/facility/ledger?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in html
    assert first() == second()
    with count_queries() as far:
        assert client.get("/facility/ledger?page=500").status_code == 200
    assert far() <= first()


def test_linked_from_the_facility_page_and_nav(client, app):
    html = client.get("/facility").get_data(as_text=True)
    assert 'href="/facility/ledger"' in html and 'href="/grants"' in html


def test_csv_streams_in_batches(client, clock, monkeypatch):
    monkeypatch.setattr(public_ledger, "CSV_BATCH", 3)
    public_scene.build(clock)
    public_scene.extra_grants(4, country="FJI")
    rows = list(csv.DictReader(io.StringIO(client.get("/facility/ledger.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert [int(row["transaction"]) for row in rows] == sorted(int(row["transaction"]) for row in rows)
    assert len(rows) == 4 + 2 + 4  # the scene's four movements, the extra funding (two), four awards
    assert rows[-1]["raised_usd"] == f"{facility_totals()['raised'] / 100:.2f}"
