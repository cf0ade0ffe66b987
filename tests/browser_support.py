"""Driving a real headless browser against a served app: Debian's chromium through Playwright.

Without chromium or the playwright package a browser test fails with the fix (``make browser``);
it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
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
INSTALL_HINT = "run `make browser` (Debian's chromium and the playwright package) first"


def chromium_path() -> str:
    path = os.environ.get("LLCAT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(f"no chromium browser at {path}: {INSTALL_HINT}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base_url: str, server: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Poll Streamlit's health endpoint until it answers 'ok'; fail with the server's log otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=1).read() == b"ok":
                return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"the server did not answer on {base_url} (exit status {server.poll()}); its log:\n"
                f"{log.read_text(errors='replace')[-5000:]}"
            )
        time.sleep(0.5)


@contextmanager
def browser_page(width: int = 1400, height: int = 2400) -> Iterator[object]:
    """A fresh Playwright page in headless chromium."""
    chromium = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the playwright package is not installed: {INSTALL_HINT}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def settle(page, *texts: str, charts: int = 0, timeout_ms: int = 30_000) -> None:
    """Wait until every text is on the page, the app's script has finished its run (Streamlit marks
    its root ``data-test-script-state="notRunning"``) and ``charts`` plots are drawn; then check
    that the page shows no exception."""
    for text in texts:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    done = (
        "n => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && document.querySelectorAll('.js-plotly-plot .main-svg').length >= n"
    )
    page.wait_for_function(done, arg=charts, timeout=timeout_ms)
    page.wait_for_timeout(400)  # a page that reruns itself (st.rerun) starts again within this
    page.wait_for_function(done, arg=charts, timeout=timeout_ms)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()


def screenshot(page, name: str) -> Path:
    """Save the page as test-artifacts/screenshots/NAME.png, for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
