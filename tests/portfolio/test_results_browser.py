"""The results page in a real browser: readable at 320 px without scrolling sideways, charts drawn."""
import pytest

from facility.demo import seed
from tests.browser import browser_page, live_server, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.serial]


def test_results_page_fits_a_narrow_phone(app, backend):
    if backend != "sqlite":
        pytest.skip("one backend is enough for layout")
    require_chromium()
    seed(echo=lambda _: None)
    with live_server(app) as base, browser_page() as page:
        page.set_viewport_size({"width": 320, "height": 800})
        page.goto(f"{base}/results")
        assert page.locator("h1").inner_text() == "The results framework"
        assert page.locator("figure.chart svg").count() == 7
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        page.screenshot(path="/tmp/results-320.png", full_page=True)
        page.set_viewport_size({"width": 1100, "height": 900})
        page.goto(f"{base}/results")
        page.screenshot(path="/tmp/results-1100.png", full_page=True)
