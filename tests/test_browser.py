"""Real-browser checks: Chromium against ``streamlit run`` on localhost; screenshots in artifacts/."""

import pytest

from tests.conftest import ARTIFACTS

PAGES = {"home": "", "domain_shift": "domain-shift"}


def open_page(browser, url, name):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    # the script has finished when the status widget stops showing "Running"
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000)
    page.wait_for_timeout(1500)
    return page


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_exception_and_screenshot(browser, app_url, name):
    page = open_page(browser, f"{app_url}/{PAGES[name]}", name)
    try:
        assert page.locator("[data-testid='stException']").count() == 0
        if name == "domain_shift":
            assert page.locator(".js-plotly-plot").count() == 4
    finally:
        page.screenshot(path=str(ARTIFACTS / f"page_{name}.png"), full_page=True)
        page.close()


def test_shared_url_restores_the_scenario_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/domain-shift?rotation=35&dataset=blobs", "shared")
    try:
        assert "rotation=35" in page.url and "dataset=blobs" in page.url
        sidebar = page.locator("[data-testid='stSidebar']")
        assert sidebar.get_by_text("blobs").count() >= 1
        assert page.locator("[data-testid='stException']").count() == 0
    finally:
        page.screenshot(path=str(ARTIFACTS / "page_shared_url.png"), full_page=True)
        page.close()
