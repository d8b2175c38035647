"""Jobs and e-mails leave only after the transaction that caused them commits."""
import pytest

from facility.core.hooks import after_commit
from facility.core.mail import OutboundEmail, send_mail
from facility.extensions import db
from facility.queue import get_queue


def test_after_commit_runs_only_on_commit(app):
    calls = []
    after_commit(calls.append, "first")
    assert calls == []
    db.session.commit()
    assert calls == ["first"]
    db.session.commit()
    assert calls == ["first"], "a callback runs once"


def test_after_commit_dropped_on_rollback(app):
    calls = []
    after_commit(calls.append, "never")
    db.session.rollback()
    db.session.commit()
    assert calls == []


def test_email_job_enqueued_after_commit_not_before(app):
    queue = get_queue("emails")
    send_mail(to="a@example.org", subject="Hello", body="Body")
    assert queue.count == 0, "nothing may be queued before the commit"
    db.session.commit()
    assert queue.count == 1
    job = queue.jobs[0]
    assert job.func_name == "facility.core.jobs.deliver_email"
    assert isinstance(job.args[0], int), "jobs take ids, not objects"


def test_rolled_back_email_is_never_sent(app):
    send_mail(to="a@example.org", subject="Hello", body="Body")
    db.session.rollback()
    db.session.commit()
    assert get_queue("emails").count == 0
    assert db.session.query(OutboundEmail).count() == 0


def test_email_job_delivers_once_and_logs_without_mail_server(app, run_jobs, caplog):
    message = send_mail(to="a@example.org", subject="Hello", body="The body")
    db.session.commit()
    message_id = message.id
    with caplog.at_level("INFO", logger="facility.mail"):
        run_jobs()
    db.session.expire_all()
    sent = db.session.get(OutboundEmail, message_id)
    assert sent.sent_at is not None
    assert sent.attempts == 1
    assert "The body" in caplog.text
    # Running the job again does not send twice.
    from facility.core.jobs import deliver_email

    db.session.commit()
    deliver_email(message_id)
    db.session.expire_all()
    assert db.session.get(OutboundEmail, message_id).attempts == 1


def test_unknown_queue_refused():
    from facility.queue import job

    with pytest.raises(ValueError):
        job("nope")
