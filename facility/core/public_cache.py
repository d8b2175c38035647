"""The shared cache of anonymous public pages and public API answers (issue 15, "Performance").

What is shared: a GET or HEAD of an endpoint on `PUBLIC_ENDPOINTS` (or an API endpoint marked `@public`)
by a visitor who is nobody: no `Authorization` header, no remember cookie, and a cookie session holding
nothing but a language and a CSRF secret (`SHAREABLE_SESSION_KEYS`; a signed-in session, a pending flash
message or a half-finished sign-in never is). The answer is kept only when it is a 200, not streamed, at
most `PUBLIC_CACHE_MAX_BYTES`, was rendered for nobody, shows neither the request's CSRF token nor the
session's secret (the layout's language switch is a GET form for visitors, so public pages need none) nor
the CSP nonce, and changed nothing in the session but, perhaps, a new CSRF secret for a form the view
built and did not show (that visitor's own response, carrying their cookie, stays private; the entry
has no cookie). One entry per host and path, sorted query, language and response encoding.

Invalidation is by generation, not by timer: a counter in Redis (`GENERATION`). A session listener notes
when a flush (or a bulk `UPDATE`/`DELETE`/`INSERT`) writes a row of any table but the quiet ones
(`ignore_writes_to`: the session and token touches no public page shows) and asks `core.hooks` to bump
the counter (`INCR`, and publish it) once after that transaction commits; a rolled-back one bumps nothing. Each entry
records the generation read as its request began, before any database read, so an entry is dead the
moment a later commit bumps it, even one rendered from data read just before the commit. Bumping is one
`INCR`, whatever was written; deleting the affected keys would need to know which pages show which rows
(and miss some). Why the generation is inside the entry rather than in its key: one `MGET` reads the
counter and the entry together (one round trip per request, not two); a dead entry is overwritten at its
next miss, and every entry expires after `PUBLIC_CACHE_TIMEOUT`, which also bounds what the clock alone
changes (a deadline passing commits nothing). Entry ages are measured on the app's clock.

Each process also keeps its own copy of the entries it served (core.page_memory): every bump is published,
so the copy is exact without asking Redis, and a repeat hit costs no round trip. A visitor who is nobody
(no credential, no cookie but a session holding only a language) asking unconditionally for a page in that
copy is answered before Flask builds its request (`_FastPath`); everyone else goes through `_serve`.

The stored body is the one sent: compressed once by Flask-Compress when the entry was made (the key has
the encoding Flask-Compress chooses for the request's `Accept-Encoding`), so a hit costs no compression.
ETags: a hash of the uncompressed body for every public response, cached or not (Flask-Compress appends
the encoding, so they differ per encoding); a matching `If-None-Match` gets a 304. `Cache-Control:
public, max-age=PUBLIC_CACHE_MAX_AGE` on shared answers (unless the view set its own), `Vary: Cookie,
Accept-Language, Accept-Encoding`; anything signed in stays `private, no-store` (facility.security).
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, has_app_context, request, session
from flask_compress.flask_compress import _choose_algorithm
from flask_login import current_user
from redis.connection import parse_url
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.elements import TextClause
from werkzeug.datastructures import LanguageAccept
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Request

from facility.core.hooks import after_commit_once
from facility.core.page_memory import PageMemory
from facility.extensions import compress
from facility.extensions import public_cache as cache

log = logging.getLogger(__name__)

GENERATION = "generation"
# Pages anyone may see, the same for every visitor (the public API's GETs are found by their `@public`).
PUBLIC_ENDPOINTS = frozenset({
    "core.home", "challenges.index", "challenges.show", "cities.show", "grants.facility", "results.index",
    "results.chart_csv", "portfolio_public.register", "portfolio_public.grant", "portfolio_public.ledger",
    "portfolio_public.ledger_csv", "opendata.index", "opendata.threesixtygiving", "opendata.grants_csv",
    "opendata.grants_xlsx", "opendata.iati_activities", "audit.anchors", "api-docs.openapi_json",
    "indicators.catalogue", "solutions.index", "solutions.show",
})
# A visitor's cookie session may hold their language and the CSRF secret of a form they opened elsewhere.
SHAREABLE_SESSION_KEYS = frozenset({"lang", "csrf_token"})
# Never stored: what belongs to one response (its cookie, its date) or is recomputed; the CSP is stored
# without its nonce (a shared page has no inline script: `_shareable_response`).
UNSTORED_HEADERS = frozenset({"set-cookie", "content-length", "date"})
VARY = ("Cookie", "Accept-Language", "Accept-Encoding")
FILL_POLL_SECONDS = 0.02  # how often a request waiting for another's rendering of the page looks for it
_STATE = "public_cache"
_QUIET = "facility_public_cache_quiet_tables"
_MEMORY = "facility_page_memory"
_LANGUAGE = "facility_public_cache_language"
_NONCE = re.compile(r" 'nonce-[^']*'")
Language = Callable[[str | None, LanguageAccept, list[str]], str]


def register(app: Flask, *, redis_url: str, language: Language) -> None:
    """Connect the cache to `app`: its Redis backend (Flask-Caching), the look-up that runs before anything
    else, the tagging that runs first after the view, and the storing that runs last (after compression).
    `language(chosen, accept_languages, offered)` is the app's locale for a visitor who is not signed in (the
    only ones the cache serves), from the language they switched to (or None) and their browser's."""
    cache.init_app(app, config={
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": redis_url,
        "CACHE_REDIS_DB": parse_url(redis_url).get("db", 0),  # Flask-Caching would put 0 over the URL's own
        "CACHE_KEY_PREFIX": app.config["PUBLIC_CACHE_KEY_PREFIX"],
        "CACHE_DEFAULT_TIMEOUT": app.config["PUBLIC_CACHE_TIMEOUT"],
        "CACHE_OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 1.0},
    })
    app.extensions.setdefault(_QUIET, set())
    app.extensions[_LANGUAGE] = language
    app.extensions[_MEMORY] = PageMemory(redis_url, app.config["PUBLIC_CACHE_KEY_PREFIX"] + GENERATION)
    _listen()
    # before_request functions run in order (a hit answers before the others run); after_request functions
    # run last-registered first: `_tag` before security headers and compression, `_store` after all of them.
    app.before_request_funcs.setdefault(None, []).insert(0, _serve)
    # In front of Flask (behind ProxyFix, which sets the scheme and host the key has): see `_FastPath`.
    if isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app.app = _FastPath(app, app.wsgi_app.app)
    else:
        app.wsgi_app = _FastPath(app, app.wsgi_app)  # type: ignore[method-assign]
    after = app.after_request_funcs.setdefault(None, [])
    after.append(_tag)
    after.insert(0, _store)
    app.teardown_request(_release_fill)  # after `_store` kept the entry, or when the page failed


