"""Offline: the app works with no network at all (issue 19, lecture halls have bad Wi-Fi).

Chromium visits every page of the router with every request outside the app's own origin aborted; the test fails
on any request to another origin, any failed request and any answer of the app's origin with status 400 or more.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import BROWSER_TIMEOUT_MS, SETTLED
from tests.test_browser import CHARTS, PAGES, assert_no_exception, wait_for_charts, wait_for_script

pytestmark = pytest.mark.browser

# Every URL that the page itself names (the tab's icon, style sheets, scripts, images, frames): a headless
# Chromium need not fetch the tab's icon, so its address is checked where the page names it too.
REFERENCED = """() => Array.from(document.querySelectorAll(
    'link[href], script[src], img[src], iframe[src], source[src], video[src], audio[src], embed[src], object[data]'
)).map(node => node.href || node.src || node.data)"""
LOCAL_SCHEMES = ("data:", "blob:", "about:")
# Streamlit's client looks for its server under the page's path before the root (``/bound/_stcore/health``, then
# ``/_stcore/health``): those two 404s of a page opened by its URL are its probe, not a missing file.
PROBES = ("_stcore/health", "_stcore/host-config")
QUIET_S = 0.5  # no request in flight for this long after the page settled: it has loaded all it needs


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Traffic:
    """Every request of a browser context: those to another origin are aborted and noted, as are failed requests
    and answers with status 400 or more; ``in_flight`` holds the requests not yet answered."""

    def __init__(self, context, app_url: str):
        self.app_url, self.own = app_url, origin(app_url)
        self.page, self.probes = "?", set()
        self.external, self.failed, self.refused, self.in_flight = [], [], [], set()
        self.last_event = time.monotonic()
        context.route("**/*", self.route)
        context.on("request", lambda request: self.note(self.in_flight.add, request))
        context.on("requestfinished", lambda request: self.note(self.in_flight.discard, request))
        context.on("requestfailed", self.fail)
        context.on("response", self.answer)

    def visit(self, name: str, path: str) -> str:
        """Note that the page ``name`` at ``path`` is opened next; return its URL."""
        self.page = name
        self.probes = {f"{self.app_url}/{urlsplit(path).path}/{probe}" for probe in PROBES} if path else set()
        return f"{self.app_url}/{path}"

    def note(self, change, request):
        change(request)
        self.last_event = time.monotonic()

    def route(self, route):
        if origin(route.request.url) == self.own:
            route.continue_()
        else:  # as in a lecture hall without Wi-Fi: nothing leaves the machine
            self.external.append(f"{self.page}: {route.request.method} {route.request.url}")
            route.abort("internetdisconnected")

    def fail(self, request):
        self.note(self.in_flight.discard, request)
        if request.failure == "net::ERR_ABORTED" and request.url.startswith(f"{self.own}/media/"):
            return  # dropped by the page: Streamlit's download button fetches its own file only for the status
        self.failed.append(f"{self.page}: {request.url} ({request.failure})")

    def answer(self, response):
        if response.status >= 400 and not (response.status == 404 and response.url in self.probes):
            self.refused.append(f"{self.page}: {response.status} {response.url}")

    def wait_until_quiet(self, page):
        """Wait until the page has settled (tests/conftest.py ``SETTLED``) and no request has been in flight for
        ``QUIET_S`` (a chart's code is fetched when it mounts, after the script has ended)."""
        deadline = time.monotonic() + BROWSER_TIMEOUT_MS / 1000
        while self.in_flight or time.monotonic() - self.last_event < QUIET_S or not page.evaluate(SETTLED):
            assert time.monotonic() < deadline, f"{self.page} never settled: {[r.url for r in self.in_flight]}"
            page.wait_for_timeout(100)  # lets Playwright deliver the request events

    def assert_offline(self, page):
        """No request so far left the app's origin or failed, and ``page`` names no resource of another origin."""
        referenced = [url for url in page.evaluate(REFERENCED)
                      if not url.startswith(LOCAL_SCHEMES) and origin(url) != self.own]
        assert not self.external, f"requests to other origins: {self.external}"
        assert not referenced, f"{self.page} names resources of other origins: {referenced}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not self.refused, f"answers of status 400 or more: {self.refused}"


def test_every_page_loads_with_no_request_outside_the_app(new_page, app_url):
    page = new_page()  # one context (one Streamlit session) for all pages, every request of it routed
    traffic = Traffic(page.context, app_url)
    for name, path in PAGES.items():
        page.goto(traffic.visit(name, path), wait_until="domcontentloaded")
        wait_for_script(page)
        assert_no_exception(page)
        if name in CHARTS:
            wait_for_charts(page, CHARTS[name])
        traffic.wait_until_quiet(page)  # before the next page, which would cancel what is still loading
        traffic.assert_offline(page)  # here, not at the end: a page that goes online fails the test at once
