"""Bad SAE folders, fuzzed (issue #6, item 3).

Hypothesis writes SAE folders with random cfg.json contents and types, wrong shapes and dtypes,
NaN/Inf, truncated or corrupted safetensors and huge declared sizes. `load_sae_folder` must either
raise IngestInputError (whose message names the file at fault) or return a correct SAE that the
catalog can store; anything else (another exception type, a wrong result) fails. A few cases go
through the whole CLI against a catalog, which must end in exit 2, one `error:` line and an
unchanged catalog.
"""

from __future__ import annotations

import functools
import json
import math
import re
import resource
import shutil
import struct
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import duckdb
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

import ingest.runner
from catalog import store
from catalog.schema import apply_schema
from ingest.cli import main as cli_main
from ingest.errors import IngestInputError
from ingest.runner import _neuronpedia_id_from_cfg
from ingest.sources.sae import CFG_FILE, SPARSITY_FILE, WEIGHTS_FILE, load_sae_folder
from tests.builders import new_cfg, old_cfg, random_decoder, write_sae_folder
from tests.ingest.catalog_snapshot import snapshot

D_IN, D_SAE = 8, 6
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# --- strategies --------------------------------------------------------------------------------

# Values that sit on an edge somewhere: wrong types, zero and negative sizes, integers beyond the
# catalog's INTEGER or beyond float, NaN, text that is not valid Unicode or holds NUL.
EDGE_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    6.0,
    6.5,
    "6",
    "8",
    2**31,
    2**63,
    10**12,
    10**400,
    math.nan,
    math.inf,
    "",
    "\ud800",
    "a\x00b",
    "blocks.99999999999.hook_resid_pre",
    "blocks.-1.x",
    "blocks.3.hook_resid_pre",
    [],
    {},
    [8],
    {"d_in": 8},
    "x" * 300,
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
CFG_KEYS = [
    "d_in",
    "d_sae",
    "hook_point",
    "hook_point_layer",
    "hook_name",
    "hook_layer",
    "metadata",
    "model_name",
    "neuronpedia_id",
    "dtype",
]
_DELETE = object()


