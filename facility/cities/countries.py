"""UN country groups (LDC, LLDC, SIDS) and the Global South flag, from the project's dated copy.

The copy lives in `facility/cities/data/country-groups.csv` (source and date in
`data/NOTICE.md`). `derive_rows()` is the single rule that turns the upstream
`country-codes.csv` into that copy; `flask --app wsgi facility` does not need it at run
time, but the tests use it to check the copy still agrees with the source.

Global South (the project's definition, kept as data): every country or area with a UN M49
region, except the Global North = M49 "Europe", "Northern America" and "Australia and New
Zealand", plus Japan, the Republic of Korea and Israel. This follows the UN Statistics
Division's former developed/developing regions split (M49) with the three high-income Asian
economies that are members of neither the G77 nor a developing region. Antarctica is in neither.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).parent / "data" / "country-groups.csv"
GROUPS = ("LDC", "LLDC", "SIDS")

GLOBAL_NORTH_REGIONS = {"Europe"}
GLOBAL_NORTH_SUBREGIONS = {"Northern America", "Australia and New Zealand"}
GLOBAL_NORTH_COUNTRIES = {"JPN", "KOR", "ISR"}

SOURCE_COLUMNS = {
    "LDC": "Least Developed Countries (LDC)",
    "LLDC": "Land Locked Developing Countries (LLDC)",
    "SIDS": "Small Island Developing States (SIDS)",
}
FIELDS = ("alpha3", "alpha2", "name", "region", "LDC", "LLDC", "SIDS", "global_south")
REGIONS = ("Africa", "Americas", "Asia", "Europe", "Oceania")  # UN M49 regions


@dataclass(frozen=True)
class CountryGroups:
    alpha3: str
    name: str
    groups: tuple[str, ...]
    global_south: bool
    alpha2: str = ""
    region: str = ""  # UN M49 region (one of REGIONS), "" for Antarctica


def derive_rows(source: Iterable[dict]) -> list[dict]:
    """Turn rows of the upstream country-codes.csv into rows of our copy (sorted by alpha-3)."""
    out = []
    for row in source:
        alpha3 = (row.get("ISO3166-1-Alpha-3") or "").strip()
        if not alpha3:
            continue
        region = (row.get("Region Name") or "").strip()
        subregion = (row.get("Sub-region Name") or "").strip()
        south = bool(region) and region not in GLOBAL_NORTH_REGIONS \
            and subregion not in GLOBAL_NORTH_SUBREGIONS and alpha3 not in GLOBAL_NORTH_COUNTRIES
        item = {"alpha3": alpha3, "alpha2": (row.get("ISO3166-1-Alpha-2") or "").strip(),
                "name": (row.get("CLDR display name") or row.get("official_name_en") or "").strip(),
                "region": region}
        for group, column in SOURCE_COLUMNS.items():
            item[group] = "1" if (row.get(column) or "").strip().lower() == "x" else "0"
        item["global_south"] = "1" if south else "0"
        out.append(item)
    return sorted(out, key=lambda r: r["alpha3"])


def read_copy(path: Path = DATA_FILE) -> list[dict]:
    """The rows of our copy, skipping the '#' comment lines that carry source and date."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@cache
def _table() -> dict[str, CountryGroups]:
    table = {}
    for row in read_copy():
        groups = tuple(g for g in GROUPS if row[g] == "1")
        table[row["alpha3"]] = CountryGroups(row["alpha3"], row["name"], groups, row["global_south"] == "1",
                                             row["alpha2"], row["region"])
    return table


def lookup(alpha3: str | None) -> CountryGroups | None:
    """The groups of one country (None when the code is unknown)."""
    return _table().get((alpha3 or "").upper())


def country_groups(alpha3: str | None) -> list[str]:
    found = lookup(alpha3)
    return list(found.groups) if found else []


def is_global_south(alpha3: str | None) -> bool:
    found = lookup(alpha3)
    return bool(found and found.global_south)


def region_of(alpha3: str | None) -> str:
    """The country's UN M49 region ("" when unknown)."""
    found = lookup(alpha3)
    return found.region if found else ""


def alpha2_of(alpha3: str | None) -> str:
    """The country's ISO 3166-1 alpha-2 code ("" when unknown), as 360Giving and IATI want it."""
    found = lookup(alpha3)
    return found.alpha2 if found else ""


def codes_where(*, group: str | None = None, region: str | None = None, global_south: bool | None = None) -> list[str]:
    """Every alpha-3 code in a country group ("LDC", "LLDC", "SIDS"), a region, or the Global South:
    the list a SQL filter uses (`City.country.in_(...)`), since the groups live in this copy, not the database."""
    out = []
    for row in _table().values():
        if group and group not in row.groups:
            continue
        if region and row.region != region:
            continue
        if global_south is not None and row.global_south != global_south:
            continue
        out.append(row.alpha3)
    return sorted(out)


def write_copy(rows: list[dict], path: Path = DATA_FILE, *, source: str, date: str) -> None:
    """Regenerate our copy (used by hand when the UN lists change; see data/NOTICE.md)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(f"# Source: {source}\n# Retrieved: {date}\n")
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
