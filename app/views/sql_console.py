"""SQL: the saved queries as a menu with their parameters as inputs, and a sandboxed console.

Saved query values are bound parameters (``catalog.queries``); the console runs one read-only
SELECT in the catalog's sandbox, a child process killed at its deadline (``catalog.sandbox``).
Deep link: ``/sql?query=high_skew_features&p_layer=8`` or ``/sql?mode=Console&sql=SELECT+...`` (the older
``/sql?query=(console)&sql=...`` still opens the console). A console link only fills the text area:
nothing runs until the user presses Run, so a shared link cannot make the server do work by itself.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import data, state
from catalog.errors import CatalogBusyError, CatalogError
from catalog.query_params import Param
from catalog.result import MAX_LIMIT, QueryResult

MODES = ["Saved query", "Console"]
LEGACY_CONSOLE = "(console)"  # the console's entry in the old query menu; old links still open the console
DEFAULT_QUERY = "saes"  # every catalog has rows for it
NULL = "(NULL)"
MAX_ROWS = 10_000
LAST_RUN = "_console_last_run"  # session state: (statement, its result or error text): this session's last run only
EXAMPLE = (
    "SELECT layer, count(*) AS features, avg(skewness) AS mean_skewness\n"
    "FROM feature_stats GROUP BY layer ORDER BY layer"
)


def catalog_values(db: Path, kind: str) -> list[str] | None:
    """Choices for a catalog-typed parameter, or None for free input."""
    if kind == "SAE":
        return list(data.saes(db)["sae_id"])
    if kind == "MODEL":
        return sorted(data.models(db)["model_name"])
    if kind == "TOKEN_SET":
        return data.set_names(db)
    if kind == "LAYER":
        return [str(layer) for layer in sorted(set(data.saes(db)["layer"]))]
    return None


def param_input(db: Path, param: Param) -> object:
    """One input widget for a parameter; its value as the query wants it (None: SQL NULL)."""
    label, key = f"{param.name} ({param.type_label})", f"p_{param.name}"
    default = None if param.required else param.default
    options = list(param.choices) if param.kind == "CHOICE" else catalog_values(db, param.kind)
    if param.kind == "BOOLEAN":
        options = ["true", "false"]
    if param.kind == "TOKEN_SETS":
        names = state.bound(
            st.multiselect, label, options=data.set_names(db), key=key, help=param.description, what=param.name
        )
        return names or None
    if options is not None:
        options = ([] if param.required else [NULL]) + options
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        index = options.index(shown) if default is not None and shown in options else 0
        value = state.bound(
            st.selectbox,
            label,
            options=options,
            index=index,
            key=key,
            help=param.description,
            what=param.name,
            hint=_choices_hint(options),
        )
        return None if value == NULL else value
    if param.kind in ("INTEGER", "FEATURE"):
        top = MAX_LIMIT if param.name == "limit" else None
        return state.bound(
            st.number_input,
            label,
            value=default,
            step=1,
            min_value=1 if param.name == "limit" else None,
            max_value=top,
            key=key,
            help=param.description,
            what=param.name,
        )
    if param.kind == "DOUBLE":
        return state.bound(
            st.number_input, label, value=default, key=key, format="%g", help=param.description, what=param.name
        )
    text = st.text_input(
        label,
        value="" if default is None else str(default),
        key=key,
        bind=state.BIND,
        help=param.description + " (spaces count: ' Paris' is not 'Paris')",
    )
    return None if text == "" and not param.required else text


def _choices_hint(options: list[str], shown: int = 8) -> str:
    listed = ", ".join(o for o in options[:shown] if o != NULL)
    return f"choices: {listed}{', …' if len(options) > shown else ''}"


def saved(db: Path) -> None:
    """The saved query chosen in the sidebar, with its parameters there too."""
    names = sorted(data.queries_menu())
    with st.sidebar:
        name = state.bound(
            st.selectbox,
            "Saved query",
            options=names,
            index=names.index(DEFAULT_QUERY) if DEFAULT_QUERY in names else 0,
            key="query",
            what="saved query",
        )
        query = data.queries_menu()[name]
        st.subheader("Parameters")
        values = {param.name: param_input(db, param) for param in query.params}
    state.show_notices()
    st.markdown(query.description)
    missing = [name for name, value in values.items() if value is None and query.param(name).required]
    with st.expander("SQL"):
        st.code(query.text, language="sql")
    if missing:
        st.info(f"Fill in the required parameter(s) in the sidebar: {', '.join(missing)}.")
        st.stop()
    limit = values.pop("limit")
    assert isinstance(limit, int | float)  # a required number input with min_value 1: never None here
    show(data.query(db, name, limit=int(limit), **values), name)


def console(db: Path) -> None:
    """The text area (a deep link fills it), the Run button, and the outcome of the last run of that text."""
    st.markdown(
        "One read-only `SELECT` on the catalog: no files, no extensions, at most "
        f"{MAX_ROWS:,} rows, stopped after 30 s. Tables and views: see `sql/schema.sql` and `sql/views.sql`."
    )
    statement = st.text_area("SQL", value=EXAMPLE, height=160, key="sql", bind=state.BIND)
    if st.button("Run", key="run_sql", type="primary", icon=":material/play_arrow:", disabled=not statement.strip()):
        st.session_state[LAST_RUN] = (statement, run_console(db, statement))
    ran, outcome = st.session_state.get(LAST_RUN, (None, None))
    if ran != statement:
        # Edited since (or never run): forget the old result now rather than hold it for the session.
        st.session_state.pop(LAST_RUN, None)
        if statement.strip():
            st.caption("Press **Run** to run this statement.")
        return
    if isinstance(outcome, str):
        st.error(outcome)
    else:
        show(outcome, "console")


def run_console(db: Path, statement: str) -> QueryResult | str:
    """The console's result, or the sandbox's message (path-free) when it refused or stopped the statement.

    Not cached across sessions: each result is up to the sandbox's byte cap, and only this session's
    last one is kept (in session state), so results cannot pile up in the server.
    """
    try:
        return data.console(db, statement, MAX_ROWS)
    except CatalogBusyError:
        raise  # app/main.py says the catalog is being written, as on every page
    except CatalogError as error:
        return str(error)


def show(result: QueryResult, name: str) -> None:
    """The rows, whether they were cut off, and a CSV download built only when clicked, from these rows."""
    frame: pd.DataFrame = result.frame
    st.caption(f"{len(frame):,} rows in {result.seconds * 1000:.0f} ms")
    if result.truncated:
        st.warning(result.notice())
    st.dataframe(frame, hide_index=True, key="result_table", column_config=state.number_formats(frame))
    st.download_button(
        "Download CSV",
        lambda: frame.to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key="download",
        on_click="ignore",
    )


def render() -> None:
    db = data.require_catalog()
    st.title("SQL")
    legacy = st.query_params.get("query") == LEGACY_CONSOLE
    mode = state.bound(
        st.segmented_control,
        "Mode",
        options=MODES,
        default=MODES[1] if legacy else MODES[0],
        required=True,
        key="mode",
        what="mode",
    )
    if mode == "Console":
        state.show_notices()
        console(db)
    else:
        saved(db)


if __name__ == "__main__":
    render()
