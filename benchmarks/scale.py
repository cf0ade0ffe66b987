"""``make bench-scale``: storage per feature and query latency on a Gemma-Scope-sized catalog (issue 12).

    python -m benchmarks.scale                                   # builds /tmp/llcat-scale.duckdb if missing
    python -m benchmarks.scale --db /tmp/s.duckdb --saes 4 --features-per-sae 4096   # a quick fraction
    python -m benchmarks.scale --all-pairs-saes 1                # also measures all-pairs enrichment on 1 SAE

The catalog comes from ``benchmarks.scale_catalog`` (52 SAEs of gemma-scope-2b-pt-res-canonical,
2.13 M features, d_model 2304, 256,000 tokens, 119 token sets, compact enrichment, int16 decoders,
a reverse token index of 4 features per token and direction). Printed:

- **storage**: bytes per feature of each table (DuckDB blocks it occupies, 256 KiB each, over the
  catalog's features); the target is 1 KB per feature without decoder vectors (and without the
  model's own tokens and unembedding, which do not grow with features);
- **all pairs**: with ``--all-pairs-saes N``, N SAEs written again with every enrichment pair into a
  scratch catalog, and their enrichment bytes per feature;
- **queries**: the median of ``--repeat`` timed runs of every saved query through ``run_query`` (open,
  check, run, fetch, close), against its target: filters and rankings 100 ms, one feature's card and
  enrichment 50 ms, token promoters across the model and decoder neighbours within one SAE 200 ms;
  the exact vector scans (every decoder vector of the model, one feature's whole logit vector) and
  the export have no target and are reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.scale_catalog import (
    MODEL,
    add_build_arguments,
    build_scale_catalog,
    decoder_layers_from,
    options_from,
)
from catalog.connect import open_for_write
from catalog.queries import get_query, row_limit, run_query, saved_queries

BLOCK_BYTES = 262_144
FEATURE_BUDGET_BYTES = 1000
# target seconds per query; None: measured and reported without a target
CARD_QUERIES = {"feature_card", "feature_enrichment", "neuronpedia_features_one"}
VECTOR_TARGETS = {"features_promoting_token": 0.2, "decoder_neighbours": 0.2}
NO_TARGET = {"features_promoting_token_exact", "feature_logits", "app_feature_logits", "neuronpedia_features"}
MODEL_TABLES = {"models", "tokens", "unembed", "token_sets", "token_set_members", "enrichment_null"}


def target_s(name: str) -> float | None:
    if name in NO_TARGET:
        return None
    if name in VECTOR_TARGETS:
        return VECTOR_TARGETS[name]
    return 0.05 if name in CARD_QUERIES else 0.1


def table_bytes(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Bytes of DuckDB blocks each table occupies (whole 256 KiB blocks; small tables round up)."""
    sizes = {}
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall():
        blocks = con.execute(
            "SELECT count(DISTINCT b) FROM (SELECT block_id AS b FROM pragma_storage_info($t) WHERE persistent"
            " UNION ALL SELECT unnest(additional_block_ids) FROM pragma_storage_info($t) WHERE persistent)"
            " WHERE b >= 0",
            {"t": table},
        ).fetchall()[0][0]
        sizes[table] = int(blocks) * BLOCK_BYTES
    return sizes


