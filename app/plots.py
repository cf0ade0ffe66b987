"""Plotly figures of the notebook's plots, as pure functions of query results (no Streamlit).

Scores are the notebook's ``-ln(1 - d)``, infinite when d = 1 (every member above every
non-member): plots draw those at ``SCORE_CAP`` (1 - d = 1e-7, beyond float32's resolution of d).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

SCORE_CAP = float(-np.log(1e-7))
PERCENTILES = ["p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99"]
_TURBO = px.colors.sample_colorscale("Turbo", [i / (len(PERCENTILES) - 1) for i in range(len(PERCENTILES))])
# One colour per category (token set, SAE): saturated, distinct hues that read on white, ten of them
# before any repeats, then 24 more. Streamlit's own plotly theme would otherwise draw categories
# in shades of blue that are hard to tell apart.
CATEGORICAL = px.colors.qualitative.D3 + px.colors.qualitative.Dark24
HOVER_MOMENTS = "skewness=%{x}<br>kurtosis=%{y}<br>Standard deviation=%{marker.color}<extra></extra>"


# Up to this many points a scatter is drawn as SVG. WebGL draws more points faster, but creating its
# context costs about half a second in a browser without a GPU (software rendering, as in headless
# Chromium), more than a few thousand SVG points do.
WEBGL_ABOVE = 5_000


def render_mode(n_points: int) -> str:
    """plotly express' render_mode for a scatter of ``n_points``: SVG for small ones, WebGL for big."""
    return "webgl" if n_points > WEBGL_ABOVE else "svg"


def capped(scores: pd.Series) -> pd.Series:
    """Scores with +inf (d = 1) drawn at SCORE_CAP."""
    return scores.astype(float).clip(upper=SCORE_CAP)


def sae_labels(saes: pd.DataFrame) -> dict[str, str]:
    """A short axis label per SAE: 'L8', or 'L11 resid_post' where a layer holds several SAEs."""
    per_layer = saes.groupby("layer")["sae_id"].transform("count")
    return {
        row.sae_id: f"L{row.layer}" if n == 1 else f"L{row.layer} {row.hook_name.split('hook_')[-1]}"
        for row, n in zip(saes.itertuples(), per_layer, strict=True)
    }


