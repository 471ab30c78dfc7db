"""The page registry: every page declared once, and the router, home page and talk scenes built from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.talk.presets import PRESETS
from ui.page_registry import PAGES, PAGES_BY_PATH

pytestmark = pytest.mark.apptest

ROOT = Path(__file__).resolve().parent.parent


def test_every_file_in_pages_is_registered_once_and_every_entry_has_its_file():
    files = sorted(path.stem for path in (ROOT / "pages").glob("*.py"))
    assert sorted(page.url_path for page in PAGES) == files
    assert len(PAGES_BY_PATH) == len(PAGES) and [page.default for page in PAGES].count(True) == 1
    assert all((ROOT / page.file).is_file() and page.title and page.icon.startswith(":material/") for page in PAGES)
    assert all(page.question for page in PAGES if not page.default)


def test_every_talk_scene_opens_a_registered_page():
    assert {preset.page for preset in PRESETS} <= {page.url_path for page in PAGES if not page.default}


def test_the_home_page_links_every_other_page_with_its_question():
    at = AppTest.from_file(str(ROOT / "pages" / "home.py"), default_timeout=60).run()
    text = " ".join(caption.value for caption in at.caption) + " ".join(block.value for block in at.markdown)
    for page in PAGES:
        if not page.default:
            assert page.question in text and page.title in text
