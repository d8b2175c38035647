"""The grants as a 360Giving 1.4.3 data package, written one grant at a time.

Amounts are the schema's numbers in US dollars, exact from integer cents: `dollars_number` gives
the int of whole dollars or the float whose shortest decimal form is the two-decimal amount. That
holds for every amount of at most 15 significant digits (a double's DBL_DIG), i.e. below 10**15
cents, USD 10 trillion: ten thousand times the facility.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from facility.portfolio.opendata.identity import LICENCE_URL, Publisher
from facility.portfolio.opendata.source import GrantFacts

VERSION = "1.4"  # the package schema wants major.minor; the data follows 1.4.3
SDG_VOCABULARY = "UN-SDG-Target"
FOCUS_VOCABULARY = "UIF-FocusArea"


def dollars_number(cents: int) -> int | float:
    """Integer cents as a JSON number of dollars whose text is exact."""
    return cents // 100 if cents % 100 == 0 else cents / 100


def _stamp(value: datetime) -> str:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="seconds")


def _dates(start: date | None, end: date | None) -> list[dict[str, str]]:
    event = {k: v.isoformat() for k, v in (("startDate", start), ("endDate", end)) if v is not None}
    return [event] if event else []


def grant_record(grant: GrantFacts, publisher: Publisher, today: date) -> dict[str, Any]:
    """One grant in the 360Giving shape (only payments dated up to `today`: no future transaction)."""
    payments = [p for p in grant.payments if p.paid_on <= today]
    record: dict[str, Any] = {
        "id": publisher.grant_id(grant.id),
        "title": grant.title,
        "description": grant.description,
        "currency": "USD",
        "amountAwarded": dollars_number(grant.amount_cents),
        "amountDisbursed": dollars_number(sum(p.amount_cents for p in payments)),
        "awardDate": grant.awarded_on.isoformat(),
        "url": f"{publisher.website}/grants/{grant.id}",
        "plannedDates": _dates(grant.planned_start, grant.planned_end),
        "actualDates": _dates(grant.accepted_on, grant.completed_on),
        "recipientOrganization": [_recipient(grant, publisher)],
        "fundingOrganization": [{"id": publisher.org_id, "name": publisher.name}],
        "grantProgramme": [{"code": publisher.programme_code(grant.challenge_id), "title": grant.challenge_title,
                            "url": f"{publisher.website}/challenges/{grant.challenge_id}"}],
        "beneficiaryLocation": [_location(grant, publisher)],
        "classifications": [
            *({"vocabulary": SDG_VOCABULARY, "code": code, "title": f"SDG target {code}"} for code in grant.sdg_targets),
            {"vocabulary": FOCUS_VOCABULARY, "code": grant.focus_area, "title": grant.focus_area.replace("_", " ")},
        ],
        "commitmentTransaction": [{"id": f"{publisher.grant_id(grant.id)}-award", "currency": "USD",
                                   "value": dollars_number(grant.amount_cents),
                                   "transactionDate": grant.awarded_on.isoformat()}]
        if grant.awarded_on <= today else [],
        "disbursementTransaction": [{"id": f"{publisher.grant_id(grant.id)}-payment-{p.id}", "currency": "USD",
                                     "value": dollars_number(p.amount_cents),
                                     "transactionDate": p.paid_on.isoformat()} for p in payments],
        "dateModified": _stamp(grant.updated_at),
    }
    if not record["plannedDates"]:
        del record["plannedDates"]
    if not record["actualDates"]:
        del record["actualDates"]
    return record


def _recipient(grant: GrantFacts, publisher: Publisher) -> dict[str, Any]:
    organisation: dict[str, Any] = {"id": publisher.organisation_id(grant.organisation_id, grant.org_identifier),
                                    "name": grant.organisation_name}
    if grant.organisation_type:
        organisation["organisationType"] = grant.organisation_type
    if grant.organisation_country:
        organisation["addressCountry"] = grant.organisation_country
    return organisation


def _location(grant: GrantFacts, publisher: Publisher) -> dict[str, Any]:
    location: dict[str, Any] = {"id": f"360G-{publisher.prefix}-CITY-{grant.city_id}", "name": grant.city_name}
    if grant.country:
        location["countryCode"] = grant.country
    return location


def package_lines(grants: Iterable[GrantFacts], publisher: Publisher, *, now: datetime,
                  download_url: str, access_url: str) -> Iterator[str]:
    """The package's text: its metadata, then `"grants": [` and one grant per line as they come."""
    head = {
        "version": VERSION,
        "title": f"{publisher.name}: grants",
        "description": "Every grant awarded by the facility, generated live from its database.",
        "identifier": f"360G-{publisher.prefix}-grants",
        "issued": _stamp(now),
        "modified": _stamp(now),
        "license": LICENCE_URL,
        "publisher": {"identifier": publisher.org_id, "name": publisher.name, "website": publisher.website},
        "downloadURL": download_url,
        "accessURL": access_url,
    }
    opening = json.dumps(head, ensure_ascii=False)
    yield opening[:-1] + ', "grants": [\n'
    today = now.date()
    separator = ""
    for grant in grants:
        yield separator + json.dumps(grant_record(grant, publisher, today), ensure_ascii=False)
        separator = ",\n"
    yield "\n]}\n"
