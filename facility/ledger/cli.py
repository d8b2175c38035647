"""`flask --app wsgi facility ledger-verify`: check every ledger invariant, exit 1 on any problem."""
from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from facility.core.templating import money
from facility.extensions import db
from facility.ledger import movements  # noqa: F401 - registers the public ledger's check
from facility.ledger.balances import facility_totals
from facility.ledger.verify import ledger_checks

SHOWN_PER_CHECK = 50


@click.command("ledger-verify")
@with_appcontext
def ledger_verify() -> None:
    """Check the ledger: balanced transactions, stored balances, guards, reversals (exit 1 on a problem)."""
    checks = ledger_checks()
    failed = 0
    started = time.monotonic()
    for number, (name, check) in enumerate(checks, start=1):
        # One line per check as it starts, so a long run on a big ledger shows where it is.
        click.echo(f"[{number}/{len(checks)}] {name} … ", nl=False)
        check_started = time.monotonic()
        problems = list(check())
        elapsed = time.monotonic() - check_started
        if not problems:
            click.echo(f"ok ({elapsed:.2f}s)")
            continue
        failed += len(problems)
        click.echo(f"{len(problems)} problem(s) ({elapsed:.2f}s)")
        for problem in problems[:SHOWN_PER_CHECK]:
            click.echo(f"    {problem}", err=True)
        if len(problems) > SHOWN_PER_CHECK:
            click.echo(f"    … and {len(problems) - SHOWN_PER_CHECK} more", err=True)
    totals = facility_totals()
    db.session.rollback()  # read-only: release the SQLite lock at once
    click.echo("Totals: " + ", ".join(f"{label} {money(totals[label])}" for label in
                                      ("raised", "unallocated", "allocated", "committed", "disbursed")))
    if failed:
        click.echo(f"{failed} problem(s) in the ledger ({time.monotonic() - started:.1f}s).", err=True)
        raise SystemExit(1)
    click.echo(f"Ledger sound ({time.monotonic() - started:.1f}s).")
