"""End to end in a real headless browser: serve the app on the demo catalog, open a feature through a deep
link and find its top tokens, follow a table row from Explore to its feature, and screenshot every page
into test-artifacts/screenshots/.

Needs Debian's chromium and the Playwright package (``scripts/install_browser.sh``); without them this
test fails, it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SAE = "demo/blocks.0.hook_resid_pre"
INSTALL_HINT = "run scripts/install_browser.sh (Debian's chromium and the playwright package) first"


def _chromium() -> str:
    path = os.environ.get("LLCAT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(f"no chromium browser at {path}: {INSTALL_HINT}")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served on the demo catalog by `streamlit run`, as a user starts it; its base URL."""
    port = int(os.environ.get("LLCAT_TEST_PORT") or _free_port())  # a fixed port where a machine's rules want one
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "LLCAT_OFFLINE": "1"}  # no Neuronpedia probe from the test machine
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app/main.py",
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
        str(demo_db),
    ]
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start; its log:\n{log.read_text()}")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser_page(served: str):
    chromium = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the playwright package is not installed: {INSTALL_HINT}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 2400})
        finally:
            browser.close()


def _settle(page, *texts: str, charts: int = 0, timeout_ms: int = 30_000) -> None:
    """Wait until every text is on the page, the app has stopped running, and ``charts`` plots are drawn."""
    for text in texts:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "n => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
        arg=charts,
        timeout=timeout_ms,
    )
    page.wait_for_timeout(400)  # let the last plot finish its transition
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def _top_tokens(demo_db: Path, set_name: str) -> tuple[int, list[str]]:
    """The SAE's most enriched feature for a set (a planted one), and its top tokens."""
    with duckdb.connect(str(demo_db), read_only=True) as con:
        feature = con.execute(
            "SELECT e.feature FROM enrichment e JOIN token_sets ts USING (set_id) WHERE e.sae_id = $s"
            " AND ts.name = $n ORDER BY e.d DESC LIMIT 1",
            {"s": SAE, "n": set_name},
        ).fetchone()[0]
        tokens = con.execute(
            "SELECT t.token FROM feature_tokens ft JOIN tokens t USING (token_id) WHERE ft.sae_id = $s"
            " AND ft.feature = $f AND ft.direction = 'top' ORDER BY ft.rank",
            {"s": SAE, "f": feature},
        ).fetchall()
    return feature, [row[0] for row in tokens]


def test_deep_link_pages_and_screenshots(served, browser_page, demo_db):
    page = browser_page
    started = time.monotonic()
    feature, tokens = _top_tokens(demo_db, "colors")
    # The first request of a fresh server is a deep link to a feature.
    page.goto(f"{served}/feature?sae={SAE}&feature={feature}")
    _settle(page, f"Feature {feature}", *(repr(token) for token in tokens[:5]), charts=2)
    assert f"feature={feature}" in page.url
    _shot(page, "feature")

    pages = [
        ("", "overview", ["Logit-lens feature catalog", "Skewness percentiles by layer"], 2),
        ("?plot=Scatter+across+layers", "overview_scatter", ["skewness vs kurtosis across layers"], 1),
        ("explore?min_skewness=1", "explore", ["Explore features", "First"], 2),
        ("enrichment?sets=colors&sets=countries&sets=all_digits", "enrichment", ["Manhattan plot"], 1),
        ("enrichment?view=Set+vs+set", "enrichment_set_vs_set", ["boys_names versus girls_names"], 1),
        (
            "enrichment?view=Across+layers&sets=colors&sets=countries",
            "enrichment_across_layers",
            ["Top features per set across layers"],
            1,
        ),
        ("token_sets?token=red", "token_sets", ["Library", "Features promoting"], 0),
        ("sql?query=high_skew_features&p_layer=1&p_min_skewness=1", "sql", ["Download CSV"], 0),
        ("feature?sae=nope&feature=99999", "feature_notice", ["The link asked for SAE"], 2),
    ]
    for path, name, texts, charts in pages:
        page.goto(f"{served}/{path}")
        _settle(page, *texts, charts=charts)
        _shot(page, name)
    assert {f"{n}.png" for _, n, _, _ in pages} <= {p.name for p in SHOTS.glob("*.png")}

    # A console link only fills the console; its Run button runs it.
    page.goto(f"{served}/sql?mode=Console&sql=SELECT+layer%2C+count(*)+AS+n+FROM+feature_stats+GROUP+BY+layer")
    _settle(page, "One read-only", "Press Run")
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    page.locator(".st-key-run_sql button").click()
    _settle(page, "Download CSV")
    _shot(page, "sql_console")

    # Selecting a row of Explore's table opens that feature (the first column holds the row checkboxes).
    page.goto(f"{served}/explore?sae={SAE}&order=feature")
    _settle(page, "Select a row to open its feature", charts=2)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 + 17)  # second row (feature 1), below the 35 px header
    page.wait_for_url("**/feature?feature=1*", timeout=20_000)
    _settle(page, "Feature 1", charts=2)
    assert time.monotonic() - started < 60


def test_readme_deep_links_in_the_browser(served, browser_page):
    """Each deep link of README.md's "The browser" section, opened in the browser: drawn, no notice, no error."""
    from benchmarks.pages import _DRAWN_PROBE, drawn_seconds
    from tests.app.test_readme_links import NO_DATA, readme_links

    page = browser_page
    page.add_init_script(_DRAWN_PROBE)  # drawn_seconds waits until the page's last element is drawn
    for i, link in enumerate(readme_links()):
        drawn_seconds(page, f"{served}{link}")
        _shot(page, f"readme_link_{i}")
        warnings = page.locator('[data-testid="stAlertContentWarning"]')
        assert warnings.count() == 0, f"{link}: {warnings.first.inner_text()}"
        text = page.locator('[data-testid="stMain"]').inner_text()
        assert not [phrase for phrase in NO_DATA if phrase in text], f"{link}: {text[:500]}"
        drawn = page.locator('[data-testid="stDataFrame"], [data-testid="stPlotlyChart"]').count()
        assert drawn, f"{link} shows no table and no chart"
