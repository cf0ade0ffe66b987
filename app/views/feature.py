"""Feature: one feature's moments, tokens, logit histograms, enrichment, neighbours and Neuronpedia view.

Deep link: ``/feature?sae=SAE_ID&feature=N`` (``&set=NAME`` colours the histogram by that set; the older
spelling ``colour=NAME`` is read as ``set`` with a notice).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import streamlit as st

from app import data, plots, state
from catalog import neuronpedia

MOST_ENRICHED = "(most enriched)"
NEIGHBOURS = 10
ACROSS_AUTO = 100_000  # features in the model up to which neighbours across layers load by themselves


def pick(saes: pd.DataFrame, set_names: list[str]) -> tuple[str, int, str]:
    """The sidebar's SAE, feature and colouring set, bound to the URL (a value it cannot show is noticed)."""
    sae = state.bound(st.selectbox, "SAE", options=list(saes["sae_id"]), key="sae", what="SAE")
    d_sae = int(saes.loc[saes["sae_id"] == sae, "d_sae"].iloc[0])
    feature = state.bound(
        st.number_input,
        f"Feature (0 to {d_sae - 1})",
        min_value=0,
        max_value=d_sae - 1,
        step=1,
        key="feature",
        what="feature",
        hint=f"{sae} has features 0 to {d_sae - 1}",
    )
    colour_by = state.bound(
        st.selectbox,
        "Colour the histogram by token set",
        options=[MOST_ENRICHED] + set_names,
        key="set",
        what="token set",
    )
    return sae, int(feature), colour_by


def tokens_table(tokens: Iterable[str] | None, values: Iterable[float] | None) -> pd.DataFrame:
    """Token texts (repr, so that ' the' and 'the' differ visibly) with their logit weights."""
    tokens, values = ([] if tokens is None else list(tokens)), ([] if values is None else list(values))
    return pd.DataFrame({"token": [repr(t) for t in tokens], "logit weight": [f"{v:+.4f}" for v in values]})


def moments(card: pd.Series) -> None:
    """Two rows of short metrics (one value each, so that none is cut off in a narrow column)."""
    raw, cosine = st.columns(4), st.columns(4)
    raw[0].metric("Std", f"{card['std']:.4f}")
    raw[1].metric("Skewness", f"{card['skewness']:.3f}")
    raw[2].metric("Kurtosis", f"{card['kurtosis']:.2f}")
    density = card["log10_density"]
    no_density = density is None or (isinstance(density, float) and math.isnan(density))
    raw[3].metric(
        "log10 density",
        state.MISSING if no_density else f"{density:.2f}",
        help="no sparsity file for this SAE" if no_density else "log10 of the firing frequency",
    )
    cosine_help = "moments of the cosines of W_dec[f] with each token's unembedding"
    cosine[0].metric("Cosine std", f"{card['cos_std']:.4f}", help=cosine_help)
    cosine[1].metric("Cosine skewness", f"{card['cos_skewness']:.3f}", help=cosine_help)
    cosine[2].metric("Cosine kurtosis", f"{card['cos_kurtosis']:.2f}", help=cosine_help)
    cosine[3].metric(
        "Dead",
        state.MISSING if no_density else ("yes" if card["is_dead"] else "no"),
        help="log10 density below -9" if not no_density else "no sparsity file for this SAE",
    )


def tokens(card: pd.Series) -> None:
    top, bottom = st.columns(2)
    with top:
        st.subheader("Top tokens (promoted)")
        st.table(tokens_table(card["top_tokens"], card["top_values"]), hide_index=True)
    with bottom:
        st.subheader("Bottom tokens (suppressed)")
        st.table(tokens_table(card["bottom_tokens"], card["bottom_values"]), hide_index=True)


def histogram(db: Path, sae: str, feature: int, colour_set: str | None) -> None:
    """The feature's logit weights over the whole vocabulary, members of one set coloured (the notebook's
    per-feature plot): the two colours together are the full histogram, so one chart shows both."""
    logits = data.query(db, "app_feature_logits", sae=sae, feature=feature, token_set=colour_set).frame
    log_y = st.toggle("Log count axis", value=True, key="log_y")
    st.plotly_chart(plots.logit_histogram(logits, colour_set, log_y=log_y), key="logit_hist")


