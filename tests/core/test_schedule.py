"""Periodic jobs kept as data (core.schedule): reconciled into Redis when a worker starts, run once per period."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facility.core import schedule
from facility.core.schedule import PeriodicJob, parse_schedule, slot
from facility.queue import get_queue, get_redis, job, reconcile_schedule, tick

T0 = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)


@job("reminders")
def _ping() -> None:
    """A job for the schedule to enqueue."""


@job("default")
def _pong() -> None:
    """Another."""


@pytest.fixture
def declared(app):
    """Swap the app's declared periodic jobs for the test's, and put them back afterwards."""
    before = schedule.declared(app)

    def _declare(*jobs: PeriodicJob) -> None:
        schedule.declare(app, jobs)

    _forget(app)
    yield _declare
    schedule.declare(app, before.values())
    _forget(app)


def _forget(app) -> None:
    """Remove the stored schedule and the periods claimed (the test app's prefix keeps other runs' apart)."""
    connection, key = get_redis(app), schedule.schedule_key(app.config["QUEUE_PREFIX"])
    connection.delete(key, *connection.scan_iter(f"{key}:ran:*"))


def _stored(app) -> dict:
    return schedule.stored(get_redis(app), app.config["QUEUE_PREFIX"])


def test_the_app_declares_every_package_periodic_job_including_the_sweep(app):
    names = set(schedule.declared(app))
    assert {"disbursements.sweep", "challenges.deadline_reminders", "review.due_reminders",
            "grants.milestone_reminders", "disbursements.approval_reminders"} <= names
    assert schedule.declared(app)["disbursements.sweep"].schedule(app.config) == (
        f"every:{int(app.config['SWEEP_INTERVAL_SECONDS'])}")


def test_reconcile_adds_changes_and_removes(app, declared):
    declared(PeriodicJob(name="a", func=_ping, queue="reminders", every=3600),
             PeriodicJob(name="b", func=_pong, every=60))
    changes = reconcile_schedule(app)
    assert (changes.added, changes.changed, changes.removed) == (["a", "b"], [], [])
    assert _stored(app) == {"a": {"schedule": "every:3600", "queue": "reminders"},
                            "b": {"schedule": "every:60", "queue": "default"}}

    again = reconcile_schedule(app)  # a second worker starting with the same code changes nothing
    assert (again.added, again.changed, again.removed) == ([], [], [])

    declared(PeriodicJob(name="a", func=_ping, queue="reminders", at="06:30"),
             PeriodicJob(name="c", func=_pong, every=5))
    changes = reconcile_schedule(app)
    assert (changes.added, changes.changed, changes.removed) == (["c"], ["a"], ["b"])
    assert _stored(app) == {"a": {"schedule": "daily:06:30", "queue": "reminders"},
                            "c": {"schedule": "every:5", "queue": "default"}}


def test_a_config_key_overrides_the_declared_schedule(app):
    periodic = PeriodicJob(name="x", func=_ping, every=3600, config_key="X_SCHEDULE")
    assert periodic.schedule({}) == "every:3600"
    assert periodic.schedule({"X_SCHEDULE": "120"}) == "every:120"
    assert periodic.schedule({"X_SCHEDULE": 7}) == "every:7"
    assert periodic.schedule({"X_SCHEDULE": "07:15"}) == "daily:07:15"
    with pytest.raises(ValueError):
        periodic.schedule({"X_SCHEDULE": "soon"})
    with pytest.raises(ValueError):
        PeriodicJob(name="y", func=_ping)  # neither every nor at
    with pytest.raises(ValueError):
        parse_schedule("every:0")


def test_two_workers_starting_together_enqueue_each_job_once_per_period(app, declared):
    declared(PeriodicJob(name="a", func=_ping, queue="reminders", every=60))
    reconcile_schedule(app)
    reconcile_schedule(app)  # the second worker
    reminders = get_queue("reminders")
    assert tick(app, T0) == ["a"]
    assert tick(app, T0 + timedelta(seconds=1)) == []  # the other worker, same period
    assert tick(app, T0 + timedelta(seconds=59)) == []
    assert reminders.count == 1
    assert reminders.jobs[0].func_name.endswith("_ping")
    assert tick(app, T0 + timedelta(seconds=60)) == ["a"]  # the next period
    assert tick(app, T0 + timedelta(seconds=61)) == []
    assert reminders.count == 2


def test_a_removed_job_is_no_longer_enqueued_and_an_unknown_one_is_left_alone(app, declared):
    declared(PeriodicJob(name="a", func=_ping, queue="reminders", every=60))
    reconcile_schedule(app)
    declared()  # a deployment that no longer declares it
    reconcile_schedule(app)
    assert tick(app, T0) == []
    assert get_queue("reminders").count == 0


def test_daily_slots_run_once_a_day_from_the_time_on():
    assert slot("daily:06:00", datetime(2027, 3, 1, 5, 59, tzinfo=UTC))[0] == "2027-02-28"
    assert slot("daily:06:00", datetime(2027, 3, 1, 6, 0, tzinfo=UTC))[0] == "2027-03-01"
    assert slot("daily:06:00", datetime(2027, 3, 1, 23, 0, tzinfo=UTC)) == ("2027-03-01", 86400)
    assert slot("every:60", T0)[0] == slot("every:60", T0 + timedelta(seconds=59))[0]
    assert slot("every:60", T0)[0] != slot("every:60", T0 + timedelta(seconds=60))[0]


def test_a_worker_claims_only_the_jobs_of_the_queues_it_serves(app, declared):
    declared(PeriodicJob(name="a", func=_ping, queue="reminders", every=60),
             PeriodicJob(name="b", func=_pong, queue="default", every=60))
    reconcile_schedule(app)
    assert tick(app, T0, queues=["payments", "default"]) == ["b"]  # a payments-and-default worker
    assert tick(app, T0, queues=["reminders"]) == ["a"]  # a reminders worker, same period
    assert tick(app, T0) == []


def test_a_lost_schedule_is_written_again_and_resumes_with_the_next_period(app, declared):
    declared(PeriodicJob(name="a", func=_ping, queue="reminders", every=60))
    reconcile_schedule(app)
    assert tick(app, T0) == ["a"]
    _forget(app)  # Redis flushed: the schedule and the record of this period's run are gone
    assert tick(app, T0 + timedelta(seconds=1)) == []  # it may have run in this period: never twice
    assert "a" in _stored(app)
    assert tick(app, T0 + timedelta(seconds=60)) == ["a"]


def test_the_sweep_is_on_the_payments_queue(app):
    assert schedule.declared(app)["disbursements.sweep"].queue == "payments"
