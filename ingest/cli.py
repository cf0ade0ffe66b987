"""Command line ``llcat-ingest`` (also ``python -m ingest``): build and extend catalogs.

    llcat-ingest run --release gpt2-small-res-jb [--sae-id ID ...]     ingest SAEs (or --model M --sae-dir DIR ...)
    llcat-ingest demo                                                  build the embedded demo catalog
    llcat-ingest sets --model demo-gpt2-d64                            print a model's token set library
    llcat-ingest rescore [--token-sets my_sets.toml]                   recompute a catalog's enrichment
    llcat-ingest releases [SEARCH] [--saes]                            SAELens's releases (any can be ingested)
    llcat-ingest migrate                                               upgrade an older catalog in place
    llcat-ingest calibration [--directions 8192]                       held-out calibration of p_calibrated

``--db PATH`` (default ``$LLCAT_DB``, else ``catalog.duckdb``) is the first option of every command that
uses a catalog. Bad input ends with one line ``error: ...`` naming the input and the fix, and exit
status 2; the catalog is left as it was. What the library logs (SAEs written or skipped, warnings,
notes) goes to stderr, above the progress bars.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from catalog.errors import CatalogError
from catalog.paths import default_catalog
from ingest.config import DEFAULT_SPLIT_FEATURES, DEVICE_CHOICES, EXECUTOR_CHOICES, IngestConfig
from ingest.errors import IngestInputError

DB_HELP = "catalog file (default: $LLCAT_DB or catalog.duckdb)"
TOKEN_SETS_HELP = "extra token sets from a TOML or YAML file (added to the built-in library)"
DROP_HELP = (
    "delete the catalog's token sets that the current library cannot build (e.g. NLTK data missing), "
    "with their enrichment, instead of stopping"
)


def _add_db(parser: argparse.ArgumentParser) -> None:
    # default None: the default catalog is looked up after parsing, so $LLCAT_DB is read when the command runs
    parser.add_argument("--db", type=Path, default=None, metavar="PATH", help=DB_HELP)


def _add_scoring(parser: argparse.ArgumentParser) -> None:
    """The options of every command that computes: where, in what chunks, against which token sets."""
    parser.add_argument(
        "--device", choices=DEVICE_CHOICES, default="auto", help="where to compute (default auto: CUDA if present)"
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        metavar="N",
        help="features per chunk; bounds memory (default 128 on CPU, 2048 on CUDA)",
    )
    parser.add_argument("--token-sets", type=Path, default=None, metavar="FILE", help=TOKEN_SETS_HELP)
    parser.add_argument(
        "--null-directions",
        type=int,
        default=4096,
        metavar="N",
        help="random directions in the enrichment null, whose tail fit gives p_calibrated (default 4096)",
    )
    parser.add_argument(
        "--null-holdout",
        type=int,
        default=1024,
        metavar="N",
        help="further random directions (another seed) whose p_calibrated is stored to check the "
        "calibration; 0 for none (default 1024)",
    )
    parser.add_argument("--drop-missing-sets", action="store_true", help=DROP_HELP)


def _add_ingest(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that ingest SAEs (run, demo)."""
    _add_scoring(parser)
    parser.add_argument(
        "--top-k", type=int, default=10, metavar="K", help="top and bottom tokens stored per feature (default 10)"
    )
    parser.add_argument("--force", action="store_true", help="recompute SAEs already in the catalog")
    parser.add_argument("--no-enrichment", action="store_true", help="skip token set enrichment")
    _add_storage(parser)


