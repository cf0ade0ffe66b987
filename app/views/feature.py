"""Feature: one feature's moments, tokens, logit histograms, enrichment, neighbours and Neuronpedia view.

Deep link: ``/feature?sae=SAE_ID&feature=N`` (``&set=NAME`` colours the histogram by that set; the older
spelling ``colour=NAME`` is read as ``set`` with a notice; ``&min_size=1`` lists sets of every size, and
``&rank=score`` ranks them by -ln(1 - d) instead of significance).
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
MIN_SIZE = 5  # sets of fewer tokens are hidden by default: for a one-token set d is only that token's percentile
# How the token sets are ranked: by significance (calibrated p, then d: the feature_enrichment query's
# order) or by the notebook's score -ln(1 - d) alone.
RANKS = {"significance": "significance", "score": "score -ln(1-d)"}
RANKED_BY = {"significance": "p_calibrated, then d", "score": "-ln(1-d)"}  # titles and captions
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


def ranking() -> tuple[int, str]:
    """The sidebar's controls of the token set rankings: the smallest set listed, and the order."""
    min_size = state.bound(
        st.number_input,
        "Smallest token set listed (tokens)",
        min_value=1,
        value=MIN_SIZE,
        step=1,
        key="min_size",
        what="smallest token set",
        hint="1 or more",
        help="Sets of fewer tokens are hidden from the rankings: for a one-token set d is only that token's "
        "percentile. 1 lists every set.",
    )
    rank = state.bound(
        st.selectbox,
        "Rank token sets by",
        options=list(RANKS),
        format_func=RANKS.__getitem__,
        key="rank",
        what="ranking",
        help="significance: calibrated p ascending, then d descending (the ranking to trust); score: the "
        "notebook's -ln(1 - d) alone.",
    )
    return int(min_size), str(rank)


def ranked(enriched: pd.DataFrame, rank: str) -> pd.DataFrame:
    """The feature_enrichment rows (in significance order) in the order ``rank`` asks for."""
    if rank == "score":
        return enriched.sort_values(["d", "set_name"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return enriched


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


def has_vectors(saes: pd.DataFrame, sae: str) -> bool:
    """Whether the catalog holds the SAE's decoder vectors (`--decoder-storage none` stores none)."""
    if "decoder_storage" not in saes.columns:
        return True
    return saes.loc[saes["sae_id"] == sae, "decoder_storage"].iloc[0] != "none"


NO_VECTORS = (
    "SAE `{sae}` was ingested with `--decoder-storage none`: the catalog holds no decoder vectors for it, "
    "so there is no logit histogram over the vocabulary and no decoder neighbours (the stored top tokens, "
    "moments and enrichment are above). Re-ingest it with `--decoder-storage float32` or `int16` for them."
)


def histogram(db: Path, sae: str, feature: int, colour_set: str | None) -> None:
    """The feature's logit weights over the whole vocabulary, members of one set coloured (the notebook's
    per-feature plot): the two colours together are the full histogram, so one chart shows both."""
    logits = data.query(db, "app_feature_logits", sae=sae, feature=feature, token_set=colour_set).frame
    log_y = st.toggle("Log count axis", value=True, key="log_y")
    st.plotly_chart(plots.logit_histogram(logits, colour_set, log_y=log_y), key="logit_hist")


def enrichment_table(enriched: pd.DataFrame) -> None:
    """The feature's enrichment for every token set listed, in the chosen order."""
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
    if not has_vectors(saes, sae):
        st.info(NO_VECTORS.format(sae=sae))
        return
    model = saes.loc[saes["sae_id"] == sae, "model_name"].iloc[0]
    if "decoder_storage" in saes.columns:
        without = saes.loc[(saes["model_name"] == model) & (saes["decoder_storage"] == "none"), "sae_id"]
        if len(without):
            st.caption(
                f"Not searched (ingested without decoder vectors): {len(without)} SAE(s) of this model, "
                + ", ".join(f"`{name}`" for name in without[:5])
                + (" ..." if len(without) > 5 else "")
            )
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
        min_size, rank = ranking()
    card = data.feature_card(db, sae, feature)
    st.title(f"Feature {feature}")
    state.show_notices()
    st.caption(f"SAE `{sae}` · layer {card['layer']} · hook `{card['hook_name']}` · model `{card['model_name']}`")
    moments(card)
    tokens(card)
    enriched = ranked(
        data.query(db, "feature_enrichment", sae=sae, feature=feature, min_size=min_size, limit=10_000).frame, rank
    )
    most_enriched = enriched["set_name"].iloc[0] if len(enriched) else None
    colour_set = most_enriched if colour_by == MOST_ENRICHED else colour_by
    left, right = st.columns(2)
    with left:
        if has_vectors(saes, sae):
            histogram(db, sae, feature, colour_set)
        else:
            st.info(NO_VECTORS.format(sae=sae))
    if len(enriched):
        right.plotly_chart(plots.enrichment_bars(enriched, by=RANKED_BY[rank]), key="enrichment_bars")
    st.subheader("Most enriched token sets")
    sets = data.token_sets(db)
    hidden = int(((sets["model_name"] == card["model_name"]) & (sets["size"] < min_size)).sum())
    st.caption(
        f"{len(enriched)} token sets of at least {min_size} token{'s' if min_size > 1 else ''}, "
        f"ranked by {RANKED_BY[rank]}"
        + (f"; {hidden} smaller sets hidden (lower *Smallest token set listed* to show them)" if hidden > 0 else "")
        + ". p_calibrated: how often a random direction scores d or more (beyond the random directions' range, "
        "a tail model fitted to them); q_value: Benjamini-Hochberg over p_calibrated within the SAE (keep "
        "q < 0.05); -ln(1-d): the notebook's score."
    )
    if len(enriched):
        enrichment_table(enriched)
    else:
        st.info(f"No token set of this model has {min_size} tokens or more: lower *Smallest token set listed*.")
    neuronpedia_view(card["neuronpedia_id"], feature)
    neighbours(db, saes, sae, feature)


if __name__ == "__main__":
    render()
