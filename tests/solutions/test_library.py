"""The solutions library: which grants are solutions, the list (pagination, filters, constant query count), a
solution's page and the API's reads. Nothing private (report text, KPI values) is ever shown."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.extensions import db
from facility.grants import cancellation, indicators
from facility.grants.indicator_models import TrancheIndicator
from facility.grants.models import Grant, TrancheStatus
from facility.proposals.indicator_models import VALUE_SCALE, Direction
from facility.solutions import queries, replication


def _solution_ids() -> set[int]:
    return set(db.session.execute(sa.select(Grant.id).where(queries.solution_condition())).scalars())


def test_a_grant_with_every_milestone_accepted_is_a_solution(scene):
    solved, _ = scene.make_pilot(name="Solved", accepted=2)
    partial, _ = scene.make_pilot(name="Partial", accepted=1)
    none, _ = scene.make_pilot(name="Nothing", accepted=0)
    assert _solution_ids() == {solved.id}
    assert queries.is_solution(solved.id) and not queries.is_solution(partial.id) and not queries.is_solution(none.id)


def test_paid_and_being_paid_tranches_count_as_accepted_and_cancelled_tranches_are_ignored(scene):
    grant, _ = scene.make_pilot(name="Paid", accepted=1, amounts=(1_000_000, 2_000_000))
    grant.tranches[0].status = TrancheStatus.PAID  # as a payment would leave it
    grant.tranches[1].status = TrancheStatus.CANCELLED  # removed by an amendment
    db.session.commit()
    assert queries.is_solution(grant.id)
    grant.tranches[0].status = TrancheStatus.DISBURSING
    db.session.commit()
    assert queries.is_solution(grant.id)
    grant.tranches[0].status = TrancheStatus.CANCELLED  # no tranche left: nothing was proven
    db.session.commit()
    assert not queries.is_solution(grant.id)


def _measured(grant, manager, grantee, *, value: str | None, verify: bool) -> TrancheIndicator:
    """The grant's first tranche measures SDG 11.6.1 (baseline 10, target 50 %); a value reported, verified or not."""
    indicator = TrancheIndicator(code="11.6.1", unit="%", baseline_scaled=10 * VALUE_SCALE,
                                 target_scaled=50 * VALUE_SCALE, direction=Direction.INCREASE,
                                 method="Share of waste collected, from the city's weighbridge.")
    grant.tranches[0].indicators.append(indicator)
    db.session.flush()
    if value is not None:
        reading = indicators.report_reading(indicator=indicator, actor=grantee, value=value)
        if verify:
            indicators.verify_reading(reading=reading, actor=manager, comment="Weighbridge records checked.")
    db.session.commit()
    return indicator


@pytest.mark.parametrize(("value", "verify", "proven"), [(None, False, False), ("55", False, False), ("55", True, True)])
def test_a_grant_with_indicators_is_a_solution_once_each_is_verified(scene, value, verify, proven):
    grant, grantee = scene.make_pilot(name="Measured", accepted=2)
    _measured(grant, scene.manager, grantee, value=value, verify=verify)
    assert queries.is_solution(grant.id) is proven and (grant.id in _solution_ids()) is proven


def test_an_indicator_of_a_cancelled_tranche_does_not_hold_a_solution_back(scene):
    grant, grantee = scene.make_pilot(name="Cut", accepted=1)
    second = grant.tranches[1]
    second.indicators.append(TrancheIndicator(code="11.6.1", unit="%", baseline_scaled=0, target_scaled=VALUE_SCALE,
                                              direction=Direction.INCREASE, method=""))
    db.session.commit()
    assert not queries.is_solution(grant.id)
    second.status = TrancheStatus.CANCELLED
    db.session.commit()
    assert queries.is_solution(grant.id)


def test_the_replication_is_pre_filled_with_the_indicators_and_their_verified_values(scene):
    grant, grantee = scene.make_pilot(name="Measured", accepted=2)
    _measured(grant, scene.manager, grantee, value="55", verify=True)
    description = replication.prefill(grant, scene.city)["description"]
    assert "11.6.1" in description and "from 10 % to a target of 50 %" in description
    assert "verified: 55 %" in description and "weighbridge" not in description  # the proposal's text stays private


def test_a_cancelled_grant_is_not_a_solution(scene):
    grant, _ = scene.make_pilot(name="Cancelled", accepted=1, amounts=(1_000_000, 2_000_000))
    cancellation.cancel_grant(grant=grant, actor=scene.manager, reason="The grantee stopped the pilot.")
    db.session.commit()
    assert not queries.is_solution(grant.id)


