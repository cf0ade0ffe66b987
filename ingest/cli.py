"""Command line: ``python -m ingest run|demo|sets``.

Bad input ends with one line ``error: ...`` naming the input and the fix, and exit status 2;
the catalog is left as it was.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from catalog.errors import CatalogError
from catalog.paths import default_catalog
from ingest.config import IngestConfig
from ingest.device import DEVICE_CHOICES
from ingest.errors import IngestInputError

DB_HELP = "catalog file (default: $LLCAT_DB or catalog.duckdb)"
DROP_HELP = ("delete the catalog's token sets that the current library cannot build (e.g. NLTK data missing), with their "
             "enrichment, instead of stopping")


def _add_db(parser: argparse.ArgumentParser, help_text: str = DB_HELP) -> None:
    # default None: the default catalog is looked up after parsing, so $LLCAT_DB is read when the command runs
    parser.add_argument("--db", type=Path, default=None, help=help_text)


def _add_common(parser: argparse.ArgumentParser) -> None:
    _add_db(parser)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="where to compute (default auto: CUDA if present)")
    parser.add_argument("--chunk-size", type=int, default=None, help="features per chunk; bounds memory (default 128 on CPU, 2048 on CUDA)")
    parser.add_argument("--top-k", type=int, default=10, help="top and bottom tokens stored per feature (default 10)")
    parser.add_argument("--force", action="store_true", help="recompute SAEs already in the catalog")
    parser.add_argument("--token-sets", type=Path, default=None, help="extra token sets from a TOML or YAML file")
    parser.add_argument("--no-enrichment", action="store_true", help="skip token set enrichment")
    parser.add_argument("--null-directions", type=int, default=2048, help="random directions in the enrichment null (default 2048)")
    parser.add_argument("--drop-missing-sets", action="store_true", help=DROP_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Build a logit-lens SAE feature catalog in DuckDB.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="ingest SAEs from a release or from SAELens folders")
    run.add_argument("--model", help="hub id (e.g. gpt2) or local Hugging Face model folder; a --release brings its own")
    run.add_argument("--model-name", help="the catalog's name for the model (default: the release's, or the folder name)")
    run.add_argument("--release", help="a release from the registry, e.g. gpt2-small-res-jb")
    run.add_argument("--sae-id", action="append", default=[], help="an SAE of the release (repeatable; default all)")
    run.add_argument("--sae-dir", action="append", default=[], type=Path, help="an SAE folder in SAELens layout (repeatable)")
    run.add_argument("--release-name", default="local", help="release name recorded for --sae-dir SAEs (default local)")
    _add_common(run)
    demo = commands.add_parser("demo", help="build the embedded demo catalog (no network needed)")
    demo.add_argument("--cache-dir", type=Path, default=None, help="where the demo's model and SAE folders are written")
    _add_common(demo)
    sets = commands.add_parser("sets", help="print a model's token set library (--model), or recompute a catalog's enrichment for a changed library (no --model)")
    sets.add_argument("--model", help="print the library of this model: one the catalog holds (read from it, no download), "
                                      "a local model folder or a hub id")
    _add_db(sets, "without --model: the catalog whose enrichment to recompute from its stored vectors; with --model: "
                  "the catalog to read the model from when it holds it (default: $LLCAT_DB or catalog.duckdb)")
    sets.add_argument("--token-sets", type=Path, default=None, help="extra token sets from a TOML or YAML file")
    sets.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    sets.add_argument("--chunk-size", type=int, default=None)
    sets.add_argument("--null-directions", type=int, default=2048)
    sets.add_argument("--samples", type=int, default=10, help="sample tokens printed per set (default 10)")
    sets.add_argument("--drop-missing-sets", action="store_true", help=DROP_HELP)
    commands.add_parser("releases", help="list the known releases and their SAEs")
    migrate = commands.add_parser("migrate", help="upgrade a catalog written by an older schema version, in place")
    _add_db(migrate)
    return parser


def _config(args: argparse.Namespace, **overrides: object) -> IngestConfig:
    values = dict(db=args.db, device=args.device, chunk_size=args.chunk_size, top_k=args.top_k, force=args.force,
                  token_sets_file=args.token_sets, enrichment=not args.no_enrichment, null_directions=args.null_directions,
                  drop_missing_sets=args.drop_missing_sets)
    return IngestConfig(**(values | overrides))


def _cmd_run(args: argparse.Namespace) -> None:
    from ingest.runner import IngestRunner

    config = _config(args, model=args.model, model_name=args.model_name, release=args.release, sae_ids=args.sae_id,
                     sae_dirs=args.sae_dir, release_name=args.release_name)
    summary = IngestRunner(config).run()
    print(f"run {summary.run_id}: {len(summary.written)} SAEs written, {len(summary.skipped)} already present, catalog {args.db}")


def _cmd_demo(args: argparse.Namespace) -> None:
    from ingest.demo_catalog import build_demo_catalog, demo_summary

    build_demo_catalog(_config(args), args.cache_dir)
    print(demo_summary(args.db))


def _cmd_sets(args: argparse.Namespace) -> None:
    # Two jobs under one name for now: printing a library, and rescoring a catalog.
    if args.model:
        _print_library(args)
    else:
        _rescore_catalog(args)


def _print_library(args: argparse.Namespace) -> None:
    from ingest.library_report import library_report

    if args.samples < 0:
        raise IngestInputError(f"--samples {args.samples} must be zero or a positive number of tokens per set")
    print(library_report(args.model, args.db, args.db_given, args.token_sets, args.samples))


def _rescore_catalog(args: argparse.Namespace) -> None:
    from ingest.recompute import recompute_enrichment

    done = recompute_enrichment(args.db, args.token_sets, args.device, args.chunk_size, args.null_directions,
                                drop_missing_sets=args.drop_missing_sets)
    print(f"enrichment recomputed for {len(done)} SAEs in {args.db}")


def _cmd_releases(args: argparse.Namespace) -> None:
    from ingest.sources.registry import load_registry

    for release in load_registry().values():
        print(f"{release.name}  ({release.repo_id}, model {release.model_name}, {len(release.saes)} SAEs)")
        for sae in release.saes:
            print(f"    {sae.id:34s} layer {sae.layer:2d}  neuronpedia {sae.neuronpedia_id}")


def _cmd_migrate(args: argparse.Namespace) -> None:
    from catalog.connect import open_for_write, open_read_only
    from catalog.schema import recorded_version

    if not Path(args.db).exists():
        raise IngestInputError(f"catalog {args.db} does not exist, so there is nothing to migrate; pass --db with an existing catalog")
    con = open_for_write(args.db)  # upgrades in one transaction
    try:
        steps = con.execute("SELECT version, description FROM schema_migrations ORDER BY version").fetchall()
        version = recorded_version(con)
    finally:
        con.close()
    open_read_only(args.db).close()
    print(f"catalog {args.db} is at schema version {version}; history: " + ", ".join(f"{v} ({d})" for v, d in steps))


COMMANDS = {"run": _cmd_run, "demo": _cmd_demo, "sets": _cmd_sets, "releases": _cmd_releases, "migrate": _cmd_migrate}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (main() may run many times in one process)."""

    @property
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _show_ingest_logs() -> None:
    """The ingest library logs what it did (e.g. sets dropped) at INFO; the command shows those lines."""
    logger = logging.getLogger("ingest")
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "db"):
        args.db_given = args.db is not None
        args.db = args.db or default_catalog()
    _show_ingest_logs()
    try:
        COMMANDS[args.command](args)
    except (IngestInputError, CatalogError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
