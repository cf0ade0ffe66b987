"""A synthetic, full-size catalog for timing the saved queries (no torch, no ingest).

It has the shape of GPT-2 small res-jb (13 SAEs x 24,576 features, d_model 768, a 50,257-token
vocabulary, ~150 token sets with enrichment for every feature x set) but random numbers: the
benchmark measures how long the queries take, not what they find. Rows go in through the same
write path ingest uses (``open_for_write`` + Arrow bulk inserts), so storage and compression match
a real catalog's.
"""

from __future__ import annotations

import string
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from catalog import store
from catalog.connect import open_for_write
from catalog.store import insert_rows, transaction

MODEL = "bench-gpt2-small"
RELEASE = "bench-res-jb"
PARIS_TOKEN_ID = 6342  # ' Paris' in GPT-2's vocabulary, kept at its real id
N_BINS = 50
TOP_K = 10


@dataclass(frozen=True)
class BenchShape:
    """How big the synthetic catalog is; the defaults are GPT-2 small res-jb."""

    n_layers: int = 13
    d_sae: int = 24576
    d_model: int = 768
    d_vocab: int = 50257
    n_sets: int = 150
    seed: int = 0

    def sae_layers(self) -> Iterator[tuple[str, str, int, str]]:
        """(sae_id, hook_name, layer, neuronpedia_id); the last of 13 is blocks.11.hook_resid_post = layer 12."""
        for index in range(self.n_layers):
            block, hook = (index, "hook_resid_pre") if index < 12 else (11, "hook_resid_post")
            hook_name = f"blocks.{block}.{hook}"
            yield f"{RELEASE}/{hook_name}", hook_name, index, f"gpt2-small/{index}-res-jb"


def _vectors(matrix: np.ndarray) -> pa.Array:
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])


def set_names(n_sets: int) -> list[tuple[str, str]]:
    """(name, family) in the notebook's naming, padded with numbered sets up to ``n_sets``."""
    names = [(letter, "letters") for letter in string.ascii_lowercase]
    names += [
        (name, "regex")
        for name in (
            "starts_with_space",
            "starts_with_capital",
            "starts_with_lower",
            "all_digits",
            "is_punctuation",
            "all_caps",
            "1 digit",
            "2 digits",
        )
    ]
    names += [
        (f"nltk_pos_{tag}", "nltk_pos")
        for tag in (
            "NN",
            "NNS",
            "NNP",
            "VB",
            "VBD",
            "VBG",
            "VBN",
            "VBZ",
            "JJ",
            "RB",
            "PRP",
            "DT",
            "IN",
            "CD",
            "WP",
            "WDT",
        )
    ]
    names += [("boys_names", "names"), ("girls_names", "names")]
    names += [(f"{decade}'s", "word_list") for decade in range(1910, 2020, 10)]
    names += [
        (name, "word_list")
        for name in (
            "colors",
            "positive_words",
            "negative_words",
            "emotions",
            "capital_cities",
            "countries",
            "spanish_words",
            "french_words",
        )
    ]
    names += [(f"synthetic_set_{i}", "synthetic") for i in range(len(names), n_sets)]
    return names[:n_sets]


def write_model(con: duckdb.DuckDBPyConnection, shape: BenchShape, rng: np.random.Generator) -> None:
    tokens = [f" tok{i}" for i in range(shape.d_vocab)]
    tokens[PARIS_TOKEN_ID] = " Paris"
    W_U = rng.standard_normal((shape.d_vocab, shape.d_model), dtype=np.float32)
    with transaction(con):
        con.execute(
            "INSERT INTO models (model_name, d_model, d_vocab, source, processing, fingerprint, run_id)"
            " VALUES ($m, $d, $v, 'synthetic', 'none', 'synthetic', 'bench')",
            {"m": MODEL, "d": shape.d_model, "v": shape.d_vocab},
        )
        insert_rows(
            con,
            "tokens",
            pa.table(
                {
                    "token_id": np.arange(shape.d_vocab, dtype=np.int32),
                    "token": tokens,
                    "raw": [t.replace(" ", "Ġ") for t in tokens],
                }
            ),
            {"model_name": MODEL},
        )
        insert_rows(
            con,
            "unembed",
            pa.table({"token_id": np.arange(shape.d_vocab, dtype=np.int32), "vec": _vectors(W_U)}),
            {"model_name": MODEL},
        )


