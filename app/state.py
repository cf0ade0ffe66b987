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
from typing import Any, Literal

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
FEATURE_PAGE = "views/feature.py"  # relative to app/main.py, as st.switch_page wants it
ANY = "(any)"
BIND: Literal["query-params"] = "query-params"
_NOTICES = "_llcat_notices"  # session state: this run's notices, shown under the page title


def feature_params(sae: str, feature: int) -> dict[str, str]:
    """The query parameters of a feature's page."""
    return {"sae": str(sae), "feature": str(int(feature))}


def feature_link(sae: str, feature: int) -> str:
    """A relative link to a feature's page; relative, so it works under any base URL path."""
    return f"{PAGES['feature']}?{urllib.parse.urlencode(feature_params(sae, feature))}"


def with_open_links(frame: pd.DataFrame, column: str = "open") -> pd.DataFrame:
    """``frame`` with a first column linking each (sae_id, feature) row to its feature page."""
    links = [feature_link(s, f) for s, f in zip(frame["sae_id"], frame["feature"], strict=True)]
    return pd.concat([pd.Series(links, index=frame.index, name=column), frame], axis=1)


def link_column(label: str = "open") -> Any:  # Streamlit's ColumnConfig type is not public API
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
    st.session_state[f"_{table_key}_rows"] = list(zip(frame["sae_id"], frame["feature"].astype(int), strict=True))


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


# -- notices: what a link asked for that the page could not show ---------------------------


def reset_notices() -> None:
    """Forget the last run's notices (app/main.py, at the start of every run)."""
    st.session_state[_NOTICES] = []


def notice(text: str) -> None:
    """Queue a warning for ``show_notices``: widgets live in the sidebar, the notice belongs in the page."""
    st.session_state.setdefault(_NOTICES, []).append(text)


def show_notices() -> None:
    """Show (once) every queued notice as a warning, where the page calls it (under its title)."""
    for text in st.session_state.get(_NOTICES, []):
        st.warning(text, icon=":material/swap_horiz:")
    st.session_state[_NOTICES] = []


def renamed_param(old: str, new: str, options: Sequence[str], what: str) -> None:
    """Honour a link written with an older spelling of a select box's parameter, with a notice.

    Call it before the page creates the widget keyed ``new``. Streamlit seeds a bound widget only from the
    URL the page was opened with, so the value goes through session state (allowed before the widget
    exists), and only when it is one of ``options``; otherwise the widget shows its first option.
    """
    if old not in st.query_params:
        return
    value = st.query_params.get_all(old)[0]
    del st.query_params[old]
    if new in st.query_params:
        notice(f"The link gives both `{old}=` and `{new}=`; `{old}=`, an older spelling of `{new}=`, was left out.")
        return
    notice(f"The link's `{old}=` is an older spelling of `{new}=`; it was read as `{new}={value}`.")
    if value in options:
        st.session_state[new] = value
    else:
        notice(f"The link asked for {what} **{value}**, which is not available here; showing **{options[0]}** instead.")


def _url_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def matches_url(asked: list[str], value: object) -> bool:
    """Whether the widget shows what the URL asked for (numbers compared as numbers)."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value] == list(dict.fromkeys(asked))
    if value is None:
        return asked == [""]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(asked[0]) == float(value)
        except ValueError:
            return False
    return asked[0] == str(value)


def bound(
    widget: Callable[..., Any], label: str, *, key: str, what: str | None = None, hint: str = "", **kwargs: Any
) -> Any:
    """``widget(label, key=key, bind="query-params", ...)``, noticing when it could not show the URL's value.

    Streamlit drops a URL value that is not valid for the widget (an SAE not in the catalog, a
    feature out of range, a set that does not exist) and shows the default; this says so. The URL's
    values are read before the widget is created, since creating it clears an invalid value.
    """
    asked = st.query_params.get_all(key)
    value = widget(label, key=key, bind=BIND, **kwargs)
    if asked and not matches_url(asked, value):
        if isinstance(value, (list, tuple)):
            shown_values = [_url_text(v) for v in value]
            missing = [a for a in dict.fromkeys(asked) if a not in shown_values] or asked
            shown = ", ".join(shown_values)
        else:
            missing, shown = asked, _url_text(value)
        notice(
            f"The link asked for {what or label} **{', '.join(missing)}**, which is not available here"
            f"{f' ({hint})' if hint else ''}; showing **{shown or 'none'}** instead."
        )
    return value


# -- how tables show numbers and missing values -------------------------------------------

MISSING = "—"  # a value the catalog does not have (no sparsity file, no Neuronpedia id, ...)
# Probabilities span hundreds of orders of magnitude: fixed-point formats clip them to "0.000000".
_SCIENTIFIC = ("p_value", "p_null", "p_calibrated", "q_value", "set_p_calibrated", "set_q_value")
_FIXED = {"d": "%.4f", "set_d": "%.4f", "score": "%.2f", "set_score": "%.2f", "cosine": "%.3f"}


def number_formats(frame: pd.DataFrame, **labels: str) -> dict[str, Any]:  # values: Streamlit column configs
    """Column config for the numeric columns of ``frame`` the app knows: p and q values in scientific
    notation, scores and d with fixed decimals; ``labels`` renames columns (e.g. score="-ln(1-d)")."""
    config = {}
    for column in frame.columns:
        if column in _SCIENTIFIC:
            config[column] = st.column_config.NumberColumn(labels.get(column, column), format="%.2e")
        elif column in _FIXED:
            config[column] = st.column_config.NumberColumn(labels.get(column, column), format=_FIXED[column])
    return config
