"""The grant page's indicators: shown to the grantee and staff with their forms; reading, verification and
condition forms refuse the wrong people and garbage."""
from __future__ import annotations

import re

import pytest

from facility.extensions import db
from facility.grants import indicators
from facility.grants.indicator_models import ReadingStatus, TrancheIndicator
from facility.proposals.indicator_models import Direction
from tests.conftest import csrf_token_from
from tests.factories.grants import NO_SPENDING
from tests.grants.test_indicators import measured  # noqa: F401 - the fixture


def _page(client, grant):
    return client.get(f"/grants/{grant.id}").get_data(as_text=True)


def _post(client, grant, tranche, kind, indicator, **fields):
    token = csrf_token_from(_page(client, grant))
    data = {"csrf_token": token, f"{kind}-{indicator.id}-code": indicator.code}
    data.update({f"{kind}-{indicator.id}-{name}": value for name, value in fields.items()})
    return client.post(f"/tranches/{tranche.id}/indicators/{kind}", data=data)


def test_the_grantee_reports_a_value_and_a_fund_manager_verifies_it(measured, signed_in):  # noqa: F811
    grant, manager, grantee = measured
    tranche = grant.tranches[0]
    item = tranche.indicators[0]
    client = signed_in(grantee)
    html = _page(client, grant)
    assert "Basic Water Supply" in html and "Report the value" in html and "Verify the value" not in html
    bad = _post(client, grant, tranche, "reading", item, value="lots")
    assert bad.status_code == 422 and "Give a number" in bad.get_data(as_text=True)
    ok = _post(client, grant, tranche, "reading", item, value="81", note="Survey")
    assert ok.status_code == 302
    assert item.readings[0].status is ReadingStatus.SUBMITTED
    client = signed_in(manager)
    html = _page(client, grant)
    assert "Verify the value" in html and "Make it a payment condition" in html
    refused = _post(client, grant, tranche, "review", item, reject="1", comment="")
    assert refused.status_code == 422
    done = _post(client, grant, tranche, "review", item, verify="1")
    assert done.status_code == 302
    db.session.expire_all()
    assert item.readings[0].status is ReadingStatus.VERIFIED
    done = _post(client, grant, tranche, "condition", item, is_condition="1")
    assert done.status_code == 302
    db.session.expire_all()
    assert item.is_condition
    assert "Payment condition" in _page(client, grant)


@pytest.mark.parametrize("kind", ["reading", "review", "condition"])
def test_the_wrong_people_are_refused(measured, signed_in, client, make_user, make_org, kind):  # noqa: F811
    grant, manager, grantee = measured
    tranche = grant.tranches[0]
    item = tranche.indicators[0]
    data = {f"{kind}-{item.id}-code": item.code}
    assert client.post(f"/tranches/{tranche.id}/indicators/{kind}", data=data).status_code in (302, 400)
    outsider = signed_in(make_user("innovator", organization=make_org(name="Elsewhere")))
    data["csrf_token"] = csrf_token_from(outsider.get("/profile").get_data(as_text=True))
    assert outsider.post(f"/tranches/{tranche.id}/indicators/{kind}", data=data).status_code == 404
    auditor = signed_in(make_user("auditor"))
    data["csrf_token"] = csrf_token_from(auditor.get("/profile").get_data(as_text=True))
    assert auditor.post(f"/tranches/{tranche.id}/indicators/{kind}", data=data).status_code == 403
    wrong = signed_in(grantee if kind != "reading" else manager)
    data["csrf_token"] = csrf_token_from(_page(wrong, grant))
    assert wrong.post(f"/tranches/{tranche.id}/indicators/{kind}", data=data).status_code in (403, 422)


def test_an_unknown_code_is_a_bad_request(measured, signed_in):  # noqa: F811
    grant, manager, grantee = measured
    client = signed_in(grantee)
    token = csrf_token_from(_page(client, grant))
    response = client.post(f"/tranches/{grant.tranches[0].id}/indicators/reading",
                           data={"csrf_token": token, "reading-1-code": "nope"})
    assert response.status_code == 400
    assert re.search("Basic Water Supply", _page(client, grant))


