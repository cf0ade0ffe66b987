"""A green ``make test`` is quiet: tables of hostile inputs and provoked faults go to report files.

The sandbox attempt table names ``DROP TABLE`` and ``/etc/passwd``; shown on every green run they
read as alarms. Tests hand such findings to the ``report`` fixture (tests/conftest.py), which keeps
them in ``test-artifacts/reports/<test>.txt`` and shows them on the terminal only with ``-v``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "test-artifacts" / "reports"
FINDING = "[ok ] write SELECT 1; DROP TABLE saes -> refused; read_text('/etc/passwd') -> refused"


def _pytest(test_file: Path, *flags: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest", *flags, str(test_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_a_green_run_keeps_findings_in_a_report_and_shows_them_only_when_verbose(tmp_path):
    test_file = tmp_path / "test_finding.py"
    test_file.write_text(f"def test_hostile_table(report):\n    report({FINDING!r})\n")
    quiet = _pytest(test_file, "-q")
    assert "DROP TABLE" not in quiet and "/etc/passwd" not in quiet, quiet
    assert (REPORTS / "test_hostile_table.txt").read_text() == FINDING + "\n"
    assert FINDING in _pytest(test_file, "-v")


def test_no_test_prints_past_pytests_capture():
    for path in (REPO / "tests").rglob("test_*.py"):
        if path != Path(__file__):
            assert "capsys.disabled()" not in path.read_text(), f"{path} prints past the capture; use report(...)"
