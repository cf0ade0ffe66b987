"""Explore: filter features by SAE, layer, moments, density, dead flag and enrichment; plot and list them.

Deep link: ``/explore?sae=...&layer=...&min_skewness=...&max_kurtosis=...&dead=exclude&set=colors&
min_score=2&direction=promoted&order=kurtosis`` (every filter widget's key is its URL parameter).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import data, plots, state
from app.state import ANY

LIMIT = 25_000  # features fetched for the plots; the table shows the first TABLE_ROWS
TABLE_ROWS = 200
RANGES = [("skewness", "Skewness"), ("kurtosis", "Kurtosis"), ("std", "Std"), ("log10_density", "log10 density")]
DIRECTIONS = {"either": None, "promoted": 1, "suppressed": -1}
ORDERS = ["skewness", "kurtosis", "std", "log10_density", "set_score", "feature"]


def range_inputs(name: str, label: str) -> dict[str, float | None]:
    """Two optional bounds; empty means unbounded."""
    low, high = st.columns(2)
    with low:
        least = state.bound(st.number_input, f"{label} ≥", value=None, key=f"min_{name}", format="%g")
    with high:
        most = state.bound(st.number_input, f"{label} ≤", value=None, key=f"max_{name}", format="%g")
    return {f"min_{name}": least, f"max_{name}": most}


def filters(saes: pd.DataFrame, set_names: list[str]) -> dict[str, object]:
    """The sidebar's filters as the parameters of the app_feature_filter query."""
    st.header("Filters")
    sae_options = [ANY] + list(saes["sae_id"])
    # Small catalogs start with every SAE; big ones with the first, so the plots show all its features.
    default = 0 if saes["n_features"].sum() <= LIMIT else 1
    sae = state.bound(st.selectbox, "SAE", options=sae_options, index=default, key="sae", what="SAE")
    layers = [ANY] + [str(v) for v in sorted(set(saes["layer"]))]
    layer = state.bound(
        st.selectbox,
        "Layer",
        options=layers,
        key="layer",
        what="layer",
        hint=f"the catalog's layers: {', '.join(layers[1:])}",
    )
    params: dict[str, object] = {"sae": state.optional(sae), "layer": None if layer == ANY else int(layer)}
    for name, label in RANGES:
        params |= range_inputs(name, label)
    params["dead"] = state.bound(
        st.radio,
        "Dead features (log10 density < -9)",
        options=["any", "exclude", "only"],
        key="dead",
        horizontal=True,
        what="dead features",
    )
    token_set = state.optional(
        state.bound(st.selectbox, "Enriched for token set", options=[ANY] + set_names, key="set", what="token set")
    )
    params["token_set"] = token_set
    params["min_score"] = state.bound(
        st.number_input,
        "… with -ln(1 - d) ≥",
        value=None,
        min_value=0.0,
        key="min_score",
        disabled=token_set is None,
        format="%g",
        help="2.3 is d = 0.9; 4.6 is d = 0.99",
        what="minimum score",
    )
    direction = state.bound(
        st.radio,
        "… among tokens",
        options=list(DIRECTIONS),
        key="direction",
        horizontal=True,
        disabled=token_set is None,
        what="direction",
    )
    params["set_direction"] = DIRECTIONS[direction] if token_set else None
    params["order_by"] = state.bound(st.selectbox, "Order by", options=ORDERS, key="order", what="order")
    if token_set is None:
        params["min_score"] = None
    return params


def plots_of(frame: pd.DataFrame, truncated: bool) -> None:
    """The notebook's skewness-versus-kurtosis scatter and its two histograms."""
    shown = "the first" if truncated else "all"
    st.plotly_chart(
        plots.moments_scatter(frame, f"Skewness vs kurtosis of {shown} {len(frame):,} matching features"),
        key="moments_scatter",
    )
    st.plotly_chart(plots.moment_histograms(frame), key="moment_hists")


def table(frame: pd.DataFrame, with_set: bool) -> pd.DataFrame:
    """The first rows with an open link; selecting a row opens its feature page."""
    rows = frame.head(TABLE_ROWS)
    if not with_set:
        rows = rows.drop(columns=[c for c in rows.columns if c.startswith("set_")])
    if rows["neuronpedia_url"].isna().all():
        rows = rows.drop(columns=["neuronpedia_url"])
    st.subheader(f"First {len(rows)} of {len(frame):,} features")
    st.caption("Select a row to open its feature here, or follow its 'open' link to a new tab.")
    st.dataframe(
        state.with_open_links(rows),
        hide_index=True,
        key="results",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            **state.number_formats(rows),
            "open": state.link_column(),
            "neuronpedia_url": st.column_config.LinkColumn("Neuronpedia"),
        },
    )
    state.remember_rows("results", rows)  # the next run maps a selected row back to its feature
    return rows


def quick_list(db: Path, rows: pd.DataFrame, saes: pd.DataFrame) -> None:
    """'Open in Neuronpedia': quick lists of the listed features whose SAE Neuronpedia knows."""
    known = set(saes.loc[saes["neuronpedia_id"].notna(), "sae_id"])
    listed = rows[rows["sae_id"].isin(known)]
    if listed.empty:
        missing = ", ".join(sorted(set(rows["sae_id"])))
        st.info(f"No Neuronpedia source for this SAE ({missing}), so there is no quick list.")
        return
    urls = data.quick_list_urls(db, listed.head(150))
    cols = st.columns(len(urls))
    for i, (col, url) in enumerate(zip(cols, urls, strict=True)):
        col.link_button(
            f"Open in Neuronpedia ({min(150, len(listed))} features)"
            if len(urls) == 1
            else f"Neuronpedia list {i + 1}",
            url,
        )


def render() -> None:
    state.follow_selection("results")  # before any widget: a selected row switches to its feature
    db = data.require_catalog()
    saes = data.saes(db)
    with st.sidebar:
        params = filters(saes, data.set_names(db))
    st.title("Explore features")
    state.show_notices()
    with st.spinner("Filtering…"):
        result = data.query(db, "app_feature_filter", limit=LIMIT, with_tokens=TABLE_ROWS, **params)
    frame = result.frame
    if result.truncated:
        st.warning(
            f"More than {LIMIT:,} features match: plots and table show the first {LIMIT:,} "
            f"by {params['order_by']}. Narrow the filters (e.g. choose an SAE) to see all."
        )
    if frame.empty:
        st.info("No feature matches these filters. Widen the ranges or choose another SAE or layer.")
        return
    st.metric("Matching features", f"{len(frame):,}{'+' if result.truncated else ''}")
    plots_of(frame, result.truncated)
    rows = table(frame, params["token_set"] is not None)
    quick_list(db, rows, saes)


if __name__ == "__main__":
    render()
