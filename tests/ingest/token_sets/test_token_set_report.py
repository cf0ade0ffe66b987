"""`llcat-ingest sets --model NAME` ends its listing with one row per family: sets, min / median /
max size and empty sets, checked against the catalog's own token_sets table and by hand."""

from __future__ import annotations

import duckdb

from ingest.cli import main
from ingest.sources.vocabulary import Vocabulary
from ingest.token_sets import build_library, family_summary


def summary_rows(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("family sizes for"))
    assert lines[start + 1].split() == ["family", "sets", "min", "median", "max", "empty"]
    rows = {}
    for line in lines[start + 2 :]:
        if line.startswith("catalog ") or line.startswith("note:"):
            break
        family, *cells = line.split()
        rows[family] = cells
    return rows


def test_sets_model_summarises_every_family(demo_db, capsys):
    assert main(["sets", "--model", "demo-gpt2-d64", "--db", str(demo_db), "--samples", "1"]) == 0
    rows = summary_rows(capsys.readouterr().out)
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        stored = con.execute(
            "SELECT family, count(*), min(size), median(size), max(size) FROM token_sets"
            " WHERE model_name = 'demo-gpt2-d64' GROUP BY family"
        ).fetchall()
    finally:
        con.close()
    expected = {family: [str(n), str(low), f"{middle:g}", str(high), "0"] for family, n, low, middle, high in stored}
    assert rows == expected


def test_family_summary_by_hand():
    # 'Ġa' 'Ġb' 'Ġab' 'Ġ7' and a special token: letters a (2: Ġa Ġab) and b (1); the other 24 letters empty.
    raw = ["Ġa", "Ġb", "Ġab", "Ġ7", "<|endoftext|>"]
    vocab = Vocabulary("toy", raw=raw, text=[" a", " b", " ab", " 7", "<|endoftext|>"])
    library = build_library(vocab, families=["letters", "word_list"])
    rows = summary_rows(family_summary(library))
    assert rows["letters"] == ["2", "1", "1.5", "2", "24"]
    n_word_lists = sum(1 for token_set in library.left_out if token_set.family == "word_list")
    assert rows["word_list"] == ["0", "-", "-", "-", str(n_word_lists)]
    assert n_word_lists == 22