def _add_storage(parser: argparse.ArgumentParser) -> None:
    """How each SAE's rows are stored (issue 12): recorded per SAE in the catalog's `saes` table."""
    parser.add_argument(
        "--decoder-storage",
        choices=("float32", "int16", "none"),
        default="float32",
        help="decoder vectors: float32 (exact; rescore and vector queries reproduce ingest), int16 (half the "
        "bytes, scaled per vector), none (no decoder neighbours, exact vector queries or rescore for these "
        "SAEs) (default float32)",
    )
    parser.add_argument(
        "--enrichment-storage",
        choices=("all", "compact"),
        default="all",
        help="enrichment rows: every feature x set pair, or compact: each feature's top sets, each set's top "
        "features and every pair with q <= --enrichment-max-q (default all)",
    )
    parser.add_argument(
        "--enrichment-top-sets",
        type=int,
        default=3,
        metavar="N",
        help="compact: sets kept per feature, direction and size class (default 3)",
    )
    parser.add_argument(
        "--enrichment-top-features",
        type=int,
        default=100,
        metavar="N",
        help="compact: features kept per set and direction in each SAE (default 100)",
    )
    parser.add_argument(
        "--enrichment-max-q",
        type=float,
        default=0.05,
        metavar="Q",
        help="compact: keep every pair with q_value at most Q as well (default 0.05)",
    )
    parser.add_argument(
        "--token-index-k",
        type=int,
        default=2,
        metavar="K",
        help="reverse token index: the K most promoting and most suppressing features of every token, per SAE; "
        "0 for none (default 2)",
    )


def _add_executor(parser: argparse.ArgumentParser) -> None:
    """Where the SAEs are computed (ingest.executors); this process always writes the catalog."""
    parser.add_argument(
        "--executor",
        choices=EXECUTOR_CHOICES,
        default="local",
        help="local: this process computes the SAEs one by one (default); ray: Ray tasks across a cluster "
        "(pip install 'logit-lens-catalog[ray]'), written by this process",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="the Ray cluster to run on (host:port, or auto for the one started on this machine with "
        "`ray start`); default: start Ray here for this run",
    )
    parser.add_argument(
        "--split-features",
        type=int,
        default=DEFAULT_SPLIT_FEATURES,
        metavar="N",
        help=f"with --executor ray, split an SAE wider than N features into tasks of about N features "
        f"(default {DEFAULT_SPLIT_FEATURES})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llcat-ingest", description="Build a logit-lens SAE feature catalog in DuckDB."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="ingest SAEs from a release or from SAELens folders",
        description="Ingest SAEs from a release or from SAELens folders.",
    )
    _add_db(run)
    run.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="hub id (e.g. gpt2) or local Hugging Face model folder; a --release brings its own",
    )
    run.add_argument(
        "--model-name",
        metavar="NAME",
        help="the catalog's name for the model (default: the release's, or the folder name)",
    )
    run.add_argument(
        "--release",
        metavar="NAME",
        help="a release of SAELens's directory, e.g. gpt2-small-res-jb or gemma-scope-2b-pt-res-canonical "
        "(`llcat-ingest releases` lists them)",
    )
    run.add_argument(
        "--sae-id",
        action="append",
        default=[],
        metavar="ID",
        help="an SAE of the release by SAELens's id, e.g. layer_20/width_16k/canonical (repeatable; default all)",
    )
    run.add_argument(
        "--sae-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="an SAE folder in SAELens layout (repeatable)",
    )
    run.add_argument(
        "--release-name",
        default="local",
        metavar="NAME",
        help="release name recorded for --sae-dir SAEs (default local)",
    )
    _add_ingest(run)
    _add_executor(run)
    demo = commands.add_parser(
        "demo",
        help="build the embedded demo catalog (no network needed)",
        description="Build the embedded demo catalog (no network needed).",
    )
    _add_db(demo)
    demo.add_argument(
        "--cache-dir", type=Path, default=None, metavar="DIR", help="where the demo's model and SAE folders are written"
    )
    _add_ingest(demo)
    sets = commands.add_parser(
        "sets",
        help="print a model's token set library: sizes, dropped words, sample tokens",
        description="Print the token set library a model gets: each set's size, dropped words and sample tokens, and "
        "how it compares to the sets the catalog holds for the model. To recompute a catalog's enrichment "
        "for a changed library, use `llcat-ingest rescore`.",
    )
    _add_db(sets)
    sets.add_argument(
        "--model",
        required=True,
        metavar="NAME_OR_PATH",
        help="the model whose library to print: one the catalog holds (read from it, no download), a "
        "local Hugging Face model folder or a hub id",
    )
    sets.add_argument("--token-sets", type=Path, default=None, metavar="FILE", help=TOKEN_SETS_HELP)
    sets.add_argument("--samples", type=int, default=10, metavar="N", help="sample tokens printed per set (default 10)")
    rescore = commands.add_parser(
        "rescore",
        help="recompute a catalog's enrichment for a changed token set library, from the catalog alone",
        description="Recompute the enrichment of every SAE in the catalog against the current token set library "
        "(the built-in sets and --token-sets), from the stored decoders and unembedding: no download; "
        "moments and top tokens are kept.",
    )
    _add_db(rescore)
    _add_scoring(rescore)
    releases = commands.add_parser(
        "releases",
        help="list the releases of SAELens's directory (any of them can be ingested)",
        description="List the releases of SAELens's pretrained-SAE directory, one line each: model, number of "
        "SAEs, hook kinds and widths (as the ids spell them), layout and how many are on Neuronpedia.",
    )
    releases.add_argument(
        "search", nargs="?", default=None, help="only releases whose name, repo or model contains this text"
    )
    releases.add_argument("--saes", action="store_true", help="also list each SAE's id and Neuronpedia id")
    migrate = commands.add_parser(
        "migrate",
        help="upgrade a catalog written by an older schema version, in place",
        description="Upgrade a catalog written by an older schema version, in place.",
    )
    _add_db(migrate)
    calibration = commands.add_parser(
        "calibration",
        help="print how uniform p_calibrated is on held-out random directions, per set family",
        description="Print, per model and token set family, the fraction of held-out random directions' calibrated "
        "p-values below 0.01, 0.001 and 1e-4, observed over nominal (1.00 is perfect). Reads the "
        "held-out p-values stored at ingest, or scores fresh directions with --directions.",
    )
    _add_db(calibration)
    calibration.add_argument(
        "--model", default=None, metavar="NAME", help="only this model of the catalog (default: every model)"
    )
    calibration.add_argument(
        "--directions",
        type=int,
        default=0,
        metavar="N",
        help="score N fresh random directions through the stored unembedding instead of reading "
        "the stored held-out p-values (default 0: read them)",
    )
    calibration.add_argument(
        "--seed",
        type=int,
        default=1_000_003,
        metavar="S",
        help="seed of the fresh directions; differs from the null's and the stored hold-out's (default 1000003)",
    )
    calibration.add_argument(
        "--chunk-size",
        type=int,
        default=256,
        metavar="N",
        help="fresh directions scored at a time; bounds memory (default 256)",
    )
    calibration.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="where fresh directions are scored (default auto: CUDA if present)",
    )
    return parser


