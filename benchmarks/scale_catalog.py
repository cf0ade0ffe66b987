"""A synthetic catalog shaped like ``gemma-scope-2b-pt-res-canonical``, written through the catalog's
own write path, for measuring storage and query latency at millions of features (issue 12).

The SAEs are the release's real ids, layers and widths (from SAELens's registry when it imports,
else the list below, which is the same); the model has d_model 2304 and a 256,000-token vocabulary;
the token set library has the default library's 119 sets, named as it names them, with log-uniform
sizes. Every number is random but shaped like a real one (moments, densities, top tokens, an
enrichment d per pair whose p_calibrated falls with d within each set, q by Benjamini-Hochberg); no
analysis runs. Rows go through ``ingest.tables`` (the same row builders as ingest), the compact
rule of ``ingest.compact_enrichment`` and ``catalog.store.write_sae``, one transaction per SAE, so
compression and layout are a real catalog's.

    python -m benchmarks.scale_catalog --db /tmp/llcat-scale.duckdb            # 52 SAEs, 2.13 M features
    python -m benchmarks.scale_catalog --db /tmp/s.duckdb --saes 4 --features-per-sae 4096   # quick
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import torch
from tqdm.auto import tqdm

from catalog import store
from catalog.connect import open_for_write
from ingest import tables
from ingest.analysis.logit_stats import N_HIST_BINS
from ingest.analysis.null import benjamini_hochberg
from ingest.analysis.sae_analysis import MOMENT_NAMES, SaeAnalysis
from ingest.analysis.token_index import TokenFeatureIndex
from ingest.compact_enrichment import CompactRule, compact_keep, dropped_bounds
from ingest.pipeline import StorageOptions
from tests.synthetic_catalog import set_names

RELEASE = "gemma-scope-2b-pt-res-canonical"
MODEL = "gemma-2-2b"
D_MODEL, D_VOCAB, N_SETS, TOP_K = 2304, 256_000, 119, 10
PARIS_TOKEN_ID = 7127  # a token kept at a fixed id with the text ' Paris'
WIDTHS = {"16k": 16384, "32k": 32768, "65k": 65536, "262k": 262144, "524k": 524288, "1m": 1048576}
# The release's 58 canonical SAEs (SAELens 6.54): every layer at 16k and 65k, plus wider ones at some.
FALLBACK_IDS = (
    [f"layer_{layer}/width_16k/canonical" for layer in range(26)]
    + [f"layer_{layer}/width_65k/canonical" for layer in range(26)]
    + ["layer_5/width_1m/canonical", "layer_12/width_1m/canonical", "layer_19/width_1m/canonical"]
    + ["layer_12/width_262k/canonical", "layer_12/width_32k/canonical", "layer_12/width_524k/canonical"]
)


@dataclass(frozen=True)
class ScaleSae:
    sae_name: str  # e.g. 'layer_12/width_16k/canonical'
    layer: int
    d_sae: int

    @property
    def sae_id(self) -> str:
        return f"{RELEASE}/{self.sae_name}"


def canonical_ids() -> list[str]:
    """The release's SAE ids from SAELens's registry (importing it takes ~9 s), else the list above."""
    try:
        from sae_lens.loading.pretrained_saes_directory import get_pretrained_saes_directory

        return list(get_pretrained_saes_directory()[RELEASE].saes_map)
    except Exception:  # noqa: BLE001 - the registry is a convenience; the fallback is the same list
        return list(FALLBACK_IDS)


def scale_saes(widths: set[str], n_saes: int | None, features_per_sae: int | None) -> list[ScaleSae]:
    """The canonical SAEs of the chosen widths, layer order; the first ``n_saes`` spread over layers."""
    saes = []
    for name in canonical_ids():
        match = re.fullmatch(r"layer_(\d+)/width_(\w+)/canonical", name)
        if match is None or match.group(2) not in widths:
            continue
        d_sae = WIDTHS[match.group(2)] if features_per_sae is None else features_per_sae
        saes.append(ScaleSae(name, int(match.group(1)), d_sae))
    saes.sort(key=lambda sae: (sae.d_sae, sae.layer))
    if n_saes is not None:
        step = max(1, len(saes) // n_saes)
        saes = saes[::step][:n_saes]
    return saes


def _analysis(d_sae: int, rng: np.random.Generator) -> SaeAnalysis:
    """Moments, histogram and top tokens shaped like a real SAE's (heavy right tail in skewness)."""
    skewness = rng.gamma(2.0, 0.15, d_sae) + np.where(rng.random(d_sae) < 0.002, rng.uniform(2, 6, d_sae), 0.0)
    std = rng.uniform(0.1, 0.2, d_sae)
    columns = {name: rng.normal(0, 1e-8, d_sae) for name in MOMENT_NAMES} | {
        f"cos_{name}": rng.normal(0, 0.3, d_sae) for name in MOMENT_NAMES
    }
    columns |= {"std": std, "skewness": skewness, "kurtosis": 3.0 + rng.gamma(1.0, 1.0, d_sae) + 4 * skewness**2}
    columns |= {"cos_std": std / 3, "cos_kurtosis": 3.0 + rng.gamma(1.0, 1.0, d_sae)}
    columns |= {"logit_min": -5 * std, "logit_max": 5 * std, "decoder_norm": rng.uniform(0.9, 1.1, d_sae)}
    top_values = np.sort(rng.uniform(0.5, 1.5, (d_sae, TOP_K)), axis=1)[:, ::-1].astype(np.float32)
    return SaeAnalysis(
        columns=columns,
        hist_counts=rng.integers(0, 5000, (d_sae, N_HIST_BINS)).astype(np.int32),
        top_ids=rng.integers(0, D_VOCAB, (d_sae, TOP_K)),
        top_values=top_values,
        bottom_ids=rng.integers(0, D_VOCAB, (d_sae, TOP_K)),
        bottom_values=-top_values,
        enrichment_d=None,
        enrichment_direction=None,
    )


