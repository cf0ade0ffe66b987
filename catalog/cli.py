"""``llcat`` (or ``python -m catalog``): saved queries, the SQL console, Neuronpedia quick lists and exports.

    llcat queries
    llcat run high_skew_features --param layer=8 --param min_skewness=3
    llcat sql "SELECT layer, count(*) FROM feature_stats GROUP BY layer"
    llcat quicklist high_skew_features --param layer=8 --list-name "layer 8 skewed"
    llcat export top_features_for_set --param token_set=boys_names --to boys.parquet
    llcat export --table features --to features.csv
    llcat export --neuronpedia --sae-id gpt2-small-res-jb/blocks.8.hook_resid_pre --to l8.jsonl

Every subcommand takes ``--db PATH`` (default ``$LLCAT_DB``, else ``catalog.duckdb``). Results go to
stdout; notices (rows cut off by a limit, lists split) and errors go to stderr. Exit status 2 means bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import webbrowser
from pathlib import Path

from catalog import export as exporting
from catalog.errors import CatalogError
from catalog.formatting import OUTPUT_FORMATS, for_terminal, render
from catalog.neuronpedia import QUICK_LIST_MAX, features_of, quick_list_urls
from catalog.paths import DB_ENV_VAR, DEFAULT_DB, default_catalog
from catalog.queries import run_query, saved_queries
from catalog.result import QueryResult
from catalog.sandbox import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, run_sql

DB_HELP = f"catalog file (default: ${DB_ENV_VAR}, else {DEFAULT_DB})"


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``['layer=8', 'token= Paris']`` -> ``{'layer': '8', 'token': ' Paris'}`` (split at the first '=')."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise CatalogError(f"--param expects NAME=VALUE, got {pair!r}")
        if name.strip() in params:
            raise CatalogError(f"parameter {name.strip()} given twice")
        params[name.strip()] = value
    return params


def _print_result(result: QueryResult, fmt: str) -> None:
    text = render(result.frame, fmt)
    sys.stdout.write(for_terminal(text) if sys.stdout.isatty() else text)  # files and pipes get every byte
    if result.notice():
        print(result.notice(), file=sys.stderr)


def cmd_queries(args: argparse.Namespace) -> None:
    queries = saved_queries()
    if args.format == "json":
        listing = [
            {
                "name": q.name,
                "description": q.description,
                "params": [
                    {
                        "name": p.name,
                        "type": p.type_label,
                        "required": p.required,
                        "default": None if p.required else p.default,
                        "description": p.description,
                    }
                    for p in q.params
                ],
            }
            for q in queries.values()
        ]
        print(json.dumps(listing, indent=2))
        return
    for query in queries.values():
        print(f"{query.name}\n    {query.description}")
        for param in query.params:
            print(f"    --param {param.signature():<45} {param.description}")
        print()


def cmd_run(args: argparse.Namespace) -> None:
    _print_result(run_query(args.db, args.name, parse_params(args.param), args.limit), args.format)


def cmd_sql(args: argparse.Namespace) -> None:
    _print_result(run_sql(args.db, args.statement, max_rows=args.limit, timeout_s=args.timeout), args.format)


def cmd_quicklist(args: argparse.Namespace) -> None:
    if (args.name is None) == (args.sql is None):
        raise CatalogError('quicklist needs a saved query name or --sql "SELECT ..." (one of them)')
    if args.sql is not None:
        result = run_sql(args.db, args.sql, max_rows=args.limit or DEFAULT_MAX_ROWS)
    else:
        result = run_query(args.db, args.name, parse_params(args.param), args.limit)
    if result.notice():
        print(result.notice(), file=sys.stderr)
    features = list(dict.fromkeys(features_of(args.db, result.frame)))
    urls = quick_list_urls(features, args.list_name or args.name or "catalog query")
    if len(urls) > 1:
        print(
            f"{len(features)} features: split into {len(urls)} quick lists of at most {QUICK_LIST_MAX}", file=sys.stderr
        )
    for url in urls:
        print(url)
        if args.open:
            webbrowser.open(url)


def cmd_export(args: argparse.Namespace) -> None:
    sources = [args.name is not None, args.table is not None, args.neuronpedia]
    if sum(sources) != 1:
        raise CatalogError("export needs exactly one of: a saved query NAME, --table NAME or --neuronpedia")
    if args.name is not None:
        summary = exporting.export_query(args.db, args.name, parse_params(args.param), args.to, args.format, args.limit)
    elif args.table is not None:
        summary = exporting.export_table(args.db, args.table, args.to, args.format)
    else:
        if args.format not in (None, "jsonl"):
            raise CatalogError("--neuronpedia writes JSON Lines only; drop --format or use --format jsonl")
        summary = exporting.export_neuronpedia(args.db, args.to, args.sae_id, args.limit)
    print(f"wrote {summary.rows} rows to {summary.path} ({summary.format})", file=sys.stderr)
    if summary.truncated:
        print(f"stopped at the limit of {summary.rows} rows; more rows matched (raise --limit)", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    examples = __doc__.split("\n\n")[1]
    parser = argparse.ArgumentParser(
        prog="llcat",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Query a logit-lens feature catalog: saved queries, the SQL console, "
        "Neuronpedia quick lists and exports.",
        epilog=f"examples:\n{examples}\n\nEvery command takes --db PATH ({DB_HELP}).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--db", type=Path, default=None, help=DB_HELP)
        sub.set_defaults(handler=handler)
        return sub

    def params_and_limit(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--param",
            "-p",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a query parameter; repeat for several",
        )
        sub.add_argument("--limit", type=int, help="most rows (default: the query's own)")

    queries = command("queries", cmd_queries, "list the saved queries with their descriptions and parameters")
    queries.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    run = command("run", cmd_run, "run a saved query")
    run.add_argument("name", help="saved query name (see `queries`)")
    params_and_limit(run)
    run.add_argument("--format", choices=OUTPUT_FORMATS, default="table", help="output format (default table)")
    sql = command("sql", cmd_sql, "run one read-only SELECT in the console sandbox")
    sql.add_argument("statement", help='one SELECT statement, e.g. "SELECT * FROM saes"')
    sql.add_argument("--limit", type=int, default=DEFAULT_MAX_ROWS, help=f"most rows (default {DEFAULT_MAX_ROWS})")
    sql.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help=f"seconds (default {DEFAULT_TIMEOUT_S:g})"
    )
    sql.add_argument("--format", choices=OUTPUT_FORMATS, default="table", help="output format (default table)")
    quick = command("quicklist", cmd_quicklist, "Neuronpedia quick-list URL(s) for the features a query returns")
    quick.add_argument("name", nargs="?", help="saved query name (or use --sql)")
    params_and_limit(quick)
    quick.add_argument("--sql", help="a console SELECT returning sae_id and feature columns, instead of a saved query")
    quick.add_argument("--list-name", help="the quick list's name on Neuronpedia (default: the query name)")
    quick.add_argument("--open", action="store_true", help="also open the list(s) in a web browser")
    exp = command("export", cmd_export, "write a query result, a table, or Neuronpedia feature records to a file")
    exp.add_argument("name", nargs="?", help="saved query name (or use --table or --neuronpedia)")
    params_and_limit(exp)
    exp.add_argument("--table", help="a table or view of the catalog, exported whole")
    exp.add_argument("--neuronpedia", action="store_true", help="per-feature JSON Lines in Neuronpedia's field names")
    exp.add_argument("--sae-id", help="with --neuronpedia: only this SAE (its sae_id)")
    exp.add_argument("--to", type=Path, required=True, help="output file: .parquet, .csv or .jsonl")
    exp.add_argument("--format", choices=exporting.FORMATS, help="output format (default: from --to's suffix)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.db = args.db or default_catalog()
    try:
        args.handler(args)
    except CatalogError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `| head`: not an error
        sys.stderr.close()
    return 0