@st.composite
def cfg_documents(draw) -> bytes:
    """cfg.json bytes: a valid cfg of either schema with some keys replaced or removed, any JSON
    value at all, or bytes that are not JSON (or not UTF-8)."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "any-json", "bytes"]))
    if kind == "bytes":
        return draw(
            st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"{", b"\xff\xfe{}", b"[" * 5000, b'{"d_in": 8,}']))
        )
    if kind == "any-json":
        return json.dumps(draw(json_values)).encode()
    cfg = draw(st.sampled_from([old_cfg(D_IN, D_SAE), new_cfg(D_IN, D_SAE), new_cfg(D_IN, D_SAE, under_metadata=True)]))
    for key in draw(st.lists(st.sampled_from(CFG_KEYS), min_size=1, max_size=3, unique=True)):
        value = draw(
            st.one_of(st.just(_DELETE), st.sampled_from(EDGE_VALUES), st.sampled_from(EDGE_VALUES), json_values)
        )
        target = (
            cfg["metadata"] if "metadata" in cfg and isinstance(cfg["metadata"], dict) and draw(st.booleans()) else cfg
        )
        if value is _DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    return json.dumps(cfg).encode("utf-8", "surrogatepass")


DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int32, torch.int8, torch.uint8, torch.bool]


@st.composite
def tensors(draw, shape: tuple[int, ...], broken: bool, offset: float = 0.0) -> torch.Tensor:
    """Random values of `shape`, float32; when `broken`, maybe another shape, another dtype (float or
    not), NaN, Inf, or values too large for float32."""
    dtype = torch.float32
    if broken and draw(st.integers(0, 3)) == 0:
        shape = tuple(draw(st.lists(st.integers(0, 9), min_size=0, max_size=3)))
    if broken and draw(st.booleans()):
        dtype = draw(st.sampled_from(DTYPES))
    values = (
        torch.randn(shape, generator=torch.Generator().manual_seed(draw(st.integers(0, 1000))), dtype=torch.float64)
        + offset
    )
    if broken and dtype.is_floating_point and values.numel():
        for _ in range(draw(st.integers(0, 2))):  # none: only the shape or dtype is off
            index = draw(st.integers(0, values.numel() - 1))
            values.view(-1)[index] = draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 1e-40]))
    return values.to(dtype)  # 1e300 becomes Inf in the narrower float types


@st.composite
def damage(draw) -> tuple[str, int, int]:
    """How to spoil a written safetensors file: ("truncate"|"flip"|"huge-header", position, byte)."""
    return (
        draw(st.sampled_from(["truncate", "flip", "huge-header"])),
        draw(st.integers(0, 10**6)),
        draw(st.integers(0, 255)),
    )


def spoil(path: Path, how: tuple[str, int, int] | None) -> None:
    if how is None:
        return
    kind, position, byte = how
    data = bytearray(path.read_bytes())
    if kind == "truncate":
        path.write_bytes(bytes(data[: position % (len(data) + 1)]))
    elif kind == "flip":
        data[position % len(data)] = byte
        path.write_bytes(bytes(data))
    elif kind == "huge-header":  # a header that declares a 4 TB W_dec over the file's few bytes
        header = json.dumps(
            {"W_dec": {"dtype": "F32", "shape": [2**35, 32], "data_offsets": [0, 2**35 * 32 * 4]}}
        ).encode()
        path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(64))


PARTS = ["cfg", "weights", "weights-file", "weights-name", "sparsity", "sparsity-file"]


@st.composite
def sae_folders(draw):
    """Everything needed to write one SAE folder: a good one with up to two parts broken."""
    broken = draw(st.sets(st.sampled_from(PARTS), max_size=2))
    cfg_bytes = (
        draw(cfg_documents())
        if "cfg" in broken
        else json.dumps(
            draw(st.sampled_from([old_cfg(D_IN, D_SAE), new_cfg(D_IN, D_SAE, under_metadata=True)]))
        ).encode()
    )
    weights = {"W_dec": draw(tensors((D_SAE, D_IN), "weights" in broken))}
    if "weights-name" in broken:
        weights = {draw(st.sampled_from(["W_decoder", "w_dec", "W_enc"])): weights["W_dec"]}
    with_sparsity = bool({"sparsity", "sparsity-file"} & broken) or draw(st.booleans())
    sparsity = draw(tensors((D_SAE,), "sparsity" in broken, offset=-5.0)) if with_sparsity else None  # log10 densities
    return (
        cfg_bytes,
        weights,
        draw(damage()) if "weights-file" in broken else None,
        sparsity,
        draw(damage()) if "sparsity-file" in broken else None,
    )


def write_folder(folder: Path, spec) -> Path:
    cfg_bytes, weights, weights_damage, sparsity, sparsity_damage = spec
    folder.mkdir(parents=True)
    (folder / CFG_FILE).write_bytes(cfg_bytes)
    save_file({name: tensor.contiguous() for name, tensor in weights.items()}, str(folder / WEIGHTS_FILE))
    spoil(folder / WEIGHTS_FILE, weights_damage)
    if sparsity is not None:
        save_file({"sparsity": sparsity.contiguous()}, str(folder / SPARSITY_FILE))
        spoil(folder / SPARSITY_FILE, sparsity_damage)
    return folder


# --- the property --------------------------------------------------------------------------------


@functools.cache
def schema_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    apply_schema(con, ":memory:")
    return con


def assert_storable(sae) -> None:
    """The loaded SAE's `saes` row goes into the catalog schema as the runner would write it."""
    record = store.SaeRecord(
        sae_id="local/fuzz",
        release="local",
        sae_name="fuzz",
        hook_name=sae.cfg.hook_name,
        layer=sae.cfg.layer,
        model_name="tiny",
        d_in=sae.cfg.d_in,
        d_sae=sae.cfg.d_sae,
        neuronpedia_id=_neuronpedia_id_from_cfg(sae),
        source=str(sae.folder),
        weights_fingerprint=sae.fingerprint,
        analysis_version=1,
        has_sparsity=sae.log10_density is not None,
        cfg_json=json.dumps(sae.cfg.raw, sort_keys=True),
        run_id="fuzz",
        seconds=0.0,
    )
    con = schema_connection()
    with pytest.raises(RuntimeError, match="roll back"), store.transaction(con):
        store.insert_record(con, "saes", asdict(record))
        assert con.execute("SELECT count(*) FROM saes").fetchone()[0] == 1
        raise RuntimeError("roll back")


