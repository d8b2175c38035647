"""The shared cache of anonymous public pages and API answers (facility.core.public_cache, issue 15).

A page served from the cache runs no SQL at all, so "served from the cache" is "no statement ran".
"""
from __future__ import annotations

import re
import time

import pytest

from facility.core import public_cache
from facility.core.page_memory import PageMemory
from facility.extensions import db
from tests.conftest import csrf_token_from, get_csrf
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city

TOKEN = re.compile(r'name="csrf_token"')


@pytest.fixture
def challenge(app):
    city, _ = make_city(via="models")
    made = make_challenge(city, state="published", via="models", title="Clean water for every market")
    db.session.commit()
    return made


def _statements(count_queries, client, path, **kwargs):
    with count_queries() as ran:
        response = client.get(path, **kwargs)
    return response, ran()


def test_a_second_anonymous_visit_is_served_from_the_cache(client, count_queries, challenge):
    for path in ("/challenges", f"/challenges/{challenge.id}", f"/cities/{challenge.city_id}", "/api/v1/challenges",
                 "/"):
        first, first_ran = _statements(count_queries, client, path)
        again, again_ran = _statements(count_queries, client, path)
        assert first.status_code == again.status_code == 200, path
        assert (first_ran > 0 or path == "/") and again_ran == 0, path  # the home page reads nothing
        assert again.get_data() == first.get_data() and again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Cache-Control"] == "public, max-age=60", path
        vary = {part.strip() for part in again.headers["Vary"].split(",")}
        assert {"Cookie", "Accept-Language", "Accept-Encoding"} <= vary
        assert "Set-Cookie" not in again.headers


def test_the_commit_that_changes_a_title_shows_the_new_title(client, count_queries, challenge):
    path = f"/challenges/{challenge.id}"
    assert "Clean water for every market" in client.get(path).get_data(as_text=True)
    assert _statements(count_queries, client, path)[1] == 0
    challenge.title = "Safe water for every market"
    db.session.flush()
    db.session.rollback()  # a rolled-back change leaves the entry alone
    assert _statements(count_queries, client, path)[1] == 0
    challenge = db.session.get(type(challenge), challenge.id)
    challenge.title = "Safe water for every market"
    db.session.commit()
    page, ran = _statements(count_queries, client, path)
    assert ran > 0 and "Safe water for every market" in page.get_data(as_text=True)
    assert "Safe water" in client.get("/api/v1/challenges").get_data(as_text=True)


def test_each_language_has_its_own_entry(app, client, count_queries):
    if "fr" not in app.config["LANGUAGES"]:
        pytest.skip("the French catalogue is not compiled")
    french, english = {"Accept-Language": "fr"}, {"Accept-Language": "en"}
    assert '<html lang="fr"' in client.get("/", headers=french).get_data(as_text=True)
    assert '<html lang="en"' in client.get("/", headers=english).get_data(as_text=True)
    for headers, lang in ((french, "fr"), (english, "en")):
        page, ran = _statements(count_queries, client, "/", headers=headers)
        assert ran == 0 and f'<html lang="{lang}"' in page.get_data(as_text=True)
    # The visitor's switch (a GET form, no token) picks the French entry whatever the browser asks for.
    switched = client.get("/language", query_string={"lang": "fr", "next": "/challenges"})
    assert switched.status_code == 302 and switched.headers["Location"] == "/challenges"
    assert '<html lang="fr"' in _statements(count_queries, client, "/", headers=english)[0].get_data(as_text=True)


def test_signed_in_pages_are_never_cached_and_never_stored(client, count_queries, login, make_user, challenge):
    client.get(f"/challenges/{challenge.id}")  # the anonymous entry exists
    login(client, make_user("donor", name="Dora Donor"))
    for path in ("/", f"/challenges/{challenge.id}"):
        for _ in range(2):
            page, ran = _statements(count_queries, client, path)
            assert page.status_code == 200 and ran > 0, path
            assert page.headers["Cache-Control"] == "private, no-store"
            assert "Sign out" in page.get_data(as_text=True)


def test_signing_in_and_out_around_cached_pages_shows_each_visitor_their_own(app, client, login, make_user,
                                                                            challenge):
    path = f"/challenges/{challenge.id}"
    client.get(path)
    assert "Sign in" in client.get(path).get_data(as_text=True)  # from the cache
    login(client, make_user("donor", name="Dora Donor"))
    signed_in = client.get(path).get_data(as_text=True)
    assert "Sign out" in signed_in and "Dashboard" in signed_in
    stranger = app.test_client()
    for _ in range(2):
        theirs = stranger.get(path).get_data(as_text=True)
        assert "Sign out" not in theirs and "Dashboard" not in theirs and "Dora" not in theirs
    assert "Sign out" in client.get(path).get_data(as_text=True), "the cached page is not this visitor's"
    client.post("/signout", data={"csrf_token": get_csrf(client, path)})
    after = client.get(path).get_data(as_text=True)
    assert "Sign out" not in after and "You are signed out." in after
    assert "You are signed out." not in client.get(path).get_data(as_text=True)


