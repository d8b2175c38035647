"""`/opendata/`: the open-data page and its four files, for everyone (no sign-in, no policy: what is
published is decided by `source`).

Each file's ETag and Last-Modified come from one cheap query (`source.freshness`), and a client that
already has the current file gets `304 Not Modified` before anything is generated. The text files are
built once per state of the data and then served from disk (`files`); the spreadsheet is built on each
request.

The bodies are plain generators over `source.published_grants(engine)`, which reads on a connection
of its own: no `stream_with_context`, so a response a client never reads (or abandons) holds no
request context and no database session.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, render_template, request, url_for

from facility.core.exports import csv_lines, xlsx_response
from facility.extensions import db
from facility.portfolio.opendata import files, iati, source, tables, threesixty
from facility.portfolio.opendata.identity import LICENCE_NAME, LICENCE_URL, Publisher, publisher

bp = Blueprint("opendata", __name__, url_prefix="/opendata")

# Open data may be read by any site's scripts; it carries no credentials and no private fact.
PUBLIC_HEADERS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, no-cache"}


def _not_modified(fresh: source.Freshness) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(fresh.etag)
    since = request.if_modified_since
    return since is not None and fresh.last_modified <= since.astimezone(UTC)


def _cached(fmt: str, build: Callable[[Publisher, datetime, str], Response]) -> Response:
    """`build`'s response with its validators, or 304 when the client's copy is current."""
    who = publisher(current_app.config)
    fresh = source.freshness(f"{fmt}|{who}")
    # End the request session's read transaction: the export reads on its own connection, and on SQLite
    # every transaction holds the database's one write lock (BEGIN IMMEDIATE), which would block it.
    db.session.rollback()
    if _not_modified(fresh):
        response = Response(status=304, headers=PUBLIC_HEADERS)
    else:
        response = build(who, datetime.now(UTC), fresh.etag)
        response.headers.update(PUBLIC_HEADERS)
    response.set_etag(fresh.etag)
    response.last_modified = fresh.last_modified
    return response


def _encoded(lines: Iterator[str]) -> Iterator[bytes]:
    for line in lines:
        yield line.encode("utf-8")


def _file(fmt: str, lines: Callable[[Publisher, datetime], Iterator[str]], mimetype: str,
          headers: dict[str, str] | None = None) -> Response:
    """A text file: from disk when this state of the data was built before (`files`), else built there by
    this request, or streamed live while another request builds it (or when the file cache is off)."""
    def build(who: Publisher, now: datetime, etag: str) -> Response:
        if files.enabled():
            built = files.built_file(fmt, etag, _encoded(lines(who, now)), mimetype, headers or {})
            if built is not None:
                return built
        return Response(_encoded(lines(who, now)), mimetype=mimetype, headers=headers)
    return _cached(fmt, build)


@bp.route("/")
def index() -> str:
    """What is published, under which licence and identifiers, and how often it changes."""
    return render_template("portfolio/opendata.html", who=publisher(current_app.config), licence_url=LICENCE_URL,
                           licence_name=LICENCE_NAME)


@bp.route("/360giving.json")
def threesixtygiving() -> Response:
    def lines(who: Publisher, now: datetime) -> Iterator[str]:
        return threesixty.package_lines(source.published_grants(db.engine), who, now=now,
                                        download_url=url_for(".threesixtygiving", _external=True),
                                        access_url=url_for(".index", _external=True))
    return _file("360giving", lines, "application/json")


@bp.route("/iati-activities.xml")
def iati_activities() -> Response:
    def lines(who: Publisher, now: datetime) -> Iterator[str]:
        return iati.document_lines(source.published_grants(db.engine), who, now=now)
    return _file("iati", lines, "application/xml")


@bp.route("/grants.csv")
def grants_csv() -> Response:
    def lines(who: Publisher, now: datetime) -> Iterator[str]:
        rows = tables.grant_rows(source.published_grants(db.engine), who, now.date())
        # core.exports' CSV, with its byte-order mark (spreadsheets then read every script as UTF-8)
        return itertools.chain(["\ufeff"], csv_lines(tables.COLUMNS, rows))
    return _file("csv", lines, "text/csv", {"Content-Disposition": 'attachment; filename="grants.csv"'})


@bp.route("/grants.xlsx")
def grants_xlsx() -> Response:
    def build(who: Publisher, now: datetime, _etag: str) -> Response:
        rows = tables.grant_rows(source.published_grants(db.engine), who, now.date())
        return xlsx_response(tables.COLUMNS, rows, "grants.xlsx", sheet="Grants")
    return _cached("xlsx", build)


bp.record_once(lambda state: files.configure(state.app))
