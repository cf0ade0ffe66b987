"""Crash safety (issue #6, item 2): SIGKILL an ingest while it writes, several times, then re-run.

One catalog goes through five kills of a real ingest process: three at exact points of the writes
(inside the model's transaction, inside an SAE's transaction, and after an SAE's commit but before
its checkpoint, which leaves DuckDB's write-ahead log behind) and two after seeded random delays.
After every kill the catalog must open and hold each SAE whole or not at all; the final re-run must
write exactly the SAEs that are missing and skip the others.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pytest
import torch

from ingest.cli import main as cli_main
from ingest.config import IngestConfig
from ingest.runner import IngestRunner
from tests.builders import old_cfg, random_decoder, write_sae_folder
from tests.ingest.catalog_snapshot import snapshot
from tests.reliability.support import REPO, ingest_args, make_sae_folders, present_saes, start_ingest

TOP_K = 4
SIZES = [64, 96, 64, 256, 256]  # the last two take seconds to analyse: the random kill lands among them
PAUSE_SCRIPT = str(REPO / "tests" / "reliability" / "ingest_with_pause.py")
SEED = int(os.environ.get("RELIABILITY_SEED", "20260611"))  # set it to explore other kill points


class Child:
    """An ingest child process whose stdout lines are collected as they come."""

    def __init__(self, args: list[str], script: str | None = None) -> None:
        self.process = start_ingest(args, script)
        self.lines: list[str] = []
        self.errors: list[str] = []  # stderr, drained so that a full pipe never blocks the child
        self._readers = [
            threading.Thread(target=self._read, args=(stream, into), daemon=True)
            for stream, into in ((self.process.stdout, self.lines), (self.process.stderr, self.errors))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_for(self, text: str, count: int = 1, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while sum(text in line for line in self.lines + self.errors) < count:  # progress lines are on stderr
            if self.process.poll() is not None:
                for reader in self._readers:
                    reader.join(timeout=5)
                if sum(text in line for line in self.lines + self.errors) >= count:
                    return
                pytest.fail(
                    f"ingest exited ({self.process.returncode}) before printing {text!r}: "
                    f"{self.lines[-5:]}\n" + "\n".join(self.errors[-20:])
                )
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"ingest did not print {text!r} within {timeout_s} s: {self.lines[-5:]}")
            time.sleep(0.02)

    def kill(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)
        for reader in self._readers:
            reader.join(timeout=5)
        return self.process.returncode


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_sae_folders(tmp_path_factory.mktemp("crash-saes"), SIZES, seed=10)


def test_sigkill_at_any_point_leaves_every_sae_whole_or_absent(folders, tiny_gpt2, tmp_path, report):
    db = tmp_path / "catalog.duckdb"
    wal = Path(f"{db}.wal")
    args = ingest_args(tiny_gpt2, folders, db, TOP_K)
    ids = [folder.sae_id for folder in folders]
    rng = random.Random(SEED)
    log = []

    def kill_at(point: str, occurrence: int) -> set[str]:
        child = Child([point, str(occurrence), *args], PAUSE_SCRIPT)
        child.wait_for(f"PAUSED {point}")
        assert child.kill() == -signal.SIGKILL
        log.append(f"killed inside the writes at {point} #{occurrence}")
        return present_saes(db, TOP_K)

    # 1. Inside the model's transaction: the model is absent, and so is everything else.
    assert kill_at("model-mid", 1) == set()
    # 2. Inside the second SAE's transaction (after its saes and features rows): the first SAE is
    #    whole, the second absent.
    assert kill_at("sae-mid", 2) == {ids[0]}
    # 3. After the next run's second commit, before the checkpoint: the commit lives only in the
    #    write-ahead log, and opening the catalog must replay it.
    killed_after_commit = kill_at("sae-committed", 2)
    assert wal.exists() and wal.stat().st_size > 0, "expected DuckDB's write-ahead log to be left behind"
    assert killed_after_commit == set(ids[:3])

    # 4-5. Plain `python -m ingest run`, killed after seeded random delays: once while it computes and
    #    writes the remaining SAEs (timed from its last "skipped" line), once early in its start-up.
    #    The delay runs from a random one of two anchors: the start of the fourth SAE (its last skip
    #    line) or the start of the fifth (the fourth's "written" line), so that it lands in an
    #    analysis or a write whatever the machine's speed.
    child = Child(args)
    anchor = rng.choice([("already in the catalog", 3), (f"{ids[3]}: {SIZES[3]} features written", 1)])
    child.wait_for(*anchor)
    delay = rng.uniform(0.0, 0.8)
    time.sleep(delay)
    child.kill()
    after_random = present_saes(db, TOP_K)
    assert set(ids[:3]) <= after_random
    log.append(f"killed {delay:.2f} s after {anchor[0]!r}: SAEs present {len(after_random)}/{len(ids)}")
    child = Child(args)
    delay = rng.uniform(1.0, 6.0)
    time.sleep(delay)
    child.kill()
    after_early = present_saes(db, TOP_K)
    assert after_random <= after_early
    log.append(
        f"killed {delay:.2f} s after start (printed {child.lines[-1:] or 'nothing'}): "
        f"SAEs present {len(after_early)}/{len(ids)}"
    )

    # The re-run writes exactly the missing SAEs, in order, and skips the present ones.
    summary = IngestRunner(
        IngestConfig(
            db=db,
            model=str(tiny_gpt2),
            sae_dirs=[f.path for f in folders],
            device="cpu",
            chunk_size=64,
            top_k=TOP_K,
            enrichment=False,
        )
    ).run()
    missing = [sae_id for sae_id in ids if sae_id not in after_early]
    assert summary.written == missing
    assert summary.skipped == [sae_id for sae_id in ids if sae_id in after_early]
    assert present_saes(db, TOP_K) == set(ids)
    assert not wal.exists()
    report(
        f"crash test (seed {SEED}): "
        + "; ".join(log)
        + f"; re-run wrote {len(missing)} and skipped {len(summary.skipped)}"
    )


# --- A full disk -------------------------------------------------------------------------------

FULL_DISK_FREE = 64 * 1024  # room for the schema check on opening, not for a 256-feature SAE's commit


@pytest.fixture(scope="module")
def base_catalog(tmp_path_factory, tiny_gpt2, folders):
    """A catalog holding the model and the first SAE."""
    db = tmp_path_factory.mktemp("crash-base") / "base.duckdb"
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
    return db


def mount_tmpfs(folder: Path, size_bytes: int) -> bool:
    """Mount a small tmpfs (needs root with CAP_SYS_ADMIN); False where that is not allowed."""
    if os.environ.get("RELIABILITY_FULL_DISK") == "rlimit" or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def without_runs(state: dict) -> dict:
    return {table: value for table, value in state.items() if table != "runs"}


def test_full_disk_ends_in_a_clear_error_and_leaves_the_catalog_whole(
    base_catalog, folders, tiny_gpt2, tmp_path, capsys, report
):
    """Where a tmpfs can be mounted (root), the catalog sits on one that is nearly full; elsewhere
    RLIMIT_FSIZE limits the files an ingest child may write (EFBIG, the same failure path)."""
    mount = tmp_path / "small-disk"
    size = base_catalog.stat().st_size + (16 << 20)  # freed, the room a re-run needs: its WAL and new blocks
    if not mount_tmpfs(mount, size):
        return full_disk_by_file_size_limit(folders, tiny_gpt2, tmp_path, capsys, report)
    try:
        db = mount / "catalog.duckdb"
        shutil.copy(base_catalog, db)
        stats = os.statvfs(mount)
        (mount / "filler").write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - FULL_DISK_FREE))
        before = snapshot(db)
        status = cli_main(ingest_args(tiny_gpt2, [folders[3]], db, TOP_K))
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert status == 2, error
        assert (
            error.startswith(f"error: catalog {db} could not be read or written") and "No space left on device" in error
        ), error
        assert "the disk is full" in error and "free space or choose another --db" in error, error
        assert without_runs(snapshot(db)) == without_runs(before)  # opens on the still-full disk, nothing half-written
        assert present_saes(db, TOP_K) == {folders[0].sae_id}
        (mount / "filler").unlink()
        assert cli_main(ingest_args(tiny_gpt2, [folders[3]], db, TOP_K)) == 0
        assert present_saes(db, TOP_K) == {folders[0].sae_id, folders[3].sae_id}
        report(f"full disk (tmpfs, {FULL_DISK_FREE} bytes free): {error}")
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def full_disk_by_file_size_limit(folders, tiny_gpt2, tmp_path, capsys, report) -> None:
    """A fresh catalog and a 2 MB file size limit: the schema fits, the model's 50,257 tokens do not."""
    db = tmp_path / "limited.duckdb"
    limit = 12288 + 8 * 262144  # DuckDB's header plus eight 256 kB blocks

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    child = start_ingest(ingest_args(tiny_gpt2, [folders[3]], db, TOP_K), preexec_fn=limit_file_size)
    _, err = child.communicate(timeout=300)
    error = err.strip().splitlines()[-1]
    assert child.returncode == 2, err[-3000:]
    assert error.startswith(f"error: catalog {db} could not be read or written") and "File too large" in error, error
    assert "the disk is full (or a file size limit was hit)" in error, error
    assert present_saes(db, TOP_K) == set()
    assert snapshot(db)["models"][0] == 0 and snapshot(db)["tokens"][0] == 0
    assert cli_main(ingest_args(tiny_gpt2, [folders[3]], db, TOP_K)) == 0
    assert present_saes(db, TOP_K) == {folders[3].sae_id}
    report(f"full disk (RLIMIT_FSIZE {limit} bytes; no tmpfs here): {error}")


