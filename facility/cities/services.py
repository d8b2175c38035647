"""City rules: creating a profile, editing it, verification by the facility.

Services flush but never commit; the view or API handler that calls them commits once.
"""
from __future__ import annotations

from typing import Any

import pycountry
from flask_babel import gettext as _

from facility.accounts.models import Organization, OrgKind, OrgType, User
from facility.audit.services import record
from facility.cities import policy
from facility.cities.models import City, ClimateRisk
from facility.core.database import lock_row
from facility.core.errors import ValidationFailed
from facility.core.inputs import NAME_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.policy import require
from facility.extensions import db

MAX_POPULATION = 100_000_000  # well above the largest urban agglomeration; catches typing slips


def valid_country(code: Any) -> str | None:
    """The upper-cased ISO 3166-1 alpha-3 code, or None when it is not one."""
    if not isinstance(code, str) or len(code.strip()) != 3:
        return None
    found = pycountry.countries.get(alpha_3=code.strip().upper())
    return found.alpha_3 if found else None


def _clean_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validate the profile fields; raise ValidationFailed listing every problem."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    name = ""
    try:
        name = clean_text(data.get("name") if isinstance(data.get("name"), str) else "", "name", limit=NAME_CHARS)
    except ValidationFailed as error:
        errors.update(error.errors)
    else:
        if not name:
            errors["name"] = [_("Give the city's name.")]
    clean["name"] = name
    country = valid_country(data.get("country"))
    if country is None:
        errors["country"] = [_("Choose a country (its three-letter code, like UGA for Uganda).")]
    clean["country"] = country
    population = data.get("population")
    if isinstance(population, bool) or not isinstance(population, int) or not 0 < population <= MAX_POPULATION:
        errors["population"] = [_("Give the population as a whole number from 1 to %(n)s.", n=f"{MAX_POPULATION:,}")]
    clean["population"] = population
    share = data.get("informal_settlement_share_pct")
    if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
        errors["informal_settlement_share_pct"] = [_("Give a whole percentage from 0 to 100.")]
    clean["informal_settlement_share_pct"] = share
    try:
        clean["climate_risk"] = ClimateRisk(data.get("climate_risk"))
    except ValueError:
        errors["climate_risk"] = [_("Choose low, medium or high.")]
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    return clean


def create_city(*, actor: User, name: str, country: str, population: int, informal_settlement_share_pct: int,
                climate_risk: str) -> City:
    """A city official creates their city's profile; this creates the city's organisation and puts the
    official in it. An official who already belongs to an organisation is refused."""
    require(policy.can_create(actor))
    clean = _clean_fields(dict(name=name, country=country, population=population,
                               informal_settlement_share_pct=informal_settlement_share_pct, climate_risk=climate_risk))
    org = Organization(name=clean["name"], kind=OrgKind.CITY, org_type=OrgType.PUBLIC_AGENCY, country=clean["country"])
    db.session.add(org)
    city = City(organization=org, created_by_id=actor.id, **clean)
    db.session.add(city)
    actor.organization = org
    db.session.flush()
    record("city.created", actor=actor, obj=city, details={"name": city.name, "country": city.country})
    return city


def update_city(*, city: City, actor: User, name: str, country: str, population: int,
                informal_settlement_share_pct: int, climate_risk: str) -> City:
    """The city's officials (or an admin) edit the profile; the change is audited because it moves the
    city's priority score."""
    require(policy.can_edit(actor, city))
    clean = _clean_fields(dict(name=name, country=country, population=population,
                               informal_settlement_share_pct=informal_settlement_share_pct, climate_risk=climate_risk))
    before = {key: getattr(city, key) for key in clean}
    for key, value in clean.items():
        setattr(city, key, value)
    city.organization.name = clean["name"]
    city.organization.country = clean["country"]
    changes = {key: [_plain(before[key]), _plain(value)] for key, value in clean.items() if before[key] != value}
    db.session.flush()
    if changes:
        record("city.updated", actor=actor, obj=city, details=changes)
    return city


def _lock(city: City) -> City:
    """Re-read the city under a row lock on its own row (`core.database.lock_row`)."""
    locked: City = lock_row(City, city.id, missing=_("No such city."))
    return locked


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def verify_city(*, city: City, actor: User) -> City:
    """A fund manager verifies a city once; only verified cities may draft challenges."""
    city = _lock(city)
    require(policy.can_verify(actor, city))
    city.verified_at = utcnow()
    city.verified_by_id = actor.id
    db.session.flush()
    record("city.verified", actor=actor, obj=city, details={"priority_score": city.priority_score})
    return city