def _enrichment(
    d_sae: int, set_ids: np.ndarray, names: list[str], sizes: np.ndarray, storage: StorageOptions, rng
) -> dict[str, pa.Table]:
    """Enrichment rows as ingest writes them: all pairs, or the compact rule's, with the dropped bounds."""
    n_sets = len(set_ids)
    d = rng.beta(1.2, 12.0, (d_sae, n_sets)).astype(np.float32)
    direction = np.where(rng.random((d_sae, n_sets)) < 0.5, 1, -1).astype(np.int8)
    # p_calibrated falls with d within a set (one null per model and set), at a set-specific rate that
    # makes about 2% of pairs significant at q <= 0.05 (coherent sets are a minority of pairs).
    rate = rng.uniform(15.0, 30.0, n_sets)[None, :]
    p_calibrated = np.exp(-rate * d.astype(np.float64))
    q_value = benjamini_hochberg(p_calibrated)
    p_null = np.maximum(np.round(p_calibrated * 4097) / 4097, 1 / 4097)
    p_value = p_calibrated**2
    if storage.enrichment != "compact":
        rows = tables.enrichment_table(d, direction, p_value, p_null, q_value, set_ids, p_calibrated)
        return {"enrichment": rows}
    rule = CompactRule(storage.top_sets, storage.top_features, storage.max_q)
    keep = compact_keep(d, direction, p_calibrated, q_value, names, sizes, rule)
    return {
        "enrichment": tables.enrichment_table(d, direction, p_value, p_null, q_value, set_ids, p_calibrated, keep),
        "enrichment_dropped": tables.enrichment_dropped_table(set_ids, *dropped_bounds(d, keep)),
    }


def _token_index(d_sae: int, k: int, rng: np.random.Generator) -> TokenFeatureIndex:
    """A reverse token index with k random features per token and direction, values in rank order."""
    index = TokenFeatureIndex(D_VOCAB, k)
    index.top_features = rng.integers(0, d_sae, (k, D_VOCAB))
    index.top_values = np.sort(rng.uniform(0.3, 1.5, (k, D_VOCAB)), axis=0)[::-1].astype(np.float32)
    index.bottom_features = rng.integers(0, d_sae, (k, D_VOCAB))
    index.bottom_values = -index.top_values
    return index


