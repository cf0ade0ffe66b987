"""Session-wide fixtures: data made in code once per test session."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

REPORTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "reports"

SHARED_NLTK_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "nltk_data"
if "NLTK_DATA" not in os.environ and SHARED_NLTK_DATA.is_dir():
    os.environ["NLTK_DATA"] = str(SHARED_NLTK_DATA)


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.builders import write_tiny_gpt2

    return write_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2", d_model=32)


@pytest.fixture(scope="session")
def gpt2_vocab():
    from ingest.sources.vocabulary import gpt2_vocabulary

    return gpt2_vocabulary("gpt2-small")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo catalog, built once per session through the real ingest path (read it, don't write it)."""
    from ingest.config import IngestConfig
    from ingest.demo_catalog import build_demo_catalog

    root = tmp_path_factory.mktemp("demo")
    db_path = root / "demo.duckdb"
    build_demo_catalog(IngestConfig(db=db_path, device="cpu"), cache_dir=root / "cache")
    return db_path


@pytest.fixture
def report(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture) -> Callable[[str], None]:
    """Keep a test's findings (attempt tables, fault outcomes) in test-artifacts/reports/<test>.txt.

    They are shown on the terminal only with ``pytest -v``: a green run stays quiet, although the
    tables name hostile inputs (``DROP TABLE``, ``/etc/passwd``) and provoked faults (a full disk).
    """
    path = REPORTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120] + ".txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("", encoding="utf-8")

    def write(text: str) -> None:
        with path.open("a", encoding="utf-8") as out:
            out.write(text.strip("\n") + "\n")
        if request.config.get_verbosity() > 0:
            with capsys.disabled():
                print(f"\n{text.strip(chr(10))}")

    return write


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every test must run on every CI machine."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {skipped} test(s) were skipped; every test must run in CI", red=True)
        session.exitstatus = 1
