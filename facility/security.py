"""Security headers on every response.

Nothing personal is kept by a browser or a shared cache: every response to a signed-in user, the
API, and the accounts pages (sign-in, password reset) send `Cache-Control: no-store`; public pages
and public API answers seen anonymously are shared (`core.public_cache`: `public, max-age=...`), other
pages seen anonymously, and static files, keep the default."""
from __future__ import annotations

import secrets

from flask import Flask, g, request
from flask_login import current_user

from facility.core import public_cache


def register(app: Flask) -> None:
    @app.before_request
    def _nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def _headers(response):
        nonce = g.get("csp_nonce", "")  # none on a page from the public cache: it has no inline script
        scripts = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
        csp = (
            "default-src 'self'; "
            "img-src 'self' data:; "
            f"script-src {scripts}; "
            "style-src 'self'; "
            "object-src 'none'; "
            "base-uri 'self'; "
            "form-action 'self'; "
            "frame-ancestors 'none'"
        )
        headers = response.headers
        headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("HSTS"):
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if not public_cache.shared() and _personal() and "no-store" not in headers.get("Cache-Control", ""):
            headers["Cache-Control"] = "private, no-store"
        return response

    def _personal() -> bool:
        """A response that may carry someone's data (see the module docstring)."""
        if request.path.startswith("/api/") or (request.endpoint or "").startswith("accounts."):
            return True
        return request.endpoint != "static" and bool(current_user and current_user.is_authenticated)
