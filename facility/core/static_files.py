"""Static files for slow lines: fingerprinted URLs cached for a year, and the site's icon.

`url_for('static', filename=...)` adds `v=<first 12 hex of the file's SHA-256>`. A request whose `v` is
the file's current fingerprint may be kept by browsers and proxies for a year (`immutable`): a changed
file gets a new URL, so nobody keeps an old one. Any other request (no `v`, or an old one) is served
with a short lifetime, so a stale link still works. Fingerprints are computed once per file and process.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, request, url_for

YEAR_SECONDS = 365 * 24 * 3600
SHORT_SECONDS = 300


@lru_cache(maxsize=256)
def fingerprint(path: str) -> str | None:
    """The file's content fingerprint, or None when there is no such file (the URL then 404s as before)."""
    file = Path(path)
    if not file.is_file():
        return None
    return hashlib.sha256(file.read_bytes()).hexdigest()[:12]


def register(app: Flask) -> None:
    static_folder = Path(app.static_folder or "static").resolve()

    def _file_fingerprint(filename: str) -> str | None:
        target = (static_folder / filename).resolve()
        if static_folder not in target.parents:
            return None
        return fingerprint(str(target))

    @app.url_defaults
    def _add_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values and values.get("filename"):
            version = _file_fingerprint(values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def _static_lifetime(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code != 200:
            return response
        filename = (request.view_args or {}).get("filename", "")
        current = _file_fingerprint(filename)
        if current and request.args.get("v") == current:
            response.cache_control.public = True
            response.cache_control.max_age = YEAR_SECONDS
            response.cache_control.immutable = True
        else:
            response.cache_control.public = True
            response.cache_control.max_age = SHORT_SECONDS
        return response

    @app.route("/favicon.ico")
    def favicon() -> Response:
        """Browsers ask for /favicon.ico on their own; send them to the fingerprinted icon (no 404)."""
        return redirect(url_for("static", filename="favicon.svg"), code=301)  # type: ignore[return-value]
