"""The grants as one table (CSV and XLSX): one row per grant, the same facts as 360Giving and IATI.

Numbers are numbers (`core.exports` column kinds): amounts in US dollars from cents, counts as
integers, dates as dates.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from facility.core.exports import Column
from facility.portfolio.opendata.identity import Publisher
from facility.portfolio.opendata.source import GrantFacts

COLUMNS = (
    Column("id"), Column("iati_identifier"), Column("number", "int"), Column("title"), Column("status"),
    Column("currency"), Column("amount_awarded", "money"), Column("amount_disbursed", "money"),
    Column("award_date", "date"), Column("planned_start", "date"), Column("planned_end", "date"),
    Column("actual_start", "date"), Column("actual_end", "date"), Column("last_payment_date", "date"),
    Column("tranches", "int"), Column("tranches_paid", "int"),
    Column("recipient_org_id"), Column("recipient_org_name"), Column("recipient_org_type"),
    Column("recipient_org_country"), Column("challenge_id"), Column("challenge_title"), Column("city"),
    Column("country"), Column("focus_area"), Column("sdg_targets"), Column("date_modified", "datetime"),
)


def grant_row(grant: GrantFacts, publisher: Publisher, today: date) -> list[Any]:
    """One grant's cells, in `COLUMNS` order (payments dated after `today` are not counted)."""
    payments = [p for p in grant.payments if p.paid_on <= today]
    return [
        publisher.grant_id(grant.id), publisher.activity_id(grant.id), grant.id, grant.title, grant.status.value,
        "USD", grant.amount_cents, sum(p.amount_cents for p in payments),
        grant.awarded_on, grant.planned_start, grant.planned_end, grant.accepted_on, grant.completed_on,
        max((p.paid_on for p in payments), default=None), len(grant.tranches), len(payments),
        publisher.organisation_id(grant.organisation_id, grant.org_identifier), grant.organisation_name,
        grant.organisation_type, grant.organisation_country, publisher.programme_code(grant.challenge_id),
        grant.challenge_title, grant.city_name, grant.country, grant.focus_area, ";".join(grant.sdg_targets),
        grant.updated_at,
    ]


def grant_rows(grants: Iterable[GrantFacts], publisher: Publisher, today: date) -> Iterator[list[Any]]:
    for grant in grants:
        yield grant_row(grant, publisher, today)
