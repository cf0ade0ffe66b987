"""The catalog browser: ``streamlit run app/main.py -- --db PATH`` (or ``LLCAT_DB=PATH``).

One file per page under ``app/views/``; every page reads through ``app/data.py``, which reads
through the ``catalog`` package only (no torch, no ingest). A missing, empty or busy catalog, or
any other ``CatalogError`` a page meets, is shown as a message here, never as a traceback.
"""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

# `streamlit run app/main.py` puts app/ on sys.path, not the repository root that holds the
# `app` and `catalog` packages (an editable install also provides them; a bare clone does not).
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402  (after sys.path is set)

from app import data, plots, state  # noqa: E402  (after sys.path is set)
from app.state import PAGES  # noqa: E402  (after sys.path is set)
from catalog.errors import CatalogBusyError, CatalogError  # noqa: E402  (after sys.path is set)

_PAGE_FILES = {  # page name -> (title, icon)
    "overview": ("Overview", ":material/dashboard:"),
    "explore": ("Explore", ":material/scatter_plot:"),
    "enrichment": ("Enrichment", ":material/stacked_bar_chart:"),
    "feature": ("Feature", ":material/neurology:"),
    "token_sets": ("Token sets", ":material/token:"),
    "sql_console": ("SQL", ":material/terminal:"),
}


def pages() -> list[st.Page]:
    here = Path(__file__).parent
    return [
        st.Page(
            here / "views" / f"{name}.py",
            title=title,
            icon=icon,
            url_path=PAGES[name] or None,
            default=name == "overview",
        )
        for name, (title, icon) in _PAGE_FILES.items()
    ]


def sidebar(db: Path) -> None:
    st.sidebar.caption(f"Catalog: `{db}`")
    if st.sidebar.button("Reload data", help="forget cached query results and read the catalog again"):
        data.clear_caches()


# Free text (page widgets, and the saved queries' VARCHAR/TOKEN parameters): "inf" there is text.
_TEXT_KEYS = {"token", "sql", "p_family", "p_text", "p_token", "p_token_sets"}


def drop_non_finite_numbers() -> None:
    """Drop deep-link values like ``inf`` or ``nan`` from every non-text parameter.

    Streamlit parses a bound number box's URL value with float() and then int(), so ``?feature=inf``
    would raise inside the widget instead of falling back to its default as other bad values do.
    """
    for key in list(st.query_params):
        if key in _TEXT_KEYS:
            continue
        values = st.query_params.get_all(key)
        try:
            bad = any(not math.isfinite(float(v)) for v in values)
        except ValueError:
            continue
        if bad:
            del st.query_params[key]
            state.notice(f"The link's {key} **{', '.join(values)}** is not a finite number; it was left out.")


@st.cache_resource(show_spinner=False)
def warm_up_plotly() -> threading.Thread:
    """Load plotly's lazily imported parts in the background, once per server process."""
    thread = threading.Thread(target=plots.warm_up, name="plotly-warm-up", daemon=True)
    thread.start()
    return thread


def main() -> None:
    st.set_page_config(page_title="Logit-lens feature catalog", page_icon=":material/neurology:", layout="wide")
    navigation = st.navigation(pages())
    state.reset_notices()
    drop_non_finite_numbers()
    data.start_neuronpedia_probe()  # in the background, so that no page waits for the network
    warm_up_plotly()
    db = data.catalog_path()
    if db is not None:
        sidebar(db)
    # Every page starts with data.require_catalog(), which stops with a message when no catalog is
    # given and raises CatalogError when it is missing, not a catalog, busy or empty; the page itself
    # always runs, so that navigation keeps working (and AppTest can switch pages) whatever the state.
    try:
        navigation.run()
    except CatalogBusyError as error:
        st.warning(
            f"The catalog is being written right now (an ingest holds it). {error}. Reload the page in a moment."
        )
    except CatalogError as error:
        st.error(str(error))


if __name__ == "__main__":
    main()
