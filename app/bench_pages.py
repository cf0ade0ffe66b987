"""``make bench``: render time of every page on the full-size synthetic catalog of the query
benchmark (13 SAEs x 24,576 features, 50,257 tokens, 150 token sets: catalog/bench_catalog.py).

    python -m app.bench_pages --db /tmp/bench.duckdb     # builds the catalog there if missing

A render is timed from a cold query cache in a warm process (what a user meets opening a view
the server has not shown before), best of two tries. Target: every page under 2 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

MAIN = Path(__file__).resolve().parent / "main.py"
BUDGET_S = 2.0
SAE = "bench-res-jb/blocks.8.hook_resid_pre"
VIEWS = [
    ("overview", {}),
    ("explore", {}),
    ("explore", {"set": "boys_names", "min_score": "0.1"}),
    ("enrichment", {"sae": SAE}),
    ("enrichment", {"sae": SAE, "view": "Set vs set"}),
    ("enrichment", {"view": "Across layers"}),
    ("feature", {"sae": SAE, "feature": "14215"}),
    ("token_sets", {}),
    ("token_sets", {"token": " Paris"}),
    ("sql_console", {"query": "top_features_for_set", "p_token_set": "boys_names"}),
]


def render_seconds(page: str, query: dict[str, str]) -> float:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(MAIN), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()   # registers the pages and warms imports; the timed run starts from a cold cache
    if page != "overview":
        at.switch_page(f"pages/{page}.py")
    st.cache_data.clear()
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    problems = [e.value for e in (*at.exception, *at.error)]
    if problems:
        raise RuntimeError(f"page {page} {query} failed: {problems}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench_pages", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/llcat-bench.duckdb"), help="benchmark catalog (built if missing)")
    args = parser.parse_args(argv)
    if not args.db.exists():
        from catalog.bench_catalog import build_bench_catalog

        build_bench_catalog(args.db)
    os.environ["LLCAT_DB"] = str(args.db)
    os.environ["LLCAT_OFFLINE"] = "1"
    worst = 0.0
    for page, query in VIEWS:
        seconds = min(render_seconds(page, query) for _ in range(2))
        worst = max(worst, seconds)
        label = " ".join(f"{k}={v}" for k, v in query.items()) or "default view"
        print(f"page {page:12s} {label:45s} {seconds:6.2f} s  ({seconds / BUDGET_S:4.2f} of the {BUDGET_S:.0f} s budget)")
    print(f"slowest page {worst:.2f} s (target < {BUDGET_S:.0f} s: {'met' if worst < BUDGET_S else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
