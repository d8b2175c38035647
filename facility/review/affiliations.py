"""Reviewers' declared affiliations: the organisations they worked with in the last three years.

A recent affiliation (current, or ended within `models.AFFILIATION_YEARS`) makes the proposals of that
organisation conflicted for the reviewer (`facts.detect_conflicts`: AFFILIATION by link or name, WEBSITE
by domain), so assignment never gives them one. Reviewers manage only their own (`policy`).
"""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import Organization, User
from facility.audit.services import record
from facility.core.errors import ValidationFailed
from facility.core.inputs import MIN_YEAR, NAME_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.policy import require
from facility.extensions import db
from facility.review import policy
from facility.review.facts import same_name, website_domain
from facility.review.models import ReviewerAffiliation

WEBSITE_CHARS = 300
"""What may be typed: a domain, or a website address it is read from (as `Organization.website`)."""
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _year(value: Any, field: str, errors: dict[str, list[str]]) -> int | None:
    if value is None or value == "":
        return None
    this_year = utcnow().year
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_YEAR <= value <= this_year:
        errors[field] = [_("Give a year from %(low)d to %(high)d.", low=MIN_YEAR, high=this_year)]
        return None
    return value


def _domain(value: Any, errors: dict[str, list[str]]) -> str | None:
    """'https://www.Example.org/' -> 'example.org' (None when not given)."""
    try:
        raw = clean_text(value, "website_domain", limit=WEBSITE_CHARS)
    except ValidationFailed as error:
        errors.update(error.errors)
        return None
    domain = website_domain(raw)
    if raw and not _DOMAIN.match(domain):
        errors["website_domain"] = [_("Give a website domain such as example.org.")]
        return None
    return domain or None


def clean_affiliation(data: dict[str, Any]) -> dict[str, Any]:
    """The affiliation's fields checked and tidied; ValidationFailed with every problem by field."""
    errors: dict[str, list[str]] = {}
    name = ""
    try:
        name = clean_text(data.get("organization_name"), "organization_name", limit=NAME_CHARS, required=True)
    except ValidationFailed as error:
        errors.update(error.errors)
    domain = _domain(data.get("website_domain"), errors)
    from_year, to_year = _year(data.get("from_year"), "from_year", errors), _year(data.get("to_year"), "to_year",
                                                                                  errors)
    if from_year is not None and to_year is not None and from_year > to_year:
        errors["to_year"] = [_("The end year cannot be before the start year.")]
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    return {"organization_name": name, "website_domain": domain, "from_year": from_year, "to_year": to_year}


def _matching_organization(name: str) -> int | None:
    """The one existing organisation of that name (case-insensitive), if exactly one."""
    ids = [org_id for org_id, org_name in db.session.execute(
        sa.select(Organization.id, Organization.name)
        .where(sa.func.lower(Organization.name) == name.lower()).limit(2)).all() if same_name(org_name, name)]
    return ids[0] if len(ids) == 1 else None


def add_affiliation(*, actor: User, **fields: Any) -> ReviewerAffiliation:
    """Rule: a reviewer declares an organisation they worked with (name, optional website domain,
    from/to years; no end year: current); it is linked to the existing organisation of that name
    when there is exactly one."""
    require(policy.can_manage_affiliations(actor))
    clean = clean_affiliation(fields)
    affiliation = ReviewerAffiliation(reviewer_id=actor.id, organization_id=_matching_organization(
        clean["organization_name"]), **clean)
    db.session.add(affiliation)
    db.session.flush()
    record("review.affiliation_added", actor=actor, obj=affiliation,
           details={**clean, "organization_id": affiliation.organization_id})
    return affiliation


def remove_affiliation(*, actor: User, affiliation: ReviewerAffiliation) -> None:
    """Rule: a reviewer removes one of their own declared affiliations (nobody else's)."""
    require(policy.can_remove_affiliation(actor, affiliation))
    details = {"organization_name": affiliation.organization_name, "website_domain": affiliation.website_domain}
    record("review.affiliation_removed", actor=actor, obj=affiliation, details=details)
    db.session.delete(affiliation)
    db.session.flush()