def test_if_none_match_gets_304_per_encoding(client, count_queries, challenge):
    path = f"/challenges/{challenge.id}"
    for encoding in ("identity", "gzip", "br"):
        headers = {"Accept-Encoding": encoding}
        first = client.get(path, headers=headers)
        etag = first.headers["ETag"]
        assert first.headers.get("Content-Encoding", "identity") == encoding
        again, ran = _statements(count_queries, client, path, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"" and ran == 0
        assert again.headers["ETag"] == etag
        assert client.get(path, headers={**headers, "If-None-Match": '"other"'}).status_code == 200
    etags = {client.get(path, headers={"Accept-Encoding": e}).headers["ETag"] for e in ("identity", "gzip", "br")}
    assert len(etags) == 3, "a compressed body has its own ETag"
    # Uncached public answers have validators too: the entry is dead after a commit, the ETag still matches.
    etag = client.get(path).headers["ETag"]
    public_cache.bump()
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304


def test_no_cached_page_holds_a_session_token(app, client, count_queries, challenge):
    own_token = get_csrf(client, "/signin")  # this visitor's session now has a CSRF secret
    stranger = app.test_client()
    paths = ["/", "/challenges", f"/challenges/{challenge.id}", f"/cities/{challenge.city_id}", "/facility",
             "/results", "/grants", "/facility/ledger", "/opendata/"]
    for path in paths:
        for visitor in (client, stranger):
            page, ran = _statements(count_queries, visitor, path)
            html = page.get_data(as_text=True)
            assert page.status_code == 200 and not TOKEN.search(html) and own_token not in html, path
        assert ran == 0, f"{path} is shared"
    # The visitor's switch is a GET form; a signed-in person's is a POST form with their token.
    assert 'method="get" action="/language"' in client.get("/").get_data(as_text=True)
    with pytest.raises(AssertionError):
        csrf_token_from(client.get("/").get_data(as_text=True))


def test_a_pending_flash_is_shown_and_not_cached(app, client, count_queries):
    client.get("/")
    client.get("/dashboard")  # "Please sign in to see this page." waits in the session
    page, ran = _statements(count_queries, client, "/")
    assert "Please sign in to see this page." in page.get_data(as_text=True)
    assert "public" not in page.headers.get("Cache-Control", "")
    for visitor in (client, app.test_client()):
        again = visitor.get("/").get_data(as_text=True)
        assert "Please sign in to see this page." not in again


def test_the_api_with_a_token_is_never_shared(client, count_queries, api_headers, make_user, challenge):
    client.get("/api/v1/challenges")
    answer, ran = _statements(count_queries, client, "/api/v1/challenges", headers=api_headers(make_user("donor")))
    assert answer.status_code == 200 and ran > 0
    assert answer.headers["Cache-Control"] == "private, no-store"


def test_a_session_touch_leaves_the_cache_alone(client, count_queries, make_user, challenge):
    from facility.accounts.services import start_session

    client.get("/")
    start_session(user=make_user("donor"))  # a row of the quiet tables only
    db.session.commit()
    assert _statements(count_queries, client, "/")[1] == 0


def test_pages_render_when_redis_is_down(client, monkeypatch, challenge):
    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(public_cache.cache, "get_many", down)
    monkeypatch.setattr(PageMemory, "bump", down)
    page = client.get(f"/challenges/{challenge.id}")
    assert page.status_code == 200 and "Clean water" in page.get_data(as_text=True)
    challenge.title = "Still saved"
    db.session.commit()
    assert "Still saved" in client.get(f"/challenges/{challenge.id}").get_data(as_text=True)


def test_signed_in_people_switch_by_post_and_a_get_saves_nothing(app, client, login, make_user):
    if "fr" not in app.config["LANGUAGES"]:
        pytest.skip("the French catalogue is not compiled")
    user = make_user("donor")
    login(client, user)
    page = client.get("/").get_data(as_text=True)
    assert 'method="post" action="/language"' in page and TOKEN.search(page)
    assert client.get("/language", query_string={"lang": "fr", "next": "/"}).status_code == 302
    db.session.refresh(user)
    assert user.locale != "fr", "a GET changes no profile"
    client.post("/language", data={"lang": "fr", "next": "/", "csrf_token": csrf_token_from(page)})
    db.session.refresh(user)
    assert user.locale == "fr"


def _memory(app) -> PageMemory:
    memory = app.extensions["facility_page_memory"]
    for _ in range(100):  # the listener reads the generation within a second of starting or forgetting
        if memory.generation is not None:
            return memory
        time.sleep(0.05)
    raise AssertionError("the page memory never learnt the generation")


def test_repeat_hits_need_no_round_trip_and_hear_other_processes_bumps(app, client, monkeypatch, challenge):
    path = f"/challenges/{challenge.id}"
    client.get(path)
    memory = _memory(app)
    client.get(path)  # from Redis, and now in this process's copy too
    calls = []
    monkeypatch.setattr(public_cache.cache, "get_many", lambda *keys: calls.append(keys) or [None, None])
    assert "Clean water" in client.get(path).get_data(as_text=True) and calls == [], "no round trip"
    # Another process commits: it bumps Redis's counter; this process hears it and drops its copy.
    other = PageMemory(memory.url, memory.counter_key)
    before = memory.generation
    other.bump()
    for _ in range(100):
        if memory.generation != before:
            break
        time.sleep(0.02)
    assert memory.generation == before + 1 and memory.entries == {}
    client.get(path)
    assert calls, "a dead copy sends the look-up to Redis"


def test_a_visitor_without_cookies_is_answered_before_flask(app, challenge, login, make_user):
    path = f"/challenges/{challenge.id}"
    switched = app.test_client()
    switched.get("/language", query_string={"lang": "en"})
    signed_in = app.test_client()
    login(signed_in, make_user("donor"))  # before the pages are kept: a new user is a commit
    session_cookie = signed_in.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    visitor = app.test_client(use_cookies=False)
    first = visitor.get(path, headers={"Accept-Encoding": "br"})
    _memory(app)
    visitor.get(path, headers={"Accept-Encoding": "br"})  # now in this process's copy

    def not_flask(*args, **kwargs):
        raise AssertionError("Flask's look-up ran")

    first_functions = app.before_request_funcs[None]
    serve, first_functions[0] = first_functions[0], not_flask  # Flask's first before_request: the look-up
    try:
        fast = visitor.get(path, headers={"Accept-Encoding": "br"})
        # A visitor who switched language is answered there too (their session holds nothing else).
        assert switched.get(path, headers={"Accept-Encoding": "br"}).get_data() == first.get_data()
        # A token, a conditional request, another cookie or a signed-in session goes through Flask (here:
        # into the refusing look-up).
        for headers in ({"Authorization": "Bearer x"}, {"If-None-Match": first.headers["ETag"]}, {"Cookie": "a=b"},
                        {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={session_cookie}"}):
            with pytest.raises(AssertionError, match="look-up ran"):
                visitor.get(path, headers={"Accept-Encoding": "br", **headers})
    finally:
        first_functions[0] = serve
    assert serve is public_cache._serve
    assert fast.status_code == 200 and fast.get_data() == first.get_data()
    assert fast.headers["Content-Encoding"] == "br" and fast.headers["ETag"] == first.headers["ETag"]
    assert fast.headers["Cache-Control"] == "public, max-age=60" and fast.headers["X-Frame-Options"] == "DENY"
    assert "nonce-" not in fast.headers["Content-Security-Policy"]


def test_visitors_asking_at_once_for_a_missing_page_wait_for_one_rendering(app):
    """One request renders a missing page; the others asking for it meanwhile are served its entry (a page
    that takes seconds at full scale would otherwise occupy every worker at once)."""
    import threading

    view, rendered = app.view_functions["core.home"], []

    def slow_home():
        rendered.append(1)
        time.sleep(0.5)
        return view()

    app.view_functions["core.home"] = slow_home
    try:
        answers: list = []
        threads = [threading.Thread(target=lambda: answers.append(app.test_client().get("/"))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        app.view_functions["core.home"] = view
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len({answer.get_data() for answer in answers}) == 1
    assert rendered == [1], "one rendering for the three visitors"


def test_a_waiter_renders_itself_when_the_renderer_gives_up_or_takes_too_long(app, monkeypatch):
    """A lock whose holder stores no entry (an error, or an answer not shared) holds nobody for long: the
    waiter renders when the lock is gone, or after PUBLIC_CACHE_FILL_WAIT seconds."""
    app.config["PUBLIC_CACHE_FILL_WAIT"] = 0.3
    monkeypatch.setattr(public_cache.cache, "add", lambda *args, **kwargs: False)  # someone else "renders"
    monkeypatch.setattr(public_cache.cache, "has", lambda key: True)  # ... and never finishes
    started = time.monotonic()
    assert app.test_client().get("/").status_code == 200
    assert time.monotonic() - started >= 0.3
    public_cache.clear(app)  # the page is missing again
    monkeypatch.setattr(public_cache.cache, "has", lambda key: False)  # the renderer gave up
    started = time.monotonic()
    assert app.test_client().get("/").status_code == 200
    assert time.monotonic() - started < 0.3
