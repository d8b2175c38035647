"""The audit page: search by actor, object, action and date; pages; CSV; chain status; who may see it."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from facility.accounts.models import Role
from facility.accounts.policy import reads_everything
from facility.audit import policy as audit_policy
from facility.audit.models import AuditEvent
from facility.audit.services import record
from facility.extensions import db
from tests.audit.test_chain import _drop_guards, _restore_guards
from tests.conftest import sign_in

READERS = ("auditor", "fund_manager", "admin")
REFUSED = ("innovator", "city_official", "donor", "reviewer")


@pytest.fixture
def trail(app, clock, make_user):
    """Events by two people on two objects across three days (2027-01-01 .. 2027-01-03, UTC); the
    clock then stands at 2027-03-01, when the test signs in."""
    alice = make_user("fund_manager", email="alice@example.org", name="Alice Approver")
    bob = make_user("donor", email="bob@example.org", name="Bob Donor")
    for day, actor, action, obj_type, obj_id in [
        (1, alice, "disbursement.approved", "Disbursement", 7),
        (2, bob, "contribution.pledged", "Contribution", 3),
        (2, alice, "disbursement.cancelled", "Disbursement", 8),
        (3, bob, "contribution.pledged", "Contribution", 4),
    ]:
        with time_machine.travel(datetime(2027, 1, day, 23, 30, tzinfo=UTC), tick=False):
            record(action, actor=actor, object_type=obj_type, object_id=obj_id, details={"day": day})
    db.session.commit()
    return {"alice": alice, "bob": bob}


def _reader(client, make_user, role="auditor"):
    user = make_user(role)
    assert sign_in(client, user).status_code == 302
    return user


def _actions(client, **args) -> list[str]:
    """The actions listed in the page's table, top to bottom (the code shown beside the words)."""
    html = client.get("/audit", query_string=args).get_data(as_text=True)
    table = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [part.split("</code>", 1)[0] for part in table.split("<small><code>")[1:]]


# --- who may see it -------------------------------------------------------------------------------

def test_reader_roles_match_accounts(app, make_user):
    """audit.policy names the reader roles by value (it sits below accounts): they are real roles,
    and exactly the people accounts.policy.reads_everything lets read."""
    assert set(audit_policy.READER_ROLES) <= {r.value for r in Role}
    for role in Role:
        user = make_user(role.value)
        assert (audit_policy.can_view_audit(user) is None) == reads_everything(user), role


@pytest.mark.parametrize("role", READERS)
def test_readers_see_the_trail(client, make_user, trail, role):
    _reader(client, make_user, role)
    event_id = db.session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar_one()
    assert client.get("/audit").status_code == 200
    assert client.get(f"/audit/events/{event_id}").status_code == 200
    export = client.get("/audit/events.csv")
    assert export.status_code == 200 and export.get_data(as_text=True).startswith("\ufeffid,occurred_at,")
    assert "Audit trail" in client.get("/dashboard").get_data(as_text=True)  # the nav link


