"""Demo data for `seed-demo`: each package adds its part in facility/<package>/demo.py.

Seeding is idempotent: a second run finds the demo users and only prints the logins.
"""
from __future__ import annotations

from collections.abc import Callable

from facility import package_modules
from facility.extensions import db

DEMO_PASSWORD = "demo-facility-2026"


def seed(echo: Callable[[str], None] = print) -> dict:
    from facility.accounts.demo import DEMO_USERS, demo_users_exist

    logins = {"password": DEMO_PASSWORD, "users": [(email, label) for email, label, *_ in DEMO_USERS]}
    if demo_users_exist():
        echo("Demo data already loaded.")
        return logins
    state: dict = {"password": DEMO_PASSWORD}
    for module in package_modules("demo"):
        echo(f"Seeding {module.__name__.split('.')[1]}…")
        module.seed(state)
        db.session.flush()
    db.session.commit()
    return logins
