"""The app's only data access: thin cached wrappers over the catalog's read API.

Every value a user types reaches SQL as a bound parameter of a saved query (``catalog.queries``
binds them) or as the console's own sandboxed statement; nothing here formats values into SQL.
Results are cached for ``TTL_S`` seconds and keyed by the catalog file's modification times as
well, so rows written by a finished ingest show up on the next rerun rather than after the TTL.
Errors are ``CatalogError`` (``CatalogBusyError`` while an ingest holds the file): ``app/main.py``
turns them into messages.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import pandas as pd
import streamlit as st

from app.ordering import in_block_order
from catalog.api import Catalog
from catalog.errors import CatalogError
from catalog.queries import SavedQuery, saved_queries
from catalog.result import QueryResult

TTL_S = 300
ENV_VAR = "LLCAT_DB"
OFFLINE_ENV_VAR = "LLCAT_OFFLINE"  # set to 1 to skip the Neuronpedia reachability probe
Params = tuple[tuple[str, object], ...]


def catalog_path(argv: list[str] | None = None) -> Path | None:
    """The catalog given as ``--db PATH`` after ``--`` on the streamlit command line, else ``$LLCAT_DB``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    value = args.db or os.environ.get(ENV_VAR)
    return Path(value).expanduser() if value else None


@st.cache_resource(show_spinner=False)
def _catalog(path: str) -> Catalog:
    # A Catalog holds only a path (each call opens the file read-only and closes it); constructing
    # it checks that the file exists and is DuckDB. Failures raise and are not cached.
    return Catalog(path)


def _stamp(path: Path) -> tuple[int, int]:
    """Modification times of the file and its WAL: part of every cache key."""

    def mtime(p: Path) -> int:
        try:
            return p.stat().st_mtime_ns
        except OSError:
            return 0

    return mtime(path), mtime(path.with_name(path.name + ".wal"))


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=512)
def _run(path: str, stamp: tuple[int, int], name: str, params: Params, limit: int | None) -> QueryResult:
    # `stamp` is unused here: it is part of the cache key, so a rewritten file is read afresh.
    return _catalog(path).run(name, limit=limit, **dict(params))


def query(db: Path, name: str, limit: int | None = None, **params: object) -> QueryResult:
    """Saved query ``name`` with bound ``params`` (cached)."""
    return _run(str(db), _stamp(db), name, tuple(sorted(params.items())), limit)


def console(db: Path, statement: str, max_rows: int) -> QueryResult:
    """One user SELECT in the catalog's console sandbox (a child process: read-only, no files, capped, timed).

    Deliberately not cached: every distinct statement would keep its result (up to the sandbox's byte
    cap) in the server for everyone; the SQL page keeps only each session's last result.
    """
    return _catalog(str(db)).sql(statement, max_rows=max_rows)


def queries_menu() -> dict[str, SavedQuery]:
    """The public saved queries, by name (parsed once per process by the catalog; the app's own are not listed)."""
    return saved_queries()


# -- the pieces pages share ---------------------------------------------------------------


def require_catalog() -> Path:
    """The catalog every page reads, checked: the first call of every page.

    Stops the page with instructions when none is given; raises CatalogError (shown by app/main.py)
    when the file is missing, not a catalog, written by other code, busy, or holds no SAEs.
    """
    db = catalog_path()
    if db is None:
        st.info(
            f"No catalog given. Start the app with `streamlit run app/main.py -- --db PATH` "
            f"or set `{ENV_VAR}=PATH`; `make demo` builds and serves the demo catalog."
        )
        st.stop()
    _catalog(str(db))
    with st.spinner("Reading the catalog…"):
        if saes(db).empty:
            raise CatalogError(
                f"catalog {db} holds no SAEs yet: add some with `make ingest DB={db}` "
                f"(or build the demo with `make demo`), then reload this page"
            )
    return db


def saes(db: Path) -> pd.DataFrame:
    """The SAEs with their counts (the public ``saes`` query), by model, layer and the hook's place in its block."""
    return in_block_order(query(db, "saes").frame)


def saes_with_provenance(db: Path) -> pd.DataFrame:
    """``saes`` plus where each SAE came from and the run that wrote it (the Overview's table)."""
    return saes(db).merge(query(db, "app_sae_provenance").frame, on="sae_id", how="left")


def models(db: Path) -> pd.DataFrame:
    """The models with provenance and counts."""
    return query(db, "app_models").frame


def token_sets(db: Path) -> pd.DataFrame:
    """The token set library: name, family, size, definition, dropped words."""
    return query(db, "token_sets").frame


def set_names(db: Path) -> list[str]:
    """Token set names, each once, sorted (the same name may exist for several models)."""
    return sorted(set(token_sets(db)["name"]))


def feature_card(db: Path, sae: str, feature: int) -> pd.Series:
    """Everything stored about one feature, as one row (CatalogError if it is not in the SAE)."""
    return query(db, "feature_card", sae=sae, feature=feature).frame.iloc[0]


def set_list(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Token set names as a TOKEN_SETS value: each once, sorted, so that the same sets share a cache entry."""
    return tuple(sorted(set(names)))


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=64)
def _quick_lists(path: str, stamp: tuple[int, int], pairs: tuple[tuple[str, int], ...]) -> list[str]:
    frame = pd.DataFrame(list(pairs), columns=["sae_id", "feature"])
    return _catalog(path).quick_list_urls(frame, name="catalog selection")


def quick_list_urls(db: Path, frame: pd.DataFrame) -> list[str]:
    """Neuronpedia quick-list URLs (150 features each) for a frame's sae_id and feature columns."""
    pairs = tuple((str(s), int(f)) for s, f in zip(frame["sae_id"], frame["feature"], strict=True))
    return _quick_lists(str(db), _stamp(db), pairs)


def _probe_neuronpedia(timeout_s: float = 1.5) -> bool:
    try:
        socket.create_connection(("neuronpedia.org", 443), timeout=timeout_s).close()
    except OSError:
        return False
    return True


@st.cache_resource(ttl=TTL_S, show_spinner=False)
def _neuronpedia_probe() -> Future[bool]:
    # In a thread: offline, name resolution and the connect timeout cost seconds that no page
    # should wait for. Started by app/main.py on every run (a cached no-op after the first).
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="neuronpedia-probe").submit(_probe_neuronpedia)


def start_neuronpedia_probe() -> None:
    """Begin (once per TTL) the background check of whether Neuronpedia answers from here."""
    if os.environ.get(OFFLINE_ENV_VAR, "") in ("", "0"):
        _neuronpedia_probe()


def neuronpedia_reachable(wait_s: float = 0.2) -> bool:
    """Whether neuronpedia.org answered from here (the embed needs it, the link does not); False while the
    background probe has not finished within ``wait_s``, or with ``LLCAT_OFFLINE=1``."""
    if os.environ.get(OFFLINE_ENV_VAR, "") not in ("", "0"):
        return False
    try:
        return _neuronpedia_probe().result(timeout=wait_s)
    except FutureTimeout:
        return False


def clear_caches() -> None:
    """Forget every cached result (the sidebar's reload button)."""
    st.cache_data.clear()
    st.cache_resource.clear()