def write_token_sets(con: duckdb.DuckDBPyConnection, shape: BenchShape, rng: np.random.Generator) -> np.ndarray:
    """Sets of log-uniform size (10 to 20,000 tokens) with random members; returns their set_ids."""
    names = set_names(shape.n_sets)
    set_ids = np.arange(1, len(names) + 1, dtype=np.int32)
    sizes = np.exp(rng.uniform(np.log(10), np.log(min(20_000, shape.d_vocab - 1)), len(names))).astype(np.int64)
    members = [np.sort(rng.choice(shape.d_vocab, size, replace=False)).astype(np.int32) for size in sizes]
    with transaction(con):
        insert_rows(
            con,
            "token_sets",
            pa.table(
                {
                    "set_id": set_ids,
                    "model_name": [MODEL] * len(names),
                    "name": [n for n, _ in names],
                    "family": [f for _, f in names],
                    "definition": ["synthetic random members"] * len(names),
                    "size": sizes.astype(np.int32),
                    "dropped_words": pa.array([[]] * len(names), pa.list_(pa.string())),
                }
            ),
        )
        insert_rows(
            con,
            "token_set_members",
            pa.table({"set_id": np.repeat(set_ids, sizes), "token_id": np.concatenate(members)}),
        )
    return set_ids


def _features_table(shape: BenchShape, rng: np.random.Generator) -> pa.Table:
    n = shape.d_sae
    log10_density = rng.normal(-3.0, 0.8, n)
    log10_density[rng.random(n) < 0.01] = -10.0  # ~1% dead, as in the real SAEs
    skewness = rng.gamma(2.0, 0.15, n) + np.where(rng.random(n) < 0.002, rng.uniform(2, 6, n), 0.0)
    std = rng.uniform(0.1, 0.2, n)
    hist = rng.integers(0, 5000, (n, N_BINS)).astype(np.int32)
    stats = {name: rng.normal(0, 1, n) for name in ("mean", "cos_mean", "cos_skewness")}
    return pa.table(
        {
            "feature": np.arange(n, dtype=np.int32),
            "log10_density": log10_density,
            "is_dead": log10_density < -9,
            "decoder_norm": rng.uniform(0.9, 1.1, n),
            "mean": stats["mean"] * 1e-8,
            "std": std,
            "skewness": skewness,
            "kurtosis": 3.0 + rng.gamma(1.0, 1.0, n) + skewness**2 * 4,
            "cos_mean": stats["cos_mean"] * 1e-8,
            "cos_std": std / 3,
            "cos_skewness": stats["cos_skewness"] * 0.3,
            "cos_kurtosis": 3.0 + rng.gamma(1.0, 1.0, n),
            "logit_min": -5 * std,
            "logit_max": 5 * std,
            "hist_counts": pa.FixedSizeListArray.from_arrays(pa.array(hist.reshape(-1)), N_BINS),
        }
    )


def _feature_tokens_table(shape: BenchShape, rng: np.random.Generator) -> pa.Table:
    n = shape.d_sae
    parts = []
    for direction, sign in (("top", 1.0), ("bottom", -1.0)):
        values = sign * np.sort(rng.uniform(0.5, 1.5, (n, TOP_K)), axis=1)[:, ::-1]
        parts.append(
            pa.table(
                {
                    "feature": np.repeat(np.arange(n, dtype=np.int32), TOP_K),
                    "direction": pa.array([direction] * (n * TOP_K)),
                    "rank": np.tile(np.arange(TOP_K, dtype=np.int32), n),
                    "token_id": rng.integers(0, shape.d_vocab, n * TOP_K).astype(np.int32),
                    "value": values.reshape(-1),
                }
            )
        )
    return pa.concat_tables(parts)


