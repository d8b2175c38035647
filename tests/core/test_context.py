"""Services learn the request's client from core.context, set by one hook; jobs run in the worker's app."""
import threading

import pytest
from flask import request_finished

from facility import queue
from facility.core.context import NO_CLIENT, current_client


def test_the_client_is_known_during_a_request_only(app, client):
    seen = []

    def note(_sender, **_extra):  # as the response leaves, the request is still being served
        seen.append(current_client())

    with request_finished.connected_to(note, app):
        response = client.get("/", headers={"User-Agent": "probe/1.0"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 200
    assert seen[0].address == "10.1.2.3"
    assert seen[0].agent == "probe/1.0"
    assert current_client() is NO_CLIENT, "forgotten when the request ends"


def test_outside_a_request_there_is_no_client(app):
    assert current_client() is NO_CLIENT


def test_a_job_without_an_app_context_needs_a_worker(app, monkeypatch):
    @queue.job("default")
    def probe() -> str:
        return "ran"

    monkeypatch.setattr(queue, "_worker", {})
    outcome = {}

    def run_outside_the_app() -> None:  # a fresh thread has no app context
        try:
            outcome["result"] = probe()
        except RuntimeError as error:
            outcome["error"] = str(error)

    thread = threading.Thread(target=run_outside_the_app)
    thread.start()
    thread.join()
    assert "facility worker" in outcome["error"]

    monkeypatch.setattr(queue, "_worker", {"app": app})
    thread = threading.Thread(target=run_outside_the_app)
    thread.start()
    thread.join()
    assert outcome["result"] == "ran", "run_worker(app) gives jobs their app"


@pytest.mark.parametrize("ip", ["", "192.0.2.7"])
def test_audit_takes_an_explicit_address(app, ip):
    from facility.audit.services import record

    assert record("test.where", ip_address=ip).ip_address == ip
