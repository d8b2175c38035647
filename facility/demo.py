"""Demo data for `seed-demo`: each package adds its part in facility/<package>/demo.py.

Seeding is idempotent: a second run finds the demo users and only prints the logins.
"""
from __future__ import annotations

from collections.abc import Callable

from facility import package_modules
from facility.accounts.demo import DEMO_USERS, demo_users_exist
from facility.extensions import db

DEMO_PASSWORD = "demo-facility-2026"


def seed(echo: Callable[[str], None] = print) -> dict:
    logins = {"password": DEMO_PASSWORD, "users": [(email, label) for email, label, *_ in DEMO_USERS]}
    if demo_users_exist():
        echo("Demo data already loaded.")
        return logins
    state: dict = {"password": DEMO_PASSWORD}
    modules = package_modules("demo")
    # People first, then money in (`seed_early`), then everything else in dependency order:
    # approving a demo challenge takes money from the facility's unallocated funds.
    people = [m for m in modules if m.__name__ == "facility.accounts.demo"]
    rest = [m for m in modules if m not in people]
    for module in people + [m for m in rest if hasattr(m, "seed_early")]:
        name = module.__name__.split(".")[1]
        echo(f"Seeding {name}{' (money in)' if module not in people else ''}…")
        (module.seed if module in people else module.seed_early)(state)
        db.session.flush()
    for module in rest:
        echo(f"Seeding {module.__name__.split('.')[1]}…")
        module.seed(state)
        db.session.flush()
    db.session.commit()
    return logins