def storage_report(db: Path) -> tuple[int, dict[str, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        n_features = con.execute("SELECT count(*) FROM features").fetchall()[0][0]
        sizes = table_bytes(con)
    finally:
        con.close()
    return n_features, sizes


def print_storage(db: Path, n_features: int, sizes: dict[str, int], out=sys.stdout) -> None:
    print(f"\nstorage: {db} ({db.stat().st_size / 1e9:.2f} GB on disk), {n_features:,} features", file=out)
    per_feature = 0.0
    for table, size in sorted(sizes.items(), key=lambda item: -item[1]):
        if size == 0:
            continue
        each = size / max(n_features, 1)
        counted = table not in MODEL_TABLES and table != "decoder"
        per_feature += each if counted else 0.0
        note = (
            "(model: not per feature)" if table in MODEL_TABLES else ("(decoder vectors)" if table == "decoder" else "")
        )
        print(f"  {table:<20} {size / 1e6:>10.1f} MB  {each:>8.0f} B/feature {note}", file=out)
    verdict = "within" if per_feature <= FEATURE_BUDGET_BYTES else "OVER"
    print(f"  per feature without decoder vectors: {per_feature:.0f} B ({verdict} the 1 KB target)", file=out)


def scale_params(db: Path) -> dict[str, dict]:
    """Values for every query's required parameters on the scale catalog (a 16k SAE at layer 12)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        sae = con.execute("SELECT sae_id FROM saes ORDER BY abs(layer - 12), d_sae, sae_id LIMIT 1").fetchall()[0][0]
        layer = con.execute("SELECT layer FROM saes WHERE sae_id = $s", {"s": sae}).fetchall()[0][0]
        d_sae = con.execute("SELECT d_sae FROM saes WHERE sae_id = $s", {"s": sae}).fetchall()[0][0]
    finally:
        con.close()
    feature = min(1234, d_sae - 1)
    defaults = {"SAE": sae, "FEATURE": feature, "LAYER": layer, "TOKEN": " Paris", "TOKEN_SET": "boys_names"}
    defaults["MODEL"] = MODEL
    chosen = {
        "enriched_a_not_b": {"set_a": "boys_names", "set_b": "girls_names"},
        "decoder_neighbours": {"sae": sae, "feature": feature, "scope": "sae"},
        "neuronpedia_features": {"sae": sae},
    }
    params = {}
    for name, query in saved_queries(include_app=True).items():
        values = dict(chosen.get(name, {}))
        for param in query.params:
            if param.required and param.name not in values:
                if param.kind not in defaults:
                    break
                values[param.name] = defaults[param.kind]
        else:
            params[name] = values
    return params


def time_query(db: Path, name: str, params: dict, repeat: int) -> tuple[float, float, int]:
    """(median end to end through run_query, median on an open connection, rows).

    End to end opens the file each time, as the CLI and the app do: on a multi-GB catalog DuckDB's open
    (its catalog and row group metadata) costs ~0.1 s by itself. The second figure runs the same bound
    SQL on one connection kept open, which is what the query itself costs."""
    run_query(db, name, params)  # untimed: warms the OS cache
    seconds, open_seconds = [], []
    rows = 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = len(run_query(db, name, params).frame)
        seconds.append(time.perf_counter() - started)
    query = get_query(name)
    values = query.bind(params)
    bound = {**values, "limit": row_limit(values, name) + 1}  # one more row, as run_query fetches
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET enable_progress_bar = false")
        for _ in range(repeat + 1):
            started = time.perf_counter()
            con.execute(query.sql, bound).df()
            open_seconds.append(time.perf_counter() - started)
    finally:
        con.close()
    return statistics.median(seconds), statistics.median(open_seconds[1:]), rows


def print_queries(db: Path, repeat: int, out=sys.stdout) -> int:
    print(f"\nqueries (median of {repeat}, end to end through run_query):", file=out)
    over = 0
    plan = scale_params(db)
    extra = {
        f"decoder_neighbours ({scope})": ("decoder_neighbours", plan["decoder_neighbours"] | {"scope": scope})
        for scope in ("layer", "model")
    }
    runs = [(name, name, params) for name, params in plan.items()] + [(k, *v) for k, v in extra.items()]
    for label, name, params in runs:
        try:
            median_s, open_s, rows = time_query(db, name, params, repeat)
        except Exception as error:  # noqa: BLE001 - a benchmark reports a failing query and goes on
            print(f"  {label:<34} failed: {error}", file=out)
            over += 1
            continue
        target = target_s(name) if label == name else None
        verdict = "" if target is None else ("ok" if open_s <= target else "OVER")
        verdict += "" if target is None else (" (end to end ok)" if median_s <= target else " (end to end over)")
        over += verdict.startswith("OVER")
        shown = "-" if target is None else f"{target * 1000:.0f}"
        print(
            f"  {label:<30} {median_s * 1000:>8.1f} ms end to end {open_s * 1000:>8.1f} ms open connection"
            f"  target {shown:>4} ms  {rows:>7} rows  {verdict}",
            file=out,
        )
        if label == "decoder_neighbours (model)":
            print(model_scan_projection(db, median_s), file=out)
    return over


def model_scan_projection(db: Path, seconds: float) -> str:
    """What ``decoder_neighbours`` across the model cost per stored vector, and so for every feature's."""
    with duckdb.connect(str(db), read_only=True) as con:
        vectors, features = con.execute(
            "SELECT (SELECT count(*) FROM decoder), (SELECT count(*) FROM features)"
        ).fetchall()[0]
    per_vector = seconds / max(vectors, 1)
    return (
        f"    (model scope: {vectors:,} stored vectors scanned, {per_vector * 1e6:.1f} us a vector; "
        f"with all {features:,} features' vectors stored, about {per_vector * features:.1f} s)"
    )


def all_pairs_cost(args: argparse.Namespace, n_saes: int) -> None:
    """Write ``n_saes`` of the chosen SAEs with every enrichment pair into a scratch catalog; print bytes/feature."""
    args_all = argparse.Namespace(**vars(args))
    args_all.enrichment_storage = "all"
    args_all.decoder_storage = "none"
    args_all.token_index_k = 0
    saes, storage = options_from(args_all)
    with tempfile.TemporaryDirectory(prefix="llcat-allpairs-", dir=args.db.parent) as scratch:
        db = Path(scratch) / "all.duckdb"
        for _ in build_scale_catalog(db, saes[:n_saes], storage, with_unembed=False):
            pass
        n_features, sizes = storage_report(db)
        print(f"\nall-pairs enrichment, measured on {n_saes} SAE(s) ({n_features:,} features):")
        for table in ("enrichment", "features", "feature_tokens"):
            print(f"  {table:<20} {sizes.get(table, 0) / max(n_features, 1):>8.0f} B/feature")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    add_build_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--all-pairs-saes", type=int, default=0, help="also measure all-pairs enrichment on N SAEs")
    parser.add_argument("--skip-build", action="store_true", help="measure the catalog as it is")
    args = parser.parse_args(argv)
    if not args.skip_build:
        saes, storage = options_from(args)
        print(f"building {args.db}: {len(saes)} SAEs, {sum(s.d_sae for s in saes):,} features", file=sys.stderr)
        for line in build_scale_catalog(args.db, saes, storage, decoder_layers=decoder_layers_from(args)):
            print(line, file=sys.stderr, flush=True)
    open_for_write(args.db).close()  # brings stored views up to date
    print(f"machine: {_machine()}")
    n_features, sizes = storage_report(args.db)
    print_storage(args.db, n_features, sizes)
    if args.all_pairs_saes:
        all_pairs_cost(args, args.all_pairs_saes)
    over = print_queries(args.db, args.repeat)
    print(f"\n{over} query target(s) missed" if over else "\nevery query target met")
    return 0


def _machine() -> str:
    import os

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB memory, DuckDB {duckdb.__version__}"


if __name__ == "__main__":
    sys.exit(main())
