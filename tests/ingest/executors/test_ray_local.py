"""``llcat-ingest run --executor ray`` with no cluster given: Ray is started in this process for the run
(and stopped after it), every SAE split into feature-range tasks, token set enrichment on. The
catalog equals the local run's in every table, bit for bit (run timings and provenance aside)."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")

from ingest.cli import main  # noqa: E402
from tests.ingest.executors.catalog_equality import differences  # noqa: E402


def test_ray_run_started_here_writes_the_local_runs_catalog(enriched, tiny_gpt2, tmp_path, capsys):
    assert not ray.is_initialized()
    db = tmp_path / "ray.duckdb"
    status = main(enriched.cli_args(db, tiny_gpt2, "--executor", "ray", "--split-features", "16"))
    assert status == 0
    assert "2 SAEs written, 0 already present" in capsys.readouterr().out
    assert not ray.is_initialized()  # the run stopped the Ray it started
    assert differences(enriched.reference, db) == []
