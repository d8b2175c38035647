"""`flask --app wsgi facility COMMAND`: serve, worker, create-user, seed-demo, seed-scale, demo-otp, audit-verify,
audit-anchor, sweep, ledger-verify."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TextIO

import click
from flask import current_app
from flask.cli import with_appcontext

from facility.extensions import db


@click.group("facility", help="Urban Innovation Facility commands.")
def facility_cli() -> None:
    pass


@facility_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Web server and one RQ worker together, for one machine. Ctrl-C stops both."""
    from werkzeug.serving import make_server

    from facility.queue import redis_url, stop_embedded_redis

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the app behind the proxy
    url = redis_url(app)  # starts the embedded Redis when REDIS_URL is unset
    env = dict(os.environ, REDIS_URL=url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "facility", "worker"],
        env=env, start_new_session=True,
    )
    server = make_server(host, port, app, threaded=True)
    click.echo(f"Serving on http://{host}:{port} (worker pid {worker.pid}, Redis {url}). Ctrl-C stops.")

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt

    # Both signals explicitly: a process started with SIGINT ignored (by a parent that ignores it, such
    # as a test runner or a service manager) inherits that, and Ctrl-C would never stop the server.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopping…")
    finally:
        server.server_close()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # RQ finishes the current job, then exits
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        stop_embedded_redis()
        click.echo("Stopped.")


@facility_cli.command("worker")
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
@click.option("--queue", "queues", multiple=True, help="Only these queues (default: all).")
def worker(burst: bool, queues: tuple[str, ...]) -> None:
    """An RQ worker for the facility's queues (payments first)."""
    from facility.queue import run_worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the app behind the proxy
    run_worker(app, burst=burst, queues=list(queues) or None)


@facility_cli.command("create-user")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True,
              help="admin, fund_manager, city_official, innovator, reviewer, donor or auditor (repeatable)")
@click.option("--name", default="")
@click.option("--password", default=None, help="Asked for when not given.")
@with_appcontext
def create_user(email: str, roles: tuple[str, ...], name: str, password: str | None) -> None:
    """Create an account with any role, fund_manager, reviewer and admin included."""
    from facility.accounts.services import create_user as create
    from facility.core.errors import DomainError

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create(email=email, password=password, name=name, roles=list(roles))
    except DomainError as error:
        db.session.rollback()
        for field, messages in error.errors.items():
            for message in messages:
                click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    click.echo(f"Created {user.email} with roles {', '.join(user.roles)}.")


