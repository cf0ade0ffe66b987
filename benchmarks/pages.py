"""``make bench``: how long every page takes, on the server and in a real browser.

    python -m benchmarks.pages --db /tmp/bench.duckdb     # builds the full-size catalog there if missing
    python -m benchmarks.pages --db demo.duckdb           # any catalog: the views adapt to its SAEs and sets
    python -m benchmarks.pages --db demo.duckdb --browser-only --url http://localhost:8501   # a running app

Server: a render through AppTest from a cold query cache in a warm process (what a user meets opening a
view the server has not shown before), best of two tries. Target: under 2 s on the full-size synthetic
catalog (13 SAEs x 24,576 features, 50,257 tokens, 150 token sets: tests/synthetic_catalog.py).

Browser: the app served by ``streamlit run`` and opened in headless Chromium (Debian's ``chromium`` with
Playwright, as the end-to-end test), timed from navigation until the page's last element is drawn: the
script has finished (no running indicator), no element is still a loading skeleton, and every plotly
chart has drawn its SVG. "first" is the first time the view is opened (the server's query cache cold for
it, the browser's HTTP cache warm from an earlier page, as for a person following a link in an open
tab); "again" is the median of three more loads. Target: every page under 1.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from app.state import PAGES as URL_PATHS
from tests.browser_support import CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "app" / "main.py"
BUDGET_S = 2.0
BROWSER_BUDGET_S = 1.5
PREFERRED_SAE = "bench-res-jb/blocks.8.hook_resid_pre"
PREFERRED_FEATURE = 14215
# Recorded in the page from its first byte: the moment the page last became "drawn" (script finished,
# no skeleton left, every plotly chart has its SVG, a title on the page), or null while it is not.
_DRAWN_PROBE = """
window.__llcatDrawn = null;
const drawnNow = () => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || !main.querySelector('h1')) return false;
  if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  return Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    .every(chart => chart.querySelector('.main-svg'));
};
new MutationObserver(() => {
  const drawn = drawnNow();
  if (drawn && window.__llcatDrawn === null) window.__llcatDrawn = performance.now();
  if (!drawn) window.__llcatDrawn = null;
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-testid']});
"""
QUIET_MS = 1500  # the page must stay drawn this long (not counted) before its time is taken


View = tuple[str, dict[str, str]]


def views(db: Path) -> tuple[list[View], View]:
    """The benchmarked views, with an SAE, feature and sets that the catalog holds; and a view to warm up on."""
    from catalog.api import Catalog

    catalog = Catalog(str(db))
    saes = catalog.run("saes").frame
    sets = set(catalog.run("token_sets").frame["name"])
    row = saes[saes["sae_id"] == PREFERRED_SAE]
    row = (row if len(row) else saes).iloc[0]
    sae, d_sae = str(row["sae_id"]), int(row["d_sae"])
    feature = PREFERRED_FEATURE if PREFERRED_FEATURE < d_sae else d_sae // 10
    token_set = "boys_names" if "boys_names" in sets else sorted(sets)[0]
    warm_up = ("feature", {"sae": sae, "feature": str(feature + 1)})
    return [
        ("overview", {}),
        ("explore", {}),
        ("explore", {"set": token_set, "min_score": "0.1"}),
        ("enrichment", {"sae": sae}),
        ("enrichment", {"sae": sae, "view": "Set vs set"}),
        ("enrichment", {"view": "Across layers"}),
        ("feature", {"sae": sae, "feature": str(feature)}),
        ("token_sets", {}),
        ("token_sets", {"token": " Paris"}),
        ("sql_console", {"query": "top_features_for_set", "p_token_set": token_set}),
    ], warm_up


def label(query: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in query.items()) or "default view"


# -- on the server -------------------------------------------------------------------------


def render_seconds(page: str, query: dict[str, str]) -> float:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(MAIN), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()  # registers the pages and warms imports; the timed run starts from a cold cache
    if page != "overview":
        at.switch_page(f"views/{page}.py")
    st.cache_data.clear()
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    problems = [e.value for e in (*at.exception, *at.error)]
    if problems:
        raise RuntimeError(f"page {page} {query} failed: {problems}")
    return seconds


def bench_server(plan: list[View]) -> float:
    worst = 0.0
    for page, query in plan:
        seconds = min(render_seconds(page, query) for _ in range(2))
        worst = max(worst, seconds)
        print(
            f"server  {page:12s} {label(query):45s} {seconds:6.2f} s  "
            f"({seconds / BUDGET_S:4.2f} of the {BUDGET_S:.0f} s budget)",
            flush=True,
        )
    print(f"server: slowest page {worst:.2f} s (target < {BUDGET_S:.0f} s: {'met' if worst < BUDGET_S else 'MISSED'})")
    return worst


# -- in the browser ------------------------------------------------------------------------


@contextlib.contextmanager
def served(db: Path, port: int | None = None) -> Iterator[str]:
    """``streamlit run app/main.py`` on ``db``, as a user starts it; yields its base URL."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(MAIN),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--",
        "--db",
        str(db),
    ]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=1).read() == b"ok":
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def chromium_path() -> str:
    path = os.environ.get("LLCAT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(f"no chromium at {path}: run scripts/install_browser.sh (or pass --no-browser)")
    return path


def url_of(base: str, page: str, query: dict[str, str]) -> str:
    import urllib.parse

    return f"{base}/{URL_PATHS[page]}" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def drawn_seconds(tab, url: str, timeout_s: float = 60) -> float:
    """Open ``url`` in ``tab`` and return the seconds from navigation until the page was drawn."""
    tab.goto(url)
    tab.wait_for_function(
        f"() => window.__llcatDrawn !== null && performance.now() - window.__llcatDrawn > {QUIET_MS}",
        timeout=timeout_s * 1000,
        polling=100,
    )
    if tab.locator('[data-testid="stException"]').count():
        raise RuntimeError(f"{url} raised: {tab.locator('[data-testid=stException]').first.inner_text()[:300]}")
    return tab.evaluate("window.__llcatDrawn") / 1000  # performance.now() counts from the navigation


def bench_browser(base: str, plan: list[View], warm_up: View, repeats: int = 3) -> float:
    from playwright.sync_api import sync_playwright

    worst = 0.0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.add_init_script(_DRAWN_PROBE)
            # A person with the app open: the browser holds its scripts (plotly's too), the server has read
            # the SAE list; the views below are then opened for the first time, and again.
            drawn_seconds(tab, url_of(base, *warm_up))
            for page, query in plan:
                url = url_of(base, page, query)
                first = drawn_seconds(tab, url)
                again = statistics.median(drawn_seconds(tab, url) for _ in range(repeats))
                slowest = max(first, again)
                worst = max(worst, slowest)
                print(
                    f"browser {page:12s} {label(query):45s} first {first:5.2f} s  again {again:5.2f} s  "
                    f"({slowest / BROWSER_BUDGET_S:4.2f} of the {BROWSER_BUDGET_S} s budget)",
                    flush=True,
                )
            fresh = browser.new_page(viewport={"width": 1400, "height": 1000})  # its own, empty HTTP cache
            fresh.add_init_script(_DRAWN_PROBE)
            seconds = drawn_seconds(fresh, url_of(base, "overview", {}))
            print(
                f"browser overview     in a fresh browser, nothing cached in it      {seconds:5.2f} s  "
                f"(not held to the budget: mostly Streamlit's and plotly's own scripts)",
                flush=True,
            )
        finally:
            browser.close()
    print(
        f"browser: slowest page {worst:.2f} s "
        f"(target < {BROWSER_BUDGET_S} s: {'met' if worst < BROWSER_BUDGET_S else 'MISSED'})"
    )
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pages", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("/tmp/llcat-bench.duckdb"),
        help="catalog to benchmark (the full-size synthetic one is built there if missing)",
    )
    parser.add_argument("--no-browser", action="store_true", help="only the server-side render times")
    parser.add_argument("--browser-only", action="store_true", help="only the real-browser times")
    parser.add_argument("--url", help="time an app already served at this URL (on --db) instead of starting one")
    parser.add_argument("--port", type=int, help="port to serve the app on (default: any free one)")
    args = parser.parse_args(argv)
    if not args.db.exists():
        from tests.synthetic_catalog import build_bench_catalog

        build_bench_catalog(args.db)
    os.environ["LLCAT_DB"] = str(args.db)
    os.environ["LLCAT_OFFLINE"] = "1"  # the Neuronpedia probe asks the network; a benchmark must not
    plan, warm_up = views(args.db)
    if not args.browser_only:
        bench_server(plan)
    if not args.no_browser:
        if args.url:
            bench_browser(args.url.rstrip("/"), plan, warm_up)
        else:
            with served(args.db, args.port) as base:
                bench_browser(base, plan, warm_up)
    return 0


if __name__ == "__main__":
    sys.exit(main())
