"""Challenge pages, and the API beside them: visibility, list filters, injection, page flows, query counts
(the API alone: tests/api/test_challenges.py)."""
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from facility.challenges.models import Challenge, ChallengeStatus, Clarification
from facility.extensions import db
from tests.conftest import get_csrf
from tests.factories import NOW
from tests.factories.challenges import challenge_fields, make_challenge, two_cities
from tests.factories.cities import make_city


@pytest.fixture
def world(app, clock):
    return two_cities()


def _headers(api_headers, user):
    return api_headers(user) if user is not None else {}


# --- visibility matrix -------------------------------------------------------------------------
@pytest.mark.parametrize(("who", "draft_visible", "published_visible"), [
    (None, False, True), ("innovator", False, True), ("other_official", False, True),
    ("official", True, True), ("fund_manager", True, True),
])
def test_visibility_matrix(world, client, api_headers, login, who, draft_visible, published_visible):
    draft = make_challenge(world["city"], world["official"])
    pending = make_challenge(world["city"], world["official"], state="pending_approval")
    published = make_challenge(world["city"], world["official"], state="published", fund_manager=world["fund_manager"])
    user = world[who] if who else None
    headers = _headers(api_headers, user)
    if user is not None:
        login(client, user)
    for challenge, visible in ((draft, draft_visible), (pending, draft_visible), (published, published_visible)):
        expected = 200 if visible else 404
        assert client.get(f"/api/v1/challenges/{challenge.id}", headers=headers).status_code == expected
        assert client.get(f"/challenges/{challenge.id}").status_code == expected
    listed = [item["id"] for item in client.get("/api/v1/challenges", headers=headers).get_json()["items"]]
    assert listed == [published.id]


