"""``llcat-app``: serve the catalog browser from wherever the package is installed.

    llcat-app                         # the default catalog ($LLCAT_DB, else ./catalog.duckdb)
    llcat-app --db gpt2.duckdb --port 8502

It is ``streamlit run <installed app/main.py> -- --db PATH`` with the server options a local
catalog browser wants (headless, no usage statistics); ``make demo`` and ``make app`` run it too,
so the command a user types is the one the tests start.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from catalog.paths import default_catalog

MAIN_SCRIPT = Path(__file__).resolve().with_name("main.py")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llcat-app", description="Serve the logit-lens catalog browser (Streamlit).")
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="catalog file to browse (default: $LLCAT_DB, else catalog.duckdb in this folder)",
    )
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    parser.add_argument("--address", default="localhost", help="address to listen on (default localhost)")
    return parser


def streamlit_argv(db: Path, port: int, address: str) -> list[str]:
    """The ``streamlit run`` command line this launcher hands to Streamlit."""
    return [
        "streamlit",
        "run",
        str(MAIN_SCRIPT),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--",
        "--db",
        str(db),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    db = (args.db or default_catalog()).expanduser().resolve()
    print(f"serving the catalog browser for {db} on http://{args.address}:{args.port} (Ctrl-C to stop)", flush=True)
    from streamlit.web import cli as streamlit_cli

    sys.argv = streamlit_argv(db, args.port, args.address)
    return streamlit_cli.main()


if __name__ == "__main__":
    raise SystemExit(main())