def _enrichment_table(shape: BenchShape, set_ids: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Set-major rows (all features of the first set, then the next set), as ingest writes them."""
    rows = shape.d_sae * len(set_ids)
    d = rng.beta(1.2, 12.0, rows).astype(np.float32)
    p_value = rng.random(rows)
    return pa.table(
        {
            "feature": np.tile(np.arange(shape.d_sae, dtype=np.int32), len(set_ids)),
            "set_id": np.repeat(set_ids, shape.d_sae).astype(np.int32),
            "d": d,
            "direction": np.where(rng.random(rows) < 0.5, 1, -1).astype(np.int8),
            "p_value": p_value,
            "p_null": np.minimum(1.0, p_value * 10),
            "q_value": np.minimum(1.0, p_value * 20),
        }
    )


TOKEN_INDEX_K = 4


def _token_features_table(shape: BenchShape, rng: np.random.Generator) -> pa.Table:
    """A reverse token index (token_features) of TOKEN_INDEX_K random features per token and direction,
    values in rank order, sorted by token as ingest writes it."""
    k, v = TOKEN_INDEX_K, shape.d_vocab
    values = np.sort(rng.uniform(0.3, 1.5, (v, k)), axis=1)[:, ::-1].astype(np.float32)
    parts = []
    for direction, sign in (("top", 1.0), ("bottom", -1.0)):
        parts.append(
            pa.table(
                {
                    "token_id": np.repeat(np.arange(v, dtype=np.int32), k),
                    "direction": pa.array([direction] * (v * k)),
                    "rank": np.tile(np.arange(k, dtype=np.int32), v),
                    "feature": rng.integers(0, shape.d_sae, v * k).astype(np.int32),
                    "value": (sign * values).reshape(-1),
                }
            )
        )
    return pa.concat_tables(parts).sort_by([("token_id", "ascending"), ("direction", "descending")])


def write_sae(
    con: duckdb.DuckDBPyConnection,
    shape: BenchShape,
    set_ids: np.ndarray,
    sae: tuple[str, str, int, str],
    rng: np.random.Generator,
) -> None:
    sae_id, hook_name, layer, neuronpedia_id = sae
    decoder = rng.standard_normal((shape.d_sae, shape.d_model), dtype=np.float32) / np.sqrt(shape.d_model)
    tables = {
        "features": _features_table(shape, rng),
        "decoder": pa.table({"feature": np.arange(shape.d_sae, dtype=np.int32), "vec": _vectors(decoder)}),
        "feature_tokens": _feature_tokens_table(shape, rng),
        "enrichment": _enrichment_table(shape, set_ids, rng),
        "token_features": _token_features_table(shape, rng),
    }
    record = store.SaeRecord(
        sae_id=sae_id,
        release=RELEASE,
        sae_name=hook_name,
        hook_name=hook_name,
        layer=layer,
        model_name=MODEL,
        d_in=shape.d_model,
        d_sae=shape.d_sae,
        neuronpedia_id=neuronpedia_id,
        source="synthetic",
        weights_fingerprint="synthetic",
        analysis_version=1,
        has_sparsity=True,
        cfg_json="{}",
        run_id="bench",
        seconds=0.0,
        token_index_k=TOKEN_INDEX_K,
    )
    # the write path ingest uses: it also numbers the SAE (sae_key) and writes its feature summary
    store.write_sae(con, record, tables)


def build_bench_catalog(db_path: Path, shape: BenchShape = BenchShape(), log=sys.stderr) -> Path:
    """Write a synthetic catalog of ``shape`` to ``db_path`` (a new file) and return the path."""
    rng = np.random.default_rng(shape.seed)
    started = time.perf_counter()
    con = open_for_write(db_path)
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "INSERT INTO runs (run_id, started_at, project_version, analysis_version, device, config_json, status)"
            " VALUES ('bench', current_timestamp, 'bench', 1, 'cpu', '{}', 'finished')"
        )
        write_model(con, shape, rng)
        set_ids = write_token_sets(con, shape, rng)
        for sae in shape.sae_layers():
            write_sae(con, shape, set_ids, sae, rng)
            print(f"  wrote {sae[0]} ({time.perf_counter() - started:.0f} s)", file=log)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return db_path
