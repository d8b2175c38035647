"""The grants as IATI 2.03 activities, one `iati-activity` per grant, written one at a time.

Element order follows the 2.03 activities XSD. The facility is the reporting and funding
organisation, the grantee the implementing one; the sector is DAC 43030 (urban development and
management, vocabulary 1) and the challenge's SDG targets are tags of vocabulary 3 (SDG target).
The award is an outgoing commitment (type 2), each payment a disbursement (type 3); no transaction
and no actual date later than today is written. Each milestone measured with indicators is an outcome `result`
whose indicators carry baseline, target and the latest verified value (never one not yet verified).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

from flask_babel import force_locale

from facility.challenges.indicators import indicator, is_indicator
from facility.core.exports import dollars
from facility.grants.models import GrantStatus
from facility.portfolio.opendata.identity import FACILITY_ORG_TYPE, Publisher
from facility.portfolio.opendata.source import GrantFacts, IndicatorFacts

# IATI ActivityStatus: 1 pipeline (awaiting approval or the grantee's acceptance), 2 implementation,
# 3 finalisation, 5 cancelled. A completed grant is
# "finalisation", not "closed": a reversed payment can still reopen it.
# An award awaiting approval is "pipeline" like an offered one.
ACTIVITY_STATUS = {GrantStatus.PENDING_APPROVAL: "1", GrantStatus.OFFERED: "1", GrantStatus.ACTIVE: "2",
                   GrantStatus.COMPLETED: "3", GrantStatus.CANCELLED: "5"}
# IATI OrganisationType of each organisation type: 70 private sector, 22 national NGO, 80 academic, 10 government.
ORG_TYPE = {"startup": "70", "sme": "70", "community_organization": "22", "ngo": "22", "university": "80",
            "public_agency": "10"}
URBAN_DEVELOPMENT = "43030"
# Characters XML 1.0 cannot carry at all (a stray control character must not break the file).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    text = _NOT_XML.sub("", value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return '"' + _text(value).replace('"', "&quot;") + '"'


def _narrative(value: str) -> str:
    return f"<narrative>{_text(value)}</narrative>"


def _stamp(value: datetime) -> str:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="seconds")


def _org(tag: str, ref: str, org_type: str, name: str, role: str | None = None) -> str:
    role_attr = f" role={_attr(role)}" if role else ""
    type_attr = f" type={_attr(org_type)}" if org_type else ""
    return f"<{tag} ref={_attr(ref)}{type_attr}{role_attr}>{_narrative(name)}</{tag}>"


def _transaction(code: str, day: date, cents: int, description: str, provider: str, receiver: str) -> str:
    return (f'<transaction><transaction-type code="{code}"/><transaction-date iso-date="{day.isoformat()}"/>'
            f'<value currency="USD" value-date="{day.isoformat()}">{dollars(cents)}</value>'
            f"<description>{_narrative(description)}</description>{provider}{receiver}</transaction>")


def activity(grant: GrantFacts, publisher: Publisher, today: date) -> str:
    """One grant as an `iati-activity` element."""
    grantee_ref = publisher.organisation_id(grant.organisation_id, grant.org_identifier)
    grantee_type = ORG_TYPE.get(grant.organisation_type, "")
    parts = [
        f'<iati-activity last-updated-datetime="{_stamp(grant.updated_at)}" xml:lang="en" default-currency="USD">',
        f"<iati-identifier>{_text(publisher.activity_id(grant.id))}</iati-identifier>",
        _org("reporting-org", publisher.org_id, FACILITY_ORG_TYPE, publisher.name),
        f"<title>{_narrative(grant.title)}</title>",
        f'<description type="1">{_narrative(grant.description)}</description>',
        _org("participating-org", publisher.org_id, FACILITY_ORG_TYPE, publisher.name, role="1"),
        _org("participating-org", grantee_ref, grantee_type, grant.organisation_name, role="4"),
        f'<activity-status code="{ACTIVITY_STATUS[grant.status]}"/>',
        *_activity_dates(grant, today),
    ]
    if grant.country:
        parts.append(f'<recipient-country code={_attr(grant.country)} percentage="100"/>')
    parts.append(f'<sector vocabulary="1" code="{URBAN_DEVELOPMENT}" percentage="100"/>')
    parts.extend(f'<tag vocabulary="3" code={_attr(code)}/>' for code in grant.sdg_targets)
    parts.extend(_transactions(grant, publisher, today, grantee_ref, grantee_type))
    parts.extend(_results(grant, today))
    parts.append("</iati-activity>")
    return "".join(parts)


def _activity_dates(grant: GrantFacts, today: date) -> Iterator[str]:
    # IATI ActivityDateType: 1 planned start, 2 actual start, 3 planned end, 4 actual end.
    yield f'<activity-date type="1" iso-date="{grant.planned_start.isoformat()}"/>'
    if grant.accepted_on is not None and grant.accepted_on <= today:
        yield f'<activity-date type="2" iso-date="{grant.accepted_on.isoformat()}"/>'
    if grant.planned_end is not None:
        yield f'<activity-date type="3" iso-date="{grant.planned_end.isoformat()}"/>'
    if grant.completed_on is not None and grant.completed_on <= today:
        yield f'<activity-date type="4" iso-date="{grant.completed_on.isoformat()}"/>'


def _transactions(grant: GrantFacts, publisher: Publisher, today: date, grantee_ref: str,
                  grantee_type: str) -> Iterator[str]:
    provider = _org("provider-org", publisher.org_id, FACILITY_ORG_TYPE, publisher.name)
    receiver = _org("receiver-org", grantee_ref, grantee_type, grant.organisation_name)
    if grant.awarded_on <= today:
        yield _transaction("2", grant.awarded_on, grant.amount_cents, "Grant awarded", provider, receiver)
    for payment in grant.payments:
        if payment.paid_on <= today:
            yield _transaction("3", payment.paid_on, payment.amount_cents, "Tranche paid", provider, receiver)


def _number(value: Decimal) -> str:
    return f"{value:f}"


def _results(grant: GrantFacts, today: date) -> Iterator[str]:
    """One outcome `result` per milestone with indicators: each indicator's baseline (the award's year), target
    and, once verified, its latest verified value as the period's actual (measure 1: a unit; vocabulary 99: the
    reporting organisation's, the code as the catalogue gives it)."""
    titles = {t.position: (t.title, t.due_date) for t in grant.tranches}
    by_tranche: dict[int, list[IndicatorFacts]] = {}
    for item in grant.indicators:
        by_tranche.setdefault(item.tranche_position, []).append(item)
    start = grant.awarded_on
    for position, items in by_tranche.items():
        title, due = titles.get(position, (f"Milestone {position}", None))
        end = due if due is not None and due >= start else start
        parts = [f'<result type="2"><title>{_narrative(title)}</title>']
        for item in items:
            name = indicator(item.code).name if is_indicator(item.code) else item.code
            with force_locale("en"):
                name_text = str(name)
            unit = f" ({item.unit})" if item.unit else ""
            actual = f"<actual value={_attr(_number(item.verified))}/>" if item.verified is not None else ""
            parts.append(
                f'<indicator measure="1" ascending="{1 if item.increase else 0}">'
                f"<title>{_narrative(f'{item.code} {name_text}{unit}')}</title>"
                f'<reference vocabulary="99" code={_attr(item.code)}/>'
                f'<baseline year="{start.year}" value={_attr(_number(item.baseline))}/>'
                f'<period><period-start iso-date="{start.isoformat()}"/><period-end iso-date="{end.isoformat()}"/>'
                f"<target value={_attr(_number(item.target))}/>{actual}</period></indicator>")
        parts.append("</result>")
        yield "".join(parts)


def document_lines(grants: Iterable[GrantFacts], publisher: Publisher, *, now: datetime) -> Iterator[str]:
    """The file's text: the root element, then one activity per line as they come."""
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<iati-activities version="2.03" generated-datetime="{_stamp(now)}">\n')
    today = now.date()
    for grant in grants:
        yield activity(grant, publisher, today) + "\n"
    yield "</iati-activities>\n"
