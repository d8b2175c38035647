"""Periodic jobs kept as data, reconciled when a worker starts, run once per period however many workers run.

Each package declares its periodic work in its `jobs.py` as a list, `PERIODIC`:

    PERIODIC = [PeriodicJob(name="reminders.deadlines", every=3600, queue="reminders", func=deadline_reminders)]

`func` is an RQ job (`queue.job`) that takes no arguments. The schedule is `every` seconds or a daily
time `at="06:00"` (UTC); `config_key` names an app setting that overrides it (seconds, or "HH:MM").
The app factory gathers every package's list (`declare`); each worker, as it starts, writes the
declared schedule to Redis (`reconcile`: new jobs added, changed schedules updated, jobs no longer
declared removed) and then, every second, `claim_due` asks Redis which jobs are due: a job's
period (its slot) is claimed with SET NX, so of several workers exactly one enqueues it.

Why not `rq.cron`: its CronScheduler is one more process per deployment, keeps its jobs in that
process's memory and takes no lock, so two of them enqueue everything twice. This module needs
nothing but the Redis the queues already use. It is rank 0: it knows no package and no queue;
`facility.queue` enqueues what it claims.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from flask import Flask

DAILY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
EXTENSION = "facility_schedule"


@dataclass(frozen=True)
class PeriodicJob:
    """One periodic job: its name, when it runs, the queue it is put on and the job function."""

    name: str
    func: Callable[[], Any]
    queue: str = "default"
    every: int | None = None  # seconds
    at: str | None = None  # "HH:MM", daily, UTC
    config_key: str | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.at is None):
            raise ValueError(f"{self.name}: give either every= (seconds) or at= (a daily time)")
        parse_schedule(self.default_schedule)

    @property
    def default_schedule(self) -> str:
        return f"every:{self.every}" if self.every is not None else f"daily:{self.at}"

    def schedule(self, config: Mapping[str, Any]) -> str:
        """The schedule in force: the app setting `config_key` when set (seconds or "HH:MM"), else the default."""
        value = config.get(self.config_key) if self.config_key else None
        if value is None or value == "":
            return self.default_schedule
        text = str(value).strip()
        return parse_schedule(f"daily:{text}" if DAILY.match(text) else f"every:{text}")


def parse_schedule(text: str) -> str:
    """Check a stored schedule ("every:<seconds>" or "daily:HH:MM") and return it."""
    kind, _, value = text.partition(":")
    if kind == "every" and value.isdigit() and int(value) >= 1:
        return f"every:{int(value)}"
    if kind == "daily" and DAILY.match(value):
        return text
    raise ValueError(f"not a schedule: {text!r} (seconds >= 1 or a daily HH:MM)")


def slot(schedule: str, now: datetime) -> tuple[str, int]:
    """The period `now` falls in under `schedule`, and how long (seconds) that period lasts.

    Every N seconds: the N-second block of the epoch. Daily at HH:MM: the date of the latest HH:MM
    at or before `now`, so a worker started after the time still runs that day's job, once.
    """
    kind, _, value = parse_schedule(schedule).partition(":")
    if kind == "every":
        seconds = int(value)
        return str(int(now.timestamp()) // seconds), seconds
    hour, minute = (int(part) for part in value.split(":"))
    today = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    day = today if now >= today else today - timedelta(days=1)
    return day.date().isoformat(), 86400


def declare(app: Flask, jobs: Iterable[PeriodicJob]) -> None:
    """Make `jobs` the app's declared periodic jobs (the app factory gathers each package's `PERIODIC`)."""
    declared: dict[str, PeriodicJob] = {}
    for periodic in jobs:
        if periodic.name in declared:
            raise ValueError(f"periodic job {periodic.name!r} declared twice")
        declared[periodic.name] = periodic
    app.extensions[EXTENSION] = declared


def declared(app: Flask) -> dict[str, PeriodicJob]:
    return dict(app.extensions.get(EXTENSION, {}))


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def schedule_key(prefix: str) -> str:
    return f"{prefix}facility:schedule"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries(raw: Mapping[Any, Any]) -> dict[str, dict[str, str]]:
    return {_text(name): json.loads(value) for name, value in raw.items()}


def stored(connection: redis.Redis, prefix: str) -> dict[str, dict[str, str]]:
    """The schedule as Redis holds it: name -> {"schedule", "queue"}."""
    return _entries(connection.hgetall(schedule_key(prefix)))


def reconcile(connection: redis.Redis, prefix: str, jobs: Iterable[PeriodicJob], config: Mapping[str, Any]
              ) -> Changes:
    """Rule: Redis holds exactly the declared jobs with their schedules in force. Atomic (WATCH/MULTI), so
    workers starting together each leave the same schedule; returns what this call changed."""
    wanted = {job.name: {"schedule": job.schedule(config), "queue": job.queue} for job in jobs}
    key = schedule_key(prefix)
    changes = Changes()

    def apply(pipe: Any) -> None:
        changes.added, changes.changed, changes.removed = [], [], []
        current = _entries(pipe.hgetall(key))
        pipe.multi()
        for name, entry in sorted(wanted.items()):
            if name not in current:
                changes.added.append(name)
            elif current[name] != entry:
                changes.changed.append(name)
            else:
                continue
            pipe.hset(key, name, json.dumps(entry, sort_keys=True))
        for name in sorted(set(current) - set(wanted)):
            changes.removed.append(name)
            pipe.hdel(key, name)

    connection.transaction(apply, key)
    return changes


def claim_due(connection: redis.Redis, prefix: str, now: datetime, *, known: Iterable[str]) -> list[tuple[str, str]]:
    """The (name, queue) of each stored job whose current period nobody has claimed yet, now claimed by us.

    Only jobs this worker knows (`known`) are claimed: a worker running older code leaves a new job to
    the workers that have it.
    """
    names = set(known)
    claimed: list[tuple[str, str]] = []
    for name, entry in sorted(stored(connection, prefix).items()):
        if name not in names:
            continue
        period, seconds = slot(entry["schedule"], now)
        marker = f"{schedule_key(prefix)}:ran:{name}:{entry['schedule']}:{period}"
        if connection.set(marker, "1", nx=True, ex=max(2 * seconds, 2)):
            claimed.append((name, entry["queue"]))
    return claimed
