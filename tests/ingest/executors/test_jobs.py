"""SAE jobs without Ray: a split SAE equals the unsplit one bit for bit, ranges tile the SAE at chunk
boundaries, a job refuses weights other than those validated, and the local path never imports Ray."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import threading
import types
from functools import partial

import numpy as np
import pyarrow as pa
import pytest
import scipy.stats
import torch

from ingest.analysis.enrichment import SetIndex
from ingest.analysis.ks_pvalues import _INTERPOLANTS, ks_p_values
from ingest.analysis.null import fit_tails
from ingest.cli import main
from ingest.config import IngestConfig
from ingest.enrichment_stage import EnrichmentContext
from ingest.errors import IngestInputError
from ingest.executors import driver_config
from ingest.executors.jobs import (
    SaeJob,
    analyse_range,
    compute_whole,
    feature_ranges,
    finish_split,
    merge_analyses,
    split_alignment,
)
from ingest.executors.local import LocalExecutor
from ingest.executors.ray_executor import RayExecutor, check_reachable, require_ray
from ingest.pipeline import SaePipeline
from ingest.runner import SaeSource, load_source, sae_record
from ingest.sources.sae import FolderSae
from tests.builders import old_cfg, random_decoder, write_sae_folder
from tests.ingest.executors.catalog_equality import column_bits

D_MODEL, D_VOCAB, D_SAE, N_SETS = 32, 3000, 40, 6


def no_catalog():
    raise AssertionError("jobs never open the catalog")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A pipeline scoring N_SETS random token sets against a random W_U, and one SAE job."""
    rng = np.random.default_rng(0)
    W_U = torch.from_numpy(rng.normal(size=(D_MODEL, D_VOCAB)).astype(np.float32))
    members = [np.sort(rng.choice(D_VOCAB, size=size, replace=False)) for size in (5, 12, 40, 90, 300, 1600)]
    index = SetIndex.build(members, D_VOCAB)
    null_sorted = np.sort(rng.uniform(0, 0.2, size=(N_SETS, 200)), axis=1)
    context = EnrichmentContext(
        np.arange(1, N_SETS + 1), [], index, null_sorted, fit_tails(null_sorted, index.set_sizes, D_VOCAB)
    )
    pipeline = SaePipeline(catalog=no_catalog, device=torch.device("cpu"), chunk_size=8, top_k=5, enrichment=context)
    folder = tmp_path_factory.mktemp("job") / "blocks.0.hook_resid_pre"
    decoder = random_decoder(D_SAE, D_MODEL, seed=3)
    write_sae_folder(folder, decoder, old_cfg(D_MODEL, D_SAE), torch.linspace(-10, -1, D_SAE))
    source = SaeSource("local", folder.name, None, FolderSae(folder))
    sae = load_source(source)
    job = SaeJob(sae_record(source, sae, "m", "run"), lambda: load_source(source), sae.fingerprint)
    return pipeline, W_U, job


def assert_tables_identical(first: dict[str, pa.Table], second: dict[str, pa.Table]) -> None:
    assert sorted(first) == sorted(second)
    for name in first:
        assert first[name].column_names == second[name].column_names, name
        for column in first[name].column_names:
            a, b = column_bits(first[name].column(column)), column_bits(second[name].column(column))
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)), f"{name}.{column}"


def test_split_sae_is_bit_identical_to_unsplit_and_q_values_span_the_whole_sae(setup):
    pipeline, W_U, job = setup
    record, whole = compute_whole(job, pipeline, W_U)
    ranges = feature_ranges(D_SAE, 16, split_alignment(pipeline.chunk_size))
    assert ranges == [(0, 16), (16, 32), (32, 40)]
    parts = [analyse_range(job, start, stop, pipeline, W_U) for start, stop in reversed(ranges)]  # any order
    split_record, split = finish_split(job, pipeline, parts)
    assert {"features", "decoder", "feature_tokens", "enrichment", "token_features"} == set(whole)
    assert_tables_identical(whole, split)  # the reverse token index too, merged from the ranges'
    assert (split_record.sae_id, split_record.d_sae, split_record.token_index_k) == (
        record.sae_id,
        record.d_sae,
        record.token_index_k,
    )
    # Benjamini-Hochberg over all D_SAE x N_SETS pairs (scipy), not per range
    enrichment = split["enrichment"].to_pandas()
    assert len(enrichment) == D_SAE * N_SETS
    expected = scipy.stats.false_discovery_control(enrichment["p_calibrated"].to_numpy(), method="bh")
    np.testing.assert_allclose(enrichment["q_value"].to_numpy(), expected, rtol=1e-12)


