"""Open-data files built once per state of the data and kept on disk, plain and gzipped.

At full scale a file takes seconds to build (16 MB of 360Giving JSON for 10,000 grants) and is the
same for every reader until a published fact changes, which `source.freshness` (the file's ETag)
says. So the first request for a state builds it into `OPENDATA_FILE_DIR` (default: the instance
folder's `opendata/`), a temporary file renamed into place with a gzipped copy written in the same
pass, and every later request for that state is served from disk (`send_file`, which the WSGI server
may hand to the kernel): milliseconds and no database work, whatever the size.

One builder at a time: the builder holds a lock file (created with O_EXCL); a request arriving while
another builds streams the file live as before rather than wait. A lock older than
`STALE_LOCK_SECONDS` (a killed worker) is taken over. Files of earlier states are removed once a new
one is in place. Memory stays bounded: the body is written line by line, never held.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from flask import Response, current_app, request, send_file
from flask.sansio.app import App

STALE_LOCK_SECONDS = 600


def configure(app: App) -> None:
    app.config.setdefault("OPENDATA_FILE_CACHE", not app.testing)
    app.config.setdefault("OPENDATA_FILE_DIR", os.path.join(app.instance_path, "opendata"))


def enabled() -> bool:
    return bool(current_app.config.get("OPENDATA_FILE_CACHE"))


def _paths(fmt: str, etag: str) -> tuple[Path, Path]:
    # The host is in the name: the files carry absolute links to the site they were built for.
    name = hashlib.sha256(f"{etag}|{request.host_url}".encode()).hexdigest()[:32]
    folder = Path(current_app.config["OPENDATA_FILE_DIR"])
    plain = folder / f"{fmt}-{name}"
    return plain, plain.with_name(plain.name + ".gz")


def _take_lock(lock: Path) -> bool:
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime < STALE_LOCK_SECONDS:
                return False
            lock.unlink(missing_ok=True)  # a builder that died; the next request builds
        except FileNotFoundError:
            pass
        return False


def _build(plain: Path, packed: Path, body: Iterator[bytes]) -> None:
    part = plain.with_name(f"{plain.name}.part-{os.getpid()}")
    part_packed = packed.with_name(f"{packed.name}.part-{os.getpid()}")
    try:
        with open(part, "wb") as out, gzip.open(part_packed, "wb", compresslevel=6) as out_packed:
            for chunk in body:
                out.write(chunk)
                out_packed.write(chunk)
        os.replace(part_packed, packed)  # the gzipped copy first: a plain file in place means both are
        os.replace(part, plain)
    finally:
        part.unlink(missing_ok=True)
        part_packed.unlink(missing_ok=True)
    fmt = plain.name.split("-", 1)[0]
    for old in plain.parent.glob(f"{fmt}-*"):
        if old not in (plain, packed) and ".part-" not in old.name and not old.name.endswith(".lock"):
            old.unlink(missing_ok=True)


def _send(plain: Path, packed: Path, mimetype: str, headers: dict[str, str]) -> Response:
    gzipped = request.accept_encodings.best_match(["gzip"]) == "gzip"
    response = send_file(packed if gzipped else plain, mimetype=mimetype, conditional=False, etag=False,
                         last_modified=None, max_age=None)
    response.headers.update(headers)
    response.vary.add("Accept-Encoding")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return response


def built_file(fmt: str, etag: str, body: Iterator[bytes], mimetype: str,
               headers: dict[str, str]) -> Response | None:
    """The file of this state of the data from disk, building it first when this request may; None when
    another request is building it (the caller streams `body` live)."""
    plain, packed = _paths(fmt, etag)
    if not plain.exists():
        plain.parent.mkdir(parents=True, exist_ok=True)
        lock = plain.with_name(plain.name + ".lock")
        if not _take_lock(lock):
            return None
        try:
            if not plain.exists():  # built by another worker between our look and our lock
                _build(plain, packed, body)
        finally:
            lock.unlink(missing_ok=True)
    try:
        return _send(plain, packed, mimetype, headers)
    except FileNotFoundError:  # replaced by a newer state's file just now: this request streams its own
        return None
