"""Every deep link README.md's "The browser" section lists opens a view of the demo catalog that shows data,
with the widgets holding the values from the URL (the real-browser half is in test_browser_e2e.py)."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest

from app.state import PAGES, matches_url
from tests.app.conftest import no_exception, texts

README = Path(__file__).resolve().parents[2] / "README.md"
PAGE_OF_PATH = {path: page for page, path in PAGES.items()}
NO_DATA = ["No feature matches", "No enrichment rows", "No token of the vocabulary", "0 rows in"]


def readme_links(text: str | None = None) -> list[str]:
    """The backticked relative URLs (starting with '/') of the README's "## The browser" section."""
    text = README.read_text() if text is None else text
    section = text.split("\n## The browser", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`(/[^`\s]*)`", section)


def page_and_query(link: str) -> tuple[str, dict[str, list[str]]]:
    """('feature', {'sae': [...], 'feature': ['24']}) for '/feature?sae=...&feature=24'."""
    url = urllib.parse.urlsplit(link)
    return PAGE_OF_PATH[url.path.strip("/")], urllib.parse.parse_qs(url.query, keep_blank_values=True)


def test_the_section_lists_links_to_every_page():
    pages = {page_and_query(link)[0] for link in readme_links()}
    assert {"feature", "explore", "enrichment", "token_sets", "sql_console"} <= pages


def test_link_parsing():
    text = (
        "intro\n## The browser\n- `/explore?set=colors&sets=a&sets=b`, `/sql?query=q` and `not/a/link`\n## Next\n`/x`"
    )
    assert readme_links(text) == ["/explore?set=colors&sets=a&sets=b", "/sql?query=q"]
    assert page_and_query("/token_sets?token=%20Paris") == ("token_sets", {"token": [" Paris"]})
    assert page_and_query("/?plot=Box+plots") == ("overview", {"plot": ["Box plots"]})


@pytest.mark.parametrize("link", readme_links())
def test_readme_deep_link_shows_data(run_page, link):
    page, query = page_and_query(link)
    at = run_page(page, **{key: values if len(values) > 1 else values[0] for key, values in query.items()})
    no_exception(at)
    assert not at.warning, [w.value for w in at.warning]  # no notice of a substituted value, no truncation
    shown = texts(at)
    assert not [phrase for phrase in NO_DATA if phrase in shown], shown
    rows = sum(len(table.value) for table in at.dataframe)
    assert rows > 0 or at.get("plotly_chart"), f"{link} shows no table rows and no chart"
    for key, values in query.items():
        assert matches_url(values, at.session_state[key]), (key, values, at.session_state[key])