def test_ranges_start_at_chunk_multiples_and_tile_the_sae():
    assert feature_ranges(40, None, 16) == [(0, 40)]
    assert feature_ranges(40, 40, 16) == [(0, 40)]
    assert feature_ranges(100, 30, 16) == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert feature_ranges(10, 3, 4) == [(0, 4), (4, 8), (8, 10)]
    assert split_alignment(None) == 2048  # a multiple of the CPU (128) and CUDA (2048) default chunks
    assert split_alignment(48) == 48


def test_merge_refuses_ranges_that_do_not_tile_the_sae(setup):
    pipeline, W_U, job = setup
    parts = [analyse_range(job, 0, 8, pipeline, W_U), analyse_range(job, 16, 40, pipeline, W_U)]
    with pytest.raises(ValueError, match=r"feature ranges \[\(0, 8\), \(16, 40\)\] do not tile \[0, 40\)"):
        merge_analyses(parts, D_SAE)


def test_a_job_refuses_weights_other_than_those_validated(setup, tmp_path):
    pipeline, W_U, job = setup
    folder = write_sae_folder(tmp_path / "blocks.0.hook_resid_pre", random_decoder(D_SAE, D_MODEL, seed=4))
    changed = SaeJob(
        job.record, lambda: load_source(SaeSource("local", folder.name, None, FolderSae(folder))), job.fingerprint
    )
    with pytest.raises(IngestInputError) as error:
        compute_whole(changed, pipeline, W_U)
    message = str(error.value)
    assert "SAE local/blocks.0.hook_resid_pre" in message and str(folder) in message
    assert "changed after the run validated it" in message and "nothing of it was written" in message


def test_p_values_do_not_depend_on_what_the_process_computed_before():
    """A split SAE, a re-run and a Ray worker each compute p-values after other ones (or none)."""
    rng = np.random.default_rng(1)
    d = rng.uniform(0, 0.3, size=(24, 8))
    sizes = rng.integers(5, 3000, size=8)
    _INTERPOLANTS.clear()
    fresh = ks_p_values(d, sizes, 50257)
    _INTERPOLANTS.clear()
    ks_p_values(d[::-1][:5], sizes, 50257)  # builds some interpolation cells first, in another batch
    after_others = ks_p_values(d, sizes, 50257)
    in_pieces = np.concatenate([ks_p_values(d[i : i + 7], sizes, 50257) for i in range(0, 24, 7)])
    assert np.array_equal(fresh.view(np.uint64), after_others.view(np.uint64))
    assert np.array_equal(fresh.view(np.uint64), in_pieces.view(np.uint64))
    expected = scipy.stats.kstwo.sf(
        d[:2], np.round(np.minimum(sizes, 50257 - sizes) * np.maximum(sizes, 50257 - sizes) / 50257)
    )
    np.testing.assert_allclose(fresh[:2], expected, atol=1e-11)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"executor": "dask"}, "--executor 'dask' is not one of local, ray"),
        ({"ray_address": "10.0.0.1:6379"}, "--ray-address 10.0.0.1:6379 needs --executor ray"),
        ({"executor": "ray", "split_features": 0}, "--split-features 0 must be a positive number of features"),
    ],
)
def test_bad_executor_options_are_refused(tmp_path, overrides, message):
    with pytest.raises(IngestInputError, match=message):
        IngestConfig(db=tmp_path / "c.duckdb", **overrides)


def test_without_ray_the_ray_executor_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    db = tmp_path / "c.duckdb"
    status = main(["run", "--db", str(db), "--model", "m", "--sae-dir", str(tmp_path), "--executor", "ray"])
    assert status == 2
    assert "--executor ray needs Ray, which is not installed" in capsys.readouterr().err
    with pytest.raises(IngestInputError, match=r"install it with pip install 'logit-lens-catalog\[ray\]'"):
        require_ray()
    assert not db.exists()


def test_a_ray_driver_without_cuda_computes_its_own_part_on_its_best_device(tmp_path):
    """The head of a GPU cluster often has no GPU: the workers get CUDA, the driver its best device."""
    config = IngestConfig(db=tmp_path / "c.duckdb", executor="ray", device="cuda")
    assert driver_config(config).device == ("cuda" if torch.cuda.is_available() else "auto")
    assert config.device == "cuda"  # what the workers are asked for
    local = IngestConfig(db=tmp_path / "c.duckdb", device="cuda")
    assert driver_config(local) is local  # the local run computes here: CUDA absent stays an error
    if not torch.cuda.is_available():
        with pytest.raises(IngestInputError, match="--device cuda was asked for but torch sees no CUDA GPU"):
            SaePipeline.from_config(driver_config(local))


