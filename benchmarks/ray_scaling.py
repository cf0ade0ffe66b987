"""``make bench-ray``: the ingest on Ray with 1 and 2 workers on this machine, the single writer's share,
and a projection of ``gemma-scope-2b-pt-res`` on N GPUs from per-feature costs measured here.

    python -m benchmarks.ray_scaling [--saes 4] [--features 1024] [--gemma-features 64]

1. Scaling. The same SAEs (GPT-2-small shaped: d_model 768, 50,257 tokens, the default token set
   library, a flat stand-in null as in ``benchmarks.ingest_layer``), written as SAELens folders and
   ingested through the executors and the single writer (``IngestRunner``'s own ``_write_result``
   path: ``SaePipeline.write``) into a fresh catalog: by the local executor, then by Ray with 1 and 2
   worker processes (one CPU each). Prints wall times, the speed-up from 1 to 2 workers, and the
   writer's share of the wall time with its rows/s and MB/s.
2. Gemma-2-2B shape. ``--gemma-features`` features analysed on this CPU against a random
   ``W_U [2304, 256000]`` with 120 random token sets: seconds per feature for the product alone
   and for everything else (moments, histogram, top tokens, the enrichment's sort), and the Arrow
   bytes one feature writes.
3. Projection. From those costs: the release's 316 SAEs and 35,651,584 features on N GPUs. A GPU's
   per-feature time is projected, not measured: the product at ``--gpu-tflops`` and the rest sped
   up by the ratio of ``--gpu-bandwidth-gbs`` x ``--gpu-efficiency`` to this CPU's measured memory
   bandwidth (conservative: on this CPU the rest is bound by sorting, which a GPU does at memory
   speed). The writer is measured (MB/s of Arrow rows) and does not scale with N: the wall time is
   the longer of the GPUs' compute and the writer's commits, which overlap.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from safetensors.torch import save_file

from benchmarks.ingest_layer import _context, synthetic_layer
from ingest.analysis.enrichment import SetIndex
from ingest.config import IngestConfig
from ingest.executors import Executor, SaeJob
from ingest.executors.local import LocalExecutor
from ingest.executors.ray_executor import WORKER_ENV
from ingest.pipeline import SaePipeline
from ingest.runner import SaeSource, load_source, sae_record
from ingest.sources.sae import FolderSae
from ingest.sources.vocabulary import gpt2_vocabulary
from ingest.token_sets import build_library

GEMMA = {"d_model": 2304, "d_vocab": 256000, "saes": 316, "features": 35_651_584, "n_sets": 120}


def write_sae_folders(root: Path, n_saes: int, W_dec: torch.Tensor) -> list[SaeSource]:
    """``n_saes`` SAELens folders, each with its own rows of the synthetic layer's decoder."""
    sources = []
    d_sae, d_model = W_dec.shape[0] // n_saes, W_dec.shape[1]
    for i in range(n_saes):
        folder = root / f"blocks.{i}.hook_resid_pre"
        folder.mkdir(parents=True)
        cfg = {"d_in": d_model, "d_sae": d_sae, "hook_name": folder.name, "hook_layer": i, "model_name": "bench"}
        (folder / "cfg.json").write_text(json.dumps(cfg))
        rows = W_dec[i * d_sae : (i + 1) * d_sae].contiguous()
        save_file({"W_dec": rows, "W_enc": rows.T.contiguous()}, str(folder / "sae_weights.safetensors"))
        sources.append(SaeSource("bench", folder.name, None, FolderSae(folder)))
    return sources


def plan(sources: list[SaeSource]) -> list[SaeJob]:
    jobs = []
    for source in sources:
        sae = load_source(source)
        jobs.append(SaeJob(sae_record(source, sae, "bench", "bench"), partial(load_source, source), sae.fingerprint))
    return jobs


def timed_run(executor: Executor, jobs: list[SaeJob], pipeline: SaePipeline, W_U: torch.Tensor) -> dict[str, float]:
    """Wall seconds of one run into a fresh catalog, the writer's seconds, rows and Arrow bytes written."""
    figures = {"write_s": 0.0, "rows": 0.0, "bytes": 0.0}
    started = time.perf_counter()
    for record, rows in executor.results(jobs, pipeline, W_U):
        write_started = time.perf_counter()
        pipeline.write(record, rows)
        figures["write_s"] += time.perf_counter() - write_started
        figures["rows"] += sum(table.num_rows for table in rows.values())
        figures["bytes"] += sum(table.nbytes for table in rows.values())
    figures["wall_s"] = time.perf_counter() - started
    return figures


