"""Anchors of the chain's head: recorded by a job and a command, logged, published, and checked by audit-verify,
so that cutting the newest records off (a shorter chain that still links up) is noticed."""
from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from facility.audit import jobs
from facility.audit.models import AuditAnchor, AuditEvent
from facility.audit.services import anchor_head, record, verify_chain
from facility.core import schedule
from facility.extensions import db
from tests.audit.tampering import cut_tail, unguarded


def _events(n: int) -> None:
    for i in range(n):
        record("test.action", object_type="Thing", object_id=i, details={"n": i})
    db.session.commit()


def _anchor() -> AuditAnchor:
    anchor = anchor_head()
    assert anchor is not None
    db.session.commit()
    return anchor


def _verify(runner, *extra: str):
    return runner.invoke(args=["facility", "audit-verify", *extra])


def test_anchor_records_the_head_and_logs_it(app, caplog):
    _events(3)
    head = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    with caplog.at_level(logging.INFO, logger="facility.audit"):
        anchor = _anchor()
    assert (anchor.last_event_id, anchor.row_count, anchor.head_hash, anchor.key_id) == (head.id, 3, head.hash, "dev")
    lines = [r for r in caplog.records if r.name == "facility.audit" and r.levelno == logging.INFO]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert head.hash in message and "3 records" in message and anchor.anchored_at.isoformat() in message


def test_an_unmoved_head_is_not_anchored_again(app):
    assert anchor_head() is None  # an empty trail has no head
    _events(1)
    _anchor()
    assert anchor_head() is None
    _events(1)
    assert anchor_head().row_count == 2


def test_deleting_the_newest_rows_is_reported_via_the_anchor(app, backend):
    """Without an anchor, a chain cut short still links up from genesis; the anchor remembers its head."""
    _events(5)
    anchored = _anchor().last_event_id
    with unguarded(backend):
        cut_tail(keep=3)
        problems = verify_chain()
    assert [problem.event_id for problem in problems] == [anchored]
    assert "the anchored record is missing" in problems[0].problem


def test_removing_rows_before_an_anchor_is_reported_by_count_too(app, backend):
    _events(4)
    anchored = _anchor().last_event_id
    with unguarded(backend):
        db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :i"), {"i": anchored - 1})
        db.session.commit()
        problems = verify_chain()
    texts = [problem.problem for problem in problems]
    assert any("link broken" in text for text in texts)
    assert any(text.endswith("3 records up to it, 4 anchored (records were removed)") for text in texts)


def test_the_command_records_an_anchor(app):
    _events(2)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["facility", "audit-anchor"])
    assert result.exit_code == 0, result.output
    anchor = db.session.execute(sa.select(AuditAnchor)).scalar_one()
    assert anchor.row_count == 2 and anchor.head_hash in result.output
    again = runner.invoke(args=["facility", "audit-anchor"])
    assert again.exit_code == 0 and "Nothing to anchor" in again.output
    assert db.session.execute(sa.select(sa.func.count(AuditAnchor.id))).scalar_one() == 1


def test_the_periodic_job_is_declared_hourly_and_configurable(app, monkeypatch):
    declared = schedule.declared(app)["audit.anchor"]
    assert declared.func is jobs.anchor_audit_chain and declared.queue == "default"
    assert declared.schedule(app.config) == "every:3600"
    monkeypatch.setitem(app.config, "AUDIT_ANCHOR_SCHEDULE", "600")
    assert declared.schedule(app.config) == "every:600"


def test_the_job_calls_the_same_service(app):
    _events(2)
    anchor_id = jobs.anchor_audit_chain()
    assert db.session.get(AuditAnchor, anchor_id).row_count == 2
    db.session.commit()  # the job has its own session
    assert jobs.anchor_audit_chain() is None


def test_anchors_are_append_only(app):
    _events(1)
    _anchor()
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text("UPDATE audit_anchors SET row_count = 0"))
        db.session.commit()
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text("DELETE FROM audit_anchors"))
        db.session.commit()
    db.session.rollback()


# --- the public anchors file --------------------------------------------------------------

def test_anchors_json_is_public_newest_first_and_cacheable(app, client):
    _events(2)
    first = _anchor()
    _events(1)
    second = _anchor()
    response = client.get("/opendata/audit-anchors.json")  # anonymous
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert body["algorithm"] == "HMAC-SHA256" and body["total"] == 2 and body["next"] is None
    assert [a["id"] for a in body["anchors"]] == [second.id, first.id]
    assert body["anchors"][0] == {"id": second.id, "anchored_at": second.anchored_at.isoformat().replace("+00:00", "Z"),
                                  "last_event_id": second.last_event_id, "row_count": 3,
                                  "head_hash": second.head_hash, "key_id": "dev"}


def test_anchors_json_pages_with_a_link_to_the_next(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_ANCHORS_PER_PAGE", 2)
    ids = []
    for _ in range(3):
        _events(1)
        ids.append(_anchor().id)
    body = client.get("/opendata/audit-anchors.json").get_json()
    assert [a["id"] for a in body["anchors"]] == [ids[2], ids[1]]
    assert body["next"].endswith("/opendata/audit-anchors.json?page=2")
    older = client.get("/opendata/audit-anchors.json?page=2").get_json()
    assert [a["id"] for a in older["anchors"]] == [ids[0]] and older["next"] is None
    assert client.get("/opendata/audit-anchors.json?page=abc").get_json()["page"] == 1  # bad input: the first page


def test_verify_against_a_published_file_catches_a_cut_that_also_removed_the_anchors(app, client, backend, tmp_path):
    """What an outsider keeps: the database's own anchors deleted with the tail, the published copy still tells."""
    _events(4)
    _anchor()
    published = tmp_path / "anchors.json"
    published.write_text(client.get("/opendata/audit-anchors.json").get_data(as_text=True))
    runner = app.test_cli_runner()
    intact = _verify(runner, "--anchors", str(published))
    assert intact.exit_code == 0 and "1 published anchor" in intact.output
    with unguarded(backend):
        cut_tail(keep=2)
        db.session.execute(sa.text("DELETE FROM audit_anchors"))
        db.session.commit()
        assert _verify(runner).exit_code == 0  # the database alone no longer knows
        result = _verify(runner, "--anchors", str(published))
    assert result.exit_code == 1
    assert "published anchor 1: the anchored record is missing" in result.output


def test_verify_refuses_a_file_that_is_not_anchors(app, tmp_path):
    bad = tmp_path / "bad.json"
    runner = app.test_cli_runner()
    for text in ("not json", json.dumps({"anchors": [{"id": 1}]}), json.dumps({"x": 1})):
        bad.write_text(text)
        result = _verify(runner, "--anchors", str(bad))
        assert result.exit_code == 2 and "--anchors" in result.output


def test_the_audit_page_explains_a_cut_tail(app, client, backend, make_user, login):
    _events(3)
    anchored = _anchor().last_event_id
    reader = make_user("auditor")
    with unguarded(backend):
        cut_tail(keep=1)
        login(client, reader)  # signing in is audited too: the chain grows again after the cut
        html = client.get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    failing = html.split("Records that fail the check", 1)[1]
    assert "Broken" in html and "An anchor names this record, and it is gone: the trail was cut short." in failing
    assert f'href="/audit/events/{anchored}"' not in failing  # no link to a record that no longer exists
