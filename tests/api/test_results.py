"""GET /api/v1/results and GET /api/v1/facility: public, every amount named with its unit, the same
money as the ledger and the results page."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the results tests
from __future__ import annotations

from datetime import UTC, datetime

from facility.ledger.balances import facility_totals
from tests.portfolio.test_results import contribute, manager, portfolio  # noqa: F401


def _amount_keys(node, path=""):
    """Every key holding an integer in the document, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, int) and not isinstance(value, bool):
                yield f"{path}{key}", key
            yield from _amount_keys(value, f"{path}{key}.")
    elif isinstance(node, list):
        for item in node:
            yield from _amount_keys(item, path)


def test_results_are_public_and_name_every_amount_with_its_unit(client, clock, portfolio):
    contribute(datetime(2026, 8, 1, tzinfo=UTC), 500_00, clock, "api")
    response = client.get("/api/v1/results")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    body = response.json
    assert set(body) == {"capital", "engagement", "money", "by_policy", "by_focus_area", "by_sdg_target",
                         "by_beneficiary_group", "large_informal_settlements_min_pct", "filters"}
    capital = body["capital"]
    assert capital["raised_cents"] == facility_totals()["raised"] == 10_050_000
    assert capital["target_cents"] == capital["target"]["value"] == 100_000_000_000
    assert capital["target"]["unit"] == "cents" and capital["deadline"] == "2030-12-31"
    assert capital["quarters_left"] == 16 and capital["as_of"] == "2027-03-01"
    assert [q["quarter"] for q in capital["quarters"]] == ["2026-Q3", "2026-Q4", "2027-Q1"]
    assert capital["quarters"][-1]["cumulative_cents"] == capital["raised_cents"]
    assert capital["rate_basis"] == "since_start" and isinstance(capital["progress_pct"], float)
    # Every integer is a count, a number of quarters or a percentage threshold, or ends in _cents.
    counts = {"grants", "count", "value", "quarters_left", "large_informal_settlements_min_pct"}
    assert all(key.endswith("_cents") or key in counts for _path, key in _amount_keys(body))
    engagement = {e["key"]: (e["count"], e["target"]["value"], e["target"]["deadline"]) for e in body["engagement"]}
    assert engagement == {"national_governments": (3, 20, "2025-12-31"), "city_governments": (3, 200, "2025-12-31"),
                          "technology_companies": (3, 300, "2025-12-31")}
    assert all(e["target"]["definition"] and e["target"]["source"] for e in body["engagement"])
    totals = facility_totals()
    assert body["money"]["awarded_cents"] == totals["committed"] + totals["disbursed"]
    assert body["money"]["disbursed_cents"] == totals["disbursed"]
    policy = {m["key"]: (m["awarded_pct"], m["disbursed_pct"]) for m in body["by_policy"]}
    assert policy["small_and_medium_cities"] == (70.0, 40.0) and policy["global_south"] == (70.0, 40.0)
    assert {m["key"] for m in body["by_focus_area"]} == {"inclusive_innovation", "public_interest_tech"}
    assert len(body["by_sdg_target"]) == 10 and {m["key"] for m in body["by_beneficiary_group"]} >= {"women", "youth"}


def test_results_take_the_filters_and_refuse_bad_ones_as_problem_json(client, clock, portfolio):
    body = client.get("/api/v1/results?country=DEU").json
    assert body["filters"] == {"country": "DEU"}
    assert body["money"]["grants"] == 1 and body["money"]["awarded_cents"] == 3_000_000
    assert {e["key"]: e["count"] for e in body["engagement"]}["city_governments"] == 1
    assert body["capital"]["raised_cents"] == facility_totals()["raised"]  # never filtered
    response = client.get("/api/v1/results?country=XXX&sdg_target=99.9&country_group=rich&size_class=huge")
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    errors = response.json["errors"]
    assert {"country", "sdg_target", "country_group", "size_class"} <= {key.split(".")[-1] for key in errors}


def test_facility_totals_name_every_amount_with_its_unit_and_match_the_results(client, clock, portfolio):
    body = client.get("/api/v1/facility").json
    totals = facility_totals()
    assert {key: body[f"{key}_cents"] for key in totals} == totals
    for key in ("target", "raised", "unallocated", "allocated", "committed", "disbursed"):
        assert key not in body
    assert body["raised_cents"] == client.get("/api/v1/results").json["capital"]["raised_cents"]
    results = client.get("/api/v1/results").json
    engaged = {e["key"]: e["count"] for e in results["engagement"]}
    assert (body["countries"], body["cities"], body["technology_companies"]) == (
        engaged["national_governments"], engaged["city_governments"], engaged["technology_companies"])
    assert body["progress_pct"] == round(totals["raised"] * 100 / totals["target"], 1)


def test_the_document_describes_results_and_their_units(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/results"]["get"]
    assert operation.get("security") == []
    schemas = spec["components"]["schemas"]
    assert "raised_cents" in schemas["Capital"]["properties"]
    assert "percent" in schemas["Money"]["properties"]["awarded_pct"]["description"]
    facility = schemas["Facility"]["properties"]
    assert {"target_cents", "raised_cents", "unallocated_cents", "allocated_cents", "committed_cents",
            "disbursed_cents"} <= set(facility)