def scaling(args: argparse.Namespace) -> dict[str, float]:
    import ray

    from ingest.executors.ray_executor import RayExecutor  # imports Ray

    vocab = gpt2_vocabulary("bench")
    library = build_library(vocab)
    index = SetIndex.build([s.token_ids for s in library.sets], len(vocab))
    W_U, W_dec = synthetic_layer(args.saes * args.features, len(vocab))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = plan(write_sae_folders(Path(tmp) / "saes", args.saes, W_dec))
        print(
            f"scaling: {args.saes} SAEs x {args.features} features, d_model 768, {len(vocab)} tokens, "
            f"{index.n_sets} token sets, chunk {args.chunk_size}, on {torch.get_num_threads()} torch threads locally"
        )
        runs: list[tuple[str, int]] = [("local", 0), ("ray", 1), ("ray", 2)]
        for name, workers in runs:
            config = IngestConfig(db=Path(tmp) / f"{name}{workers}.duckdb", device="cpu", chunk_size=args.chunk_size)
            pipeline = replace(SaePipeline.from_config(config), enrichment=_context(index, 1024))
            executor: Executor = LocalExecutor()
            if name == "ray":
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
                warm_up_workers(ray, workers)
                executor = RayExecutor(None, "cpu", args.chunk_size, None)
            try:
                figures = timed_run(executor, jobs, pipeline, W_U)
            finally:
                if name == "ray":
                    ray.shutdown()
            label = "local (1 process)" if name == "local" else f"ray, {workers} worker{'s' * (workers > 1)}"
            results[f"{name}{workers}"] = figures["wall_s"]
            print(
                f"  {label:20s} wall {figures['wall_s']:7.1f} s  {args.saes * args.features / figures['wall_s']:7.1f} "
                f"features/s  writer {figures['write_s']:5.2f} s ({100 * figures['write_s'] / figures['wall_s']:4.1f}% "
                f"of wall), {figures['rows'] / figures['write_s']:,.0f} rows/s, "
                f"{figures['bytes'] / 2**20 / figures['write_s']:.0f} MB/s"
            )
            results["writer_mb_s"] = figures["bytes"] / 2**20 / figures["write_s"]
            results["writer_rows_s"] = figures["rows"] / figures["write_s"]
    print(f"  speed-up from 1 to 2 Ray workers: {results['ray1'] / results['ray2']:.2f}x")
    return results


def _import_the_ingest() -> None:
    import ingest.executors.jobs  # noqa: F401 - torch and the analysis, as a task imports them


def warm_up_workers(ray: ModuleType, workers: int) -> None:
    """Start the worker processes (each imports torch) before the clock starts: the figures are the
    steady state of a long run, not Ray's start-up."""
    warm = ray.remote(_import_the_ingest).options(num_cpus=1, runtime_env=WORKER_ENV)
    ray.get([warm.remote() for _ in range(workers)])


def cpu_bandwidth_gbs() -> float:
    """This machine's memory bandwidth as numpy's copy of 512 MB sees it (read + write), best of 3."""
    source = np.ones(2**27, dtype=np.float32)
    target = np.empty_like(source)
    best = min(_timed(lambda: np.copyto(target, source)) for _ in range(3))
    return 2 * source.nbytes / best / 1e9