# --- An interrupted hub download ----------------------------------------------------------------

RELEASE_SAES = ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"]


@pytest.fixture(scope="module")
def fake_hub(tmp_path_factory):
    """The files of two SAEs of gpt2-small-res-jb as the hub would serve them (d_in 32, for the tiny model)."""
    root = tmp_path_factory.mktemp("fake-hub")
    for layer, sae_id in enumerate(RELEASE_SAES):
        write_sae_folder(
            root / sae_id,
            random_decoder(32, 32, seed=40 + layer),
            old_cfg(32, 32, sae_id, layer),
            log10_density=torch.linspace(-8, -1, 32),
        )
    return root


def serve_from(fake_hub: Path, cache: Path, fail: tuple[str, Exception] | None = None, truncate: str | None = None):
    """A stand-in for `huggingface_hub.hf_hub_download`: copies into `cache` like the real one, and
    for the file named in `fail` writes half of it and raises, as a dropped connection would."""

    def hf_hub_download(repo_id: str, filename: str, revision: str | None = None, **kwargs) -> str:
        assert repo_id == "jbloom/GPT2-Small-SAEs-Reformatted"
        source, target = fake_hub / filename, cache / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        data = source.read_bytes()
        if fail is not None and filename == fail[0]:
            (target.parent / (target.name + ".incomplete")).write_bytes(data[: len(data) // 2])
            raise fail[1]
        target.write_bytes(data[: len(data) // 2] if filename == truncate else data)
        return str(target)

    return hf_hub_download


@pytest.mark.parametrize("case", ["dropped-connection", "unreachable-for-sparsity", "truncated-weights", "complete"])
def test_interrupted_hub_download_changes_nothing(
    case, base_catalog, fake_hub, tiny_gpt2, tmp_path, monkeypatch, capsys
):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    import ingest.sources.hub

    weights, sparsity = f"{RELEASE_SAES[1]}/sae_weights.safetensors", f"{RELEASE_SAES[1]}/sparsity.safetensors"
    fail, truncate, expected = {
        "dropped-connection": (
            (weights, ConnectionError("Connection reset by peer")),
            None,
            f"could not download {weights} (SAE {RELEASE_SAES[1]!r} of release 'gpt2-small-res-jb')",
        ),
        # huggingface_hub says LocalEntryNotFoundError when the hub is unreachable and the file is not
        # cached; that is a failed download, not "this SAE has no sparsity file".
        "unreachable-for-sparsity": (
            (sparsity, LocalEntryNotFoundError("An error happened while trying to locate the file")),
            None,
            f"could not download {sparsity}",
        ),
        "truncated-weights": (None, weights, "sae_weights.safetensors could not be read as safetensors"),
        "complete": (None, None, None),
    }[case]
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", serve_from(fake_hub, tmp_path / "cache", fail, truncate))
    # The stand-in hub answers, so the run's reachability check (one request to the real hub) passes.
    monkeypatch.setattr(ingest.sources.hub, "hub_unreachable_reason", lambda *args, **kwargs: None)
    db = tmp_path / "catalog.duckdb"
    shutil.copy(base_catalog, db)
    before = snapshot(db)
    args = [
        "run",
        "--release",
        "gpt2-small-res-jb",
        "--model",
        str(tiny_gpt2),
        "--model-name",
        "tiny-gpt2",
        "--db",
        str(db),
        "--device",
        "cpu",
        "--no-enrichment",
        "--top-k",
        str(TOP_K),
    ]
    for sae_id in RELEASE_SAES:
        args += ["--sae-id", sae_id]
    status = cli_main(args)
    err = capsys.readouterr().err.strip().splitlines()
    if expected is None:
        assert status == 0, err[-3:]
        assert present_saes(db, TOP_K) == present_saes(base_catalog, TOP_K) | {
            f"gpt2-small-res-jb/{sae_id}" for sae_id in RELEASE_SAES
        }
        con = duckdb.connect(str(db), read_only=True)
        stored = con.execute(
            "SELECT sae_id, neuronpedia_id, has_sparsity FROM saes WHERE release = 'gpt2-small-res-jb' ORDER BY sae_id"
        ).fetchall()
        con.close()
        assert stored == [
            (f"gpt2-small-res-jb/{sae_id}", f"gpt2-small/{layer}-res-jb", True)
            for layer, sae_id in enumerate(RELEASE_SAES)
        ]
        return
    assert status == 2 and err[-1].startswith("error: ") and expected in err[-1], err[-3:]
    assert snapshot(db) == before  # not even a runs row: every SAE is fetched and checked before any write