@facility_cli.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Load realistic demo data (once) and print the demo logins."""
    from facility.demo import seed

    started = time.monotonic()
    from facility.accounts.demo import DEMO_TOTP_SECRET

    logins = seed(echo=click.echo)
    click.echo("")
    click.echo("Demo logins (password for all: %s):" % logins["password"])
    for email, label in logins["users"]:
        click.echo(f"  {label:<28} {email}")
    click.echo("Fund managers, the admin and the auditor also enter a code (two-step sign-in). Add the demo secret")
    click.echo(f"  {DEMO_TOTP_SECRET}")
    click.echo("to an authenticator app, or print the current code: flask --app wsgi facility demo-otp EMAIL")
    click.echo(f"({time.monotonic() - started:.1f}s)")


@facility_cli.command("seed-scale")
@click.option("--factor", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Share of full scale (1: 10,000 challenges, 100,000 proposals, 1,000,000 ledger entries).")
@with_appcontext
def seed_scale(factor: float) -> None:
    """Bulk-load a facility at full scale (or FACTOR of it), for benchmarks; prints the rows written."""
    from facility.seed_scale import SCALE_PASSWORD, Scale, expected_rows
    from facility.seed_scale import seed_scale as seed

    started = time.monotonic()
    with click.progressbar(length=expected_rows(Scale(factor)), label="Seeding at scale", file=sys.stderr) as bar:
        counts = seed(factor=factor, progress=bar.update)
        db.session.commit()
    for table, count in sorted(counts.items()):
        click.echo(f"  {table:<28} {count:>10,}")
    click.echo(f"Password of every account: {SCALE_PASSWORD} ({time.monotonic() - started:.1f}s)")


@facility_cli.command("demo-otp")
@click.argument("email")
@with_appcontext
def demo_otp(email: str) -> None:
    """Print the current two-step sign-in code of a demo account (development only; refused in production)."""
    from facility.accounts.demo import demo_code

    if current_app.config.get("ENV_NAME") not in ("development", "test"):
        click.echo("demo-otp is for development only; it is refused here.", err=True)
        raise SystemExit(1)
    code = demo_code(email.strip().lower())
    if code is None:
        click.echo(f"{email} is not a demo account with two-step sign-in (run seed-demo first).", err=True)
        raise SystemExit(1)
    click.echo(code)


@facility_cli.command("audit-verify")
@click.option("--anchors", "anchors_file", type=click.File("r", encoding="utf-8"), default=None,
              help="Also check against a published anchors file (/opendata/audit-anchors.json, or a list of them).")
@with_appcontext
def audit_verify(anchors_file: TextIO | None) -> None:
    """Check the audit chain; exit 1 with a report when a record was changed, removed, inserted or cut off
    since an anchor (the database's, and those of --anchors FILE)."""
    import json

    from facility.audit.services import anchors_from_json, verify_chain

    published = None
    if anchors_file is not None:
        try:
            published = anchors_from_json(json.load(anchors_file))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise click.BadParameter(str(exc), param_hint="--anchors") from None
    problems = verify_chain(published=published)
    if problems:
        for item in problems[:100]:
            click.echo(f"audit event {item.event_id}: {item.problem}", err=True)
        click.echo(f"{len(problems)} problem(s) in the audit chain.", err=True)
        raise SystemExit(1) from None
    checked = f", and {len(published)} published anchor(s)" if published is not None else ""
    click.echo(f"Audit chain intact{checked}.")


@facility_cli.command("audit-anchor")
@with_appcontext
def audit_anchor() -> None:
    """Record the audit chain's head now (what the hourly job does): its hash, record count and time."""
    from facility.audit.services import anchor_head

    anchor = anchor_head()
    db.session.commit()
    if anchor is None:
        click.echo("Nothing to anchor: no audit record since the last anchor.")
        return
    click.echo(f"Anchor {anchor.id}: head {anchor.head_hash}, {anchor.row_count} records up to event "
               f"{anchor.last_event_id}, at {anchor.anchored_at.isoformat()} (key {anchor.key_id}).")


@facility_cli.command("sweep")
@click.option("--until-quiet", is_flag=True,
              help="Keep sweeping until no disbursement is queued, retrying or processing (for recovery drills).")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between sweeps with --until-quiet.")
@click.option("--timeout", default=600.0, show_default=True, help="Give up after this many seconds (exit 1).")
@click.option("--grace", default=30.0, show_default=True,
              help="Leave rows that changed in the last GRACE seconds alone (their job may still be on its way).")
@with_appcontext
def sweep(until_quiet: bool, interval: float, timeout: float, grace: float) -> None:
    """Re-queue disbursements whose job was lost (Redis flushed, a worker killed)."""
    from facility.disbursements.jobs import sweep as run_sweep
    from facility.disbursements.jobs import unfinished_count

    started = time.monotonic()
    while True:
        counts = run_sweep(grace_seconds=grace)
        left = unfinished_count()
        click.echo(f"checked {counts['checked']}, re-queued {counts['requeued']}, unfinished {left}")
        if not until_quiet or left == 0:
            return
        if time.monotonic() - started > timeout:
            click.echo(f"{left} disbursement(s) still unfinished after {timeout:.0f} s.", err=True)
            raise SystemExit(1)
        time.sleep(interval)


def _add_domain_commands() -> None:
    from facility.ledger.cli import ledger_verify

    facility_cli.add_command(ledger_verify)


_add_domain_commands()
