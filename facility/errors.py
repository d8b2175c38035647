"""One place that turns errors into answers: problem JSON for the API, pages for people."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from facility.api.auth import ApiError
from facility.api.problems import is_api_request, problem, problem_from_http_exception, step_up_problem
from facility.core.errors import DomainError, StepUpRequired
from facility.extensions import db

log = logging.getLogger(__name__)


def _page(status: int, detail: str = ""):
    # Too large a request (MAX_CONTENT_LENGTH): nothing was read, so the way back is to the form that sent it.
    back = _back_to() if status == 413 else None
    return render_template("errors/error.html", status=status, detail=detail, back=back), status


def _back_to() -> str:
    """Where the person was: the Referer's path when it is this site, else the dashboard."""
    referer = urlsplit(request.referrer or "")
    if referer.netloc == request.host and referer.scheme in ("http", "https") and referer.path.startswith("/") \
            and not referer.path.startswith("//"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return url_for("core.dashboard")


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if is_api_request():
            return problem_from_http_exception(error)
        if error.code == 429 or (error.code and error.code < 500):
            response = error.get_response()
            body, status = _page(error.code or 500)
            response.set_data(body)
            response.status_code = status
            response.content_type = "text/html; charset=utf-8"
            return response
        return _page(error.code or 500)

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        db.session.rollback()  # a refused change writes nothing
        if is_api_request():
            return problem(error.status, error.detail, errors=error.errors or None)
        return _page(error.status, error.detail)

    @app.errorhandler(StepUpRequired)
    def _step_up(error: StepUpRequired):
        """A step-up action without a fresh factor: the API asks for X-OTP; a page sends the person to confirm."""
        db.session.rollback()
        if is_api_request():
            return step_up_problem()
        flash(_("This action needs you to confirm it is you. Enter a fresh code, then do it again."), "info")
        return redirect(url_for("mfa.confirm", next=_back_to()))

    @app.errorhandler(ApiError)
    def _api(error: ApiError):
        db.session.rollback()
        headers = {"WWW-Authenticate": 'Bearer realm="facility"'} if error.status == 401 else None
        return problem(error.status, error.detail, errors=error.errors, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return _http(error)
        log.exception("unhandled error")
        db.session.rollback()
        if app.config.get("TESTING") and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise error
        if is_api_request():
            return problem_from_http_exception(InternalServerError())
        return _page(500)
