"""The enrichment null, measured: how calibrated p_calibrated is on held-out random directions, and how much
a null matched to the SAE (directions with the covariance of its decoder rows) differs from the sphere.

    python -m benchmarks.null_calibration --db demo.duckdb            # a catalog: every model and SAE in it
    python -m benchmarks.null_calibration --synthetic                 # a GPT-2-shaped synthetic layer

Both print (1) the calibration table: per set family, the fraction of held-out p_calibrated below 0.01,
0.001 and 1e-4 over nominal, on `--held-out` fresh directions the tail fit never saw; and (2) for each SAE,
the two nulls side by side: the median over sets of the KS distance between the sphere's and the matched
null's d, the median |log10| ratio of the features' p_calibrated under the two, and how many pairs each
makes significant (BH q < 0.05) with their overlap.

The synthetic layer has GPT-2 small's shape (d_model 768, the real 50,257-token vocabulary and the full
token set library) and the structure that makes the two nulls differ: an unembedding whose token groups
(the demo's planted sets) share directions, on an anisotropic residual basis (power-law spectrum), and a
decoder whose rows follow another power law, with one planted feature per group.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ingest.analysis.enrichment import SetIndex, enrichment_scores
from ingest.analysis.null import benjamini_hochberg, decoder_matched_directions, fit_tails, null_d_values, p_calibrated
from ingest.calibration import family_table, format_table

D_MODEL = 768


def synthetic_gpt2_layer(n_features: int, seed: int = 0):
    """(W_U [768, 50257], W_dec [n_features, 768], set member ids, families, planted {set index: feature})."""
    from ingest.sources.demo import PLANTED_SETS
    from ingest.sources.vocabulary import gpt2_vocabulary
    from ingest.token_sets import build_library

    vocab = gpt2_vocabulary("gpt2")
    library = build_library(vocab)
    names = [s.name for s in library.sets]
    g = torch.Generator().manual_seed(seed)
    basis_scale = torch.arange(1, D_MODEL + 1, dtype=torch.float32) ** -0.5  # anisotropic residual stream
    W_U = torch.randn(D_MODEL, len(vocab), generator=g) * basis_scale[:, None]
    groups = torch.linalg.qr(torch.randn(D_MODEL, len(PLANTED_SETS), generator=g))[0].T
    for group, name in zip(groups, PLANTED_SETS, strict=True):
        ids = torch.from_numpy(np.array(library[name].token_ids, dtype=np.int64))
        # members sit 4 noise widths (a token's spread along a random direction) out along their group's direction
        W_U[:, ids] += 4.0 * basis_scale.norm() / D_MODEL**0.5 * group[:, None]
    W_U -= W_U.mean(dim=1, keepdim=True)
    decoder_scale = torch.arange(1, D_MODEL + 1, dtype=torch.float32) ** -0.8
    rotation = torch.linalg.qr(torch.randn(D_MODEL, D_MODEL, generator=g))[0]
    W_dec = (torch.randn(n_features, D_MODEL, generator=g) * decoder_scale) @ rotation.T
    planted = {}
    for j, (group, name) in enumerate(zip(groups, PLANTED_SETS, strict=True)):
        W_dec[7 + 31 * j] = group + 0.05 * torch.randn(D_MODEL, generator=g)
        planted[names.index(name)] = 7 + 31 * j
    W_dec /= W_dec.norm(dim=1, keepdim=True)
    return (W_U, W_dec, [s.token_ids for s in library.sets], [s.family for s in library.sets], planted)


def _from_catalog(db: str):
    from catalog.connect import open_read_only
    from catalog.vectors import load_decoder, load_unembed

    con = open_read_only(db)
    try:
        for (model_name,) in con.execute("SELECT model_name FROM models ORDER BY 1").fetchall():
            W_U = torch.from_numpy(load_unembed(con, model_name)).T.contiguous()
            sets = con.execute(
                "SELECT set_id, family FROM token_sets WHERE model_name = $m ORDER BY set_id", {"m": model_name}
            ).fetchall()
            members = [
                np.asarray(
                    con.execute("SELECT token_id FROM token_set_members WHERE set_id = $s", {"s": s}).fetchnumpy()[
                        "token_id"
                    ],
                    dtype=np.int64,
                )
                for s, _ in sets
            ]
            saes = {
                sae: torch.from_numpy(load_decoder(con, sae))
                for (sae,) in con.execute(
                    "SELECT sae_id FROM saes WHERE model_name = $m ORDER BY 1", {"m": model_name}
                ).fetchall()
            }
            yield model_name, W_U, members, [f for _, f in sets], saes
    finally:
        con.close()


def _scores(dirs: torch.Tensor, W_U: torch.Tensor, index: SetIndex) -> np.ndarray:
    return np.concatenate(
        [enrichment_scores(dirs[i : i + 256] @ W_U, index)[0].numpy() for i in range(0, dirs.shape[0], 256)]
    )


def _ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.union1d(a, b)
    return float(
        np.abs(np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size).max()
    )


def measure(model_name, W_U, members, families, saes, n_null, n_held_out, planted=None) -> None:
    index = SetIndex.build(members, W_U.shape[1])
    started = time.perf_counter()
    sphere = null_d_values(W_U, index, n_directions=n_null, seed=0)
    fit = fit_tails(sphere, index.set_sizes, index.vocab_size)
    held_out = null_d_values(W_U, index, n_directions=n_held_out, seed=1_000_003, desc="held-out")
    p = p_calibrated(held_out.T, sphere, fit).T
    print(
        f"\n{model_name}: {index.n_sets} sets, null {n_null} directions ({(fit.curvature > 0).sum()} sets with "
        f"curvature), {n_held_out} held out, {time.perf_counter() - started:.0f} s"
    )
    print(format_table(family_table(model_name, families, p)))
    for sae_id, W_dec in saes.items():
        matched_dirs = decoder_matched_directions(W_dec.numpy(), n_null, seed=0)
        matched = null_d_values(W_U, index, directions=matched_dirs, desc="matched null")
        matched_fit = fit_tails(matched, index.set_sizes, index.vocab_size)
        d = _scores(W_dec.float(), W_U, index)
        p_sphere, p_matched = p_calibrated(d, sphere, fit), p_calibrated(d, matched, matched_fit)
        q_sphere, q_matched = benjamini_hochberg(p_sphere) < 0.05, benjamini_hochberg(p_matched) < 0.05
        ks = np.median([_ks_distance(sphere[s], matched[s]) for s in range(index.n_sets)])
        ratio = np.abs(np.log10(p_sphere) - np.log10(p_matched))
        print(
            f"  {sae_id}: null KS distance sphere vs matched, median over sets {ks:.3f}; "
            f"|log10 p ratio| median {np.median(ratio):.3f}, 99th pct {np.quantile(ratio, 0.99):.2f}; "
            f"q<0.05 pairs: sphere {q_sphere.sum()}, matched {q_matched.sum()}, both {(q_sphere & q_matched).sum()}"
        )
        if planted:
            q = benjamini_hochberg(p_sphere)
            worst = max(q[f, s] for s, f in planted.items())
            print(f"    planted pairs: {len(planted)}, largest q {worst:.2g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a catalog: measure every model and SAE in it")
    parser.add_argument("--synthetic", action="store_true", help="a GPT-2-shaped synthetic layer instead")
    parser.add_argument("--features", type=int, default=2048, help="synthetic SAE width (default 2048)")
    parser.add_argument("--null-directions", type=int, default=4096, help="null directions fitted (default 4096)")
    parser.add_argument("--held-out", type=int, default=8192, help="held-out directions (default 8192)")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.synthetic:
        W_U, W_dec, members, families, planted = synthetic_gpt2_layer(args.features)
        measure(
            "gpt2-shaped",
            W_U,
            members,
            families,
            {"synthetic/layer": W_dec},
            args.null_directions,
            args.held_out,
            planted,
        )
    elif args.db:
        for model_name, W_U, members, families, saes in _from_catalog(args.db):
            measure(model_name, W_U, members, families, saes, args.null_directions, args.held_out)
    else:
        parser.error("give --db PATH or --synthetic")


if __name__ == "__main__":
    main()