def test_the_library_page_shows_solutions_with_their_public_results_only(scene, client):
    grant, _ = scene.make_pilot(name="Shown", summary="Ten settlements mapped with their residents.")
    scene.make_pilot(name="Unfinished", accepted=1)
    page = client.get("/solutions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Shown solution" in html and "Shown grantee" in html and "Shown city" in html
    assert "Ten settlements mapped with their residents." in html
    assert "Unfinished solution" not in html
    assert "Private report text." not in html and "secret kpi" not in html and "77" not in html.replace("770", "")
    assert f"/solutions/{grant.id}" in html and "Not replicated yet." in html


def test_the_library_filters_by_focus_area_and_country_and_ignores_bad_values(scene, client):
    scene.make_pilot(name="Fiji", country="FJI", focus_area="public_interest_tech")
    scene.make_pilot(name="Kenya", country="KEN", focus_area="inclusive_innovation")
    fiji = client.get("/solutions?country=FJI").get_data(as_text=True)
    assert "Fiji solution" in fiji and "Kenya solution" not in fiji
    inclusive = client.get("/solutions?focus_area=inclusive_innovation").get_data(as_text=True)
    assert "Kenya solution" in inclusive and "Fiji solution" not in inclusive
    for garbage in ("?country=XXX", "?focus_area=nope", "?page=abc", "?page=99999999999"):
        response = client.get("/solutions" + garbage)
        assert response.status_code == 200, garbage
    assert client.get("/solutions?country=%00").status_code < 500  # NUL: refused by the platform, never a 500
    bad = client.get("/solutions?focus_area=nope").get_data(as_text=True)
    assert "Unknown focus area." in bad and "Fiji solution" in bad and "Kenya solution" in bad


def test_the_library_is_paginated(scene, client, monkeypatch):
    monkeypatch.setattr(queries, "PER_PAGE", 2)
    for n in range(3):
        scene.make_pilot(name=f"Paged{n}")
    first, second = client.get("/solutions").get_data(as_text=True), client.get("/solutions?page=2").get_data(as_text=True)
    assert first.count('class="card"') == 2 and second.count('class="card"') == 1
    assert "3 solutions" in first and 'rel="next"' in first
    api = client.get("/api/v1/solutions?per_page=2&page=2").get_json()
    assert api["total"] == 3 and len(api["items"]) == 1 and api["page"] == 2


def _reads(client, count_queries, path: str) -> int:
    client.get(path)
    with count_queries(selects_only=True) as reads:
        assert client.get(path).status_code == 200
    return reads()


@pytest.mark.parametrize("path", ["/solutions", "/api/v1/solutions"])
def test_the_query_count_does_not_grow_with_the_rows(app, scene, client, count_queries, path):
    from facility.solutions import replication

    app.config["PUBLIC_CACHE_ENABLED"] = False  # count the page's own reads, not the cache's answer
    try:
        grants = [scene.make_pilot(name=f"Few{n}", summary="Done.")[0] for n in range(5)]
        replication.start_replication(actor=scene.official, grant=grants[0], city=scene.city)
        db.session.commit()
        few = _reads(client, count_queries, path)
        grants += [scene.make_pilot(name=f"Many{n}", summary="Done.")[0] for n in range(45)]
        for grant in grants[-3:]:
            replication.start_replication(actor=scene.official, grant=grant, city=scene.city)
        db.session.commit()
        many = _reads(client, count_queries, path)
    finally:
        app.config["PUBLIC_CACHE_ENABLED"] = True
    assert many == few, f"{path}: {few} reads with 5 rows, {many} with 50"


def test_a_solution_page_and_a_grant_that_is_none(scene, client):
    grant, _ = scene.make_pilot(name="Page", summary="Maps published as open data.")
    partial, _ = scene.make_pilot(name="Half", accepted=1)
    html = client.get(f"/solutions/{grant.id}").get_data(as_text=True)
    assert "Page solution" in html and "Maps published as open data." in html and "Page city" in html
    assert "2 of 2 milestones accepted." in html and "Private report text." not in html
    assert client.get(f"/solutions/{partial.id}").status_code == 404
    assert client.get("/solutions/999999").status_code == 404
    assert client.get(f"/api/v1/solutions/{partial.id}").status_code == 404
    body = client.get(f"/api/v1/solutions/{grant.id}").get_json()
    assert body["id"] == grant.id and body["title"] == "Page solution" and body["city"]["name"] == "Page city"
    assert body["results"][0]["public_summary"] == "Maps published as open data."
    assert "secret kpi" not in str(body) and "Private report text." not in str(body)


def test_the_public_grant_page_of_a_solution_offers_to_replicate_it(scene, client):
    grant, _ = scene.make_pilot(name="Linked")
    partial, _ = scene.make_pilot(name="NotYet", accepted=1)
    html = client.get(f"/grants/{grant.id}/public").get_data(as_text=True)
    assert f"/solutions/{grant.id}/replicate" in html and "Replicate this solution" in html
    assert "Replicate this solution" not in client.get(f"/grants/{partial.id}/public").get_data(as_text=True)


def test_the_api_filters_and_refuses_garbage_with_422(scene, client):
    scene.make_pilot(name="Api", country="FJI")
    assert client.get("/api/v1/solutions?country=FJI").get_json()["total"] == 1
    assert client.get("/api/v1/solutions?country=KEN").get_json()["total"] == 0
    # an unknown country is refused as the register's and the results' filters refuse it (it was an empty page)
    for garbage in ("?focus_area=nope", "?country=TOOLONG", "?country=ZZZ", "?page=0", "?per_page=1000"):
        response = client.get("/api/v1/solutions" + garbage)
        assert response.status_code == 422, garbage
        assert response.content_type.startswith("application/problem+json")


def test_the_api_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/solutions"]
    assert "get" in paths["/api/v1/solutions/{grant_id}"]
    assert "post" in paths["/api/v1/solutions/{grant_id}/replications"]


def test_the_navigation_links_the_library(client):
    assert 'href="/solutions"' in client.get("/").get_data(as_text=True)