def check_outcome(folder: Path) -> str:
    """Load the folder; return "error" or "loaded" after checking the outcome is one of the two allowed ones."""
    try:
        sae = load_sae_folder(folder)
    except IngestInputError as error:
        message = str(error)
        assert str(folder) in message, f"the message does not name the file at fault: {message}"
        assert len(message) < 2000, f"an error message of {len(message)} characters is not a clear one"
        return "error"
    assert (sae.cfg.d_sae, sae.cfg.d_in) == (D_SAE, D_IN)
    assert sae.W_dec.dtype == torch.float32 and tuple(sae.W_dec.shape) == (D_SAE, D_IN)
    assert torch.isfinite(sae.W_dec).all()
    if sae.log10_density is not None:
        assert tuple(sae.log10_density.shape) == (D_SAE,) and not torch.isnan(sae.log10_density).any()
    assert isinstance(sae.cfg.hook_name, str) and sae.cfg.hook_name and 0 <= sae.cfg.layer < 2**31
    assert_storable(sae)
    return "loaded"


outcomes: dict[str, int] = {"error": 0, "loaded": 0}


@FUZZ
@given(spec=sae_folders())
def test_any_sae_folder_loads_correctly_or_fails_with_a_clear_error(spec):
    with tempfile.TemporaryDirectory() as root:
        outcomes[check_outcome(write_folder(Path(root) / "sae", spec))] += 1


def test_the_fuzzing_reached_both_outcomes(report):
    """Guards the property above against generating only one kind of folder."""
    if sum(outcomes.values()) == 0:
        pytest.skip("runs after the fuzz test in the same session")
    report(f"test_fuzz_sae_folders outcomes: {outcomes}")
    assert outcomes["error"] > 20 and outcomes["loaded"] > 20, outcomes


# --- hand-picked extremes ------------------------------------------------------------------------


def test_huge_declared_sizes_fail_fast_without_allocating(tmp_path):
    cases = {
        "cfg says 10**12 features": (old_cfg(32, 10**12), "W_dec has shape [4, 32] but"),
        "cfg says 10**400 features": (old_cfg(32, 10**400), "W_dec has shape [4, 32] but"),
    }
    started, rss_before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, (cfg, message) in cases.items():
        folder = write_sae_folder(tmp_path / name.replace(" ", "-"), random_decoder(4, 32), cfg)
        with pytest.raises(IngestInputError, match=re.escape(message)):
            load_sae_folder(folder)
    # The header declares a 4 TB W_dec (as many rows as cfg.json claims) that the file does not hold.
    folder = write_sae_folder(tmp_path / "huge-header", random_decoder(4, 32), old_cfg(32, 2**35))
    spoil(folder / WEIGHTS_FILE, ("huge-header", 0, 0))
    with pytest.raises(IngestInputError, match="could not be read as safetensors"):
        load_sae_folder(folder)
    assert time.perf_counter() - started < 5
    assert (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200_000
    )  # kB: nothing near 4 TB was touched


