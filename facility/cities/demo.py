"""Demo cities in several regions, attached to demo officials."""
from __future__ import annotations

from facility.accounts.models import Role, User
from facility.cities import services
from facility.extensions import db

# email, name, country, population, informal-settlement share %, climate risk, verified
DEMO_CITIES = [
    ("official@kampala.demo", "Kampala", "UGA", 1_680_000, 60, "high", True),
    ("official@suva.demo", "Suva", "FJI", 94_000, 25, "high", True),
    ("official@lyon.demo", "Lyon", "FRA", 1_430_000, 2, "medium", True),
    ("official@kathmandu.demo", "Kathmandu", "NPL", 1_570_000, 10, "high", True),
    ("official@recife.demo", "Recife", "BRA", 4_170_000, 35, "high", False),  # waits in the verification queue
]


def seed(state: dict) -> None:
    users: dict[str, User] = state["users"]
    fund_manager = users["fund.manager@demo.facility"]
    password_hash = users["admin@demo.facility"].password_hash
    cities = {}
    for email, name, country, population, share, risk, verified in DEMO_CITIES:
        official = users.get(email)
        if official is None:
            official = User(email=email, name=f"City official ({name})", password_hash=password_hash)
            official.add_role(Role.CITY_OFFICIAL)
            db.session.add(official)
            db.session.flush()
            users[email] = official
        city = services.create_city(actor=official, name=name, country=country, population=population,
                                    informal_settlement_share_pct=share, climate_risk=risk)
        if verified:
            services.verify_city(city=city, actor=fund_manager)
        cities[name] = city
    state["cities"] = cities
