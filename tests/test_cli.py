"""The facility's commands."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from facility.accounts.models import User
from facility.core.mail import OutboundEmail, send_mail
from facility.extensions import db

ROOT = Path(__file__).resolve().parents[1]


def test_create_user_with_staff_role(app):
    result = app.test_cli_runner().invoke(args=["facility", "create-user", "fm@example.org", "--role", "fund_manager",
                                                "--name", "Fiona", "--password", "staff password 2026"])
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(email="fm@example.org").one()
    assert user.roles == ["fund_manager"] and user.name == "Fiona"


def test_create_user_asks_for_password(app):
    result = app.test_cli_runner().invoke(args=["facility", "create-user", "r@example.org", "--role", "reviewer"],
                                          input="reviewer password 1\nreviewer password 1\n")
    assert result.exit_code == 0, result.output
    assert db.session.query(User).filter_by(email="r@example.org").one().roles == ["reviewer"]


def test_create_user_refuses_weak_password_and_unknown_role(app):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["facility", "create-user", "w@example.org", "--role", "admin", "--password", "short"])
    assert weak.exit_code == 1 and "12 characters" in weak.output
    bad = runner.invoke(args=["facility", "create-user", "b@example.org", "--role", "pirate",
                              "--password", "long enough password"])
    assert bad.exit_code == 1 and "Unknown role" in bad.output
    assert db.session.query(User).count() == 0


def test_seed_demo_is_idempotent_and_prints_logins(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["facility", "seed-demo"])
    assert first.exit_code == 0, first.output
    assert "fund.manager@demo.facility" in first.output and "demo-facility-2026" in first.output
    roles = {role for user in db.session.query(User) for role in user.roles}
    assert roles == {"admin", "fund_manager", "city_official", "innovator", "reviewer", "donor", "auditor"}
    assert "auditor@demo.facility" in first.output
    count = db.session.query(User).count()
    second = runner.invoke(args=["facility", "seed-demo"])
    assert second.exit_code == 0 and "already loaded" in second.output
    assert db.session.query(User).count() == count


def test_worker_burst_delivers_queued_email(app):
    message_id = send_mail(to="w@example.org", subject="S", body="B").id
    db.session.commit()  # and no transaction left open: the worker needs the SQLite lock
    result = app.test_cli_runner().invoke(args=["facility", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(OutboundEmail, message_id).sent_at is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.serial
def test_serve_starts_web_and_worker_with_embedded_redis_and_stops_cleanly(tmp_path):
    """`serve` with no REDIS_URL: site and /healthz answer, Ctrl-C stops the server, worker and Redis."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(INSTANCE_PATH=str(tmp_path), FACILITY_ENV="development")
    # Started with SIGINT ignored, as a child of a runner that ignores it would be: Ctrl-C must still stop it.
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "facility", "serve", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.3)
        assert body and '"redis":"ok"' in body.replace(" ", ""), body
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=40)
        assert process.returncode == 0, output
        assert "Stopped." in output
        assert "worker pid" in output
    finally:
        if process.poll() is None:
            process.kill()
