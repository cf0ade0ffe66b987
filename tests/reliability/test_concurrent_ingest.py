"""Browsing while an ingest writes (issue #6, item 1).

A real `python -m ingest run` writes several SAEs (one transaction each) into a catalog while a
second process reads it in a tight loop through the app's connection path. Every read must see
each SAE whole or not at all, every read must get its answer (after the lock-retry's "being
updated, retrying" at worst), and the writer must finish although a reader keeps taking the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ingest.config import IngestConfig
from ingest.runner import IngestRunner
from tests.reliability.support import REPO, ingest_args, make_sae_folders, present_saes, start_ingest, subprocess_env

TOP_K = 5
SIZES = [64, 96, 64, 96]  # the first is ingested before the reader starts


@pytest.fixture(scope="module")
def seeded_catalog(tmp_path_factory, tiny_gpt2):
    """A catalog that already holds the model and one SAE, so every read has something to check."""
    root = tmp_path_factory.mktemp("concurrent")
    folders = make_sae_folders(root / "saes", SIZES)
    db = root / "catalog.duckdb"
    IngestRunner(
        IngestConfig(
            db=db,
            model=str(tiny_gpt2),
            sae_dirs=[folders[0].path],
            device="cpu",
            chunk_size=64,
            top_k=TOP_K,
            enrichment=False,
        )
    ).run()
    return db, folders


def test_readers_never_see_part_of_an_sae_and_the_writer_never_fails(seeded_catalog, tiny_gpt2, tmp_path, report):
    db, folders = seeded_catalog
    stop_file = tmp_path / "stop"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.reader_loop",
            "--db",
            str(db),
            "--top-k",
            str(TOP_K),
            "--stop-file",
            str(stop_file),
            "--max-seconds",
            "400",
            "--pause-s",
            "0.0",
        ],
        cwd=REPO,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "ready", reader.stderr.read()
        writer = start_ingest(ingest_args(tiny_gpt2, folders[1:], db, TOP_K))
        try:
            writer_out, writer_err = writer.communicate(timeout=400)
        finally:
            writer.kill()
        time.sleep(0.5)  # a few more reads of the finished catalog
    finally:
        stop_file.touch()
        reader_out, reader_err = reader.communicate(timeout=120)
    reads = json.loads(reader_out.strip().splitlines()[-1])
    writer_waits = writer_err.count("is being updated by another process; retrying")
    summary = (
        f"concurrent reads: {reads['reads']} reads, {reads['succeeded']} succeeded at once, "
        f"{reads['retried']} succeeded after retrying ({reads['retry_messages']} retries), "
        f"{reads['failed']} failed; slowest read {reads['slowest_read_s']} s; SAE counts seen in order "
        f"{reads['sae_counts_seen']}; the writer waited for readers {writer_waits} times"
    )
    report(summary)
    assert writer.returncode == 0, f"writer failed: {writer_err[-3000:]}\n{summary}"
    assert f"{len(folders) - 1} SAEs written" in writer_out, writer_out
    assert reads["failed"] == 0 and reads["errors"] == [], f"{summary}\n{reads['errors']}\n{reader_err[-2000:]}"
    assert reads["partial"] == [], f"a reader saw a partly written SAE: {reads['partial']}\n{summary}"
    assert reads["reads"] >= 20, summary
    seen = reads["sae_counts_seen"]
    assert seen == sorted(seen) and seen[0] >= 1 and seen[-1] == len(folders), f"SAE counts must only grow: {summary}"
    assert len(seen) >= 2, f"the reader never read while the writer was adding SAEs: {summary}"
    assert present_saes(db, TOP_K) == {folder.sae_id for folder in folders}