def _decoder(d_sae: int, storage: str, rng: np.random.Generator) -> pa.Table | None:
    if storage == "none":  # also: SAEs outside --decoder-layers
        return None
    W_dec = rng.standard_normal((d_sae, D_MODEL), dtype=np.float32) / np.sqrt(D_MODEL)
    return tables.decoder_table(torch.from_numpy(W_dec), storage)


def _record(sae: ScaleSae, storage: StorageOptions) -> store.SaeRecord:
    record = store.SaeRecord(
        sae_id=sae.sae_id,
        release=RELEASE,
        sae_name=sae.sae_name,
        hook_name=f"blocks.{sae.layer}.hook_resid_post",
        layer=sae.layer,
        model_name=MODEL,
        d_in=D_MODEL,
        d_sae=sae.d_sae,
        neuronpedia_id=f"gemma-2-2b/{sae.layer}-gemmascope-res-{sae.sae_name.split('/')[1].removeprefix('width_')}",
        source="synthetic",
        weights_fingerprint=f"synthetic-{sae.sae_name}",
        analysis_version=2,
        has_sparsity=True,
        cfg_json="{}",
        run_id="scale",
        seconds=0.0,
    )
    return storage.on_record(record, with_enrichment=True)


def sae_rows(
    sae: ScaleSae, set_ids: np.ndarray, names: list[str], sizes: np.ndarray, storage: StorageOptions, seed: int
) -> dict[str, pa.Table]:
    """One SAE's rows, built with ingest's row builders (``storage`` as this SAE is to be stored)."""
    rng = np.random.default_rng([seed, sae.layer, sae.d_sae])
    analysis = _analysis(sae.d_sae, rng)
    log10_density = rng.normal(-3.0, 0.8, sae.d_sae)
    log10_density[rng.random(sae.d_sae) < 0.01] = -10.0
    rows = {
        "features": tables.features_table(analysis, torch.from_numpy(log10_density)),
        "feature_tokens": tables.feature_tokens_table(analysis),
    }
    decoder = _decoder(sae.d_sae, storage.decoder, rng)
    if decoder is not None:
        rows["decoder"] = decoder
    rows |= _enrichment(sae.d_sae, set_ids, names, sizes, storage, rng)
    if storage.token_index_k > 0:
        rows["token_features"] = tables.token_features_table(_token_index(sae.d_sae, storage.token_index_k, rng))
    return rows