def test_the_local_run_never_imports_ray():
    code = (
        "import sys; import ingest.cli, ingest.runner, ingest.executors, ingest.executors.local;"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_ray_address_where_nothing_listens_is_refused_at_once_and_named():
    """ray.init retries a dead host:port silently for minutes; the executor checks it first."""
    port = _free_port()
    joined: list[str] = []
    fake_ray = types.SimpleNamespace(is_initialized=lambda: False, init=lambda **kw: joined.append(kw["address"]))
    executor = RayExecutor(address=f"127.0.0.1:{port}", device="cpu", chunk_size=None, split_features=None)
    with pytest.raises(IngestInputError) as raised:
        executor._connect(fake_ray)
    message = str(raised.value)
    assert message.startswith(
        f"--ray-address 127.0.0.1:{port}: no Ray cluster answered (nothing answered at 127.0.0.1:{port}"
    )
    assert "start one (`ray start --head`" in message
    assert joined == []


def test_a_listening_ray_address_is_handed_to_ray():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"ray://127.0.0.1:{server.getsockname()[1]}"
        check_reachable(address)  # no error
        joined: list[str] = []
        fake_ray = types.SimpleNamespace(is_initialized=lambda: False, init=lambda **kw: joined.append(kw["address"]))
        assert RayExecutor(address=address, device="cpu", chunk_size=None, split_features=None)._connect(fake_ray)
        assert joined == [address]
    check_reachable("auto")  # Ray's own discovery: not checked here


def _jobs_of(folder_root, seeds: list[int]) -> list[SaeJob]:
    jobs = []
    for seed in seeds:
        folder = folder_root / f"sae{seed}" / "blocks.0.hook_resid_pre"
        write_sae_folder(folder, random_decoder(D_SAE, D_MODEL, seed=seed), old_cfg(D_MODEL, D_SAE))
        source = SaeSource(f"r{seed}", folder.name, None, FolderSae(folder))
        sae = load_source(source)
        jobs.append(SaeJob(sae_record(source, sae, "m", "run"), partial(load_source, source), sae.fingerprint))
    return jobs


def test_the_overlapped_local_executor_yields_what_the_serial_one_does_in_order(setup, tmp_path):
    pipeline, W_U, _ = setup
    jobs = _jobs_of(tmp_path, [11, 12, 13])
    serial = list(LocalExecutor(overlap=False).results(jobs, pipeline, W_U))
    loading = {job.record.sae_id: threading.Event() for job in jobs}
    signalling = [SaeJob(j.record, partial(_signalled_load, j, loading), j.fingerprint) for j in jobs]
    overlapped = []
    for record, rows in LocalExecutor(overlap=True).results(signalling, pipeline, W_U):
        overlapped.append((record, rows))
        if len(overlapped) < len(jobs):  # while the caller holds (writes) this SAE, the next one starts
            assert loading[jobs[len(overlapped)].record.sae_id].wait(timeout=60)
    assert [record.sae_id for record, _ in overlapped] == [job.record.sae_id for job in jobs]
    for (record_a, rows_a), (record_b, rows_b) in zip(serial, overlapped, strict=True):
        assert record_a.sae_id == record_b.sae_id
        assert_tables_identical(rows_a, rows_b)
    assert not any(thread.name.startswith("compute") for thread in threading.enumerate())


def test_the_local_executor_overlaps_on_cuda_only_by_default(setup):
    pipeline, _, _ = setup
    assert LocalExecutor().overlap is None
    assert not LocalExecutor()._overlaps(pipeline)
    assert LocalExecutor()._overlaps(dataclasses.replace(pipeline, device=torch.device("cuda")))


def test_the_overlapped_executor_raises_a_jobs_error_in_its_turn_and_stops_when_closed(setup, tmp_path):
    pipeline, W_U, _ = setup
    good = _jobs_of(tmp_path, [21, 22, 23])
    broken = SaeJob(good[1].record, good[1].load, "0" * 64)  # refused: not the weights validated
    results = LocalExecutor(overlap=True).results([good[0], broken, good[2]], pipeline, W_U)
    assert next(results)[0].sae_id == good[0].record.sae_id
    with pytest.raises(IngestInputError, match="changed after the run validated it"):
        next(results)
    started: list[str] = []
    counting = [SaeJob(j.record, partial(_counted_load, j, started), j.fingerprint) for j in good]
    early = LocalExecutor(overlap=True).results(counting, pipeline, W_U)
    next(early)
    early.close()  # the writer failed: the job in flight finishes, no other starts
    assert started == [good[0].record.sae_id, good[1].record.sae_id]


def _signalled_load(job: SaeJob, loading: dict[str, threading.Event]):
    loading[job.record.sae_id].set()
    return job.load()


def _counted_load(job: SaeJob, started: list[str]):
    started.append(job.record.sae_id)
    return job.load()
