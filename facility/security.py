"""Security headers on every response."""
from __future__ import annotations

import secrets

from flask import Flask, g, request


def register(app: Flask) -> None:
    @app.before_request
    def _nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def _headers(response):
        nonce = g.get("csp_nonce", "")
        csp = (
            "default-src 'self'; "
            "img-src 'self' data:; "
            f"script-src 'self' 'nonce-{nonce}'; "
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
        if request.path.startswith("/api/") or (request.endpoint or "").startswith("accounts."):
            headers.setdefault("Cache-Control", "no-store")
        return response
