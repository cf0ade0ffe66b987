"""End to end in a real headless browser: serve the app on the demo catalog, open a feature through a deep
link and find its top tokens, follow a table row from Explore to its feature, and screenshot every page
into test-artifacts/screenshots/.

Needs Debian's chromium and the Playwright package (``make browser``); without them this test fails, it is
never skipped. The README's own deep links are followed on the server ``make demo`` starts
(tests/test_readme_commands.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.browser_support import SHOTS, browser_page, free_port, screenshot, settle, wait_until_serving

SAE = "demo/blocks.0.hook_resid_pre"
LAUNCHER = Path(sys.executable).with_name("llcat-app")  # the installed command users type


@pytest.fixture(scope="module")
def served(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served on the demo catalog by `llcat-app`, as a user starts it; its base URL."""
    port = int(os.environ.get("LLCAT_TEST_PORT") or free_port())  # a fixed port where a machine's rules want one
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "LLCAT_OFFLINE": "1"}  # no Neuronpedia probe from the test machine
    command = [str(LAUNCHER), "--db", str(demo_db), "--port", str(port), "--address", "127.0.0.1"]
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server, log, timeout_s=60)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def page(served: str):
    with browser_page() as opened:
        yield opened


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


def test_deep_link_pages_and_screenshots(served, page, demo_db):
    started = time.monotonic()
    feature, tokens = _top_tokens(demo_db, "colors")
    # The first request of a fresh server is a deep link to a feature.
    page.goto(f"{served}/feature?sae={SAE}&feature={feature}")
    settle(page, f"Feature {feature}", *(repr(token) for token in tokens[:5]), charts=2)
    assert f"feature={feature}" in page.url
    screenshot(page, "feature")

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
        settle(page, *texts, charts=charts)
        screenshot(page, name)
    assert {f"{n}.png" for _, n, _, _ in pages} <= {p.name for p in SHOTS.glob("*.png")}

    # A console link only fills the console; its Run button runs it.
    page.goto(f"{served}/sql?mode=Console&sql=SELECT+layer%2C+count(*)+AS+n+FROM+feature_stats+GROUP+BY+layer")
    settle(page, "One read-only", "Press Run")
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    page.locator(".st-key-run_sql button").click()
    settle(page, "Download CSV")
    screenshot(page, "sql_console")

    # Selecting a row of Explore's table opens that feature (the first column holds the row checkboxes).
    page.goto(f"{served}/explore?sae={SAE}&order=feature")
    settle(page, "Select a row to open its feature", charts=2)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 + 17)  # second row (feature 1), below the 35 px header
    page.wait_for_url("**/feature?feature=1*", timeout=20_000)
    settle(page, "Feature 1", charts=2)
    assert time.monotonic() - started < 60
