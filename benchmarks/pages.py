"""Benchmark: every main page at full scale under production gunicorn, against hello-world in the same run.

Issue 15, "Performance". The script
  1. creates a throw-away PostgreSQL database, migrates it and fills it with `flask facility seed-scale
     --factor F` (or reuses a database seeded before: `--reuse NAME`, kept at the end);
  2. starts gunicorn as the README's production section does (`--workers 4`, sync workers, FACILITY_ENV=production)
     on 127.0.0.1 for `wsgi:app`, and the same gunicorn for `benchmarks/hello.py`;
  3. signs in once per role over HTTP (password, then the two-step code where the role has one) and issues API
     tokens with the product's service;
  4. runs `wrk -t2 -c16 -d<duration>s --latency` on loopback for hello-world and for each page (wrk from Debian,
     installed with apt-get when missing), and counts each page's SQL statements in-process (Flask test client,
     the same cookies or token, a `before_cursor_execute` listener);
  5. prints: page, requests/s, ratio to hello-world, p50 and p99 latency, queries per request (served warm), and
     "first ms": the first request in-process, before anything is cached (a public page's cost once per change).

    .venv/bin/python benchmarks/pages.py [--factor 1] [--duration 5] [--reuse DBNAME] [--keep]

Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test, the server and the role;
a database bench_pages_<random> is created next to it), BENCH_REDIS_URL (default redis://127.0.0.1:6379/0),
BENCH_FACTOR (default of --factor).
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from contextlib import ExitStack
from pathlib import Path

import pyotp
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._database import throwaway_database  # noqa: E402 - after the path tweak

BIN = Path(sys.executable).parent
URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Bench-only secrets (production refuses to start without them); nothing real is signed with these.
SECRETS = {
    "SECRET_KEY": "bench-only-9f3c1a7e5b2d4068a1c3e5f7092b4d6e",
    "PAYOUT_ENCRYPTION_KEY": "R0QXf1MzbDJUfM0KEDYvC32DEjte_qeKKtd5UPDuwG4=",
    "AUDIT_KEY": "k1:TkPTmz/eXksqtYdH6dQLm76zDek/WnY8uGlNkuRVf6A=",
}
ROLES = ("admin", "fund_manager", "city_official", "innovator", "reviewer", "donor", "auditor")
EMAIL_PREFIX = {"admin": "admin.", "fund_manager": "fund.manager1.", "city_official": "official1.",
                "innovator": "innovator1.", "reviewer": "reviewer1.", "donor": "donor1.", "auditor": "auditor."}


def _env(database: str) -> dict[str, str]:
    db_url = sa.engine.make_url(URL).set(drivername="postgresql+psycopg", database=database)
    prefix = f"benchpages{uuid.uuid4().hex[:8]}"
    # Own key prefixes: no page cached by an earlier run (of another database) is served in this one.
    return {**os.environ, **SECRETS, "FACILITY_ENV": "production", "REDIS_URL": REDIS_URL,
            "DATABASE_URL": db_url.render_as_string(hide_password=False), "QUEUE_PREFIX": f"{prefix}:",
            "RATELIMIT_KEY_PREFIX": prefix, "PUBLIC_CACHE_KEY_PREFIX": f"{prefix}-cache:"}


def ensure_wrk() -> str:
    """wrk from Debian; installed with apt-get (sudo when not root) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=True, timeout=600)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is missing and could not be installed (apt-get install wrk)")
    return found


def seed(env: dict[str, str], factor: float) -> None:
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    started = time.perf_counter()
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True, timeout=900,
                   stdout=subprocess.DEVNULL)
    migrated = time.perf_counter()
    subprocess.run([*flask, "facility", "seed-scale", "--factor", str(factor)], env=env, cwd=ROOT, check=True,
                   timeout=3600)
    print(f"migrated in {migrated - started:.1f} s, seeded at factor {factor} in {time.perf_counter() - migrated:.1f} s")
    subprocess.run(["psql", env["DATABASE_URL"].replace("+psycopg", ""), "-qc", "VACUUM ANALYZE"], check=False,
                   timeout=900)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict[str, str], app: str, chdir: Path, workers: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    process = subprocess.Popen([str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                                "--chdir", str(chdir), "--log-level", "warning", app], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn for {app} exited with {process.returncode}") from None
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"gunicorn for {app} did not listen within 60 s")


def _request(port: int, method: str, path: str, cookies: dict[str, str], body: dict | None = None
             ) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":  # Secure cookies over loopback http: kept by hand
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    location = response.getheader("Location") or ""
    conn.close()
    return response.status, {"location": location}, text


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    if not match:
        raise SystemExit("no CSRF token on the sign-in page")
    return match.group(1)