def test_the_public_page_shows_verified_values_only(measured, client):  # noqa: F811
    grant, manager, grantee = measured
    item = grant.tranches[0].indicators[0]
    first = indicators.report_reading(indicator=item, actor=grantee, value="55.5")
    db.session.commit()
    html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "Basic Water Supply" in html and "55.5" not in html
    indicators.verify_reading(reading=first, actor=manager)
    indicators.report_reading(indicator=item, actor=grantee, value="77.7")
    db.session.commit()
    html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "55.5" in html and "77.7" not in html


def test_the_grant_pages_query_count_does_not_grow_with_indicators_and_readings(measured, signed_in,  # noqa: F811
                                                                               count_queries, client):
    grant, manager, grantee = measured
    staff = signed_in(manager)

    def counts() -> tuple[int, int]:
        db.session.expire_all()
        with count_queries(selects_only=True) as full:
            assert staff.get(f"/grants/{grant.id}").status_code == 200
        with count_queries(selects_only=True) as public:
            assert client.get(f"/grants/{grant.id}/public").status_code == 200
        return full(), public()

    before = counts()
    second = grant.tranches[1]
    for code in ("11.1.1", "11.2.1", "11.3.1"):
        second.indicators.append(TrancheIndicator(code=code, unit="%", baseline_scaled=0, target_scaled=10_000,
                                                  direction=Direction.INCREASE, method=""))
    db.session.commit()
    for item in grant.tranches[0].indicators + second.indicators:
        reading = indicators.report_reading(indicator=item, actor=grantee, value="1")
        indicators.verify_reading(reading=reading, actor=manager)
        indicators.report_reading(indicator=item, actor=grantee, value="2")
    db.session.commit()
    assert counts() == before


def test_values_are_reported_with_the_milestone_report(measured, signed_in):  # noqa: F811
    grant, manager, grantee = measured
    tranche = grant.tranches[0]
    water, waste = tranche.indicators
    client = signed_in(grantee)
    html = client.get(f"/tranches/{tranche.id}/evidence").get_data(as_text=True)
    assert f'name="indicator-{water.id}"' in html and "Baseline 40, target 80." in html
    data = {"csrf_token": csrf_token_from(html), "text": "Done", "kpis": "",
            **{f"spending_{name}": "0" for name in ("personnel", "equipment", "services", "travel", "other")}}
    bad = client.post(f"/tranches/{tranche.id}/evidence", data={**data, f"indicator-{water.id}": "lots"})
    assert bad.status_code == 422 and "EC: I: WS: 1C: Give a number" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert tranche.reports == [] and water.readings == []
    ok = client.post(f"/tranches/{tranche.id}/evidence", data={**data, f"indicator-{water.id}": "66"})
    assert ok.status_code == 302, ok.get_data(as_text=True)[:3000]
    db.session.expire_all()
    assert [(r.value, r.report_id) for r in water.readings] == [(66, tranche.reports[0].id)]
    assert waste.readings == []


def test_the_api_reports_values_with_the_evidence(measured, client, api_headers):  # noqa: F811
    grant, manager, grantee = measured
    tranche = grant.tranches[0]
    url = f"/api/v1/tranches/{tranche.id}/evidence"
    body = {"text": "Done", "spending": NO_SPENDING}
    bad = client.post(url, json={**body, "indicator_values": {"nope": 1}}, headers=api_headers(grantee))
    assert bad.status_code == 422
    ok = client.post(url, json={**body, "indicator_values": {"11.6.1": "61.5"}}, headers=api_headers(grantee))
    assert ok.status_code == 201, ok.get_json()
    db.session.expire_all()
    assert [r.value for r in tranche.indicators[1].readings] == [61.5]