@pytest.mark.parametrize("role", REFUSED)
def test_others_are_refused(client, make_user, trail, role):
    _reader(client, make_user, role)
    event_id = db.session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar_one()
    for path in ("/audit", f"/audit/events/{event_id}", "/audit/events.csv", "/audit?verify=1"):
        assert client.get(path).status_code == 403, path
    assert 'href="/audit"' not in client.get("/dashboard").get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(client, trail):
    for path in ("/audit", "/audit/events/1", "/audit/events.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/signin" in response.headers["Location"], path


def test_unknown_event_is_404(client, make_user, trail):
    _reader(client, make_user)
    assert client.get("/audit/events/999999").status_code == 404


# --- search -------------------------------------------------------------------------------------

def test_newest_first_without_criteria(client, make_user, trail):
    _reader(client, make_user)  # signing in is audited too: it is the newest
    actions = _actions(client)
    assert actions[0] == "user.signed_in"
    assert actions[1:5] == ["contribution.pledged", "disbursement.cancelled", "contribution.pledged",
                            "disbursement.approved"]


def test_search_by_actor_id_and_email(client, make_user, trail):
    _reader(client, make_user)
    alice = trail["alice"]
    assert _actions(client, actor=alice.id) == ["disbursement.cancelled", "disbursement.approved"]
    assert _actions(client, actor="ALICE@example.org") == ["disbursement.cancelled", "disbursement.approved"]
    assert _actions(client, actor="nobody@example.org") == []


def test_search_by_email_finds_a_person_who_changed_address(client, make_user, trail):
    _reader(client, make_user)
    alice = trail["alice"]
    alice.email = "alice.new@example.org"
    db.session.commit()
    assert _actions(client, actor="alice.new@example.org") == ["disbursement.cancelled", "disbursement.approved"]


def test_search_by_action(client, make_user, trail):
    _reader(client, make_user)
    assert _actions(client, action="contribution.pledged") == ["contribution.pledged", "contribution.pledged"]


def test_search_by_object(client, make_user, trail):
    _reader(client, make_user)
    assert _actions(client, object_type="Disbursement") == ["disbursement.cancelled", "disbursement.approved"]
    assert _actions(client, object_type="Disbursement", object_id="7") == ["disbursement.approved"]
    assert _actions(client, object_type="Contribution", object_id="7") == []


def test_search_by_utc_dates_both_included(client, make_user, trail):
    _reader(client, make_user)
    assert _actions(client, date_from="2027-01-02", date_to="2027-01-02") == [
        "disbursement.cancelled", "contribution.pledged"]
    assert _actions(client, date_to="2027-01-01") == ["disbursement.approved"]
    assert _actions(client, date_from="2027-01-03", action="contribution.pledged") == ["contribution.pledged"]


@pytest.mark.parametrize("args, message, listed", [
    ({"actor": "alice"}, "Give a user id (a number) or an e-mail address.", 5),
    ({"actor": "99999999999999"}, "No user has this id.", 5),
    ({"date_from": "yesterday"}, "Not a valid date value.", 5),
    ({"date_from": "2027-01-03", "date_to": "2027-01-01"}, "The end date is before the start date.", 2),
    ({"action": "x" * 81}, "Field cannot be longer than 80 characters.", 5),
])
def test_bad_criteria_are_shown_and_ignored(client, make_user, trail, args, message, listed):
    """The error is on the page and the bad criterion is left out (the others still apply)."""
    _reader(client, make_user)
    response = client.get("/audit", query_string=args)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and message in html
    assert len(_actions(client, **args)) == listed


def test_garbage_never_fails(client, make_user, trail):
    _reader(client, make_user)
    for args in ({"page": "-1"}, {"page": "x" * 50}, {"verify": "yes"}, {"actor": "@" * 400},
                 {"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}, {"object_type": "%ZZ\u202e"}):
        for path in ("/audit", "/audit/events.csv"):
            response = client.get(path, query_string=args)
            response.get_data()  # the streamed CSV runs to its end
            assert response.status_code == 200, (path, args)
    # Text the database cannot store is refused for the whole app before any view runs.
    assert client.get("/audit", query_string={"object_id": "a\x00b"}).status_code == 422


def test_pagination_and_query_count(client, make_user, app):
    reader = _reader(client, make_user)
    for n in range(54):
        record("test.many", actor=reader, object_type="Thing", object_id=n)
    db.session.commit()
    first = _actions(client, action="test.many")
    second = _actions(client, action="test.many", page=2)
    assert len(first) == 50 and len(second) == 4
    assert "Page 1 of 2" in client.get("/audit", query_string={"action": "test.many"}).get_data(as_text=True)

    def statements(**args) -> int:
        seen = []
        listener = lambda *a, **k: seen.append(1)  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/audit", query_string=args).status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    assert statements(action="test.many", page=2) == statements(action="test.many")  # 4 rows vs 50 rows


# --- CSV ----------------------------------------------------------------------------------------

def test_csv_export_of_the_search(client, make_user, trail):
    _reader(client, make_user)
    response = client.get("/audit/events.csv", query_string={"object_type": "Disbursement"})
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["action"] for r in rows] == ["disbursement.cancelled", "disbursement.approved"]
    approved = rows[1]
    event = db.session.get(AuditEvent, int(approved["id"]))
    assert approved["actor_email"] == "alice@example.org" and approved["actor_name"] == "Alice Approver"
    assert approved["actor_id"] == str(trail["alice"].id)
    assert approved["object_type"] == "Disbursement" and approved["object_id"] == "7"
    assert approved["occurred_at"] == "2027-01-01T23:30:00+00:00"
    assert approved["details"] == '{"day": 1}'
    assert approved["hash"] == event.hash


def test_csv_export_reads_past_one_batch(client, make_user, app, monkeypatch):
    from facility.audit import queries
    monkeypatch.setattr(queries, "EXPORT_BATCH", 3)
    reader = _reader(client, make_user)
    for n in range(1, 9):
        record("test.batch", actor=reader, object_type="Thing", object_id=n)
    db.session.commit()
    body = client.get("/audit/events.csv", query_string={"action": "test.batch"}).get_data(as_text=True)
    ids = [r["object_id"] for r in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))]
    assert ids == [str(n) for n in range(8, 0, -1)]