def _ordered(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    out = frame[frame["sae_id"].isin(labels)].copy()
    out["sae"] = out["sae_id"].map(labels)
    order = {label: i for i, label in enumerate(labels.values())}
    return out.sort_values(["sae"], key=lambda s: s.map(order), kind="stable")


def percentile_bands(pcts: pd.DataFrame, statistic: str, labels: dict[str, str]) -> go.Figure:
    """The notebook's by-layer percentile area plot, as filled bands between successive percentiles."""
    rows = _ordered(pcts[pcts["statistic"] == statistic], labels)
    fig = go.Figure()
    for i, column in enumerate(PERCENTILES):
        fig.add_trace(
            go.Scatter(
                x=rows["sae"],
                y=rows[column],
                name=f"{column[1:].lstrip('0')}%",
                mode="lines",
                line={"color": _TURBO[i], "width": 1},
                fill="tonexty" if i else None,
            )
        )
    fig.update_layout(
        title=f"{statistic.replace('_', ' ').capitalize()} percentiles by layer",
        xaxis_title="SAE",
        yaxis_title=statistic,
        height=380,
        legend_title="percentile",
    )
    return fig


def layer_boxes(pcts: pd.DataFrame, statistic: str, labels: dict[str, str], log_y: bool = False) -> go.Figure:
    """Box plots by layer from stored percentiles: box 25-75%, line at the median, whiskers 1-99%."""
    rows = _ordered(pcts[pcts["statistic"] == statistic], labels)
    fig = go.Figure()
    for i, row in enumerate(rows.itertuples()):
        color = CATEGORICAL[i % len(CATEGORICAL)]
        fig.add_trace(
            go.Box(
                x=[row.sae],
                q1=[row.p25],
                median=[row.p50],
                q3=[row.p75],
                lowerfence=[row.p01],
                upperfence=[row.p99],
                name=row.sae,
                marker_color=color,
                showlegend=False,
            )
        )
    fig.update_layout(
        title=f"{statistic.replace('_', ' ')} by layer (whiskers: 1st and 99th percentiles)",
        xaxis_title="SAE",
        yaxis_title=statistic,
        height=380,
    )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def layer_scatter_animation(
    sample: pd.DataFrame, labels: dict[str, str], x: str = "skewness", y: str = "kurtosis", color: str = "std"
) -> go.Figure:
    """The appendix's skewness-versus-kurtosis scatter with one animation frame per layer."""
    rows = _ordered(sample, labels)
    per_frame = int(rows["sae"].value_counts().max()) if len(rows) else 0
    fig = px.scatter(
        rows,
        x=x,
        y=y,
        color=color,
        color_continuous_scale="Portland",
        hover_name="feature",
        render_mode=render_mode(per_frame),
        animation_frame="sae",
        log_y=True,
        height=560,
        range_x=_padded(rows[x]),
        range_y=[float(rows[y].min()) / 1.1, float(rows[y].max()) * 1.1] if len(rows) else None,
        title=f"{x} vs {y} across layers (live features)",
    )
    fig.update_traces(marker={"size": 4})
    return fig


def _padded(values: pd.Series) -> list[float]:
    # Fixed axes, so that frames of an animation share one scale.
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    pad = (hi - lo) * 0.05 or 0.5
    return [lo - pad, hi + pad]


def moments_scatter(features: pd.DataFrame, title: str) -> go.Figure:
    """Skewness versus kurtosis (log axis), coloured by std, one point per feature.

    What the browser receives is kept small (16,384 points of one Gemma Scope SAE were 2.1 MB of JSON,
    half of it the SAE's id repeated in every point's hover): the numbers as float32, and the SAE's id
    once, in the hover template, when every point has the same one."""
    numbers = {name: features[name].astype(np.float32) for name in ("skewness", "kurtosis", "std")}
    points = pd.DataFrame(numbers | {"feature": features["feature"], "sae_id": features["sae_id"]})
    one_sae = points["sae_id"].nunique() <= 1
    fig = px.scatter(
        points,
        x="skewness",
        y="kurtosis",
        color="std",
        color_continuous_scale="Portland",
        hover_name="feature",
        hover_data=None if one_sae else ["sae_id"],
        log_y=True,
        render_mode=render_mode(len(points)),
        height=480,
        labels={"std": "Standard deviation"},
        title=title,
    )
    fig.update_traces(marker={"size": 4})
    if one_sae and len(points):
        sae = html.escape(str(points["sae_id"].iloc[0]))
        fig.update_traces(hovertemplate=f"<b>%{{hovertext}}</b><br>sae_id={sae}<br>" + HOVER_MOMENTS)
    return fig


def moment_histograms(features: pd.DataFrame) -> go.Figure:
    """The notebook's two histograms, skewness and log10 kurtosis, side by side in one figure (one chart
    for the browser to lay out instead of two)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        subplot_titles=[
            "Skewness of the logit weight distributions",
            "Kurtosis of the logit weight distributions (log10)",
        ],
    )
    fig.add_trace(
        go.Histogram(x=features["skewness"].astype(float), nbinsx=200, name="skewness", marker_color=CATEGORICAL[0]),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Histogram(
            x=np.log10(features["kurtosis"].astype(float)),
            nbinsx=200,
            name="log10 kurtosis",
            marker_color=CATEGORICAL[0],
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="skewness", row=1, col=1)
    fig.update_xaxes(title_text="log10 kurtosis", row=1, col=2)
    fig.update_yaxes(title_text="features", row=1, col=1)
    fig.update_layout(height=320, showlegend=False, bargap=0)
    return fig


def manhattan(scores: pd.DataFrame, top_n: int = 3, label_threshold: float = 1.0) -> go.Figure:
    """Manhattan plot: -ln(1 - d) per feature, one colour per set, the top_n features of each labelled."""
    fig = go.Figure()
    scatter = go.Scattergl if len(scores) > WEBGL_ABOVE else go.Scatter
    for i, (name, rows) in enumerate(scores.groupby("set_name", sort=True)):
        y = capped(rows["score"])
        fig.add_trace(
            scatter(
                x=rows["feature"],
                y=y,
                mode="markers",
                name=name,
                marker={"size": 5, "color": CATEGORICAL[i % len(CATEGORICAL)]},
                hovertemplate="feature %{x}<br>-ln(1-d) %{y:.2f}<extra>" + name + "</extra>",
            )
        )
        for feature, value in zip(rows.loc[y.nlargest(top_n).index, "feature"], y.nlargest(top_n), strict=True):
            if value > label_threshold:
                fig.add_annotation(x=feature, y=value, text=str(feature), showarrow=False, yshift=10)
    fig.update_layout(
        title="Manhattan plot of enrichment scores",
        xaxis_title="feature",
        yaxis_title="-ln(1 - d)",
        height=460,
        legend_title="token set",
    )
    return fig


def set_versus_set(scores: pd.DataFrame, set_x: str, set_y: str, n_labels: int = 8) -> go.Figure:
    """Scores of two sets against each other with marginal histograms; labels where they differ most."""
    wide = (
        scores[scores["set_name"].isin([set_x, set_y])]
        .pivot_table(index=["sae_id", "feature"], columns="set_name", values="score", aggfunc="max")
        .reset_index()
    )
    for name in (set_x, set_y):
        wide[name] = capped(wide[name]) if name in wide else np.nan
    fig = px.scatter(
        wide,
        x=set_x,
        y=set_y,
        marginal_x="histogram",
        marginal_y="histogram",
        render_mode=render_mode(len(wide)),
        hover_name="feature",
        hover_data=["sae_id"],
        height=620,
        title=f"Enrichment scores: {set_x} vs {set_y}",
        labels={set_x: f"-ln(1-d) {set_x}", set_y: f"-ln(1-d) {set_y}"},
    )
    fig.update_traces(marker={"size": 4}, selector={"mode": "markers"})
    gap = (wide[set_x] - wide[set_y]).abs()
    for index in gap.nlargest(n_labels).index:
        fig.add_annotation(
            x=wide.at[index, set_x],
            y=wide.at[index, set_y],
            text=str(wide.at[index, "feature"]),
            showarrow=False,
            yshift=10,
            xref="x",
            yref="y",
        )
    return fig


def top_per_layer(top: pd.DataFrame, labels: dict[str, str]) -> go.Figure:
    """Each set's best features in every SAE: score by layer, points labelled with the feature."""
    rows = _ordered(top, labels)
    fig = px.scatter(
        rows,
        x="sae",
        y=capped(rows["score"]),
        color="set_name",
        text="feature",
        color_discrete_sequence=CATEGORICAL,
        category_orders={"sae": list(dict.fromkeys(rows["sae"]))},
        hover_data=["sae_id", "feature", "d", "direction"],
        height=420,
        labels={"y": "-ln(1 - d)", "sae": "SAE", "set_name": "token set"},
        title="Top features per set across layers",
    )
    fig.update_traces(textposition="middle right", marker={"size": 8})
    return fig


def logit_histogram(
    logits: pd.DataFrame, set_name: str | None = None, bins: int = 100, log_y: bool = True
) -> go.Figure:
    """A feature's logit weights over the whole vocabulary; with a set (``in_set`` column), members and
    the rest overlaid on the same bins, as the notebook's per-feature plot."""
    values = logits["logit_weight"].to_numpy(dtype=float)
    edges = np.linspace(values.min(), values.max(), bins + 1) if len(values) else np.linspace(0, 1, bins + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    groups = [("all tokens", np.ones(len(values), bool), "#4c78a8")]
    if set_name is not None:
        member = logits["in_set"].fillna(False).to_numpy(dtype=bool)
        groups = [(f"not in {set_name}", ~member, "#9aa5b1"), (f"in {set_name} ({member.sum():,})", member, "#e4572e")]
    fig = go.Figure()
    for name, mask, color in groups:
        counts, _ = np.histogram(values[mask], bins=edges)
        fig.add_trace(go.Bar(x=centres, y=counts, width=width, name=name, marker_color=color, opacity=0.8))
    title = "Logit weights, whole vocabulary" + (f", by membership of {set_name}" if set_name else "")
    fig.update_layout(
        barmode="overlay",
        title=title,
        xaxis_title="logit weight",
        yaxis_title="tokens",
        height=360,
        bargap=0,
        legend={"orientation": "h", "y": -0.25},
    )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def enrichment_bars(enrichment: pd.DataFrame, n: int = 20, by: str = "p_calibrated, then d") -> go.Figure:
    """A feature's first ``n`` token sets in the order given (the ranking the page chose, named by ``by``):
    bars of -ln(1 - d), coloured by direction, the first set on top."""
    rows = enrichment.head(n).iloc[::-1].copy()
    rows["direction"] = rows["direction"].map({1: "promoted", -1: "suppressed"})
    hover = [c for c in ("set_size", "d", "p_calibrated", "q_value") if c in rows.columns]
    fig = px.bar(
        rows,
        x=capped(rows["score"]),
        y="set_name",
        color="direction",
        orientation="h",
        hover_data=hover,
        color_discrete_map={"promoted": "#2a9d8f", "suppressed": "#e76f51"},
        labels={"x": "-ln(1 - d)", "set_name": "token set", "set_size": "tokens"},
        height=max(300, 24 * len(rows) + 120),
        title=f"Top {len(rows)} token sets by {by}",
    )
    if hover == ["set_size", "d", "p_calibrated", "q_value"]:
        # Probabilities in scientific notation, as in the tables (plotly's default would print 0.000000).
        fig.update_traces(
            hovertemplate="%{y}<br>-ln(1 - d) %{x:.2f}<br>tokens %{customdata[0]}<br>d %{customdata[1]:.4f}"
            "<br>p_calibrated %{customdata[2]:.2e}<br>q %{customdata[3]:.2e}<extra>%{fullData.name}</extra>"
        )
    # Every set named (plotly thins crowded category labels), the first of the ranking at the top.
    fig.update_yaxes(categoryorder="array", categoryarray=list(rows["set_name"]), tickmode="linear", dtick=1)
    return fig


def null_qq(qq: pd.DataFrame) -> go.Figure:
    """QQ plot of held-out null p-values (the ``null_qq`` query's rows): observed p against the expected
    uniform quantile, one colour per set family (one trace per family and model), and the diagonal where a
    calibrated p-value lies. Both axes are log and reversed (the usual -log10 p picture, labelled in p): the
    small p-values that matter sit at the upper right, and a conservative family (p too large) falls below
    the diagonal, a liberal one (p too small) above it."""
    fig = go.Figure()
    several_models = qq["model_name"].nunique() > 1
    families = sorted(set(qq["set_family"]))
    colour = {family: CATEGORICAL[i % len(CATEGORICAL)] for i, family in enumerate(families)}
    for (model, family), rows in qq.groupby(["model_name", "set_family"], sort=True):
        rows = rows.sort_values("expected_p")
        name = f"{family} · {model}" if several_models else str(family)
        fig.add_trace(
            go.Scatter(
                x=rows["expected_p"],
                y=rows["observed_p"],
                mode="lines+markers",
                name=name,
                marker={"size": 5, "color": colour[family]},
                line={"width": 1.5, "color": colour[family]},
                customdata=rows["n_p"],
                hovertemplate="expected %{x:.2e}<br>observed %{y:.2e}<br>%{customdata:,} held-out p"
                f"<extra>{name}</extra>",
            )
        )
    low = float(qq["expected_p"].min()) if len(qq) else 1e-4
    fig.add_trace(
        go.Scatter(
            x=[low, 1.0],
            y=[low, 1.0],
            mode="lines",
            name="diagonal (calibrated)",
            line={"color": "#555555", "width": 1, "dash": "dash"},
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        title="Held-out null p-values against the uniform distribution",
        xaxis_title="expected p (uniform quantile)",
        yaxis_title="observed p_calibrated of held-out random directions",
        height=560,
        legend_title="set family",
    )
    # Decades only (dtick=1 on a log axis): the minor 2s and 5s crowd the labels.
    fig.update_xaxes(type="log", autorange="reversed", exponentformat="power", dtick=1)
    fig.update_yaxes(type="log", autorange="reversed", exponentformat="power", dtick=1)
    return fig


def warm_up() -> None:
    """Build and serialise one small figure of every kind the pages draw.

    Plotly loads its validators lazily, on the first figure of each kind: half a second or more that
    would otherwise fall on the first page someone opens after the server starts.
    """
    frame = pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 2.0], "c": ["a", "b"], "f": [0, 1]})
    figures = [
        px.scatter(frame, x="x", y="y", color="c", animation_frame="f", render_mode="svg"),
        px.scatter(frame, x="x", y="y", marginal_x="histogram", marginal_y="histogram"),
        px.histogram(frame, x="x"),
        px.bar(frame, x="x", y="c", orientation="h"),
        go.Figure(
            [
                go.Scatter(x=[0, 1], y=[0, 1], fill="tonexty"),
                go.Scattergl(x=[0], y=[0]),
                go.Box(x=["a"], q1=[0], median=[1], q3=[2], lowerfence=[0], upperfence=[3]),
                go.Bar(x=[0], y=[1]),
            ]
        ),
        moment_histograms(pd.DataFrame({"skewness": [0.0, 1.0], "kurtosis": [3.0, 4.0]})),
    ]
    for figure in figures:
        figure.to_json()
