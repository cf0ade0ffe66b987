"""Overview: the models and SAEs in the catalog, and the notebook's by-layer moment plots.

Deep link: ``/?model=NAME&variant=cosine&plot=Box+plots``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import data, plots, state

VARIANTS = {"logit weights": ("skewness", "kurtosis", "std"), "cosine": ("cos_skewness", "cos_kurtosis", "cos_std")}


def summary(db: Path, models: pd.DataFrame, saes: pd.DataFrame) -> None:
    """Counts first, then the two provenance tables."""
    counts = st.columns(4)
    counts[0].metric("Models", len(models))
    counts[1].metric("SAEs", len(saes))
    counts[2].metric("Features", f"{int(saes['n_features'].sum()):,}")
    counts[3].metric("Token sets", f"{int(models['n_token_sets'].sum()):,}")
    st.subheader("Models")
    st.dataframe(models, hide_index=True, key="models_table")
    st.subheader("SAEs")
    st.dataframe(
        saes,
        hide_index=True,
        key="saes_table",
        column_config={
            "median_log10_density": st.column_config.NumberColumn(format="%.2f"),
            "ingest_seconds": st.column_config.NumberColumn(format="%.1f"),
        },
    )


PLOTS = ["Percentile bands", "Box plots", "Scatter across layers"]


def by_layer(db: Path, model: str, saes: pd.DataFrame, variant: str, shown: str) -> None:
    """One of the by-layer plots for one model's SAEs: percentile bands, box plots or the animated scatter.

    One kind per run: every plotly chart costs the browser a few hundred milliseconds to draw (more
    without a GPU), and five of them made this the slowest page to open.
    """
    skew, kurt, std = VARIANTS[variant]
    labels = plots.sae_labels(saes[saes["model_name"] == model])
    if shown == "Scatter across layers":
        sample = data.query(db, "app_layer_scatter", model=model)
        st.plotly_chart(plots.layer_scatter_animation(sample.frame, labels, skew, kurt, std), key="layer_scatter")
        st.caption(
            "Points: a fixed sample of each SAE's live features (dead ones left out, as in the notebook) "
            "plus its most skewed and most kurtotic ones. Press ▶ to step through the layers."
        )
        return
    pcts = data.query(db, "layer_percentiles", model=model).frame
    left, right = st.columns(2)
    if shown == "Box plots":
        left.plotly_chart(plots.layer_boxes(pcts, skew, labels), key="skew_boxes")
        right.plotly_chart(plots.layer_boxes(pcts, kurt, labels, log_y=True), key="kurt_boxes")
    else:
        left.plotly_chart(plots.percentile_bands(pcts, skew, labels), key="skew_bands")
        right.plotly_chart(plots.percentile_bands(pcts, kurt, labels), key="kurt_bands")


def render() -> None:
    db = data.require_catalog()
    st.title("Logit-lens feature catalog")
    models, saes = data.models(db), data.saes_with_provenance(db)
    with st.sidebar:
        model = state.bound(st.selectbox, "Model", options=sorted(models["model_name"]), key="model", what="model")
        variant = state.bound(
            st.radio,
            "Moments of",
            options=list(VARIANTS),
            key="variant",
            what="moments of",
            help="raw logit weights W_dec·W_U, or cosines with each token's unembedding",
        )
    state.show_notices()
    summary(db, models, saes)
    st.header("Logit weight statistics across layers")
    shown = state.bound(
        st.segmented_control, "Plot", options=PLOTS, default=PLOTS[0], required=True, key="plot", what="plot"
    )
    state.show_notices()
    by_layer(db, model, saes, variant, shown)


if __name__ == "__main__":
    render()
