"""Open-data files built once per state of the data and served from disk (portfolio.opendata.files):
the same bytes as the live file, plain or gzipped, no export query on a repeat, rebuilt (and the old
one removed) when a published fact changes, and streamed live while another request builds."""
from __future__ import annotations

import gzip
import os
import time

import pytest

from facility.extensions import db
from tests.portfolio.test_opendata import add_grant, fetch

TEXT_FILES = ("/opendata/360giving.json", "/opendata/iati-activities.xml", "/opendata/grants.csv")


@pytest.fixture
def on_disk(app, tmp_path):
    app.config.update(OPENDATA_FILE_CACHE=True, OPENDATA_FILE_DIR=str(tmp_path))
    yield tmp_path
    app.config["OPENDATA_FILE_CACHE"] = False


def _live(app, client, path):
    app.config["OPENDATA_FILE_CACHE"] = False
    try:
        return fetch(client, path).get_data()
    finally:
        app.config["OPENDATA_FILE_CACHE"] = True


@pytest.mark.parametrize("path", TEXT_FILES)
def test_a_file_is_built_once_and_then_served_from_disk(app, client, clock, on_disk, count_queries, path):
    add_grant()
    db.session.commit()
    first = fetch(client, path)
    assert first.status_code == 200 and len(list(on_disk.iterdir())) == 2  # plain and gzipped
    with count_queries() as ran:
        again = fetch(client, path)
    assert again.get_data() == first.get_data() == _live(app, client, path)
    assert ran() <= 2, "the freshness look-up only, no export query"
    assert again.headers["ETag"] == first.headers["ETag"] and again.headers["Cache-Control"] == "public, no-cache"
    packed = fetch(client, path, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == first.get_data()


def test_a_change_builds_a_new_file_and_removes_the_old(client, clock, on_disk):
    grant = add_grant()
    db.session.commit()
    before = fetch(client, "/opendata/grants.csv").get_data()
    old = sorted(p.name for p in on_disk.iterdir())
    clock.shift(seconds=5)
    grant.organization.name = "Renamed Labs"
    db.session.commit()
    after = fetch(client, "/opendata/grants.csv").get_data()
    assert b"Renamed Labs" in after and b"Renamed Labs" not in before
    now = sorted(p.name for p in on_disk.iterdir())
    assert len(now) == 2 and not set(now) & set(old)


def test_while_another_request_builds_the_file_is_streamed_live(app, client, clock, on_disk):
    add_grant()
    db.session.commit()
    fetch(client, "/opendata/grants.csv")  # built once to learn the file's name
    plain = next(p for p in on_disk.iterdir() if not p.name.endswith(".gz"))
    for built in list(on_disk.iterdir()):
        built.unlink()
    lock = plain.with_name(plain.name + ".lock")
    lock.touch()  # another worker is building it (just now, on the test's clock)
    os.utime(lock, (time.time(), time.time()))
    live = client.get("/opendata/grants.csv")
    assert live.is_streamed
    body = live.get_data()
    assert sorted(p.name for p in on_disk.iterdir()) == [lock.name], "nothing built, the lock left alone"
    assert body == _live(app, client, "/opendata/grants.csv")
    # A lock left by a worker that died is taken over once stale.
    old = time.time() - 3600
    os.utime(lock, (old, old))
    fetch(client, "/opendata/grants.csv")
    fetch(client, "/opendata/grants.csv")
    assert plain.exists() and not lock.exists()
