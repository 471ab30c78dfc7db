"""The Your data page under AppTest: uploads of real and broken tables, the verdict, the report download."""

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_wine
from streamlit.testing.v1 import AppTest

from tests.test_pages import plotly_specs

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/your_data.py")

pytestmark = [pytest.mark.apptest, pytest.mark.usefixtures("one_torch_thread")]  # tests/conftest.py


@pytest.fixture(scope="module")
def wine():
    frame = load_wine(as_frame=True).frame
    high = frame["alcohol"] > frame["alcohol"].median()
    return frame, high


def csv(frame, sep=","):
    return frame.to_csv(index=False, sep=sep).encode()


def upload(at, key, name, data):
    next(u for u in at.file_uploader if u.key == key).set_value((name, data, "text/csv"))


def text(element) -> str:
    """What an element's Markdown shows: the page escapes every character of user text (file and column names)
    that Markdown would interpret (core.formatting.plain)."""
    return re.sub(r"\\(.)", r"\1", element.value)


def test_before_any_upload_the_page_says_what_to_do():
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    assert not at.exception and "Upload a source and a target CSV" in at.info[0].value


def test_two_files_give_verdict_ranking_pca_labels_and_report(wine):
    frame, high = wine
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    upload(at, "check_source", "old.csv", csv(frame[~high]))
    upload(at, "check_target", "new.csv", csv(frame[high], sep=";"))
    at.run()
    at.selectbox(key="check_label").set_value("target")
    at.button[0].click().run()  # the form's Check button
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("';' as the delimiter" in text(i) for i in at.info)
    assert text(at.warning[0]).startswith("Measured on the target's own labels")  # the measured drop leads
    assert any("inputs have shifted" in text(m) for m in at.markdown)
    assert any("Transfer setting (Pan & Yang 2010): **transductive**" in c.value for c in at.caption)
    titles = [spec["layout"]["title"]["text"] for spec in plotly_specs(at)]
    assert titles[0].startswith("Most shifted features") and "principal components" in titles[1]
    assert titles[2] == "Label proportions"
    assert at.dataframe[0].value["feature"].iloc[0] == "alcohol"
    assert "target" not in list(at.dataframe[0].value["feature"])


def test_one_file_with_a_domain_column_and_no_shift(wine):
    frame, _ = wine
    order = np.random.default_rng(3).permutation(len(frame))
    mixed = frame.iloc[order].assign(domain=np.where(np.arange(len(frame)) % 2, "b", "a"))
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    at.radio(key="check_mode").set_value("One file with a domain column").run()
    upload(at, "check_single", "both.csv", csv(mixed))
    at.run()
    assert at.selectbox(key="check_domain").value == "domain"  # named like a domain column: preselected
    at.selectbox(key="check_domain").set_value("domain").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("split by column 'domain'" in text(i) for i in at.info)
    assert at.selectbox(key="check_label").value == "target"  # named like a label: preselected, not a feature
    assert not at.success  # a non-significant test is never shown as good news
    shown = [text(box) for box in [*at.info, *at.warning]]  # a note, or a warning when the measured drop is significant
    assert any(value.startswith("Measured on the target's own labels") for value in shown)
    assert any("No significant shift of the inputs" in text(m) and "no evidence" in text(m) for m in at.markdown)


@pytest.mark.parametrize("data, words", [(b"", "empty"), (b"a,b\n", "no data rows"), (b"\x00\x01\x02junk", "binary"),
                                         (b"a,a\n1,2\n", "duplicate"), ("é;ü\n1;2\n".encode("latin-1"), "UTF-8")])
def test_bad_uploads_are_one_line_errors(data, words, wine):
    frame, _ = wine
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    upload(at, "check_source", "bad.csv", data)
    upload(at, "check_target", "good.csv", csv(frame))
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and text(at.error[0]).startswith("bad.csv:") and "\n" not in at.error[0].value
    assert words.lower() in text(at.error[0]).lower()


def test_one_file_says_nothing_is_wrong_before_its_domain_column_is_chosen(wine):
    frame, _ = wine
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    at.radio(key="check_mode").set_value("One file with a domain column").run()
    upload(at, "check_single", "both.csv", csv(frame.assign(site=np.arange(len(frame)) % 2)))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]  # no column is named domain: none chosen
    assert at.selectbox(key="check_domain").value is None
    assert any("Choose the column" in text(i) for i in at.info)
    at.selectbox(key="check_domain").set_value("alcohol").run()  # a column with many values: now an error
    assert len(at.error) == 1 and "alcohol" in text(at.error[0])


def test_a_bad_link_key_is_said_on_a_page_without_the_sidebar():
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.query_params["rotation"] = "abc"
    at.run()
    assert any("Ignored from the link: rotation" in text(w) for w in at.warning)
    assert at.query_params["rotation"] == "35"  # written back: the opening scene's value, not the junk
