"""Throughput of anonymous public pages (served from the shared cache) against a hello-world Flask app.

Issue 15 ("Performance"): anonymous public pages at least 50% of a hello-world app's throughput. Both
apps run under gunicorn with the same workers (`--workers`, sync), and `wrk` sends the same load to each
(`--connections`, `--seconds` per run, `Accept-Encoding: br, gzip` as browsers send), interleaved over
`--rounds` rounds; the medians are compared. For context the same pages are also measured with the cache
off (`PUBLIC_CACHE_ENABLED=0`, a third server), and with a visitor's session cookie (their language
switched: such requests are served through Flask's look-up, not before Flask).

The product runs on a throw-away PostgreSQL database (migrated, then one verified city and 25 published
challenges made with the test factories) and Redis (`BENCH_REDIS_URL`, its own key prefix).

    .venv/bin/python benchmarks/public_pages.py --workers 2 --connections 8 --seconds 8 --rounds 3

Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; a database
bench_<random> is created next to it and dropped), BENCH_REDIS_URL (default redis://127.0.0.1:6379/0).
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parents[1]
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PAGES = ("/", "/challenges", "/challenges/1", "/cities/1", "/api/v1/challenges")
GOAL = 0.5

hello = Flask("hello")


@hello.route("/")
def hello_world() -> str:
    """The baseline: the smallest Flask answer there is."""
    return "Hello, World!"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(sa_url: str, instance: str) -> None:
    """Make the public data the pages show in the (migrated) throw-away database."""
    from facility import create_app
    from facility.extensions import db
    from tests.factories.challenges import make_challenge
    from tests.factories.cities import make_city

    app = create_app("test", SQLALCHEMY_DATABASE_URI=sa_url, REDIS_URL=REDIS, INSTANCE_PATH=instance,
                     PUBLIC_CACHE_ENABLED=False)
    with app.app_context():
        city, _ = make_city(via="models")
        for number in range(25):
            make_challenge(city, state="published", via="models", title=f"Urban challenge number {number + 1}")
        db.session.commit()
        db.engine.dispose()


def _serve(target: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    command = [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(workers), "--bind",
               f"127.0.0.1:{port}", "--log-level", "warning", target]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    for _ in range(300):
        try:
            _get(port, "/")
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"{target} did not start on port {port}")


def _get(port: int, path: str) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "br, gzip"})
        answer = connection.getresponse()
        answer.read()
        return answer.status, dict(answer.getheaders())
    finally:
        connection.close()


def _language_cookie(port: int) -> str:
    """A visitor's session cookie after the language switch (such visitors are served through Flask)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/language?lang=en&next=/")
        answer = connection.getresponse()
        answer.read()
        return str(answer.getheader("Set-Cookie", "")).split(";")[0]
    finally:
        connection.close()


def _wrk(url: str, connections: int, seconds: int, cookie: str | None = None) -> float:
    extra = ["-H", f"Cookie: {cookie}"] if cookie else []
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-H",
                          "Accept-Encoding: br, gzip", *extra, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{url}: errors under load\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"no rate in wrk's output:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)")
        return 2

    sys.path.insert(0, str(ROOT))
    from benchmarks._database import throwaway_database

    stack = ExitStack()
    database = stack.enter_context(throwaway_database(migrate_schema=True))
    name, sa_url = database.name, database.url
    instance = tempfile.mkdtemp(prefix="bench-pages-")
    servers: list[subprocess.Popen] = []
    try:
        _prepare(sa_url, instance)
        env = {"FACILITY_ENV": "development", "DATABASE_URL": sa_url, "REDIS_URL": REDIS, "INSTANCE_PATH": instance,
               "SECRET_KEY": uuid.uuid4().hex * 2, "PUBLIC_CACHE_KEY_PREFIX": f"{name}:"}
        ports = {"hello": _port(), "cached": _port(), "uncached": _port()}
        servers.append(_serve("benchmarks.public_pages:hello", ports["hello"], args.workers, {}))
        servers.append(_serve("wsgi:app", ports["cached"], args.workers, env))
        servers.append(_serve("wsgi:app", ports["uncached"], args.workers, {**env, "PUBLIC_CACHE_ENABLED": "0"}))
        for page in PAGES:
            _get(ports["cached"], page)
            status, headers = _get(ports["cached"], page)
            if status != 200 or not headers.get("Cache-Control", "").startswith("public"):
                raise RuntimeError(f"{page} is not shared: {status} {headers.get('Cache-Control')}")
        cookie = _language_cookie(ports["cached"])
        rates: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            rates.setdefault("hello /", []).append(_wrk(f"http://127.0.0.1:{ports['hello']}/", args.connections,
                                                        args.seconds))
            for page in ("/challenges", "/api/v1/challenges"):
                rate = _wrk(f"http://127.0.0.1:{ports['cached']}{page}", args.connections, args.seconds, cookie)
                rates.setdefault(f"cached {page} (session cookie)", []).append(rate)
            for kind in ("cached", "uncached"):
                for page in PAGES:
                    rate = _wrk(f"http://127.0.0.1:{ports[kind]}{page}", args.connections, args.seconds)
                    rates.setdefault(f"{kind} {page}", []).append(rate)
                    print(f"  {kind} {page}: {rate:.0f} req/s", flush=True)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        stack.close()  # the throw-away database dropped
        shutil.rmtree(instance, ignore_errors=True)

    baseline = statistics.median(rates["hello /"])
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; gunicorn --workers {args.workers} (sync), "
          f"wrk -c{args.connections} -d{args.seconds}s, median of {args.rounds} interleaved rounds")
    print(f"{'hello /':44} {baseline:9.0f} req/s")
    worst = None
    for label, values in rates.items():
        if label == "hello /":
            continue
        rate = statistics.median(values)
        print(f"{label:44} {rate:9.0f} req/s  {rate / baseline:6.0%} of hello")
        if label.startswith("cached"):
            worst = rate if worst is None else min(worst, rate)
    ratio = (worst or 0) / baseline
    print(f"slowest cached page: {ratio:.0%} of hello-world (goal: at least {GOAL:.0%})")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
