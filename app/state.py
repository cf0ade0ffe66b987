"""Deep links: which URL opens which view, and the helpers pages use to honour them.

Pages keep their state in the URL: every filter widget is created with ``bind="query-params"``
and its key is the parameter's name, so ``/feature?sae=demo/blocks.0.hook_resid_pre&feature=19``
opens that feature and ``/explore?sae=...&min_skewness=1&set=colors&min_score=2`` those filters.
Streamlit drops values that are not valid for a widget (an SAE not in the catalog, text in a
number box) and the widget falls back to its default. This module only builds URLs and picks
defaults; it runs no queries.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

# url_path of each page (app/main.py registers them); '' is the default page.
PAGES = {
    "overview": "",
    "explore": "explore",
    "enrichment": "enrichment",
    "feature": "feature",
    "token_sets": "token_sets",
    "sql_console": "sql",
}
FEATURE_PAGE = "pages/feature.py"  # relative to app/main.py, as st.switch_page wants it
ANY = "(any)"


def run_page(render: Callable[[], None]) -> None:
    """Render a page of ``app/pages/``, making sure it runs inside ``app/main.py``'s navigation.

    A folder named ``pages`` beside the main script switches Streamlit into its older multipage
    mode until the first ``st.navigation`` call of the server process. A fresh server whose first
    request deep-links to a page (``/feature?...``) would then run the page file on its own: no
    page config, no error handling, the wrong sidebar. Leaving that mode and rerunning hands the
    same URL to ``app/main.py``.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    render()


def feature_params(sae: str, feature: int) -> dict[str, str]:
    """The query parameters of a feature's page."""
    return {"sae": str(sae), "feature": str(int(feature))}


def feature_link(sae: str, feature: int) -> str:
    """A relative link to a feature's page; relative, so it works under any base URL path."""
    return f"{PAGES['feature']}?{urllib.parse.urlencode(feature_params(sae, feature))}"


def with_open_links(frame: pd.DataFrame, column: str = "open") -> pd.DataFrame:
    """``frame`` with a first column linking each (sae_id, feature) row to its feature page."""
    links = [feature_link(s, f) for s, f in zip(frame["sae_id"], frame["feature"])]
    return pd.concat([pd.Series(links, index=frame.index, name=column), frame], axis=1)


def link_column(label: str = "open") -> st.column_config.LinkColumn:
    """Column config showing ``with_open_links``' column as a short link text."""
    return st.column_config.LinkColumn(label, display_text="open", help="open this feature's page")


def open_feature(sae: str, feature: int) -> None:
    """Switch to the feature page for (sae, feature), with both in its URL.

    Must run before this page creates a widget keyed ``sae``: Streamlit refuses to set a query
    parameter that a widget of the current page is bound to, so the SAE goes through session state
    (allowed before that widget exists) and the feature, bound on no other page, through the URL.
    """
    st.session_state["sae"] = str(sae)
    st.switch_page(FEATURE_PAGE, query_params={"feature": str(int(feature))})


def remember_rows(table_key: str, frame: pd.DataFrame) -> None:
    """Keep the (sae_id, feature) of each row a selectable table shows, for ``follow_selection``."""
    st.session_state[f"_{table_key}_rows"] = list(zip(frame["sae_id"], frame["feature"].astype(int)))


def follow_selection(table_key: str) -> None:
    """If a row of table ``table_key`` was selected on the last run, open its feature page.

    Call it at the top of a page, before any widget: selecting a row reruns the page, and this is
    the first moment it can switch (see ``open_feature``).
    """
    event = st.session_state.get(table_key)
    rows = st.session_state.get(f"_{table_key}_rows") or []
    picked = event["selection"]["rows"] if event else []
    if picked and picked[0] < len(rows):
        open_feature(*rows[picked[0]])


def index_of(options: Sequence[object], preferred: Sequence[object], fallback: int = 0) -> int:
    """Index of the first of ``preferred`` found in ``options``, else ``fallback``."""
    for value in preferred:
        if value in options:
            return list(options).index(value)
    return fallback


def present(options: Sequence[str], preferred: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` of ``preferred`` that exist in ``options``, topped up from ``options``."""
    chosen = [value for value in preferred if value in options][:count]
    for value in options:
        if len(chosen) >= count:
            break
        if value not in chosen:
            chosen.append(value)
    return chosen


def optional(value: object) -> object:
    """The '(any)' choice of a select box as None (no filter), other values unchanged."""
    return None if value == ANY else value