def sign_in(port: int, email: str, password: str, secret: str) -> str:
    """The session cookie of `email`, signed in through the pages (the second step with the TOTP code)."""
    cookies: dict[str, str] = {}
    _, _, page = _request(port, "GET", "/signin", cookies)
    status, headers, _ = _request(port, "POST", "/signin", cookies,
                                  {"email": email, "password": password, "csrf_token": _csrf(page)})
    if status == 302 and headers["location"].split("?")[0].endswith("/signin/verify"):
        _, _, page = _request(port, "GET", "/signin/verify", cookies)
        status, headers, _ = _request(port, "POST", "/signin/verify", cookies,
                                      {"email": email, "code": pyotp.TOTP(secret).now(), "csrf_token": _csrf(page)})
    if status != 302:
        raise SystemExit(f"signing in as {email} answered {status}")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def warm(binary: str, port: int, path: str, header: str, seconds: int) -> None:
    """The page is served once (a public page's first rendering fills the shared cache, however long it
    takes: the "first ms" column says how long), then every worker serves it a few times (its templates
    compiled, its imports done); not measured."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    name, _, value = header.partition(": ")
    conn.request("GET", path, headers={name: value} if header else {})
    conn.getresponse().read()
    conn.close()
    command = [binary, "-t1", "-c4", f"-d{seconds}s", "--timeout", "60s"] + (["-H", header] if header else [])
    subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, check=True, timeout=seconds + 90)


def wrk(binary: str, port: int, path: str, header: str, duration: int) -> dict[str, float]:
    command = [binary, "-t2", "-c16", f"-d{duration}s", "--timeout", "30s", "--latency"]
    if header:
        command += ["-H", header]
    out = subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True,
                         timeout=duration + 60).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if not (rate and p50 and p99):
        raise SystemExit(f"could not read wrk's output:\n{out}")
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {"rps": float(rate.group(1)), "p50": float(p50.group(1)) * unit[p50.group(2)],
            "p99": float(p99.group(1)) * unit[p99.group(2)], "non2xx": float(bad.group(1)) if bad else 0.0}


def _in_process(env: dict[str, str]):
    """The product app in this process, configured as gunicorn's (for ids, API tokens and query counts)."""
    os.environ.update({k: env[k] for k in ("FACILITY_ENV", "DATABASE_URL", "REDIS_URL", "QUEUE_PREFIX",
                                           "RATELIMIT_KEY_PREFIX", *SECRETS)})
    from facility import create_app

    return create_app()


