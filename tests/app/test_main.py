"""The app's entry point: where the catalog comes from, and a clear message (never a traceback) when it
is missing, not a catalog, empty or being written; and no torch anywhere in the app."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.data import catalog_path
from catalog.connect import open_for_write
from tests.app.conftest import MAIN

PAGES = ["overview", "explore", "enrichment", "feature", "token_sets", "sql_console"]


def test_catalog_path_from_the_command_line_then_the_environment(monkeypatch):
    monkeypatch.setenv("LLCAT_DB", "/from/env.duckdb")
    assert catalog_path(["--db", "/from/argv.duckdb"]) == Path("/from/argv.duckdb")
    assert catalog_path(["--other", "x"]) == Path("/from/env.duckdb")
    monkeypatch.delenv("LLCAT_DB")
    assert catalog_path([]) is None


def test_no_catalog_given(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["app/main.py"])
    at = AppTest.from_file(str(MAIN), default_timeout=30).run()
    assert not at.exception
    assert "No catalog given" in at.info[0].value and "--db PATH" in at.info[0].value


@pytest.mark.parametrize("page", PAGES)
def test_missing_catalog_on_every_page(run_page, tmp_path, page):
    at = run_page(page, db=tmp_path / "nowhere.duckdb")
    assert not at.exception
    assert "does not exist" in at.error[0].value and "make demo" in at.error[0].value


def test_a_file_that_is_not_a_catalog(run_page, tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database at all, but long enough to have a header" * 10)
    at = run_page("explore", db=path)
    assert not at.exception and "not a DuckDB database" in at.error[0].value


@pytest.mark.parametrize("page", PAGES)
def test_empty_catalog_on_every_page(run_page, tmp_path, page):
    path = tmp_path / "empty.duckdb"
    open_for_write(path).close()
    at = run_page(page, db=path)
    assert not at.exception
    assert "holds no SAEs yet" in at.error[0].value and "make ingest" in at.error[0].value


def test_catalog_being_written(run_page, tmp_path, monkeypatch):
    import catalog.connect

    path = tmp_path / "busy.duckdb"
    open_for_write(path).close()
    # The reader's patience is 30 s by default; the test waits 2 s (attribute absent: default wait).
    monkeypatch.setattr(catalog.connect, "READER_MAX_WAIT_S", 2.0, raising=False)
    hold_lock = (
        f"import duckdb, time\ncon = duckdb.connect({str(path)!r})\nprint('locked', flush=True)\ntime.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold_lock], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        at = run_page("overview", db=path, timeout=90)
        assert not at.exception
        assert "being written right now" in at.warning[0].value and str(path) in at.warning[0].value
        assert time.monotonic() - started < 80
    finally:
        holder.kill()
        holder.wait()


def test_the_app_imports_no_torch_and_no_ingest():
    modules = ["app.main", "app.data", "app.plots", "app.state"] + [f"app.views.{page}" for page in PAGES]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ingest', 'transformer_lens'))\n"
        "print(','.join(bad))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
