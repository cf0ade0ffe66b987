"""``llcat-ingest run --executor ray`` with no cluster given: Ray is started in this process for the run
(and stopped after it). The catalog equals the local run's in every table, bit for bit (run timings
and provenance aside). Enrichment and split SAEs through Ray: ``test_ray_cluster.py``."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")

from ingest.cli import main  # noqa: E402
from tests.ingest.executors.catalog_equality import differences  # noqa: E402


def test_ray_run_started_here_writes_the_local_runs_catalog(faults, tiny_gpt2, tmp_path, capsys):
    assert not ray.is_initialized()
    db = tmp_path / "ray.duckdb"
    assert main(faults.cli_args(db, tiny_gpt2, "--executor", "ray")) == 0
    assert f"{len(faults.folders)} SAEs written, 0 already present" in capsys.readouterr().out
    assert not ray.is_initialized()  # the run stopped the Ray it started
    assert differences(faults.reference, db) == []
