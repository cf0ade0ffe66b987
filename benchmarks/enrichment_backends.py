"""Micro benchmark for token-set enrichment (not a test): ``enrichment_scores`` per backend and thread
count against the notebook's method (``benchmarks.enrichment_baseline``).

    python -m benchmarks.enrichment_backends [--features 256] [--sets 150] [--vocab 50257]
                                               [--library loguniform|gpt2like] [--threads 1 2]

Libraries: "loguniform" draws set sizes log-uniform in [10, 30000]; "gpt2like" mimics the
notebook's library (26 disjoint letter sets over 40k tokens, 10 regex-sized sets up to 32k, 36
Zipf-sized POS sets, small word lists). Gaussian logits. Prints ms per feature for each backend
and thread count (best of a few runs: the machine is shared), the notebook baseline on a small
slice, and p-value timings.
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
import torch

from benchmarks.enrichment_baseline import baseline_enrichment
from ingest.analysis.enrichment import SetIndex, enrichment_scores, ks_p_values


def random_library(n_sets: int, vocab_size: int, seed: int = 0) -> list[np.ndarray]:
    """n_sets random token sets, sizes log-uniform in [10, min(30000, V-1)]."""
    rng = np.random.default_rng(seed)
    hi = min(30000, vocab_size - 1)
    sizes = np.exp(rng.uniform(np.log(10), np.log(hi), n_sets)).astype(int)
    return [rng.choice(vocab_size, k, replace=False) for k in sizes]


def gpt2like_library(vocab_size: int, seed: int = 0) -> list[np.ndarray]:
    """~150 sets shaped like the notebook's: letters partition 40k tokens, regex and POS sets
    of realistic sizes, 78 small word lists (sizes scaled to V)."""
    rng = np.random.default_rng(seed)
    V = vocab_size
    scale = V / 50257
    alphabetic = rng.permutation(V)[: int(40000 * scale)]
    letters = np.array_split(alphabetic, np.sort(rng.choice(len(alphabetic), 25, replace=False)))
    regex = [int(k * scale) for k in (32000, 25000, 15000, 8000, 5000, 3000, 2000, 1500, 1000, 500)]
    pos = np.maximum(10, (15000 / np.arange(1, 37) ** 1.1 * scale).astype(int))
    small = np.exp(rng.uniform(np.log(10), np.log(500), 78)).astype(int)
    sizes = [max(1, min(V - 1, int(k))) for k in (*regex, *pos, *small)]
    return [np.sort(s) for s in letters] + [rng.choice(V, k, replace=False) for k in sizes]


def timed(fn, repeat: int = 1) -> float:
    """Best wall time of `repeat` calls, seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _cuda_scores(logits: torch.Tensor, index: SetIndex) -> None:
    enrichment_scores(logits, index)
    torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.enrichment_backends", description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=256, help="features (Gaussian logit rows) scored (default 256)")
    ap.add_argument("--sets", type=int, default=150, help="token sets of the loguniform library (default 150)")
    ap.add_argument("--vocab", type=int, default=50257, help="vocabulary size V (default 50257)")
    ap.add_argument(
        "--baseline-features", type=int, default=8, help="features the notebook baseline scores (default 8)"
    )
    ap.add_argument(
        "--library",
        choices=["loguniform", "gpt2like"],
        default="loguniform",
        help="set sizes log-uniform in [10, 30000], or shaped like the notebook's library",
    )
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts of the numpy backend")
    args = ap.parse_args(argv)
    V, F = args.vocab, args.features
    library = random_library(args.sets, V) if args.library == "loguniform" else gpt2like_library(V)
    t_build = timed(lambda: SetIndex.build(library, V))
    index = SetIndex.build(library, V)
    print(
        f"V={V} sets={index.n_sets} members={int(index.set_sizes.sum())} "
        f"walked={index.member_ids.size} build={t_build * 1e3:.0f} ms"
    )
    logits = torch.randn(F, V, generator=torch.Generator().manual_seed(0))
    for n_threads in args.threads:
        t = timed(functools.partial(enrichment_scores, logits, index, backend="numpy", n_threads=n_threads), repeat=3)
        print(f"numpy, {n_threads} thread(s): {t / F * 1e3:.2f} ms/feature ({F} features)")
    nt = min(F, 32)
    t = timed(lambda: enrichment_scores(logits[:nt], index, backend="torch"), repeat=2)
    print(f"torch on CPU: {t / nt * 1e3:.2f} ms/feature ({nt} features)")
    if torch.cuda.is_available():
        lc = logits.cuda()
        _cuda_scores(lc, index)
        t = timed(lambda: _cuda_scores(lc, index), repeat=3)
        print(f"cuda  : {t / F * 1e3:.3f} ms/feature")
    nb = args.baseline_features
    t = timed(lambda: baseline_enrichment(logits[:nb], library))
    print(f"baseline: {t / nb * 1e3:.1f} ms/feature ({nb} features)")
    d, _ = enrichment_scores(logits, index)
    t = timed(lambda: ks_p_values(d.numpy(), index.set_sizes, V))
    print(f"p-values: {t / d.numel() * 1e6:.2f} us/pair ({d.numel()} pairs, cold cache)")
    t = timed(lambda: ks_p_values(d.numpy(), index.set_sizes, V))
    print(f"p-values: {t / d.numel() * 1e6:.2f} us/pair (warm cache)")


if __name__ == "__main__":
    main()