def ignore_writes_to(app: Flask, *tables: str) -> None:
    """Writes to only these tables leave the cache alone: no public page or API answer shows them."""
    app.extensions.setdefault(_QUIET, set()).update(tables)


def clear(app: Flask) -> None:
    """Forget every entry and the generation of `app`'s key prefix (tests, after resetting the database)."""
    with app.app_context():
        cache.clear()
    app.extensions[_MEMORY].forget()


def shared() -> bool:
    """This response is (or is from) a shared public one: no `private, no-store` for it."""
    state = g.get(_STATE)
    return bool(state and (state.get("hit") or state.get("shareable")))


# --- serving -----------------------------------------------------------------------------------------------

def _serve() -> Response | None:
    if not current_app.config["PUBLIC_CACHE_ENABLED"] or not _shareable_request():
        return None
    # What get_locale() answers a visitor (the page's language), without loading Flask-Login's user.
    language = current_app.extensions[_LANGUAGE](session.get("lang"), request.accept_languages,
                                                 list(current_app.config["LANGUAGES"]))
    key = _key(request, language)
    memory: PageMemory = current_app.extensions[_MEMORY]
    entry = memory.get(key)  # this process's copy, when it knows the generation (no round trip)
    if entry is not None and _fresh(entry, entry["generation"], current_app.config["PUBLIC_CACHE_TIMEOUT"]):
        generation = entry["generation"]
    else:
        try:
            generation, entry = cache.get_many(GENERATION, key)
        except Exception:  # Redis down: render the page as if there were no cache
            log.warning("public cache unavailable", exc_info=True)
            return None
    state: dict[str, Any] = {"key": key, "generation": int(generation or 0), "session": dict(session)}
    setattr(g, _STATE, state)
    if not _fresh(entry, state["generation"], current_app.config["PUBLIC_CACHE_TIMEOUT"]):
        entry = _fill_or_wait(state)
        if entry is None:
            return None
    state["hit"] = True
    memory.keep(key, entry)
    response = Response(entry["body"], status=entry["status"], headers=entry["headers"])
    if "If-None-Match" in request.headers or "If-Modified-Since" in request.headers:
        response.make_conditional(request)  # in place: a 304 when the client's copy is current
    return response


