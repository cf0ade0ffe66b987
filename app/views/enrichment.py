"""Enrichment: token set enrichment of one SAE's features, the notebook's Manhattan and set-versus-set plots,
each set's best features across layers, and how calibrated the significance is (four views of one page).

Deep link: ``/enrichment?sae=SAE_ID&sets=all_digits&sets=colors&x_set=boys_names&y_set=girls_names&view=Set+vs+set``;
``/enrichment?view=Calibration`` opens the QQ plot of held-out null p-values.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import data, plots, state

# The notebook's first enrichment cell, then its boys-versus-girls scatter.
DEFAULT_SETS = ["starts_with_space", "starts_with_capital", "all_digits", "is_punctuation", "all_caps"]
DEFAULT_PAIR = ["boys_names", "girls_names"]
PER_SAE = 3


def choices(saes: pd.DataFrame, names: list[str]) -> tuple[str, list[str], str, str, int]:
    """The sidebar: SAE, Manhattan sets, the two sets of the scatter, how many features to label."""
    sae = state.bound(st.selectbox, "SAE", options=list(saes["sae_id"]), key="sae", what="SAE")
    sets = state.bound(
        st.multiselect,
        "Token sets (Manhattan plot, top features per layer)",
        options=names,
        default=state.present(names, DEFAULT_SETS, 5),
        key="sets",
        what="token sets",
    )
    pair = state.present(names, DEFAULT_PAIR, 2)
    x_set = state.bound(
        st.selectbox, "Scatter: x set", options=names, index=names.index(pair[0]), key="x_set", what="x set"
    )
    y_set = state.bound(
        st.selectbox, "Scatter: y set", options=names, index=names.index(pair[-1]), key="y_set", what="y set"
    )
    top_n = state.bound(
        st.number_input,
        "Features labelled per set",
        min_value=0,
        max_value=20,
        value=3,
        key="top_n",
        what="features labelled per set",
        hint="0 to 20",
    )
    return sae, sets, x_set, y_set, int(top_n)


def manhattan(scores: pd.DataFrame, sets: list[str], top_n: int) -> None:
    st.subheader("Manhattan plot")
    st.plotly_chart(
        plots.manhattan(scores[scores["set_name"].isin(sets)], top_n=top_n, label_threshold=0.0), key="manhattan"
    )
    best = (
        scores[scores["set_name"].isin(sets)]
        .sort_values("d", ascending=False)
        .groupby("set_name", sort=True)
        .head(max(top_n, 1))
    )
    best = best[["sae_id", "feature", "set_name", "d", "score", "direction", "p_calibrated", "q_value"]]
    st.dataframe(
        state.with_open_links(best),
        hide_index=True,
        key="manhattan_top",
        column_config={**state.number_formats(best, score="-ln(1-d)"), "open": state.link_column()},
    )


def versus(scores: pd.DataFrame, x_set: str, y_set: str, top_n: int) -> None:
    st.subheader(f"{x_set} versus {y_set}")
    if x_set == y_set:
        st.info("Choose two different sets for the scatter.")
        return
    st.plotly_chart(plots.set_versus_set(scores, x_set, y_set, n_labels=max(top_n, 1) * 3), key="versus")
    # Capped scores, so that two infinite scores (d = 1 for both) differ by 0, not NaN.
    wide = (
        scores.assign(score=plots.capped(scores["score"]))
        .pivot_table(index=["sae_id", "feature"], columns="set_name", values="score")
        .reset_index()
    )
    wide["difference"] = wide[x_set] - wide[y_set]
    apart = wide.reindex(wide["difference"].abs().sort_values(ascending=False).index).head(10)
    st.caption(f"Features where the two scores differ most (score = -ln(1-d); positive: more {x_set})")
    apart = apart[["sae_id", "feature", x_set, y_set, "difference"]]
    st.dataframe(
        state.with_open_links(apart),
        hide_index=True,
        key="versus_table",
        column_config={
            "open": state.link_column(),
            **{c: st.column_config.NumberColumn(format="%.3f") for c in (x_set, y_set, "difference")},
        },
    )


def across_layers(db: Path, saes: pd.DataFrame, sets: list[str]) -> None:
    st.subheader("Top features per set across layers")
    top = data.query(db, "app_top_features_per_layer", token_sets=data.set_list(sets), per_sae=PER_SAE).frame
    if top.empty:
        st.info("No enrichment rows for these sets.")
        return
    st.plotly_chart(plots.top_per_layer(top, plots.sae_labels(saes)), key="top_per_layer")
    # The table in the plot's order: set, then SAEs as the residual stream meets them, then rank.
    position = {sae_id: i for i, sae_id in enumerate(saes["sae_id"])}
    top = top.sort_values(
        ["set_name", "sae_id", "set_rank"], key=lambda c: c.map(position) if c.name == "sae_id" else c, kind="stable"
    )
    if top["neuronpedia_url"].isna().all():
        top = top.drop(columns=["neuronpedia_url"])
    st.dataframe(
        state.with_open_links(top),
        hide_index=True,
        key="top_per_layer_table",
        column_config={
            **state.number_formats(top, score="-ln(1-d)"),
            "open": state.link_column(),
            "neuronpedia_url": st.column_config.LinkColumn("Neuronpedia"),
        },
    )


def calibration(db: Path) -> None:
    """The QQ plot of held-out null p-values per set family, and the observed/nominal table."""
    st.subheader("Calibration of p_calibrated")
    qq = data.query(db, "null_qq").frame
    if qq.empty:
        st.info(
            "This catalog holds no held-out null p-values (enrichment_null.holdout_p), so there is nothing to "
            "plot: they are written when enrichment is scored with a null, e.g. `llcat-ingest rescore --db PATH`."
        )
        return
    st.caption(
        "Random directions that the tail model never saw (held out from its fit) are scored against every set "
        "exactly like features; their p_calibrated should be uniform. Each point is a quantile of one family's "
        "held-out p-values (observed, y) against the same quantile of the uniform distribution (expected, x); "
        "both axes are log and reversed, so the small p-values that matter are at the upper right. On the "
        "dashed diagonal the p-values are calibrated: a fraction p of random directions gets p or less. Points "
        "below the diagonal are larger than nominal (conservative: fewer false discoveries than q promises); "
        "points above it are smaller (liberal: more). The last points rest on few directions, so small "
        "wiggles there are noise."
    )
    st.plotly_chart(plots.null_qq(qq), key="null_qq")
    table = data.query(db, "null_calibration").frame
    st.markdown(
        "**Observed over nominal**: the fraction of held-out p below 0.01, 0.001 and 1e-4, divided by that "
        "threshold (1.0 is perfect, 1/1.5 to 1.5 counts as calibrated; a ratio over few counts is noisy)."
    )
    st.dataframe(
        table,
        hide_index=True,
        key="null_calibration_table",
        column_config={c: st.column_config.NumberColumn(format="%.2f") for c in table.columns if c.startswith("ratio")},
    )


VIEWS = ["Manhattan", "Set vs set", "Across layers", "Calibration"]


def render() -> None:
    db = data.require_catalog()
    saes, names = data.saes(db), data.set_names(db)
    with st.sidebar:
        sae, sets, x_set, y_set, top_n = choices(saes, names)
    st.title("Token set enrichment")
    state.show_notices()
    # One view per run: each reads only what it draws, so every view renders quickly on a full catalog.
    view = state.bound(
        st.segmented_control, "View", options=VIEWS, default=VIEWS[0], required=True, key="view", what="view"
    )
    state.show_notices()
    if view == "Calibration":
        calibration(db)
        return
    scope = f"All {len(saes)} SAEs" if view == "Across layers" else f"SAE `{sae}`"
    st.caption(
        f"{scope}. Score: -ln(1 - d), d the Kolmogorov-Smirnov statistic of the set's tokens "
        "ranked by logit weight (the notebook's running-sum score); d = 1 is drawn at the top."
    )
    if view == "Set vs set":
        scores = data.query(db, "app_set_scores", token_sets=data.set_list([x_set, y_set]), sae=sae).frame
        versus(scores, x_set, y_set, top_n)
        return
    if not sets:
        st.info("Choose one or more token sets in the sidebar.")
        st.stop()
    if view == "Across layers":
        across_layers(db, saes, sets)
    else:
        manhattan(data.query(db, "app_set_scores", token_sets=data.set_list(sets), sae=sae).frame, sets, top_n)


if __name__ == "__main__":
    render()
