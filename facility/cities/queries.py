"""Every read of cities that a page or the API needs."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import Role, User, UserRole
from facility.accounts.policy import is_signed_in
from facility.cities.models import City
from facility.cities.policy import can_view
from facility.core.dashboard import Waiting, waiting
from facility.core.errors import NotFound
from facility.extensions import db


def get_visible_city(user: Any, city_id: int) -> City:
    """The city, or NotFound when it does not exist or `user` may not see it (`policy.can_view`)."""
    city = db.session.get(City, city_id)
    if city is None or can_view(user, city) is not None:
        raise NotFound(_("There is no such city."))
    return city


def city_of_official(user: Any) -> City | None:
    """The city whose organisation the user belongs to, if any."""
    if not is_signed_in(user) or user.organization_id is None:
        return None
    return db.session.execute(sa.select(City).where(City.organization_id == user.organization_id)).scalar_one_or_none()


def officials_of(city: City) -> list[User]:
    """The city's active officials (users of its organisation with the city_official role)."""
    return list(db.session.execute(
        sa.select(User).join(UserRole).where(User.organization_id == city.organization_id, User.active.is_(True),
                                             UserRole.role == Role.CITY_OFFICIAL).order_by(User.id)
    ).scalars())


def verified_cities() -> sa.Select[tuple[City]]:
    """Verified cities by name: the public list."""
    return sa.select(City).where(City.verified_at.is_not(None)).order_by(City.name, City.id)


def verification_queue() -> list[City]:
    """Unverified cities, the highest priority score first (the score is computed from data files,
    so the bounded queue is sorted after loading)."""
    cities = db.session.execute(sa.select(City).where(City.verified_at.is_(None)).order_by(City.id)).scalars().all()
    return sorted(cities, key=lambda c: (-c.priority_score, c.id))


# --- dashboard ---


def cities_to_verify() -> Waiting:
    """Cities waiting for a fund manager's verification, the oldest profile first."""
    return waiting(City.id, City.created_at, City.verified_at.is_(None))


def countries_with_cities(also: str | None = None) -> list[str]:
    """The ISO alpha-3 codes of the countries the facility has cities in (what a country filter offers), and
    `also` (the one already chosen) so a filter never loses its value."""
    codes = set(db.session.execute(sa.select(City.country).distinct()).scalars())
    return sorted(codes | ({also.upper()} if also and len(also) == 3 else set()))
