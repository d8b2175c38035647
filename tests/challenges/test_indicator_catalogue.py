"""The indicator catalogue: U4SSC KPIs and SDG 11 indicators as data, with their sources, and its public page
and API."""
from __future__ import annotations

from facility.challenges import indicators
from facility.challenges.indicators import CATALOGUE_SOURCE, Framework, by_framework, indicator, is_indicator
from facility.challenges.sdg import SDG11_TARGETS


def test_the_u4ssc_kpis_are_91_over_three_dimensions_with_published_codes(app):
    kpis = by_framework(Framework.U4SSC)
    assert len(kpis) == 91
    assert {k.code.split(":")[0] for k in kpis} == {"EC", "EN", "SC"}
    assert str(indicator("EC: ICT: ICT: 1C").name) == "Household Internet Access"
    assert str(indicator("EN: EN: AQ: 1C").name) == "Air Pollution"
    assert str(indicator("SC: SH: HO: 1C").name) == "Informal Settlements"
    assert indicator("EC: ICT: ICT: 5A").core is False and indicator("EC: I: WS: 1C").core is True
    assert all(k.code[-1] in "CA" for k in kpis)


def test_the_sdg11_indicators_belong_to_the_ten_targets(app):
    sdg = by_framework(Framework.SDG11)
    assert [i.code for i in sdg] == ["11.1.1", "11.2.1", "11.3.1", "11.3.2", "11.4.1", "11.5.1", "11.5.2", "11.5.3",
                                     "11.6.1", "11.6.2", "11.7.1", "11.7.2", "11.a.1", "11.b.1", "11.b.2"]
    assert {i.group for i in sdg} <= set(SDG11_TARGETS)
    assert set(indicators.SDG11_TARGET_NAMES) == set(SDG11_TARGETS)


def test_lookup_and_sources(app):
    assert is_indicator("11.6.1") and is_indicator("EC: I: WS: 1C")
    for garbage in ("11.6", "ec: i: ws: 1c", "", None, 3, ["11.6.1"]):
        assert not is_indicator(garbage)
    assert "ITU-T Y.4903" in CATALOGUE_SOURCE[Framework.U4SSC].title
    assert CATALOGUE_SOURCE[Framework.SDG11].date == "2025"


def test_the_public_page_lists_the_catalogue_with_its_sources(client):
    page = client.get("/indicators")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Household Internet Access" in html and "EC: ICT: ICT: 1C" in html and "11.b.2" in html
    assert "A/RES/71/313" in html and "Y.4903" in html


def test_the_api_lists_the_catalogue(client):
    body = client.get("/api/v1/indicators").get_json()
    codes = {item["code"]: item for item in body["items"]}
    assert len(codes) == 106
    assert codes["11.6.1"]["framework"] == "sdg11" and codes["11.6.1"]["group"] == "11.6"
    assert {s["framework"] for s in body["sources"]} == {"u4ssc", "sdg11"}