def _fill_or_wait(state: dict[str, Any]) -> dict[str, Any] | None:
    """On a miss, one request renders the page and the others asking for it meanwhile wait for its entry,
    rather than every worker rendering the same slow page at once (a page that takes seconds at full
    scale, under many visitors, would otherwise occupy every worker). The renderer holds a lock in Redis
    (`SET NX`, for this key and generation, expiring after `PUBLIC_CACHE_FILL_WAIT` seconds); a waiter polls
    for the entry and renders the page itself if none comes in that time. None: render it."""
    wait = float(current_app.config.get("PUBLIC_CACHE_FILL_WAIT", 0))
    if wait <= 0:
        return None
    lock = f"fill:{state['key']}:{state['generation']}"
    try:
        if cache.add(lock, 1, timeout=max(1, int(wait))):
            state["lock"] = lock  # this request renders; `_store` (or the teardown) lets the others go
            return None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(FILL_POLL_SECONDS)
            generation, entry = cache.get_many(GENERATION, state["key"])
            if int(generation or 0) != state["generation"]:
                return None  # a commit since: this request renders the new page
            if _fresh(entry, state["generation"], current_app.config["PUBLIC_CACHE_TIMEOUT"]):
                return entry  # type: ignore[no-any-return]
            if not cache.has(lock):
                return None  # the renderer gave up (an error, or an answer that is not shared)
    except Exception:
        log.warning("public cache unavailable", exc_info=True)
    return None


def _release_fill(_error: BaseException | None = None) -> None:
    state = g.get(_STATE)
    lock = state.pop("lock", None) if state else None
    if lock:
        try:
            cache.delete(lock)
        except Exception:
            log.warning("public cache unavailable", exc_info=True)


def _shareable_request() -> bool:
    if request.method not in ("GET", "HEAD") or "Authorization" in request.headers:
        return False
    endpoint = request.endpoint or ""
    if endpoint not in PUBLIC_ENDPOINTS and not getattr(current_app.view_functions.get(endpoint), "public", False):
        return False
    if current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        return False
    return set(session.keys()) <= SHAREABLE_SESSION_KEYS


def _key(req: Request, language: str) -> str:
    """Host and path, sorted query, language, encoding: hashed, so a long URL makes a short key."""
    encoding = _choose_algorithm(compress.enabled_algorithms, req.headers.get("Accept-Encoding", "")) or "identity"
    query = urlencode(sorted(req.args.items(multi=True)))
    raw = "\n".join((req.scheme, req.host, req.root_path, req.path, query, language, encoding))
    return "page:" + hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def _fresh(entry: Any, generation: int, timeout: int) -> bool:
    if not isinstance(entry, dict) or entry.get("generation") != generation:
        return False
    age = time.time() - float(entry.get("at", 0))
    return 0 <= age < timeout


