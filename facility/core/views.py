"""Home, dashboard, language switch and health check."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from facility.core.urls import safe_next
from facility.extensions import db
from facility.queue import get_redis

bp = Blueprint("core", __name__)


@bp.route("/")
def home() -> str:
    return render_template("core/home.html")


@bp.route("/dashboard")
@login_required
def dashboard() -> str:
    return render_template("core/dashboard.html", panels=dashboard_panels(current_user))


# A package's panel for the dashboard: what this user sees first (a dict for the template), or None.
PanelProvider = Callable[[Any], Any]


def dashboard_panels(user: Any) -> list[Any]:
    """Each package adds what a role sees first; see `register_dashboard_panel`."""
    panels = []
    for provider in current_app.extensions.get("facility_dashboard", []):
        panel = provider(user)
        if panel:
            panels.append(panel)
    return panels


def register_dashboard_panel(app: Flask, provider: PanelProvider) -> None:
    """Add `provider(user)` to `app`'s dashboard (wired in create_app)."""
    app.extensions.setdefault("facility_dashboard", []).append(provider)


@bp.route("/language", methods=["GET", "POST"])
def set_language() -> Response:
    """Language switch: a plain form, works without JavaScript.

    Visitors use a GET form, which only sets the session's language (display, not a change of state; no
    CSRF token, so the page holding the form can be shared by `core.public_cache`); signed-in people POST
    it with their CSRF token and their profile keeps it."""
    form = request.form if request.method == "POST" else request.args
    code = form.get("lang", "")
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
        if request.method == "POST" and current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    return redirect(safe_next(form.get("next"), url_for("core.home")))


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    """Database and Redis reachability; 503 when either is down."""
    checks = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, do not raise: this is the health check
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", checks=checks), 200 if healthy else 503
