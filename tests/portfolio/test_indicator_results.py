"""The results framework's indicators: grants measuring each code and verified values at target; unverified
values never count; one statement whatever the number of grants."""
from __future__ import annotations

from facility.extensions import db
from facility.grants import indicators
from facility.portfolio.indicator_results import indicator_results
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401 - fixtures
from tests.grants.test_indicators import measured  # noqa: F401 - the fixture


def test_counts_grants_and_verified_values_at_target(measured, client):  # noqa: F811
    grant, manager, grantee = measured
    water, waste = grant.tranches[0].indicators
    def report(*values):
        for value, verify in values:
            reading = indicators.report_reading(indicator=water, actor=grantee, value=value)
            if verify:
                indicators.verify_reading(reading=reading, actor=manager)
        db.session.commit()
        return {r.code: (r.grants, r.verified, r.reached) for r in indicator_results()}

    # an indicator counts once, by its latest verified value: 70 then 81 (target 80) is one at target
    assert report(("70", True), ("81", True)) == {"EC: I: WS: 1C": (1, 1, 1), "11.6.1": (1, 0, 0)}
    # verified again lower, it is no longer at target; a value awaiting verification never counts
    results = report(("60", True), ("99", False))
    assert results == {"EC: I: WS: 1C": (1, 1, 0), "11.6.1": (1, 0, 0)}
    listed = client.get("/api/v1/indicators/results").get_json()["items"]
    api = {r["code"]: (r["grants"], r["verified"], r["reached"]) for r in listed}
    assert api == results
    html = client.get("/results").get_data(as_text=True)
    assert "Basic Water Supply" in html and "Grants measuring each indicator" in html


def test_one_statement(measured, count_queries):  # noqa: F811
    db.session.expire_all()
    with count_queries(selects_only=True) as counted:
        indicator_results()
    assert counted() == 1