def _write_model(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator, with_unembed: bool = True
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The model (tokens, unembedding unless ``with_unembed`` is False) and the token set library."""
    token_text = [f" tok{i}" for i in range(D_VOCAB)]
    token_text[PARIS_TOKEN_ID] = " Paris"
    model = store.ModelRecord(MODEL, D_MODEL, D_VOCAB, "synthetic", "none", "synthetic", "scale")
    raw = [t.replace(" ", "▁") for t in token_text]
    empty = tables.unembed_table(torch.zeros(D_MODEL, 0))
    store.write_model(con, model, tables.tokens_table(raw, token_text), empty)
    # The unembedding in slices of tokens (2.4 GB at once would be 3 copies in memory).
    for start in range(0, D_VOCAB if with_unembed else 0, 32_000):
        W_U = torch.from_numpy(rng.standard_normal((D_MODEL, min(32_000, D_VOCAB - start)), dtype=np.float32))
        rows = tables.unembed_table(W_U)
        rows = rows.set_column(0, "token_id", pa.array(rows.column("token_id").to_numpy() + start))
        store.insert_rows(con, "unembed", rows, {"model_name": MODEL})
    named = set_names(N_SETS)
    set_ids = np.arange(1, len(named) + 1, dtype=np.int32)
    sizes = np.exp(rng.uniform(np.log(3), np.log(40_000), len(named))).astype(np.int32)
    members = [np.sort(rng.choice(D_VOCAB, size, replace=False)).astype(np.int32) for size in sizes]
    sets = pa.table(
        {
            "set_id": set_ids,
            "model_name": [MODEL] * len(named),
            "name": [name for name, _ in named],
            "family": [family for _, family in named],
            "definition": ["synthetic random members"] * len(named),
            "size": sizes,
            "dropped_words": pa.array([[]] * len(named), pa.list_(pa.string())),
        }
    )
    with store.transaction(con):
        store.insert_rows(con, "token_sets", sets)
        store.insert_rows(
            con,
            "token_set_members",
            pa.table({"set_id": np.repeat(set_ids, sizes), "token_id": np.concatenate(members)}),
        )
    return set_ids, [name for name, _ in named], sizes


def build_scale_catalog(
    db_path: Path,
    saes: list[ScaleSae],
    storage: StorageOptions,
    seed: int = 0,
    with_unembed: bool = True,
    decoder_layers: set[int] | None = None,
) -> Iterator[str]:
    """Write the catalog (SAEs already there are kept: a second run adds the missing ones); yields progress.
    Decoder vectors go only to SAEs at ``decoder_layers`` (all when None)."""
    rng = np.random.default_rng(seed)
    con = open_for_write(db_path)
    try:
        con.execute("SET enable_progress_bar = false")
        if not con.execute("SELECT count(*) FROM runs WHERE run_id = 'scale'").fetchall()[0][0]:
            store.start_run(con, "scale", "scale", 2, "cpu", {"storage": str(storage)}, {})
        if not con.execute("SELECT count(*) FROM models").fetchall()[0][0]:
            _write_model(con, rng, with_unembed)
        sets = con.execute("SELECT set_id, name, size FROM token_sets ORDER BY set_id").df()
        done = {row[0] for row in con.execute("SELECT sae_id FROM saes").fetchall()}
        started = time.perf_counter()
        for sae in tqdm([s for s in saes if s.sae_id not in done], desc="scale SAEs", unit="sae"):
            own = storage if decoder_layers is None or sae.layer in decoder_layers else replace(storage, decoder="none")
            rows = sae_rows(sae, sets["set_id"].to_numpy(), list(sets["name"]), sets["size"].to_numpy(), own, seed)
            store.write_sae(con, _record(sae, own), rows)
            yield f"wrote {sae.sae_id} ({sae.d_sae} features, {time.perf_counter() - started:.0f} s)"
        con.execute("CHECKPOINT")
    finally:
        con.close()


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=Path("/tmp/llcat-scale.duckdb"))
    parser.add_argument("--widths", default="16k,65k", help="SAE widths to include (default 16k,65k: 2.13 M features)")
    parser.add_argument("--saes", type=int, default=None, help="build only N SAEs, spread over the layers")
    parser.add_argument("--features-per-sae", type=int, default=None, help="features per SAE instead of its width")
    parser.add_argument("--decoder-storage", choices=("float32", "int16", "none"), default="int16")
    parser.add_argument(
        "--decoder-layers",
        default="12",
        help="layers whose SAEs get decoder vectors, comma-separated, or 'all' (default 12: neighbours are timed "
        "within one SAE; vectors for all 52 SAEs are 9.8 GB at int16 and an hour to write here)",
    )
    parser.add_argument("--enrichment-storage", choices=("all", "compact"), default="compact")
    defaults = StorageOptions()
    parser.add_argument("--enrichment-top-sets", type=int, default=defaults.top_sets)
    parser.add_argument("--enrichment-top-features", type=int, default=defaults.top_features)
    parser.add_argument("--enrichment-max-q", type=float, default=defaults.max_q)
    parser.add_argument("--token-index-k", type=int, default=defaults.token_index_k)


def options_from(args: argparse.Namespace) -> tuple[list[ScaleSae], StorageOptions]:
    saes = scale_saes(set(args.widths.split(",")), args.saes, args.features_per_sae)
    storage = StorageOptions(
        decoder=args.decoder_storage,
        enrichment=args.enrichment_storage,
        top_sets=args.enrichment_top_sets,
        top_features=args.enrichment_top_features,
        max_q=args.enrichment_max_q,
        token_index_k=args.token_index_k,
    )
    return saes, storage


def decoder_layers_from(args: argparse.Namespace) -> set[int] | None:
    return None if args.decoder_layers == "all" else {int(layer) for layer in args.decoder_layers.split(",")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_build_arguments(parser)
    args = parser.parse_args()
    saes, storage = options_from(args)
    for line in build_scale_catalog(args.db, saes, storage, decoder_layers=decoder_layers_from(args)):
        print(line, flush=True)


if __name__ == "__main__":
    main()
