"""``python -m benchmarks.gpu_check``: the CUDA path of the analysis checked against the CPU path.

The ingest computes a chunk's statistics in one of two ways (``ingest.analysis.sae_analysis``): on
CPU each row is sorted once in numpy threads (``row_stage``); on any other device, CUDA included,
whole-chunk torch ops do it (``logit_stats`` and the torch backend of ``enrichment_scores``). CI
has no GPU, so this check runs where one is lent, on a synthetic layer of
``benchmarks.layer_shapes`` with the real set library:

1. **same logits**: one chunk's logits computed once on the CPU, analysed there by the CPU path and,
   copied to the GPU, by the whole-chunk functions there. Top and bottom tokens, histogram counts,
   KS d and direction are integer or order results of the same values, so they must be equal
   exactly; moments are float64 sums in another order, equal to 1e-12 (``column_difference``);
2. **end to end**: the whole analysis (with the reverse token index) on each device, each with its
   own matrix product. cuBLAS and MKL round the products differently (~1e-7 relative), so near-ties
   may swap ranks: the differences are reported, and must stay within loose bounds (columns 1e-4,
   d 1e-2 absolute, top tokens equal for 99% of features).

``--device cpu`` runs the same comparison with the whole-chunk ops on CPU tensors (the code the
GPU runs, on another device): a check of this script, and of the shared code, anywhere.

Exits 1 when a bound is broken, 2 when the device is missing.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from benchmarks.layer_shapes import SHAPES, synthetic_layer, token_sets
from ingest.analysis.enrichment import SetIndex, SetScorer, enrichment_scores
from ingest.analysis.logit_product import LogitProduct
from ingest.analysis.logit_stats import extremes, histogram, inverse_token_norms, moments
from ingest.analysis.sae_analysis import MOMENT_NAMES, SaeAnalysis, analyze_sae
from ingest.analysis.token_index import TokenFeatureIndex

TOP_K = 10
INDEX_K = 2


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.maximum(np.abs(a), np.abs(b))
    return float(np.max(np.abs(a - b) / np.where(scale > 0, scale, 1.0))) if a.size else 0.0


def column_difference(name: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """How far column ``name`` of two analyses differ, on the scale that column lives on: a mean in
    units of its feature's std (means sit near 0 when W_U is centred, so relative differences are
    noise), a skewness absolutely (it crosses 0), every other column relatively."""
    if name.endswith("mean"):
        std = np.maximum(a[name.replace("mean", "std")], np.finfo(np.float64).tiny)
        return float(np.max(np.abs(a[name] - b[name]) / std))
    if name.endswith("skewness"):
        return float(np.max(np.abs(a[name] - b[name])))
    return _relative(a[name], b[name])


class Report:
    """Printed lines, and whether every bound held."""

    def __init__(self) -> None:
        self.ok = True

    def check(self, what: str, value: float, bound: float, unit: str = "") -> None:
        held = value <= bound
        self.ok &= held
        print(f"  {what:58s} {value:11.3g}{unit}  (bound {bound:g}{unit}: {'ok' if held else 'BROKEN'})")


def same_logits(W_dec: torch.Tensor, W_U: torch.Tensor, index: SetIndex, device: str, report: Report) -> None:
    """Part 1: one chunk's logits, computed once, through the CPU path and the GPU's whole-chunk ops."""
    cpu = analyze_sae(W_dec, W_U, torch.device("cpu"), W_dec.shape[0], TOP_K, SetScorer(index), index.n_sets)
    logits_cpu = LogitProduct(W_U)(W_dec)  # the bits the CPU path analysed
    x = logits_cpu.to(device)
    # the CPU path's own inverse norms: a GPU's norm reduction rounds differently, and that is part 2
    inverse_norms = inverse_token_norms(W_U)[None, :].to(device)
    raw, cosine = moments(x), moments(x * inverse_norms)
    ours = {
        prefix + name: getattr(stats, name).cpu().numpy()
        for prefix, stats in (("", raw), ("cos_", cosine))
        for name in MOMENT_NAMES
    }
    worst = max(column_difference(name, cpu.columns, ours) for name in ours)
    print(f"same logits, {W_dec.shape[0]} features: the CPU row path vs whole-chunk ops on {device}")
    report.check("moments (8 columns), max difference (column_difference)", worst, 1e-12)
    hist = histogram(x)
    report.check("histogram cells that differ", float((hist.counts.cpu().numpy() != cpu.hist_counts).sum()), 0)
    report.check(
        "logit_min / logit_max, max absolute difference",
        float(
            max(
                np.abs(hist.low.cpu().numpy() - cpu.columns["logit_min"]).max(),
                np.abs(hist.high.cpu().numpy() - cpu.columns["logit_max"]).max(),
            )
        ),
        0,
    )
    ext = extremes(x, TOP_K)
    id_mismatches = (ext.top_ids.cpu().numpy() != cpu.top_ids).sum() + (
        ext.bottom_ids.cpu().numpy() != cpu.bottom_ids
    ).sum()
    report.check("top and bottom token ids that differ", float(id_mismatches), 0)
    d, direction = enrichment_scores(x, index, backend="torch")
    assert cpu.enrichment_d is not None and cpu.enrichment_direction is not None
    # the catalog stores d as float32, as the CPU path returns it
    d_stored = d.cpu().numpy().astype(np.float32)
    report.check(
        "KS d as stored (float32), max absolute difference", float(np.abs(d_stored - cpu.enrichment_d).max()), 0
    )
    report.check("directions that differ", float((direction.cpu().numpy() != cpu.enrichment_direction).sum()), 0)


def _analysis(
    W_dec: torch.Tensor, W_U: torch.Tensor, index: SetIndex, device: str, chunk_size: int, row_stage: bool
) -> tuple[SaeAnalysis, TokenFeatureIndex, float]:
    token_index = TokenFeatureIndex(W_U.shape[1], INDEX_K)
    started = time.perf_counter()
    result = analyze_sae(
        W_dec,
        W_U,
        torch.device(device),
        chunk_size,
        TOP_K,
        SetScorer(index, backend="numpy" if row_stage else "torch"),
        index.n_sets,
        label=device,
        logit_observer=token_index.fold,
        row_stage=row_stage,
    )
    if device == "cuda":
        torch.cuda.synchronize()  # not needed after the numpy copies, but says what the clock covers
    return result, token_index, time.perf_counter() - started


def end_to_end(W_dec: torch.Tensor, W_U: torch.Tensor, index: SetIndex, device: str, report: Report) -> None:
    """Part 2: each device's whole analysis, its own matrix product included."""
    cpu, cpu_index, cpu_s = _analysis(W_dec, W_U, index, "cpu", 128, row_stage=True)
    gpu, gpu_index, gpu_s = _analysis(W_dec, W_U, index, device, 2048, row_stage=False)
    n = W_dec.shape[0]
    print(
        f"end to end, {n} features: CPU row path {cpu_s:.2f} s, whole-chunk ops on {device} {gpu_s:.2f} s "
        "(its first call included)"
    )
    worst = max(column_difference(name, cpu.columns, gpu.columns) for name in cpu.columns)
    report.check("every features column, max difference (column_difference)", worst, 1e-4)
    report.check(
        "features whose top-10 token ids differ",
        100 * float((gpu.top_ids != cpu.top_ids).any(axis=1).mean()),
        1,
        " %",
    )
    report.check(
        "top-10 logit weights, max absolute difference", float(np.abs(gpu.top_values - cpu.top_values).max()), 1e-4
    )
    report.check(
        "histogram counts moved between bins, % of all tokens",
        100 * float(np.abs(gpu.hist_counts - cpu.hist_counts).sum() / (2 * n * W_U.shape[1])),
        0.01,
        " %",
    )
    assert gpu.enrichment_d is not None and cpu.enrichment_d is not None
    report.check("KS d, max absolute difference", float(np.abs(gpu.enrichment_d - cpu.enrichment_d).max()), 1e-2)
    report.check(
        "reverse token index entries that differ",
        100 * float((gpu_index.top_features != cpu_index.top_features).mean()),
        1,
        " %",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=2048, help="features compared end to end (default 2048)")
    parser.add_argument("--same-logits-features", type=int, default=256, help="features of part 1 (default 256)")
    parser.add_argument(
        "--device", choices=("cuda", "cpu"), default="cuda", help="where the whole-chunk ops run (default cuda)"
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but torch sees no CUDA GPU; run this where one is lent", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"device: {name}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    shape = SHAPES["gpt2"]
    index = SetIndex.build(token_sets(shape), shape.d_vocab)
    W_U, W_dec = synthetic_layer(args.features, shape.d_vocab, d_model=shape.d_model)
    report = Report()
    with torch.no_grad():
        same_logits(W_dec[: args.same_logits_features], W_U, index, args.device, report)
        end_to_end(W_dec, W_U, index, args.device, report)
    print("every bound held" if report.ok else "A BOUND WAS BROKEN")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
