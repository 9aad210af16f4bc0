"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): ask in the
box, see the request's events arrive in the live feed and the tool rankings change."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfeng.producers.http.app import create_app
from tests.producers.http.conftest import ThreadServer, open_service

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install 'selfeng[test]')"
)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="no system chromium (apt-get install chromium; .ci/run installs it as root)",
)


@pytest.fixture
def dashboard_url(tmp_path: Path) -> Iterator[str]:
    """A fresh server (no token needed on localhost) for the browser."""
    service = open_service(tmp_path / "home")
    with ThreadServer(create_app(service, insecure_localhost=True)) as url:
        yield url


def test_ask_in_the_box_and_watch_the_feed_and_rankings(dashboard_url: str) -> None:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(dashboard_url)
            page.wait_for_selector("#status:has-text('live')")
            page.wait_for_selector("#tools tbody tr")
            page.wait_for_selector("#graph circle")
            runs_before = (
                page.locator("#tools tbody tr", has_text="percent_of").locator("td").nth(2)
            )
            assert runs_before.text_content() == "0"

            page.fill("#ask", "What is 25% of 100?")
            page.click("#ask-form button")
            page.wait_for_selector("#answer:has-text('25')")
            request_id = page.get_attribute("#answer", "data-request-id")
            assert request_id

            feed = page.locator(f"#feed li[data-key='{request_id}']")
            feed.filter(has_text="RequestCompleted").wait_for()
            types = set(feed.evaluate_all("items => items.map(i => i.dataset.type)"))
            assert {"RequestReceived", "ToolSearched", "RequestCompleted"} <= types

            first = page.locator("#tools tbody tr").first
            page.wait_for_function(
                "() => document.querySelector('#tools tbody tr td').textContent === 'percent_of'"
            )
            assert first.locator("td").nth(2).text_content() == "1"
            assert first.locator("td").nth(4).text_content() == "100%"
            page.wait_for_function("() => document.querySelector('#requests').textContent === '1'")
            assert errors == []
        finally:
            browser.close()