def _timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def gemma_costs(args: argparse.Namespace) -> dict[str, float]:
    """Seconds per feature (product, rest) and Arrow bytes per feature, at Gemma-2-2B's shape on this CPU."""
    d_model, d_vocab, n_sets = GEMMA["d_model"], GEMMA["d_vocab"], GEMMA["n_sets"]
    generator = torch.Generator().manual_seed(0)
    W_U = torch.randn(d_model, d_vocab, generator=generator) * 0.02
    W_U -= W_U.mean(dim=1, keepdim=True)
    W_dec = torch.randn(args.gemma_features, d_model, generator=generator)
    rng = np.random.default_rng(0)
    sizes = np.clip(rng.lognormal(np.log(200), 1.2, size=n_sets).astype(int), 5, d_vocab // 4)
    index = SetIndex.build([np.sort(rng.choice(d_vocab, size=k, replace=False)) for k in sizes], d_vocab)
    config = IngestConfig(db=Path("unused.duckdb"), device="cpu", chunk_size=args.gemma_chunk)
    pipeline = replace(SaePipeline.from_config(config), enrichment=_context(index, 1024))
    chunk = args.gemma_chunk
    product_s = sum(_timed(lambda s=s: W_dec[s : s + chunk] @ W_U) for s in range(0, args.gemma_features, chunk))
    started = time.perf_counter()
    analysis = pipeline.analyse(W_dec, W_U, label="gemma-shaped features")
    analyse_s = time.perf_counter() - started
    rows = pipeline.tables(analysis, W_dec, None)
    n = args.gemma_features
    costs = {
        "product_s": product_s / n,
        "rest_s": max(analyse_s - product_s, 0.0) / n,
        "bytes": sum(table.nbytes for table in rows.values()) / n,
        "rows": sum(table.num_rows for table in rows.values()) / n,
    }
    flops = 2 * d_model * d_vocab
    print(
        f"gemma-2-2b shape on this CPU ({torch.get_num_threads()} threads), {n} features, {n_sets} sets: "
        f"product {1e3 * costs['product_s']:.1f} ms/feature ({flops / costs['product_s'] / 1e9:.0f} GFLOP/s), "
        f"rest {1e3 * costs['rest_s']:.1f} ms/feature; {costs['rows']:.0f} rows, "
        f"{costs['bytes'] / 1024:.1f} KiB written per feature"
    )
    return costs


def projection(args: argparse.Namespace, costs: dict[str, float], writer_mb_s: float) -> None:
    cpu_bw = cpu_bandwidth_gbs()
    flops = 2 * GEMMA["d_model"] * GEMMA["d_vocab"]
    gpu_product = flops / (args.gpu_tflops * 1e12)
    gpu_rest = costs["rest_s"] * cpu_bw / (args.gpu_bandwidth_gbs * args.gpu_efficiency)
    features = GEMMA["features"]
    writer_s = features * costs["bytes"] / 2**20 / writer_mb_s
    weights_gb = features * GEMMA["d_model"] * 4 * 2 / 1e9  # W_enc and W_dec, float32
    cpu_total = features * (costs["product_s"] + costs["rest_s"])
    print(
        f"projection for gemma-scope-2b-pt-res ({GEMMA['saes']} SAEs, {features:,} features): this CPU alone "
        f"{cpu_total / 86400:.1f} days; per feature on a GPU {1e6 * gpu_product:.0f} us product "
        f"({args.gpu_tflops:.0f} TFLOP/s) + {1e6 * gpu_rest:.0f} us rest ({args.gpu_bandwidth_gbs:.0f} GB/s x "
        f"{args.gpu_efficiency:.2f} vs this CPU's {cpu_bw:.1f} GB/s); writer {writer_s / 3600:.1f} h at "
        f"{writer_mb_s:.0f} MB/s for {features * costs['bytes'] / 1e12:.2f} TB; weights to download {weights_gb:.0f} GB"
    )
    print(
        f"  {'GPUs':>5s} {'compute':>9s} {'wall':>9s} {'GPU-hours':>10s} {'cost':>9s}"
        f"   (at ${args.gpu_hour_usd}/GPU-hour)"
    )
    for n_gpus in args.gpus:
        compute_s = features * (gpu_product + gpu_rest) / n_gpus
        wall_s = max(compute_s, writer_s)  # the writer commits while the GPUs compute; the slower one sets the pace
        gpu_hours = n_gpus * wall_s / 3600
        print(
            f"  {n_gpus:5d} {compute_s / 3600:8.2f}h {wall_s / 3600:8.2f}h {gpu_hours:10.1f} "
            f"{gpu_hours * args.gpu_hour_usd:8.0f}$"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--saes", type=int, default=4, help="SAEs in the scaling runs (default 4)")
    parser.add_argument(
        "--features", type=int, default=1024, help="features per SAE in the scaling runs (default 1024)"
    )
    parser.add_argument("--chunk-size", type=int, default=128, help="features per chunk (default 128, the CPU default)")
    parser.add_argument("--gemma-features", type=int, default=64, help="features measured at Gemma-2-2B's shape")
    parser.add_argument("--gemma-chunk", type=int, default=16, help="features per chunk at Gemma's shape (default 16)")
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 32, 64], help="GPU counts to project")
    parser.add_argument("--gpu-tflops", type=float, default=50.0, help="sustained FP32 matmul TFLOP/s of one GPU")
    parser.add_argument("--gpu-bandwidth-gbs", type=float, default=3350.0, help="one GPU's memory bandwidth, GB/s")
    parser.add_argument(
        "--gpu-efficiency",
        type=float,
        default=1.0,
        help="the rest's GPU speed-up as a fraction of the bandwidth ratio (default 1.0; this CPU's rest is "
        "sort-bound, not bandwidth-bound, so a GPU likely does better: the projection leans slow)",
    )
    parser.add_argument("--gpu-hour-usd", type=float, default=2.5, help="price of one GPU-hour")
    parser.add_argument("--skip-scaling", action="store_true", help="only the Gemma-shape costs and the projection")
    parser.add_argument(
        "--writer-mb-s", type=float, default=None, help="writer MB/s to project with (with --skip-scaling)"
    )
    args = parser.parse_args(argv)
    writer_mb_s = args.writer_mb_s
    if not args.skip_scaling:
        writer_mb_s = scaling(args)["writer_mb_s"]
    if writer_mb_s is None:
        parser.error("--skip-scaling needs --writer-mb-s (the scaling runs measure it otherwise)")
    projection(args, gemma_costs(args), writer_mb_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
