"""How the CLI prints results: missing values alike, lists readable, terminals safe from control characters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from catalog.formatting import for_terminal, render


def test_a_table_shows_every_missing_value_as_null():
    frame = pd.DataFrame({"text": ["a", None], "number": [1.5, np.nan], "items": [[1, 2], None]})
    lines = render(frame, "table").splitlines()
    assert lines[1].split() == ["a", "1.5", "[1,", "2]"]
    assert lines[2].split() == ["NULL", "NULL", "NULL"]
    assert "None" not in render(frame, "table") and "NaN" not in render(frame, "table")


def test_control_characters_are_escaped_for_a_terminal_only():
    cell = "\x1b]0;owned\x07\x1b[31mred\x9b\nnext\tcol"
    shown = for_terminal(cell)
    assert shown == "\\x1b]0;owned\\x07\\x1b[31mred\\x9b\nnext\tcol"
    assert all(ord(ch) >= 32 or ch in "\n\t" for ch in shown)
    assert "\x1b" in render(pd.DataFrame({"c": [cell]}), "csv")  # files and pipes get every byte


def test_the_cli_escapes_only_when_stdout_is_a_terminal(demo_db, capsys, monkeypatch):
    import sys

    from catalog.cli import main

    statement = "SELECT chr(27) || '[31mred' AS colour"
    assert main(["sql", statement, "--db", str(demo_db)]) == 0
    assert "\x1b[31mred" in capsys.readouterr().out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["sql", statement, "--db", str(demo_db)]) == 0
    out = capsys.readouterr().out
    assert "\\x1b[31mred" in out and "\x1b" not in out