def enrichment_table(enriched: pd.DataFrame) -> None:
    """The feature's enrichment for every token set, most enriched first."""
    st.dataframe(
        enriched,
        hide_index=True,
        key="enrichment_table",
        height=420,
        column_config=state.number_formats(enriched, score="-ln(1-d)"),
    )


def neighbours(db: Path, saes: pd.DataFrame, sae: str, feature: int) -> None:
    """Nearest decoder directions within the feature's layer, and (on demand when big) in every layer."""
    st.subheader("Decoder-cosine neighbours")
    model = saes.loc[saes["sae_id"] == sae, "model_name"].iloc[0]
    in_model = int(saes.loc[saes["model_name"] == model, "n_features"].sum())
    # Across layers scans every decoder vector of the model (seconds for GPT-2 small's 13 x 24,576):
    # automatic for small catalogs, one click for big ones, so the page itself stays fast.
    everywhere = st.toggle(
        f"Search all layers ({in_model:,} features)", value=in_model <= ACROSS_AUTO, key="across_layers"
    )
    config = {
        "open": state.link_column(),
        "cosine": st.column_config.NumberColumn(format="%.3f"),
        "neuronpedia_url": st.column_config.LinkColumn("Neuronpedia"),
    }
    scopes = [("layer", "Within its layer")] + ([("model", "Across all layers")] if everywhere else [])
    for column, (scope, title) in zip(st.columns(2), scopes, strict=False):
        found = data.query(db, "decoder_neighbours", sae=sae, feature=feature, scope=scope, limit=NEIGHBOURS).frame
        column.markdown(f"**{title}**")
        column.dataframe(
            state.with_open_links(found),
            hide_index=True,
            key=f"neighbours_{scope}",
            column_config={**state.number_formats(found), **config},
        )


def neuronpedia_view(neuronpedia_id: str | None, feature: int) -> None:
    """Link and embedded dashboard; only the link when Neuronpedia is out of reach; a note without an id."""
    st.subheader("Neuronpedia")
    if neuronpedia_id is None or pd.isna(neuronpedia_id):
        st.info("No Neuronpedia source for this SAE (its neuronpedia_id is not set), so there is no link or embed.")
        return
    url = neuronpedia.feature_url(neuronpedia_id, feature)
    st.link_button(f"Open {neuronpedia_id}/{feature} in Neuronpedia", url)
    if data.neuronpedia_reachable():
        st.iframe(neuronpedia.embed_url(neuronpedia_id, feature), height=620)
    else:
        st.caption(
            f"Neuronpedia cannot be reached from here, so the embedded view is off; the link works "
            f"wherever you are online: {url}"
        )


def render() -> None:
    db = data.require_catalog()
    saes, set_names = data.saes(db), data.set_names(db)
    # One spelling for one token set on every page: `set`; links written with `colour` still work.
    state.renamed_param("colour", "set", [MOST_ENRICHED] + set_names, what="token set")
    with st.sidebar:
        sae, feature, colour_by = pick(saes, set_names)
    card = data.feature_card(db, sae, feature)
    st.title(f"Feature {feature}")
    state.show_notices()
    st.caption(f"SAE `{sae}` · layer {card['layer']} · hook `{card['hook_name']}` · model `{card['model_name']}`")
    moments(card)
    tokens(card)
    enriched = data.query(db, "feature_enrichment", sae=sae, feature=feature, limit=10_000).frame
    most_enriched = enriched["set_name"].iloc[0] if len(enriched) else None
    colour_set = most_enriched if colour_by == MOST_ENRICHED else colour_by
    left, right = st.columns(2)
    with left:
        histogram(db, sae, feature, colour_set)
    if len(enriched):
        right.plotly_chart(plots.enrichment_bars(enriched), key="enrichment_bars")
        st.subheader("Enrichment across all token sets")
        enrichment_table(enriched)
    neuronpedia_view(card["neuronpedia_id"], feature)
    neighbours(db, saes, sae, feature)


if __name__ == "__main__":
    render()