def discover(app) -> dict:
    """The seeded rows the pages show: users per role, a published challenge, the largest one, a grant."""
    from facility.accounts.models import User
    from facility.challenges.models import Challenge, ChallengeStatus
    from facility.extensions import db
    from facility.grants.models import Grant
    from facility.proposals.models import Proposal

    with app.app_context():
        users = {}
        for role, prefix in EMAIL_PREFIX.items():
            user = db.session.execute(sa.select(User).where(User.email.like(f"{prefix}%@scale.facility"))
                                      .order_by(User.id.desc()).limit(1)).scalar_one()
            users[role] = user.email
        challenge = db.session.execute(sa.select(Challenge.id).where(Challenge.status == ChallengeStatus.PUBLISHED)
                                       .order_by(Challenge.id.desc()).limit(1)).scalar_one()
        big = db.session.execute(sa.select(Proposal.challenge_id).group_by(Proposal.challenge_id)
                                 .order_by(sa.func.count().desc()).limit(1)).scalar_one()
        grant = db.session.execute(sa.select(Grant.id).order_by(Grant.id.desc()).limit(1)).scalar_one()
        public = db.session.execute(sa.select(sa.func.count()).select_from(Challenge).where(
            Challenge.status.in_([ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED]))).scalar_one()
    return {"users": users, "challenge": challenge, "big": big, "grant": grant,
            "last_page": max(1, -(-public // 20))}


def api_token(app, email: str) -> str:
    from facility.accounts.models import User
    from facility.accounts.services import issue_api_token
    from facility.extensions import db

    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        _, plain = issue_api_token(user=user, name="benchmark", days=1)
        db.session.commit()
    return plain


def pages(ids: dict) -> list[tuple[str, str, str | None]]:
    """(label, path, who): who is a role signed in by cookie, "api:<role>" by token, or None."""
    page = min(200, ids["last_page"])
    c, big, grant = ids["challenge"], ids["big"], ids["grant"]
    return [
        ("home", "/", None),
        ("challenge list, page 1", "/challenges", None),
        (f"challenge list, page {page}", f"/challenges?page={page}", None),
        ("challenge list, filtered", "/challenges?focus_area=inclusive_innovation&sdg_target=11.1&country=AGO", None),
        ("challenge list, search", "/challenges?q=resilient", None),
        ("challenge page", f"/challenges/{c}", None),
        ("/facility", "/facility", None),
        ("results framework", "/results", None),
        ("grants register", "/grants", None),
        ("public ledger", "/facility/ledger", None),
        ("open data index", "/opendata/", None),
        ("open data grants.csv", "/opendata/grants.csv", None),
        ("open data 360giving.json", "/opendata/360giving.json", None),
        ("open data IATI XML", "/opendata/iati-activities.xml", None),
        *((f"dashboard: {role}", "/dashboard", role) for role in ROLES),
        (f"ranking ({ids['big_count']} proposals)", f"/review/challenges/{big}/ranking", "fund_manager"),
        ("grant page", f"/grants/{grant}", "fund_manager"),
        ("disbursement queue", "/disbursements", "fund_manager"),
        ("audit log", "/audit", "auditor"),
        ("API challenges", "/api/v1/challenges", "api:fund_manager"),
        ("API grants", "/api/v1/grants", "api:fund_manager"),
        ("API proposals of a challenge", f"/api/v1/challenges/{big}/proposals", "api:fund_manager"),
        ("API ranking", f"/api/v1/challenges/{big}/ranking", "api:fund_manager"),
        ("API disbursements", "/api/v1/disbursements", "api:fund_manager"),
        ("API contributions", "/api/v1/contributions", "api:donor"),
        ("API my assignments", "/api/v1/me/assignments", "api:reviewer"),
        ("API facility ledger", "/api/v1/facility/ledger", None),
    ]


def count_queries(app, path: str, header: str) -> tuple[int, int, float]:
    """(status, SQL statements, first ms) of one GET in-process after one first GET, and how long that first
    one took (a public page's rendering before it is cached: its cost once per change)."""
    from facility.extensions import db

    name, _, value = header.partition(": ")
    headers = {name: value} if header else {}
    client = app.test_client(use_cookies=False)  # its own (empty) jar would drop the Cookie header
    started = time.perf_counter()
    client.get(path, headers=headers, base_url="https://localhost").get_data()
    first_ms = (time.perf_counter() - started) * 1000
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(path, headers=headers, base_url="https://localhost")
        response.get_data()
        response.close()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return response.status_code, len(statements), first_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factor", type=float, default=float(os.environ.get("BENCH_FACTOR", "1")))
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per page")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (the README's 4)")
    parser.add_argument("--reuse", metavar="DBNAME", help="a database seeded before (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the database made here (print its name)")
    args = parser.parse_args()
    binary = ensure_wrk()
    made = ExitStack()  # the database made here (not --reuse), dropped at the end unless --keep
    name = args.reuse or made.enter_context(throwaway_database("bench_pages", keep=args.keep)).name
    env = _env(name)
    processes: list[subprocess.Popen] = []
    try:
        if not args.reuse:
            seed(env, args.factor)
        app = _in_process(env)
        ids = discover(app)
        from facility.extensions import db
        from facility.proposals.models import Proposal
        with app.app_context():
            ids["big_count"] = db.session.execute(sa.select(sa.func.count()).select_from(Proposal)
                                                  .where(Proposal.challenge_id == ids["big"])).scalar_one()
        site, site_port = start_gunicorn(env, "wsgi:app", ROOT, args.workers)
        hello, hello_port = start_gunicorn(env, "hello:app", ROOT / "benchmarks", args.workers)
        processes += [site, hello]
        from facility.accounts.demo import DEMO_TOTP_SECRET
        from facility.seed_scale import SCALE_PASSWORD

        headers = {role: "Cookie: " + sign_in(site_port, email, SCALE_PASSWORD, DEMO_TOTP_SECRET)
                   for role, email in ids["users"].items()}
        for role in ("fund_manager", "donor", "reviewer"):
            headers[f"api:{role}"] = "Authorization: Bearer " + api_token(app, ids["users"][role])
        warm(binary, hello_port, "/", "", 3)
        warm(binary, site_port, "/", "", 10)
        baseline = wrk(binary, hello_port, "/", "", args.duration)
        print(f"\nfactor {args.factor}, gunicorn --workers {args.workers} (sync), wrk -t2 -c16 -d{args.duration}s")
        print(f"{'page':<44} {'req/s':>9} {'ratio':>7} {'p50 ms':>9} {'p99 ms':>9} {'queries':>8} {'first ms':>9}")

        def line(label: str, result: dict[str, float], queries: str, first: str) -> None:  # each row when measured
            print(f"{label:<44} {result['rps']:>9.1f} {result['rps'] / baseline['rps']:>7.3f} {result['p50']:>9.2f} "
                  f"{result['p99']:>9.2f} {queries:>8} {first:>9}", flush=True)

        line("hello-world (same gunicorn)", baseline, "", "")
        for label, path, who in pages(ids):
            header = headers[who] if who else ""
            status, queries, first_ms = count_queries(app, path, header)
            warm(binary, site_port, path, header, 2)
            result = wrk(binary, site_port, path, header, args.duration)
            note = "" if status == 200 and not result["non2xx"] else f" (status {status}, {int(result['non2xx'])} non-2xx)"
            line(label + note, result, str(queries), f"{first_ms:.0f}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        made.close()
        if not args.reuse and args.keep:
            print(f"database kept: {name} (--reuse {name} next time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