class _FastPath:
    """WSGI, in front of Flask: a page this process holds (`PageMemory`), for a visitor who is nobody asking
    for it unconditionally, is answered without building Flask's request at all.

    Nobody: no credential, no cookie but the session's, and a session holding no more than
    `_shareable_request` allows (their language, a CSRF secret); such a session is neither changed nor
    refreshed by a hit, so Flask would send no cookie either. The entry is one a shareable request stored
    (the allow-list and every other check were passed then), and the key is the one Flask's look-up
    computes for them. Everything else goes through Flask."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Any]) -> None:
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        response = self._hit(environ)
        if response is None:
            return self.wsgi_app(environ, start_response)
        return response(environ, start_response)

    def _hit(self, environ: dict[str, Any]) -> Response | None:
        config = self.app.config
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or not config["PUBLIC_CACHE_ENABLED"]:
            return None
        if any(name in environ for name in _NOT_FAST):
            return None
        req = self.app.request_class(environ)
        chosen = None
        if req.cookies:  # only a session cookie, holding only what `_shareable_request` allows
            if set(req.cookies) != {config["SESSION_COOKIE_NAME"]}:
                return None
            visitor = self.app.session_interface.open_session(self.app, req)
            if visitor is None or not set(visitor.keys()) <= SHAREABLE_SESSION_KEYS:
                return None
            chosen = visitor.get("lang")
        language = self.app.extensions[_LANGUAGE](chosen, req.accept_languages, list(config["LANGUAGES"]))
        entry = self.app.extensions[_MEMORY].get(_key(req, language))
        if entry is None or not _fresh(entry, entry["generation"], config["PUBLIC_CACHE_TIMEOUT"]):
            return None
        return Response(entry["body"], status=entry["status"], headers=entry["headers"])


# A credential or a conditional request: Flask answers.
_NOT_FAST = ("HTTP_AUTHORIZATION", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")


# --- tagging and storing -----------------------------------------------------------------------------------

def _tag(response: Response) -> Response:
    """First after the view: a public answer for nobody gets its ETag and Vary, and is marked shareable."""
    state = g.get(_STATE)
    if not state or state.get("hit") or not _shareable_response(response):
        return response
    state["shareable"] = True
    response.vary.update(VARY)
    if "ETag" not in response.headers:
        response.add_etag()
    return response


def _shareable_response(response: Response) -> bool:
    if response.status_code != 200 or response.is_streamed or response.direct_passthrough:
        return False
    if current_user.is_authenticated:
        return False
    body = response.get_data()
    if len(body) > current_app.config["PUBLIC_CACHE_MAX_BYTES"]:
        return False
    # What belongs to this visitor or this response: the CSRF token forms were built with (a view may build
    # forms it does not show to visitors), the session's CSRF secret, the CSP nonce.
    field_name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    own = (g.get(field_name), session.get(field_name), g.get("csp_nonce"))
    return not any(value and str(value).encode() in body for value in own)


def _store(response: Response) -> Response:
    """Last after the view: a shareable answer is kept, and may be kept by proxies unless it sets a cookie.

    The view may have given the visitor a CSRF secret (building a form it does not show): their response
    carries their cookie and stays private, the entry has no cookie. Any other change to the session, or
    another cookie, and nothing is kept."""
    state = g.get(_STATE)
    if not state or state.get("hit") or not state.get("shareable"):
        return response
    before, now = state["session"], dict(session)
    changed = {key for key in before.keys() | now.keys() if before.get(key) != now.get(key)}
    if "Set-Cookie" in response.headers or changed - {current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")}:
        state["shareable"] = False
        response.headers["Cache-Control"] = "private, no-store"
        response.make_conditional(request)  # in place: a 304 when the client's ETag matches
        return response
    if "Cache-Control" not in response.headers:
        response.cache_control.public = True
        response.cache_control.max_age = current_app.config["PUBLIC_CACHE_MAX_AGE"]
    if response.status_code == 200:  # not a 304 Flask-Compress already answered
        entry = {"generation": state["generation"], "at": time.time(), "status": response.status_code,
                 "headers": [(k, _NONCE.sub("", v) if k.lower() == "content-security-policy" else v)
                             for k, v in response.headers.items() if k.lower() not in UNSTORED_HEADERS],
                 "body": response.get_data()}
        try:
            cache.set(state["key"], entry)
            current_app.extensions[_MEMORY].keep(state["key"], entry)
        except Exception:
            log.warning("public cache unavailable", exc_info=True)
    # Flask saves the session after every after_request function: this visitor's own cookie, if any, keeps
    # their response out of shared caches.
    if current_app.session_interface.should_set_cookie(current_app, session):
        response.headers["Cache-Control"] = "private, no-store"
    response.make_conditional(request)  # in place: a 304 when the client's ETag matches
    return response


# --- invalidation ------------------------------------------------------------------------------------------

def _listen() -> None:
    if not event.contains(Session, "after_flush", _note_flush):
        event.listen(Session, "after_flush", _note_flush)
        event.listen(Session, "do_orm_execute", _note_execute)


def _quiet_tables() -> set[str]:
    return current_app.extensions.get(_QUIET, set()) if has_app_context() else set()


def _note_flush(db_session: Session, flush_context: UOWTransaction) -> None:
    written = {getattr(getattr(obj, "__table__", None), "name", "") for obj in
               (*db_session.new, *db_session.dirty, *db_session.deleted)}
    if written - _quiet_tables():
        after_commit_once(db_session, bump)


def _note_execute(state: ORMExecuteState) -> None:
    statement = state.statement
    if state.is_select:
        return
    if isinstance(statement, TextClause) and statement.text.lstrip()[:6].upper() == "SELECT":
        return
    table = getattr(getattr(statement, "table", None), "name", None)
    if table is not None and table in _quiet_tables():
        return
    after_commit_once(state.session, bump)


def bump() -> None:
    """Every entry is dead from now on (called after a commit that wrote a row; safe to call any time)."""
    if not has_app_context() or not current_app.config.get("PUBLIC_CACHE_ENABLED"):
        return
    try:
        current_app.extensions[_MEMORY].bump()  # INCR and PUBLISH (core.page_memory), Flask-Caching's key
    except Exception:
        log.error("public cache generation not bumped: pages may be stale for PUBLIC_CACHE_TIMEOUT", exc_info=True)
