"""Command-line arguments, fuzzed (issue #6, item 3).

Hypothesis builds argument lists for `python -m ingest` from a grammar of subcommands, options and
values both sensible and absurd (negative, zero and huge numbers, non-numbers, missing or wrong
paths, a folder or a text file as the catalog, unknown releases and SAE ids, stray words), and
runs `ingest.cli.main` on a copy of a catalog. Each run must end in one of three ways:
- argparse's usage error (SystemExit 2), or its help (SystemExit 0 for -h);
- exit 2 with a last stderr line `error: ...`, and the catalog unchanged;
- exit 0, with every SAE in the catalog whole.
Never another exception. Loading a hub model is answered as an offline machine would be (no
network in tests), a local model folder is booted once, and the token set library skips the slow
NLTK families; none of that changes how arguments are checked. (`demo` is left out: a valid demo
line builds the whole demo catalog, which the demo tests cover.)
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ingest.enrichment_stage
import ingest.runner
import ingest.sources.model
import ingest.token_sets
from ingest.cli import main as cli_main
from ingest.errors import IngestInputError
from tests.builders import old_cfg, random_decoder, write_sae_folder
from tests.ingest.catalog_snapshot import snapshot
from tests.reliability.support import partial_writes

NUMBERS = ["-1", "0", "-7", "1", "3", "8", "99999999999", "abc", "2.5"]
SMALL_NUMBERS = [
    "-1",
    "0",
    "-7",
    "1",
    "3",
    "8",
    "abc",
]  # --null-directions: large values are a (slow) request, not an error
RUN_OPTIONS = [
    "--db",
    "--model",
    "--sae-dir",
    "--release",
    "--sae-id",
    "--device",
    "--chunk-size",
    "--top-k",
    "--null-directions",
    "--token-sets",
    "--model-name",
    "--release-name",
    "--no-enrichment",
    "--force",
]
SETS_OPTIONS = ["--db", "--model", "--token-sets", "--device", "--chunk-size", "--null-directions", "--samples"]


@pytest.fixture(scope="module")
def cli_world(tmp_path_factory, tiny_gpt2):
    """Files the arguments can point at, and a catalog holding the tiny model and one SAE."""
    root = tmp_path_factory.mktemp("cli-fuzz")
    good = write_sae_folder(root / "blocks.0.hook_resid_pre", random_decoder(8, 32), old_cfg(32, 8))
    new = write_sae_folder(
        root / "blocks.1.hook_resid_pre", random_decoder(8, 32, seed=1), old_cfg(32, 8, "blocks.1.hook_resid_pre", 1)
    )
    bad = write_sae_folder(root / "bad-shape", random_decoder(8, 32), old_cfg(32, 9))
    (root / "notes.txt").write_text("not a catalog")
    (root / "sets.toml").write_text('[sets.my_months]\nwords = ["January", "February"]\n')
    (root / "broken.toml").write_text("[sets.x\nwords = [")
    db = root / "base.duckdb"
    assert (
        cli_main(
            [
                "run",
                "--model",
                str(tiny_gpt2),
                "--sae-dir",
                str(good),
                "--db",
                str(db),
                "--device",
                "cpu",
                "--no-enrichment",
            ]
        )
        == 0
    )
    return {"root": root, "db": db, "model": str(tiny_gpt2), "good": str(good), "new": str(new), "bad": str(bad)}


def offline_load_model(real):
    """The real loader for local folders (booted once per folder); hub ids fail as they do offline."""
    cached = functools.cache(real)

    def load_model(name_or_path, model_name=None, device="cpu", W_O_layers=()):
        if not Path(name_or_path).exists() and not name_or_path.startswith((".", "/", "~")):
            raise IngestInputError(
                f"model {name_or_path!r} could not be loaded through TransformerLens "
                "(offline: no network in this test); pass a local model folder with --model PATH"
            )
        return cached(name_or_path, model_name, device, tuple(W_O_layers))

    return load_model


def quick_library(real):
    def build_library(vocab, user_file=None, *, families=None, min_size=1):
        families = families or ["letters", "regex", "user"]
        return real(vocab, user_file, families=families, min_size=min_size)

    return build_library


# Made once from the real functions, so that every example shares one booted model.
OFFLINE_LOAD_MODEL = offline_load_model(ingest.sources.model.load_model)
QUICK_LIBRARY = quick_library(ingest.token_sets.build_library)


def offline(monkeypatch) -> None:
    monkeypatch.setattr(ingest.runner, "load_model", OFFLINE_LOAD_MODEL)
    monkeypatch.setattr(ingest.sources.model, "load_model", OFFLINE_LOAD_MODEL)
    monkeypatch.setattr(ingest.token_sets, "build_library", QUICK_LIBRARY)
    monkeypatch.setattr(ingest.enrichment_stage, "build_library", QUICK_LIBRARY)


@st.composite
def argument_lists(draw, world: dict, work: Path) -> list[str]:
    paths = {
        "catalog": str(work / "catalog.duckdb"),
        "new-catalog": str(work / "new.duckdb"),
        "folder": str(world["root"]),
        "text-file": str(world["root"] / "notes.txt"),
        "no-parent": str(work / "missing" / "c.duckdb"),
        "missing": str(work / "absent"),
        "good-sae": world["good"],
        "new-sae": world["new"],
        "bad-sae": world["bad"],
        "model": world["model"],
        "sets-file": str(world["root"] / "sets.toml"),
        "broken-sets": str(world["root"] / "broken.toml"),
    }
    path = st.sampled_from(sorted(paths)).map(paths.get)
    options = {
        "--db": st.one_of(st.just(paths["catalog"]), path),
        "--model": st.one_of(
            st.just(world["model"]), st.sampled_from(["gpt2", "./missing-model", "", "no/such-model"]), path
        ),
        "--sae-dir": st.one_of(st.just(world["good"]), path),
        "--release": st.sampled_from(["gpt2-small-res-jb", "gpt2-small-res", "", "GPT2-SMALL-RES-JB"]),
        "--sae-id": st.sampled_from(["blocks.0.hook_resid_pre", "blocks.99.hook_resid_pre", "", "blocks.0"]),
        "--device": st.sampled_from(["cpu", "auto", "cuda", "tpu", ""]),
        "--chunk-size": st.sampled_from(NUMBERS),
        "--top-k": st.sampled_from(NUMBERS),
        "--null-directions": st.sampled_from(SMALL_NUMBERS),
        "--samples": st.sampled_from(NUMBERS),
        "--token-sets": st.one_of(st.just(paths["sets-file"]), path),
        "--model-name": st.sampled_from(["tiny-gpt2", "other", "", "gpt2-small"]),
        "--release-name": st.sampled_from(["local", "", "x/y"]),
        "--cache-dir": path,
    }
    flags = ["--no-enrichment", "--force", "-h", "--bogus", "extra-word", "--", "-"]
    command = draw(st.sampled_from(["run"] * 6 + ["rescore"] * 2 + ["releases", "migrate", "bogus"]))
    if command == "run":  # start from a working command line, then add or change things
        argv = [
            "run",
            "--model",
            world["model"],
            "--sae-dir",
            world["new"],
            "--db",
            paths["catalog"],
            "--device",
            "cpu",
            "--null-directions",
            "8",
        ]  # an SAE the catalog lacks: a valid line analyses and writes it
    elif command == "rescore":
        argv = ["rescore", "--db", paths["catalog"], "--device", "cpu", "--null-directions", "8"]
    else:
        argv = [command]
    valid = {"run": RUN_OPTIONS, "rescore": SETS_OPTIONS, "migrate": ["--db"]}.get(command, [])
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 7))
        if kind == 0:
            argv.append(draw(st.sampled_from(flags)))
        else:  # mostly an option this command takes; sometimes any option
            option = draw(st.sampled_from(valid if valid and kind > 1 else sorted(options)))
            if option in options:
                argv += [option, draw(options[option])]
            else:
                argv.append(option)
    return argv


outcomes = {"usage": 0, "error": 0, "success": 0}


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_command_line_ends_cleanly(data, cli_world, monkeypatch, capsys):
    offline(monkeypatch)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        catalog = work / "catalog.duckdb"
        shutil.copy(cli_world["db"], catalog)
        before = snapshot(catalog)
        argv = data.draw(argument_lists(cli_world, work), label="argv")
        capsys.readouterr()
        try:
            status = cli_main(argv)
        except SystemExit as exit_:
            err = capsys.readouterr().err
            assert exit_.code == 2 or (exit_.code == 0 and ("-h" in argv)), (argv, exit_.code, err[-500:])
            assert snapshot(catalog) == before
            outcomes["usage"] += 1
            return
        err = capsys.readouterr().err.strip().splitlines()
        if status == 2:
            assert err and err[-1].startswith("error: "), (argv, err[-3:])
            assert snapshot(catalog) == before, argv
            outcomes["error"] += 1
        else:
            assert status == 0, (argv, status)
            con = duckdb.connect(str(catalog), read_only=True)
            try:
                problems = partial_writes(con, top_k=None)
            finally:
                con.close()
            assert not problems, (argv, problems)
            outcomes["success"] += 1


def test_the_fuzzing_reached_every_outcome(report):
    if sum(outcomes.values()) == 0:
        pytest.skip("runs after the fuzz test in the same session")
    report(f"test_fuzz_cli outcomes: {outcomes}")
    assert all(count > 0 for count in outcomes.values()), outcomes


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--top-k", "-1"], "--top-k -1 must be a positive number of tokens"),
        (["--top-k", "0"], "--top-k 0 must be a positive number of tokens"),
        (["--top-k", "60000"], "--top-k 60000 is more than the 50257 tokens of model 'tiny-gpt2'"),
        (["--null-directions", "-4"], "--null-directions -4 must be a positive number of random directions"),
        (["--null-directions", "0"], "--null-directions 0 must be a positive number of random directions"),
        (["--chunk-size", "-5"], "--chunk-size -5 must be a positive number of features"),
        (["--device", "cuda", "--no-enrichment"], "--device cuda was asked for but torch sees no CUDA GPU"),
        (["--sae-dir", "SAME"], "--sae-dir folders share the names"),
    ],
)
def test_numbers_and_choices_that_parse_but_cannot_work(extra, message, cli_world, tmp_path, monkeypatch, capsys):
    """Edges the fuzzing above may miss: each must be refused before anything is written."""
    if "cuda" in extra:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    offline(monkeypatch)
    catalog = tmp_path / "catalog.duckdb"
    shutil.copy(cli_world["db"], catalog)
    before = snapshot(catalog)
    extra = [cli_world["new"] if value == "SAME" else value for value in extra]
    argv = [
        "run",
        "--model",
        cli_world["model"],
        "--sae-dir",
        cli_world["new"],
        "--db",
        str(catalog),
        "--device",
        "cpu",
        "--null-directions",
        "8",
        *extra,
    ]
    capsys.readouterr()
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1], err[-3:]
    assert snapshot(catalog) == before


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--chunk-size", "-1"], "--chunk-size -1 must be a positive number of features"),
        (["--null-directions", "0"], "--null-directions 0 must be a positive number of random directions"),
    ],
)
def test_sets_recompute_refuses_impossible_numbers(extra, message, cli_world, tmp_path, monkeypatch, capsys):
    offline(monkeypatch)
    catalog = tmp_path / "catalog.duckdb"
    shutil.copy(cli_world["db"], catalog)
    before = snapshot(catalog)
    capsys.readouterr()
    assert cli_main(["rescore", "--db", str(catalog), "--device", "cpu", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1], err[-3:]
    assert snapshot(catalog) == before


def test_a_damaged_catalog_file_is_refused_clearly(cli_world, tmp_path, capsys):
    """A catalog whose first block was overwritten (a disk fault, not a crash: DuckDB survives crashes)."""
    catalog = tmp_path / "catalog.duckdb"
    shutil.copy(cli_world["db"], catalog)
    with catalog.open("r+b") as handle:
        handle.seek(12288 + 64)
        handle.write(b"\xde\xad" * 512)
    damaged = catalog.read_bytes()
    capsys.readouterr()
    assert (
        cli_main(
            [
                "run",
                "--model",
                cli_world["model"],
                "--sae-dir",
                cli_world["new"],
                "--db",
                str(catalog),
                "--device",
                "cpu",
                "--no-enrichment",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1].startswith(f"error: catalog {catalog} could not be read or written")
        and "Corrupt database file" in err[-1]
    ), err[-3:]
    assert "the file is damaged: restore it from a backup" in err[-1]
    assert catalog.read_bytes() == damaged
