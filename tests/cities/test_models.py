"""Size classes, country groups and the priority score, with hand-computed values."""
import csv
from pathlib import Path

import pytest

from facility.cities import countries
from facility.cities.models import City, ClimateRisk, SizeClass, size_class_for

SHARED_CSV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "country-codes.csv"


@pytest.mark.parametrize(("population", "expected"), [
    (1, SizeClass.SMALL), (499_999, SizeClass.SMALL), (500_000, SizeClass.MEDIUM), (999_999, SizeClass.MEDIUM),
    (1_000_000, SizeClass.LARGE), (4_999_999, SizeClass.LARGE), (5_000_000, SizeClass.VERY_LARGE),
    (9_999_999, SizeClass.VERY_LARGE), (10_000_000, SizeClass.MEGACITY), (37_000_000, SizeClass.MEGACITY),
])
def test_size_class_boundaries(population, expected):
    assert size_class_for(population) == expected


def _city(**kw) -> City:
    values = dict(name="X", country="UGA", population=1_700_000, informal_settlement_share_pct=60,
                  climate_risk=ClimateRisk.HIGH)
    values.update(kw)
    return City(**values)


@pytest.mark.parametrize(("kw", "score", "points"), [
    # Kampala: large 10 + 60% -> 12 + high 15 + Global South 15 + LDC 10 + LLDC 5 = 67
    (dict(), 67, [10, 12, 15, 15, 15]),
    # Suva: small 25 + 25% -> 5 + high 15 + Global South 15 + SIDS 10 = 70
    (dict(country="FJI", population=94_000, informal_settlement_share_pct=25), 70, [25, 5, 15, 15, 10]),
    # Lyon: large 10 + 2% -> 0 + medium 8 + Global North 0 + no group 0 = 18
    (dict(country="FRA", population=1_430_000, informal_settlement_share_pct=2, climate_risk=ClimateRisk.MEDIUM),
     18, [10, 0, 8, 0, 0]),
    # A Haitian megacity: 0 + 100% -> 20 + low 0 + 15 + LDC 10 + SIDS 10 = 55
    (dict(country="HTI", population=12_000_000, informal_settlement_share_pct=100, climate_risk=ClimateRisk.LOW),
     55, [0, 20, 0, 15, 20]),
    # Rounding half up: 37% -> 7.4 -> 7; 38% -> 7.6 -> 8 (medium city in Brazil, Global South only)
    (dict(country="BRA", population=600_000, informal_settlement_share_pct=37, climate_risk=ClimateRisk.LOW),
     20 + 7 + 0 + 15 + 0, [20, 7, 0, 15, 0]),
    (dict(country="BRA", population=600_000, informal_settlement_share_pct=38, climate_risk=ClimateRisk.LOW),
     20 + 8 + 0 + 15 + 0, [20, 8, 0, 15, 0]),
])
def test_priority_score_hand_computed(kw, score, points):
    city = _city(**kw)
    assert [c.points for c in city.priority_components()] == points
    assert city.priority_score == score
    assert 0 <= city.priority_score <= 100


def test_the_best_possible_city_stays_within_100():
    city = _city(country="HTI", population=50_000, informal_settlement_share_pct=100)
    assert city.priority_score == 25 + 20 + 15 + 15 + 20


def test_country_groups_and_global_south():
    assert _city(country="NPL").country_groups == ["LDC", "LLDC"]
    assert _city(country="FJI").country_groups == ["SIDS"]
    assert _city(country="FRA").country_groups == []
    assert _city(country="BRA").global_south is True
    assert _city(country="FRA").global_south is False
    assert _city(country="JPN").global_south is False
    assert _city(country="AUS").global_south is False
    assert countries.lookup("ATA").global_south is False
    assert countries.lookup("ZZZ") is None


def test_copy_records_its_source_and_date():
    head = countries.DATA_FILE.read_text(encoding="utf-8").splitlines()[:2]
    assert head[0].startswith("# Source:") and "caa72d1e0e5af8876c170bb36a9e4d64a01bba88" in head[0]
    assert head[1].startswith("# Retrieved: 2026-")


def test_copy_agrees_with_the_un_source():
    if not SHARED_CSV.exists():
        pytest.skip(f"the UN source file {SHARED_CSV} is not present on this machine")
    with SHARED_CSV.open(encoding="utf-8", newline="") as fh:
        expected = countries.derive_rows(csv.DictReader(fh))
    assert countries.read_copy() == expected
    assert len(expected) > 240
