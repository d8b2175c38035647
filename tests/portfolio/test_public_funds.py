"""The public ledger's funds table and fund filter."""
from __future__ import annotations

from facility.core.models import utcnow
from facility.core.templating import money
from facility.extensions import db
from facility.grants import contributions
from facility.ledger.models import Fund
from facility.ledger.services import UNALLOCATED, pool_account, transfer
from facility.portfolio import public_funds
from tests import factories


def _received(actor, manager, cents, earmark=None):
    contribution = contributions.pledge_contribution(actor=actor, amount_cents=cents, method="wire", earmark=earmark)
    contributions.confirm_wire_contribution(contribution=contribution, actor=manager, received_cents=cents,
                                            received_on=utcnow().date(), bank_reference=f"FT-{contribution.id}")
    db.session.commit()
    return contribution


def _scene(make_user):
    manager, donor = make_user("fund_manager"), make_user("donor")
    earmarked = _received(donor, manager, 300_000, {"region": "Africa"})
    other = _received(donor, manager, 50_000, {"focus_area": "public_interest_tech"})
    _received(donor, manager, 700_000)
    city, official = factories.cities.make_city(name="Kampala", country="UGA")
    challenge = factories.challenges.make_challenge(city, official, state="published", via="models")
    transfer(key="pool", source=UNALLOCATED, target=pool_account(challenge.id), amount_cents=400_000,
             funds=[earmarked.fund_id, None], actor=manager, kind="challenge_approval")
    db.session.commit()
    return earmarked, other


def test_funds_table_shows_each_fund_and_the_general_fund(app, make_user):
    earmarked, other = _scene(make_user)
    rows = {row.fund_id: row for row in public_funds.funds_page(page=1, per_page=25).items}
    assert set(rows) == {None, earmarked.fund_id, other.fund_id}
    mine = rows[earmarked.fund_id]
    assert (mine.raised, mine.unallocated, mine.allocated, mine.committed, mine.disbursed) == (300_000, 0, 300_000, 0, 0)
    assert mine.earmark == "Region: Africa"
    general = rows[None]
    assert (general.raised, general.unallocated, general.allocated) == (700_000, 600_000, 100_000)
    assert rows[other.fund_id].unallocated == 50_000


def test_public_ledger_page_has_the_funds_table_and_filter(client, app, make_user):
    earmarked, other = _scene(make_user)
    html = client.get("/facility/ledger").get_data(as_text=True)
    assert "Funds" in html and f'id="fund-{earmarked.fund_id}"' in html and 'id="fund-general"' in html
    assert '<label for="fund"' in html
    only = client.get(f"/facility/ledger?fund={earmarked.fund_id}").get_data(as_text=True)
    assert "2 movements" in only  # its contribution and the pool's draw
    assert "1 movement" in client.get(f"/facility/ledger?fund={other.fund_id}").get_data(as_text=True)
    assert client.get("/facility/ledger?fund=abc").status_code == 200  # a bad filter is shown and ignored
    api = client.get(f"/api/v1/facility/ledger?fund={earmarked.fund_id}")
    assert api.status_code == 200 and api.json["total"] == 2


def test_funds_table_costs_the_same_whatever_its_size(app, make_user):
    import sqlalchemy as sa

    _scene(make_user)
    statements: list[str] = []

    def count(*_args):
        statements.append("q")

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        public_funds.funds_page(page=1, per_page=25)
        few = len(statements)
        manager, donor = make_user("fund_manager"), make_user("donor")
        for n in range(5):
            _received(donor, manager, 1_000 + n, {"region": "Asia"})
        statements.clear()
        public_funds.funds_page(page=1, per_page=25)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == few


def test_ledger_rows_name_the_funds_that_paid(client, app, make_user):
    earmarked, _other = _scene(make_user)
    html = client.get("/facility/ledger").get_data(as_text=True)
    name = db.session.get(Fund, earmarked.fund_id).name
    assert f"{name}: {money(300_000)}; General fund: {money(100_000)}" in html  # the pool's draw
    splits = public_funds.fund_splits([1, 2, 3, 4, 5])
    pool_draw = next(split for split in splits.values() if len(split) == 2)
    assert [cents for _name, cents in pool_draw] == [300_000, 100_000]
    assert any(split == [(pool_draw[0][0], None)] for split in splits.values())  # the earmarked contribution
    assert public_funds.fund_splits([]) == {}
