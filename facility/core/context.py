"""Where the current request comes from, for the services that record it (the audit trail, sessions).

Services never read Flask's `request`: they run in jobs and commands too. A hook wired once in
`create_app` (`register`) notes the client of each request as it starts and forgets it when the
request ends; `current_client()` is what services ask. Outside a request it is `NO_CLIENT`.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from flask import Flask, request, request_started, request_tearing_down


@dataclass(frozen=True)
class Client:
    """The remote address and user agent of the request being served ("" when unknown)."""

    address: str = ""
    agent: str = ""


NO_CLIENT = Client()
_client: ContextVar[Client] = ContextVar("facility_client", default=NO_CLIENT)


def current_client() -> Client:
    """The client of the request being served, or `NO_CLIENT` in a job, a command or a test."""
    return _client.get()


def _request_started(_app: Flask, **_extra: Any) -> None:
    _client.set(Client(address=request.remote_addr or "", agent=request.user_agent.string or ""))


def _request_ended(_app: Flask, **_extra: Any) -> None:
    _client.set(NO_CLIENT)


def register(app: Flask) -> None:
    """Note each request's client for `current_client()` (called once, from `create_app`)."""
    request_started.connect(_request_started, app)
    request_tearing_down.connect(_request_ended, app)