# --- list filters ------------------------------------------------------------------------------------
def test_list_filters(world, client, make_user, clock):
    fm, city, official = world["fund_manager"], world["city"], world["official"]
    upcoming = make_challenge(city, official, state="published", fund_manager=fm, title="Flood alerts",
                              sdg_targets=["11.5"])
    open_now = make_challenge(city, official, state="published", fund_manager=fm, title="Clean water",
                              opens_at=NOW - timedelta(hours=1) + timedelta(minutes=30),
                              focus_area="public_interest_tech")
    suva, suva_official = make_city(name="Nadi", country="FJI", fund_manager=fm)
    make_challenge(suva, suva_official)  # a draft never shows
    clock.move_to(NOW + timedelta(hours=1))

    def ids(query):
        response = client.get("/api/v1/challenges" + query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["total"] == len(body["items"])  # the count (its own query) keeps to the same filters
        return [item["id"] for item in body["items"]]

    assert sorted(ids("")) == sorted([upcoming.id, open_now.id])
    assert ids("?status=open") == [open_now.id]
    assert ids("?status=upcoming") == [upcoming.id]
    assert ids("?status=closed") == []
    assert ids("?focus_area=public_interest_tech") == [open_now.id]
    assert ids("?sdg_target=11.5") == [upcoming.id]
    assert ids("?q=flood") == [upcoming.id]
    assert ids("?q=100%25") == []
    assert sorted(ids("?country=UGA")) == sorted([upcoming.id, open_now.id])
    assert ids("?country=FJI") == []
    for bad in ("?status=draft", "?sdg_target=99.9", "?focus_area=x", "?per_page=1000", "?page=0"):
        assert client.get("/api/v1/challenges" + bad).status_code == 422
    html = client.get("/challenges?status=open").get_data(as_text=True)
    assert "Clean water" in html and "Flood alerts" not in html
    assert client.get("/challenges?status=bogus&country=ZZZ&sdg_target=99.9&page=x").status_code == 200


# --- injection -----------------------------------------------------------------------------------
PAYLOADS = [
    '<script>alert(1)</script>',
    '<img src=x onerror="alert(1)">',
    '[click](javascript:alert(1))',
    '<a href="javascript:alert(1)">x</a>',
    '"><svg onload=alert(1)>',
]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def _assert_inert(html: str) -> None:
    """Parse the output as a browser would: no script/svg/img element, no on* attribute, no javascript: URL."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "svg", "img", "iframe"), tag
        for name, value in attrs:
            assert not name.lower().startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name, value)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_every_text_field_is_inert(world, client, payload):
    fm, official = world["fund_manager"], world["official"]
    challenge = make_challenge(
        world["city"], official, state="published", fund_manager=fm, title=f"T {payload}", summary=f"S {payload}",
        description=f"D {payload}\n\n{payload}",
        criteria=[{"name": f"N {payload}", "description": f"C {payload}", "weight": 100}])
    from facility.challenges import services

    question = services.ask_clarification(challenge=challenge, actor=world["innovator"], question=f"Q {payload}")
    services.answer_clarification(clarification=question, actor=official, answer=f"A {payload}")
    services.extend_deadline(challenge=challenge, actor=fm, new_closes_at=challenge.closes_at + timedelta(days=1),
                             reason=f"R {payload}")
    db.session.commit()
    for path in (f"/challenges/{challenge.id}", "/challenges"):
        _assert_inert(client.get(path).get_data(as_text=True))
    _assert_inert(challenge.description_html)
    body = client.get(f"/api/v1/challenges/{challenge.id}").get_json()
    _assert_inert(body["description_html"])


def test_markdown_is_rendered(world):
    challenge = make_challenge(world["city"], world["official"], description="**bold** [UN](https://un.org)")
    html = challenge.description_html
    assert "<strong>bold</strong>" in html and 'href="https://un.org"' in html and "noopener" in html


# --- pages: permissions and forms -------------------------------------------------------------------
def test_page_permissions(world, client, login):
    draft = make_challenge(world["city"], world["official"])
    pending = make_challenge(world["city"], world["official"], state="pending_approval")
    assert client.get("/challenges/new").status_code == 302
    assert client.get("/challenges/approvals").status_code == 302
    assert client.post(f"/challenges/{pending.id}/approve").status_code in (302, 400)
    login(client, world["innovator"])
    token = get_csrf(client, "/profile")
    assert client.get("/challenges/new").status_code == 403
    assert client.get("/challenges/approvals").status_code == 403
    assert client.post(f"/challenges/{pending.id}/approve", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/challenges/{draft.id}/clarifications",
                       data={"csrf_token": token, "question": "?"}).status_code == 404
    other = client.application.test_client()
    login(other, world["other_official"])
    token = get_csrf(other, "/profile")
    assert other.get(f"/challenges/{draft.id}/edit").status_code == 404
    assert other.post(f"/challenges/{draft.id}/submit", data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Challenge, pending.id).status == ChallengeStatus.PENDING_APPROVAL
    assert db.session.get(Challenge, draft.id).status == ChallengeStatus.DRAFT


def test_draft_page_flow(world, client, login):
    official = world["official"]
    login(client, official)
    token = get_csrf(client, "/challenges/new")
    data = {
        "csrf_token": token, "title": "Safer streets", "summary": "Fewer injuries.", "description": "**Why**",
        "focus_area": "inclusive_innovation", "sdg_targets": "11.2, 3.6", "prize_pool": "500,000",
        "max_award": "100000.50", "opens_at": "2027-03-10T09:00", "closes_at": "2027-05-10T17:00",
        "eligible_org_types": ["ngo"], "eligible_countries": "uga, ken",
        "criteria-0-name": "Impact", "criteria-0-weight": "60", "criteria-1-name": "Cost", "criteria-1-weight": "30",
    }
    response = client.post("/challenges/new", data=data)
    assert response.status_code == 422
    assert "add up to 100" in response.get_data(as_text=True)
    response = client.post("/challenges/new", data=dict(data, **{"criteria-1-weight": "40"}))
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    db.session.expire_all()
    challenge = db.session.scalars(sa.select(Challenge)).one()
    assert challenge.prize_pool_cents == 50_000_000 and challenge.max_award_cents == 10_000_050
    assert challenge.eligible_countries == ["UGA", "KEN"] and challenge.eligible_org_types == ["ngo"]
    assert challenge.closes_at.isoformat() == "2027-05-10T17:00:00+00:00"  # the official's zone is UTC
    assert client.get(f"/challenges/{challenge.id}/edit").status_code == 200
    response = client.post(f"/challenges/{challenge.id}/submit", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Challenge, challenge.id).status == ChallengeStatus.PENDING_APPROVAL


def test_approve_and_extend_pages(world, client, login):
    official, fm = world["official"], world["fund_manager"]
    pending = make_challenge(world["city"], official, state="pending_approval")
    login(client, fm)
    html = client.get("/challenges/approvals").get_data(as_text=True)
    assert pending.title in html
    token = get_csrf(client, f"/challenges/{pending.id}")
    assert client.post(f"/challenges/{pending.id}/approve", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    challenge = db.session.get(Challenge, pending.id)
    assert challenge.status == ChallengeStatus.PUBLISHED
    response = client.post(f"/challenges/{pending.id}/extend", data={
        "csrf_token": token, "new_closes_at": "2027-01-01T00:00", "reason": "Earlier"})
    assert response.status_code == 422 and "later than the current" in response.get_data(as_text=True)
    response = client.post(f"/challenges/{pending.id}/extend", data={
        "csrf_token": token, "new_closes_at": "2027-06-01T00:00", "reason": "Holidays"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Challenge, pending.id).closes_at.isoformat() == "2027-06-01T00:00:00+00:00"


def test_ask_and_answer_on_the_page(world, client, login):
    official = world["official"]
    challenge = make_challenge(world["city"], official, state="published", fund_manager=world["fund_manager"])
    login(client, world["innovator"])
    token = get_csrf(client, f"/challenges/{challenge.id}")
    assert client.post(f"/challenges/{challenge.id}/clarifications",
                       data={"csrf_token": token, "question": ""}).status_code == 422
    assert client.post(f"/challenges/{challenge.id}/clarifications",
                       data={"csrf_token": token, "question": "Is SMS fine?"}).status_code == 302
    question = db.session.scalars(sa.select(Clarification)).one()
    anonymous = client.application.test_client()
    assert "Is SMS fine?" not in anonymous.get(f"/challenges/{challenge.id}").get_data(as_text=True)
    city_client = client.application.test_client()
    login(city_client, official)
    token = get_csrf(city_client, f"/challenges/{challenge.id}")
    response = city_client.post(f"/challenges/{challenge.id}/clarifications/{question.id}/answer",
                                data={"csrf_token": token, f"a{question.id}-answer": "Yes, SMS is fine."})
    assert response.status_code == 302
    assert "Yes, SMS is fine." in anonymous.get(f"/challenges/{challenge.id}").get_data(as_text=True)


def test_deadline_shown_in_the_viewers_time_zone(world, client, login, make_user):
    challenge = make_challenge(world["city"], world["official"], state="published", fund_manager=world["fund_manager"])
    viewer = make_user("innovator")
    viewer.timezone = "Asia/Kathmandu"  # UTC+05:45
    db.session.commit()
    login(client, viewer)
    html = client.get(f"/challenges/{challenge.id}").get_data(as_text=True)
    local = challenge.closes_at + timedelta(hours=5, minutes=45)
    assert local.strftime("%-I:%M") in html


# --- query counts ------------------------------------------------------------------------------------
def _count_queries(fn) -> int:
    count = {"n": 0}

    def before(*args, **kwargs):
        count["n"] += 1

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)
    return count["n"]


def _publish_many(world, n: int) -> None:
    from facility.challenges import services

    for i in range(n):
        challenge = services.create_challenge(actor=world["official"], city=world["city"],
                                              **challenge_fields(title=f"Challenge {i}"))
        services.submit_challenge(challenge=challenge, actor=world["official"])
        services.approve_challenge(challenge=challenge, actor=world["fund_manager"])
    db.session.commit()


def test_list_query_count_does_not_grow_with_rows(world, client):
    def measure():
        db.session.expire_all()
        page = _count_queries(lambda: client.get("/challenges?per_page=100"))
        api = _count_queries(lambda: client.get("/api/v1/challenges?per_page=100"))
        return page, api

    _publish_many(world, 5)
    small = measure()
    _publish_many(world, 45)
    large = measure()
    assert client.get("/api/v1/challenges?per_page=100").get_json()["total"] == 50
    assert small == large
    assert small[0] > 0 and small[1] > 0  # the listener saw the queries


def test_inert_checker_catches_live_markup():
    for html in ('<a href=" JavaScript:alert(1)">x</a>', '<p onclick="x">', "<script>x</script>"):
        with pytest.raises(AssertionError):
            _assert_inert(html)


def test_the_list_page_counts_its_pages_with_the_filters(world, client):
    """The page counts with `count_public_challenges`: 21 public challenges make two pages, one of them
    (in Fiji) alone makes none."""
    _publish_many(world, 20)
    suva = make_city(name="Nadi", country="FJI", fund_manager=world["fund_manager"])[0]
    make_challenge(suva, state="published", via="models", title="Island water")
    db.session.commit()
    assert "Page 1 of 2" in client.get("/challenges").get_data(as_text=True)
    last = client.get("/challenges?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in last and 'rel="prev"' in last and 'rel="next"' not in last
    fiji = client.get("/challenges?country=FJI").get_data(as_text=True)
    assert "Island water" in fiji and 'class="pager"' not in fiji
