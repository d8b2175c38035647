"""Demo data for `seed-demo`: each package adds its part in facility/<package>/demo.py.

Seeding is idempotent: a second run finds the demo users and only prints the logins.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from facility import package_modules
from facility.accounts.demo import DEMO_USERS, demo_users_exist
from facility.accounts.models import User
from facility.core.models import utcnow
from facility.disbursements.models import Disbursement, DisbursementStatus
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
    _send_reminders(echo)
    return logins


def _send_reminders(echo: Callable[[str], None]) -> None:
    """Run each reminder job once, as a worker would (each commits its own e-mails), so the outbox shows them;
    the second fund manager has turned optional reminders off (his profile shows it).

    The demo is made today, so nothing has waited yet: the payment waiting for approval is dated three days
    back, as if requested then, and its approvers are reminded.
    """
    second = db.session.execute(sa.select(User).where(User.email == "fund.manager2@demo.facility")).scalar_one_or_none()
    if second is not None:
        second.optional_reminders = False
    db.session.execute(sa.update(Disbursement).where(Disbursement.status == DisbursementStatus.REQUESTED)
                       .values(created_at=utcnow() - timedelta(days=3)))
    db.session.commit()
    sent = sum(periodic.func() or 0 for module in package_modules("jobs") for periodic in getattr(module, "PERIODIC", ())
               if periodic.queue == "reminders")
    echo(f"Reminders sent: {sent}")
