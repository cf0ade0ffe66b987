"""Where the project's SQL lives: `sql/` at the repository root, beside the packages."""

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SCHEMA_FILE = SQL_DIR / "schema.sql"