def _scoring_config(args: argparse.Namespace, **values: Any) -> IngestConfig:
    return IngestConfig(
        db=args.db,
        device=args.device,
        chunk_size=args.chunk_size,
        token_sets_file=args.token_sets,
        null_directions=args.null_directions,
        null_holdout=args.null_holdout,
        drop_missing_sets=args.drop_missing_sets,
        **values,
    )


def _ingest_config(args: argparse.Namespace, **values: Any) -> IngestConfig:
    return _scoring_config(
        args,
        top_k=args.top_k,
        force=args.force,
        enrichment=not args.no_enrichment,
        decoder_storage=args.decoder_storage,
        enrichment_storage=args.enrichment_storage,
        enrichment_top_sets=args.enrichment_top_sets,
        enrichment_top_features=args.enrichment_top_features,
        enrichment_max_q=args.enrichment_max_q,
        token_index_k=args.token_index_k,
        **values,
    )


def _cmd_run(args: argparse.Namespace) -> None:
    from ingest.runner import IngestRunner

    config = _ingest_config(
        args,
        model=args.model,
        model_name=args.model_name,
        release=args.release,
        sae_ids=args.sae_id,
        sae_dirs=args.sae_dir,
        release_name=args.release_name,
        executor=args.executor,
        ray_address=args.ray_address,
        split_features=args.split_features,
    )
    summary = IngestRunner(config).run()
    print(
        f"run {summary.run_id}: {len(summary.written)} SAEs written, {len(summary.skipped)} already present, "
        f"catalog {args.db}"
    )