def test_csv_guards_formulas_in_text(client, make_user, app):
    reader = _reader(client, make_user)
    record("test.formula", actor=reader, object_type="=HYPERLINK(1)", object_id="+1")
    db.session.commit()
    body = client.get("/audit/events.csv", query_string={"action": "test.formula"}).get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert row["object_type"] == "'=HYPERLINK(1)" and row["object_id"] == "'+1"


# --- the chain ----------------------------------------------------------------------------------

def test_chain_is_checked_on_demand(client, make_user, trail):
    _reader(client, make_user)
    page = client.get("/audit").get_data(as_text=True)
    assert "Check the chain now" in page and "Verifies" not in page
    checked = client.get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    assert "Verifies" in checked and "every link and every hash is intact" in checked


def test_tampered_event_is_shown(client, make_user, trail, backend):
    _reader(client, make_user)
    target = db.session.execute(
        sa.select(AuditEvent.id).where(AuditEvent.object_id == "8")).scalar_one()
    _drop_guards(backend)
    try:
        db.session.execute(sa.text("UPDATE audit_events SET details = :d WHERE id = :i"),
                           {"d": '{"day": 9}', "i": target})
        db.session.commit()
        html = client.get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    finally:
        _restore_guards(backend)
    assert "Broken" in html and "Verifies" not in html
    assert f'href="/audit/events/{target}"' in html.split("Records that fail the check", 1)[1]
    assert "Its content does not match its hash" in html


# --- one event ----------------------------------------------------------------------------------

def test_event_page_shows_the_record_and_its_object(client, make_user, trail):
    _reader(client, make_user)
    approved, cancelled = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.object_type == "Disbursement").order_by(AuditEvent.id)).scalars()
    record("disbursement.paid", actor=trail["alice"], object_type="Disbursement", object_id=7)
    db.session.commit()
    html = client.get(f"/audit/events/{approved.id}").get_data(as_text=True)
    assert approved.hash in html and approved.prev_hash in html and "Alice Approver" in html
    assert "disbursement.paid" in html  # another record on Disbursement 7
    assert "disbursement.cancelled" not in html  # Disbursement 8 is another object
    assert 'href="/disbursements/7"' in html  # the object's own page


def test_event_page_links_no_page_for_objects_without_one(client, make_user, trail):
    _reader(client, make_user)
    record("test.thing", actor=trail["alice"], object_type="Thing", object_id=5)
    db.session.commit()
    event_id = db.session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar_one()
    html = client.get(f"/audit/events/{event_id}").get_data(as_text=True)
    assert "Thing 5 in the trail" in html and "its page" not in html


def test_dates_are_utc_days(client, make_user, trail):
    """A record at 23:30 UTC belongs to that UTC day, not to the next one (as it would east of UTC)."""
    _reader(client, make_user)
    assert _actions(client, date_from="2027-01-01", date_to="2027-01-01") == ["disbursement.approved"]
    assert _actions(client, date_from="2027-01-04", date_to="2027-02-28") == []


# --- the dashboard panel and the demo -----------------------------------------------------------

@pytest.mark.parametrize("role", READERS)
def test_dashboard_panel_for_readers(client, make_user, trail, role):
    _reader(client, make_user, role)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Search the audit trail" in html and "records; the latest at" in html
    # The auditor's reading list (pages no other nav link reaches for them); staff have their own.
    assert ("Cities waiting for verification" in html) == (role == "auditor")


@pytest.mark.parametrize("role", REFUSED)
def test_no_dashboard_panel_for_others(client, make_user, trail, role):
    _reader(client, make_user, role)
    assert "Search the audit trail" not in client.get("/dashboard").get_data(as_text=True)


def test_demo_auditor_finds_a_verified_trail(client, app):
    from facility import demo

    demo.seed(echo=lambda _msg: None)
    assert sign_in(client, "auditor@demo.facility", "demo-facility-2026").status_code == 302
    html = client.get("/audit", query_string={"verify": "1"}).get_data(as_text=True)
    assert "Verifies" in html
    assert len(_actions(client)) == 50  # a full first page of demo records
    assert _actions(client, action="disbursement.approved")  # the demo's money moved under audit