@pytest.mark.parametrize(
    "case",
    [
        "deeply-nested",
        "oversized",
        "cfg-is-a-folder",
        "weights-are-a-folder",
        "lone-surrogate",
        "layer-beyond-int32",
        "sparsity-nan",
        "metadata-not-a-dict",
    ],
)
def test_odd_folders(case, tmp_path):
    folder = write_sae_folder(tmp_path / "sae", random_decoder(D_SAE, D_IN), old_cfg(D_IN, D_SAE))
    cfg, expected = old_cfg(D_IN, D_SAE), None
    if case == "deeply-nested":
        (folder / CFG_FILE).write_text("[" * 100_000 + "]" * 100_000)
        expected = "could not be read as JSON (it nests too deeply)"
    elif case == "oversized":
        (folder / CFG_FILE).write_text(json.dumps(cfg | {"padding": "x" * (2 << 20)}))
        expected = "an SAELens cfg.json is a few kB"
    elif case == "cfg-is-a-folder":
        (folder / CFG_FILE).unlink()
        (folder / CFG_FILE).mkdir()
        expected = "cfg.json is missing"
    elif case == "weights-are-a-folder":
        (folder / WEIGHTS_FILE).unlink()
        (folder / WEIGHTS_FILE).mkdir()
        expected = "sae_weights.safetensors is missing"
    elif case == "lone-surrogate":
        (folder / CFG_FILE).write_text(json.dumps(cfg | {"hook_point": "blocks.0.\ud800"}))
        expected = "holds text that is not valid Unicode"
    elif case == "layer-beyond-int32":
        (folder / CFG_FILE).write_text(json.dumps(cfg | {"hook_point_layer": 2**31}))
        expected = "add 'hook_layer' (an integer from 0 to 2147483647)"
    elif case == "sparsity-nan":
        save_file(
            {"sparsity": torch.tensor([-3.0, math.nan, -2.0, math.inf, -math.inf, -1.0])}, str(folder / SPARSITY_FILE)
        )
        expected = "sparsity has 2 NaN or +Inf values (features [1, 3]"
    elif case == "metadata-not-a-dict":
        (folder / CFG_FILE).write_text(json.dumps(cfg | {"metadata": "gpt2", "neuronpedia_id": ["not", "a", "string"]}))
    if expected is None:
        assert check_outcome(folder) == "loaded"
    else:
        with pytest.raises(IngestInputError, match=re.escape(expected)):
            load_sae_folder(folder)


# --- a few through the CLI, against a catalog ----------------------------------------------------


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory, tiny_gpt2):
    """A catalog with the tiny model and one SAE, and a model loader that boots the model only once."""
    root = tmp_path_factory.mktemp("fuzz-cli")
    good = write_sae_folder(root / "good", random_decoder(D_SAE, 32), old_cfg(32, D_SAE))
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
    return db, functools.cache(ingest.runner.load_model)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=sae_folders())
def test_bad_folders_through_the_cli_leave_the_catalog_unchanged(spec, cli_setup, tiny_gpt2, monkeypatch, capsys):
    db, cached_load_model = cli_setup
    monkeypatch.setattr(ingest.runner, "load_model", cached_load_model)
    with tempfile.TemporaryDirectory() as root:
        # d_in 8 against the tiny model's d_model 32: a folder the loader accepts is refused at the d_in
        # check, so every case must end in exit 2 with the catalog unchanged
        folder = write_folder(Path(root) / "sae", spec)
        copy = Path(root) / "catalog.duckdb"
        shutil.copy(db, copy)
        before = snapshot(copy)
        capsys.readouterr()
        status = cli_main(
            [
                "run",
                "--model",
                str(tiny_gpt2),
                "--sae-dir",
                str(folder),
                "--db",
                str(copy),
                "--device",
                "cpu",
                "--no-enrichment",
            ]
        )
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and err and err[-1].startswith("error: "), err[-3:]
        assert snapshot(copy) == before