def _cmd_demo(args: argparse.Namespace) -> None:
    from ingest.demo_catalog import build_demo_catalog, demo_summary

    build_demo_catalog(_ingest_config(args), args.cache_dir)
    print(demo_summary(args.db))


def _cmd_sets(args: argparse.Namespace) -> None:
    from ingest.library_report import library_report

    if args.samples < 0:
        raise IngestInputError(f"--samples {args.samples} must be zero or a positive number of tokens per set")
    print(library_report(args.model, args.db, args.db_given, args.token_sets, args.samples))


def _cmd_rescore(args: argparse.Namespace) -> None:
    from ingest.recompute import recompute_enrichment

    done = recompute_enrichment(_scoring_config(args))
    print(f"enrichment recomputed for {len(done)} SAEs in {args.db}")


def _cmd_releases(args: argparse.Namespace) -> None:
    from ingest.sources.registry import load_registry
    from ingest.sources.release_listing import listing

    print(listing(list(load_registry().values()), args.search, args.saes))


def _cmd_migrate(args: argparse.Namespace) -> None:
    from catalog.connect import open_for_write, open_read_only
    from catalog.schema import recorded_version

    if not Path(args.db).exists():
        raise IngestInputError(
            f"catalog {args.db} does not exist, so there is nothing to migrate; pass --db with an existing catalog"
        )
    con = open_for_write(args.db)  # upgrades in one transaction
    try:
        steps = con.execute("SELECT version, description FROM schema_migrations ORDER BY version").fetchall()
        version = recorded_version(con)
    finally:
        con.close()
    open_read_only(args.db).close()
    print(f"catalog {args.db} is at schema version {version}; history: " + ", ".join(f"{v} ({d})" for v, d in steps))


def _cmd_calibration(args: argparse.Namespace) -> None:
    from ingest.calibration import calibration_rows, format_table
    from ingest.config import resolve_device

    if not Path(args.db).exists():
        raise IngestInputError(f"catalog {args.db} does not exist; pass --db with an existing catalog")
    rows = calibration_rows(
        args.db, args.model, args.directions, args.seed, args.chunk_size, resolve_device(args.device)
    )
    source = (
        f"{args.directions} fresh random directions (seed {args.seed})"
        if args.directions
        else "the held-out random directions stored with the null"
    )
    print(f"p_calibrated on {source}: observed / nominal fraction below each level (1.00 = calibrated)")
    print(format_table(rows))


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "run": _cmd_run,
    "demo": _cmd_demo,
    "sets": _cmd_sets,
    "rescore": _cmd_rescore,
    "releases": _cmd_releases,
    "migrate": _cmd_migrate,
    "calibration": _cmd_calibration,
}


class _ProgressSafeStderr(logging.Handler):
    """Writes each record to whatever sys.stderr is when it comes (main() may run many times in one
    process, under pytest's capture too), through tqdm so that it lands above any progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm.auto import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)


class _CommandFormatter(logging.Formatter):
    """Messages as the command always printed them: a warning says so, anything else is the message alone."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return f"warning: {message}" if record.levelno >= logging.WARNING else message


def _show_ingest_logs() -> None:
    """The ingest library logs what it does (SAEs written or skipped, sets dropped, warnings) at INFO and
    WARNING; the command shows those lines on stderr."""
    logger = logging.getLogger("ingest")
    if not any(isinstance(handler, _ProgressSafeStderr) for handler in logger.handlers):
        handler = _ProgressSafeStderr()
        handler.setFormatter(_CommandFormatter("%(message)s"))
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
