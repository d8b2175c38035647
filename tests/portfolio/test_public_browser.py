"""The public pages in a real browser at 320 px: no horizontal scrolling (wide tables scroll inside
their own box), and an anonymous visitor follows the money from the ledger to a grant's tranche."""
import pytest
import sqlalchemy as sa
import time_machine

from facility.challenges.models import Challenge, ChallengeStatus
from facility.extensions import db
from tests.browser import browser_page, live_server, require_chromium
from tests.conftest import Clock
from tests.factories import NOW
from tests.portfolio import public_scene

pytestmark = [pytest.mark.browser, pytest.mark.serial]
# What sticks out past 320 px, to name in a failure.
WIDE_ELEMENTS = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 321)
                   .map(e => e.tagName + ' ' + e.textContent.slice(0, 40)).slice(0, 8)"""


def test_public_pages_fit_320px_and_the_money_can_be_followed(app, backend):
    if backend != "sqlite":
        pytest.skip("one browser run is enough; the database layer is covered on PostgreSQL elsewhere")
    require_chromium()
    # The scene is built in frozen time; the live server then runs on the real clock (a frozen one stalls it).
    with time_machine.travel(NOW, tick=False) as traveller:
        scene = public_scene.build(Clock(traveller))
    grant_id, challenge_id, tranche_id = scene.grant.id, scene.challenge.id, scene.grant.tranches[0].id
    # The server runs on the real clock, before the frozen one: mark the challenge finished outright.
    db.session.execute(sa.update(Challenge).where(Challenge.id == challenge_id).values(status=ChallengeStatus.FINISHED))
    db.session.commit()  # release SQLite's write lock (the reads above began a transaction) for the server
    with live_server(app) as base, browser_page() as page:
        page.set_viewport_size({"width": 320, "height": 800})
        for path in ("/grants", f"/grants/{grant_id}", "/facility/ledger", f"/grants/{grant_id}/public"):
            page.goto(base + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            wide = page.evaluate(WIDE_ELEMENTS)
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 320px: {wide}"
        # The challenge page is another package's; its winners section must fit at least.
        page.goto(base + f"/challenges/{challenge_id}")
        right = page.evaluate("""Math.max(...[...document.querySelectorAll('section[aria-labelledby="winners-heading"] *')]
                                  .map(e => e.getBoundingClientRect().right))""")
        assert 0 < right <= 320
        page.goto(base + "/facility/ledger")
        page.click(f'a[href="/grants/{grant_id}#tranche-{tranche_id}"]')
        assert "Paid" in page.locator(f"#tranche-{tranche_id}").inner_text()
