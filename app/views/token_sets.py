"""Token sets: the library with sizes and members, and a token search (its sets, the features promoting it).

Deep link: ``/token_sets?family=word_list&set=colors&token=Paris``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import data, state
from app.state import ANY

PROMOTERS = 20


def library(db: Path, sets: pd.DataFrame) -> None:
    """The sets of one family (or all), and the members of one set."""
    st.header("Library")
    family = state.bound(
        st.selectbox, "Family", options=[ANY] + sorted(set(sets["family"])), key="family", what="token set family"
    )
    shown = sets if family == ANY else sets[sets["family"] == family]
    st.dataframe(
        shown[["name", "family", "size", "model_name", "definition", "n_dropped_words"]],
        hide_index=True,
        key="sets_table",
    )
    names = sorted(set(shown["name"]))
    name = state.bound(
        st.selectbox,
        "Members of",
        options=names,
        index=state.index_of(names, ["colors"]),
        key="set",
        what="token set",
        hint="" if family == ANY else f"the {family} family has no such set",
    )
    chosen = shown[shown["name"] == name]
    for row in chosen.itertuples():
        members = data.query(db, "app_set_members", token_set=name, model=row.model_name).frame
        st.markdown(f"**{name}** ({row.family}, {row.size:,} tokens, model `{row.model_name}`): {row.definition}")
        st.dataframe(
            members.assign(token=members["token"].map(repr))[["token_id", "token", "raw"]],
            hide_index=True,
            key=f"members_{row.set_id}",
            height=300,
        )
        if len(row.dropped_words):
            st.caption("Words of the list that are not a single token (dropped): " + ", ".join(row.dropped_words))


def token_search(db: Path) -> None:
    """Which sets a token is in, and which features promote it most."""
    st.header("Token search")
    text = st.text_input(
        "Token text (case and surrounding spaces are ignored when matching)",
        key="token",
        bind=state.BIND,
        placeholder="e.g. Paris",
    )
    if not text.strip():
        st.info("Type a token to see its sets and the features that promote it most.")
        return
    matches = data.query(db, "app_token_lookup", text=text).frame
    if matches.empty:
        st.warning(f"No token of the vocabulary reads {text!r} (ignoring case and surrounding spaces).")
        return
    labels = [f"{row.token!r} (id {row.token_id}, {row.model_name})" for row in matches.itertuples()]
    index = st.selectbox("Matching tokens", range(len(labels)), format_func=labels.__getitem__, key="token_pick")
    token = matches.iloc[index]
    sets = list(token["sets"])
    st.markdown(
        f"**{token['token']!r}** (raw `{token['raw']}`) is in {len(sets)} token sets: "
        + (", ".join(f"`{name}`" for name in sets) or "none")
    )
    promoters = data.query(
        db, "features_promoting_token", token=token["token"], model=token["model_name"], limit=PROMOTERS
    ).frame
    st.subheader(f"Features promoting {token['token']!r} most")
    st.caption(
        "From the reverse token index written at ingest: each SAE's most promoting features for this token "
        "(`token_index_k` per SAE, listed by the `saes` query); `features_promoting_token_exact` in the SQL "
        "page ranks every stored decoder vector instead."
    )
    st.dataframe(
        state.with_open_links(promoters),
        hide_index=True,
        key="promoters",
        column_config={"open": state.link_column(), "neuronpedia_url": st.column_config.LinkColumn("Neuronpedia")},
    )


def render() -> None:
    db = data.require_catalog()
    st.title("Token sets")
    notices = st.container()  # filled once the widgets below have compared the link with what they show
    left, right = st.columns([3, 2])
    with left:
        library(db, data.token_sets(db))
    with right:
        token_search(db)
    with notices:
        state.show_notices()


if __name__ == "__main__":
    render()
