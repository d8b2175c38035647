"""Cities."""
from __future__ import annotations

from datetime import datetime

from facility.accounts.models import OrgKind, User
from facility.cities import services as city_services
from facility.cities.models import City, ClimateRisk
from facility.core.models import utcnow
from facility.extensions import db
from tests.factories.accounts import make_org, make_user

# A city profile as the API and the form take it.
KAMPALA = {"name": "Kampala", "country": "UGA", "population": 1_700_000, "informal_settlement_share_pct": 60,
           "climate_risk": "high"}


def make_city(*, name: str = "Kampala", country: str = "UGA", population: int = 1_700_000, share: int = 60,
              risk: str = "high", verified: bool = True, fund_manager: User | None = None, via: str = "services",
              org_name: str | None = None, verified_at: datetime | None = None) -> tuple[City, User | None]:
    """A city and its official.

    via="services": a new official creates the city (and its organisation) through the service, and a fund
    manager (`fund_manager` or a new one) verifies it unless `verified=False`.
    via="models": the organisation (`org_name`, default "City of <name>") and the city are inserted
    directly, verified at `verified_at` (default now); no official is created (None is returned for it).
    """
    if via == "models":
        org = make_org(name=org_name or f"City of {name}", kind=OrgKind.CITY, country=country)
        city = City(organization_id=org.id, name=name, country=country, population=population,
                    informal_settlement_share_pct=share, climate_risk=ClimateRisk(risk),
                    verified_at=(verified_at or utcnow()) if verified else None)
        db.session.add(city)
        db.session.commit()
        return city, None
    official = make_user("city_official")
    city = city_services.create_city(actor=official, name=name, country=country, population=population,
                                     informal_settlement_share_pct=share, climate_risk=risk)
    if verified:
        city_services.verify_city(city=city, actor=fund_manager or make_user("fund_manager"))
    db.session.commit()
    return city, official
