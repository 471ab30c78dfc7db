"""Real-browser checks: Chromium against ``streamlit run`` on localhost; screenshots in artifacts/."""

import pytest

from tests.conftest import ARTIFACTS, serve_app

PAGES = {"home": "", "domain_shift": "domain_shift", "adaptation": "adaptation", "bound": "bound",
         "lambda_sweep": "lambda_sweep", "finetune": "finetune", "negative_transfer": "negative_transfer",
         "distillation": "distillation", "image_domains": "image_domains?dataset=digits&rotation=45",
         "your_data": "your_data"}
CHARTS = {"domain_shift": 4, "adaptation": 4, "finetune": 3, "negative_transfer": 4, "distillation": 2,
          "image_domains": 6}  # to wait for


def wait_for_script(page, timeout=90_000):
    """Wait until the page's script has drawn its title and finished (stApp's script state)."""
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_timeout(500)  # let plotly draw


def open_page(browser, url, name):
    page = browser.new_page(viewport={"width": 1500, "height": 3200})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    wait_for_script(page)
    return page


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_exception_and_screenshot(browser, app_url, name):
    page = open_page(browser, f"{app_url}/{PAGES[name]}", name)
    try:
        assert page.locator("[data-testid='stException']").count() == 0
        if name in CHARTS:  # charts mount after the script ends: wait for them
            page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {CHARTS[name]}",
                                   timeout=30_000)
            assert page.locator(".js-plotly-plot").count() == CHARTS[name]
    finally:
        page.screenshot(path=str(ARTIFACTS / f"page_{name}.png"), full_page=True)
        page.close()


def test_shared_url_restores_the_scenario_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/domain_shift?rotation=35&dataset=blobs", "shared")
    try:
        assert "rotation=35" in page.url and "dataset=blobs" in page.url
        thumbs = page.locator("[data-testid='stSidebar'] [data-testid='stSliderThumbValue']").all_inner_texts()
        assert "35" in thumbs
        assert page.locator(".legendtext", has_text="source · class 2").count() == 1  # blobs: 3 classes
        assert page.locator("[data-testid='stException']").count() == 0
    finally:
        page.screenshot(path=str(ARTIFACTS / "page_shared_url.png"), full_page=True)
        page.close()


def test_a_first_visit_straight_to_a_page_still_goes_through_the_router(browser):
    """On a fresh server Streamlit's old pages/ mode would serve the file without app.py."""
    with serve_app("streamlit_fresh.log") as url:
        page = open_page(browser, f"{url}/domain_shift?rotation=20", "fresh")
        try:
            navigation = " ".join(page.locator("[data-testid='stSidebarNav']").all_inner_texts())
            assert "Domain shift" in navigation and "Adaptation" in navigation  # the router's titles
            assert page.title() == "Domain Shift Lab"  # app.py's set_page_config ran
            assert "rotation=20" in page.url
        finally:
            page.screenshot(path=str(ARTIFACTS / "page_fresh_server.png"))
            page.close()
