"""Releases of SAELens's directory ingested offline, from a Hugging Face cache written in the upstream
layouts (Gemma Scope ``params.npz``, Llama Scope ``checkpoints/final.safetensors``), and SAELens v6
folders: a residual SAE, a transcoder (writing ``hook_mlp_out``) and a ``hook_z`` SAE of one head.

Each SAE has one planted feature whose decoder row, mapped to the residual stream as its hook
requires (through ``W_O`` for ``attn.hook_z``, all heads or one, × sqrt(d_in) for the embedding SAE), promotes the
tokens of one word group through the processed ``W_U``: the direction solves ``d @ W_U = t`` by least
squares, ``t`` high on the group (highest on its first word) and 0 elsewhere. Every planted feature
must come out of the public CLI as the top feature of its set, with the first word as its top token.
The model's W_U and W_O are the oracle's, read through TransformerBridge as the catalog reads them.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pytest
from safetensors.numpy import save as save_numpy

from catalog.api import Catalog
from ingest.cli import main
from tests.hub_cache import (
    folder_files,
    npz_bytes,
    write_snapshot,
    write_tiny_gemma2,
    write_tiny_llama,
)
from tests.tokenizer_builders import sentencepiece_style_tokenizer

D_SAE = 24
GEMMA = "gemma-2-2b"
GROUPS = {
    "res": ["apple", "pear", "plum", "cherry", "mango", "lemon"],
    "mlp": ["red", "blue", "green", "yellow", "purple", "violet"],
    "att": ["horse", "tiger", "zebra", "otter", "camel", "eagle"],
    "embed": ["oak", "pine", "birch", "maple", "cedar", "willow"],
    "folder": ["iron", "copper", "silver", "gold", "zinc", "tin"],
    "llama": ["one", "two", "three", "four", "five", "six"],
    "transcoder": ["salt", "sugar", "honey", "vinegar", "pepper", "ginger"],
    "head": ["violin", "cello", "flute", "oboe", "harp", "drum"],
}
PLANTED = {"res": 5, "mlp": 11, "att": 17, "embed": 3, "folder": 7, "llama": 9, "transcoder": 13, "head": 21}
HEAD = 3  # the single-head hook_z SAE reads head 3 of layer 0's 8 heads of 256
# (release, SAELens SAE id, its path in the repo) of each Gemma Scope SAE planted.
GEMMA_SAES = {
    "res": ("gemma-scope-2b-pt-res-canonical", "layer_20/width_16k/canonical", "layer_20/width_16k/average_l0_71"),
    "mlp": ("gemma-scope-2b-pt-mlp-canonical", "layer_0/width_16k/canonical", "layer_0/width_16k/average_l0_119"),
    "att": ("gemma-scope-2b-pt-att-canonical", "layer_0/width_16k/canonical", "layer_0/width_16k/average_l0_104"),
    "embed": ("gemma-scope-2b-pt-res", "embedding/width_4k/average_l0_6", "embedding/width_4k/average_l0_6"),
}
REPO_OF = {"res": "google/gemma-scope-2b-pt-res", "mlp": "google/gemma-scope-2b-pt-mlp"}
REPO_OF |= {"att": "google/gemma-scope-2b-pt-att", "embed": "google/gemma-scope-2b-pt-res"}
# Well wider than the vocabulary, so that the least-squares direction reaches its target exactly and is well
# conditioned (at 640 for 600 tokens its float32 logits are off by 0.7: cancellation).
LLAMA_D_MODEL = 1536
LLAMA_REPO, LLAMA_PATH = "fnlp/Llama3_1-8B-Base-LXR-8x", "Llama3_1-8B-Base-L0R-8x"


@dataclass(frozen=True)
class PlantedHub:
    hf_home: Path
    sets_file: Path
    folder_sae: Path
    W_dec: dict[str, np.ndarray]  # as written, per group
    folders: dict[str, Path]  # SAELens v6 folders: "folder", "transcoder", "head"


def _target(pieces: list[str], words: list[str]) -> np.ndarray:
    """Logit target over the vocabulary: 10, 9.8, ... on the group's tokens, 0 elsewhere."""
    t = np.zeros(len(pieces))
    for rank, word in enumerate(words):
        t[pieces.index(f"▁{word}")] = 10.0 - 0.2 * rank
    return t


def _target_first(pieces: list[str], words: list[str]) -> np.ndarray:
    """As `_target`, but the first word well above the others: a direction in fewer dimensions than the
    vocabulary reaches only the target's projection, and the first word must stay on top in it."""
    t = _target(pieces, words) / 2
    t[pieces.index(f"▁{words[0]}")] = 10.0
    return t


def _solve(M: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The least-norm x minimising ||x @ M - t|| (M [width, d_vocab], width > d_vocab): x = M (Mᵀ M)⁺ t, a
    d_vocab-sized pseudo-inverse (the padding token's column is zero, so Mᵀ M is singular)."""
    M = M.astype(np.float64)
    return M @ (np.linalg.pinv(M.T @ M, hermitian=True) @ t)


def _decoder(direction: np.ndarray, feature: int, seed: int) -> np.ndarray:
    """[D_SAE, width]: small random rows, and ``direction`` at ``feature``."""
    rows = np.random.default_rng(seed).normal(0, 0.01, (D_SAE, direction.shape[0]))
    rows[feature] = direction
    return rows.astype(np.float32)


def _gemma_scope_npz(W_dec: np.ndarray, seed: int) -> bytes:
    d_sae, width = W_dec.shape
    rng = np.random.default_rng(seed)
    return npz_bytes(
        {
            "W_enc": rng.normal(0, 0.01, (width, d_sae)).astype(np.float32),
            "W_dec": W_dec,
            "b_enc": np.zeros(d_sae, np.float32),
            "b_dec": np.zeros(width, np.float32),
            "threshold": np.full(d_sae, 0.1, np.float32),
        }
    )


@pytest.fixture(scope="session")
def planted_hub(tmp_path_factory: pytest.TempPathFactory) -> PlantedHub:
    from ingest.sources.model import load_model

    root = tmp_path_factory.mktemp("hub")
    hf_home = root / "hf"
    words = [w for group in GROUPS.values() for w in group]
    tokenizer = sentencepiece_style_tokenizer(words)
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    gemma = write_tiny_gemma2(root / "gemma", tokenizer)
    llama = write_tiny_llama(root / "llama", tokenizer, d_model=LLAMA_D_MODEL)
    write_snapshot(hf_home, "google/gemma-2-2b", folder_files(gemma))
    write_snapshot(hf_home, "meta-llama/Llama-3.1-8B", folder_files(llama))
    g_model = load_model(str(gemma), GEMMA, W_O_layers=[0])
    W_U = g_model.W_U.numpy()  # [2304, d_vocab], processed
    W_O = g_model.W_O[0].numpy()  # [8, 256, 2304]
    W_dec = {}
    for kind in ("res", "mlp", "folder"):
        W_dec[kind] = _decoder(_solve(W_U, _target(pieces, GROUPS[kind])), PLANTED[kind], seed=len(W_dec))
    z_to_logits = W_O.reshape(8 * 256, -1) @ W_U  # [2048, d_vocab]
    W_dec["att"] = _decoder(_solve(z_to_logits, _target(pieces, GROUPS["att"])), PLANTED["att"], seed=10)
    embed_direction = _solve(W_U, _target(pieces, GROUPS["embed"])) / np.sqrt(2304)  # SAELens rescales by sqrt(d_in)
    W_dec["embed"] = _decoder(embed_direction, PLANTED["embed"], seed=11)
    for kind, (_, _, path) in GEMMA_SAES.items():
        write_snapshot(hf_home, REPO_OF[kind], {f"{path}/params.npz": _gemma_scope_npz(W_dec[kind], seed=20)})
    l_W_U = load_model(str(llama), "llama").W_U.numpy()
    W_dec["llama"] = _decoder(_solve(l_W_U, _target(pieces, GROUPS["llama"])), PLANTED["llama"], seed=12)
    hyperparams = {
        "d_model": LLAMA_D_MODEL,
        "d_sae": D_SAE,
        "hook_point_in": "blocks.0.hook_resid_post",
        "hook_point_out": "blocks.0.hook_resid_post",
        "jump_relu_threshold": 0.5,
        "dataset_average_activation_norm": {"in": 3.0, "out": 3.0},
    }
    llama_weights = {
        "encoder.weight": np.zeros((D_SAE, LLAMA_D_MODEL), np.float32),
        "encoder.bias": np.zeros(D_SAE, np.float32),
        "decoder.weight": np.ascontiguousarray(W_dec["llama"].T),  # Llama Scope stores [d_model, d_sae]
        "decoder.bias": np.zeros(LLAMA_D_MODEL, np.float32),
    }
    write_snapshot(
        hf_home,
        LLAMA_REPO,
        {
            f"{LLAMA_PATH}/hyperparams.json": json.dumps(hyperparams).encode(),
            f"{LLAMA_PATH}/checkpoints/final.safetensors": save_numpy(llama_weights),
        },
    )
    # A transcoder (reads the MLP's input, writes hook_mlp_out) and a hook_z SAE of one head, both as
    # SAELens v6 folders.
    W_dec["transcoder"] = _decoder(_solve(W_U, _target(pieces, GROUPS["transcoder"])), PLANTED["transcoder"], 13)
    head_to_logits = W_O[HEAD] @ W_U  # [256, d_vocab]
    W_dec["head"] = _decoder(_solve(head_to_logits, _target_first(pieces, GROUPS["head"])), PLANTED["head"], 14)
    folders = {
        "folder": _write_v6_folder(root / "v6-folder-sae", W_dec["folder"], "blocks.0.hook_resid_pre", "0-my-res"),
        "transcoder": _write_v6_folder(
            root / "v6-transcoder",
            W_dec["transcoder"],
            "blocks.0.ln2.hook_normalized",
            "0-my-transcoder",
            {"hook_name_out": "blocks.0.hook_mlp_out"},
            {"d_out": 2304},
        ),
        "head": _write_v6_folder(
            root / "v6-head-sae", W_dec["head"], "blocks.0.attn.hook_z", "0-my-head3", {"hook_head_index": HEAD}
        ),
    }
    folder_sae = folders["folder"]
    sets_file = root / "planted_sets.toml"
    sets_file.write_text(
        "".join(f"[sets.planted_{kind}]\nwords = {json.dumps(list(group))}\n\n" for kind, group in GROUPS.items())
    )
    return PlantedHub(hf_home, sets_file, folder_sae, W_dec, folders)


def _write_v6_folder(
    folder: Path,
    W_dec: np.ndarray,
    hook_name: str,
    neuronpedia_sae: str,
    metadata: dict | None = None,
    cfg_extra: dict | None = None,
) -> Path:
    """A SAELens v6 folder: model and hook under ``metadata``; d_in is what the encoder reads (the
    decoder's width, except for the transcoder, whose d_out is given)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    d_in = 2304 if cfg_extra and "d_out" in cfg_extra else W_dec.shape[1]
    cfg = {
        "d_in": d_in,
        "d_sae": D_SAE,
        "dtype": "float32",
        "architecture": "standard",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "metadata": {
            "model_name": GEMMA,
            "hook_name": hook_name,
            "hook_head_index": None,
            "sae_lens_version": "6.5.0",
            "neuronpedia_id": f"gemma-2-2b/{neuronpedia_sae}",
        }
        | (metadata or {}),
    } | (cfg_extra or {})
    (folder / "cfg.json").write_text(json.dumps(cfg))
    save_file(
        {
            "W_dec": W_dec,
            "W_enc": np.zeros((d_in, D_SAE), np.float32),
            "b_dec": np.zeros(W_dec.shape[1], np.float32),
        },
        str(folder / "sae_weights.safetensors"),
    )
    save_file({"sparsity": np.linspace(-6, -1, D_SAE).astype(np.float32)}, str(folder / "sparsity.safetensors"))
    return folder


OPTIONS = ["--device", "cpu", "--null-directions", "256", "--null-holdout", "0", "--top-k", "5"]


def _offline(monkeypatch: pytest.MonkeyPatch, hf_home: Path) -> None:
    """Point this process's huggingface_hub (already imported, its constants read) at the fixture cache, offline."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def catalog_db(planted_hub: PlantedHub, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every planted SAE ingested through the CLI's entry point (``llcat-ingest`` is ``ingest.cli:main``),
    offline. The first is the README's `make ingest RELEASE=gemma-scope-2b-pt-res-canonical
    SAE_IDS=layer_20/width_16k/canonical`. (In process, with huggingface_hub's constants pointed at the
    cache as the environment variables would at import: a subprocess per run would cost its imports.)"""
    db = tmp_path_factory.mktemp("catalog") / "catalog.duckdb"
    sets = ["--token-sets", str(planted_hub.sets_file)]
    with pytest.MonkeyPatch.context() as monkeypatch:
        _offline(monkeypatch, planted_hub.hf_home)
        for kind in ("res", "mlp", "att", "embed"):
            release, sae_id, _ = GEMMA_SAES[kind]
            assert main(["run", "--db", str(db), "--release", release, "--sae-id", sae_id] + sets + OPTIONS) == 0
        for kind in ("folder", "transcoder", "head"):
            folder = [
                "--sae-dir",
                str(planted_hub.folders[kind]),
                "--model",
                "google/gemma-2-2b",
                "--model-name",
                GEMMA,
            ]
            assert main(["run", "--db", str(db), *folder, "--release-name", "mine"] + sets + OPTIONS) == 0
        llama = ["--release", "llama_scope_lxr_8x", "--sae-id", "l0r_8x"]
        assert main(["run", "--db", str(db), *llama] + sets + OPTIONS) == 0
    return db


SAE_ID_OF = {kind: f"{release}/{sae_id}" for kind, (release, sae_id, _) in GEMMA_SAES.items()}
SAE_ID_OF |= {"folder": "mine/v6-folder-sae", "llama": "llama_scope_lxr_8x/l0r_8x"}
SAE_ID_OF |= {"transcoder": "mine/v6-transcoder", "head": "mine/v6-head-sae"}


@pytest.mark.parametrize("kind", list(GROUPS))
def test_planted_feature_is_the_top_feature_of_its_set_with_its_top_token(catalog_db, kind):
    top = Catalog(catalog_db).top_features_for_set(f"planted_{kind}", direction=1, limit=50).frame
    assert (top.iloc[0]["sae_id"], int(top.iloc[0]["feature"])) == (SAE_ID_OF[kind], PLANTED[kind])
    with duckdb.connect(str(catalog_db), read_only=True) as con:
        token = con.execute(
            "SELECT t.raw FROM feature_tokens ft JOIN saes s USING (sae_id) JOIN tokens t"
            " ON t.model_name = s.model_name AND t.token_id = ft.token_id"
            " WHERE ft.sae_id = $sae AND ft.feature = $f AND ft.direction = 'top' AND ft.rank = 0",
            {"sae": SAE_ID_OF[kind], "f": PLANTED[kind]},
        ).fetchone()
    assert token == (f"▁{GROUPS[kind][0]}",)


def test_hook_kinds_mappings_and_order_are_stored(catalog_db):
    with duckdb.connect(str(catalog_db), read_only=True) as con:
        rows = con.execute(
            "SELECT sae_id, model_name, hook_name, hook_kind, logit_mapping, hook_position, d_in, d_sae, neuronpedia_id"
            " FROM saes WHERE model_name = $m ORDER BY hook_position, sae_id",
            {"m": GEMMA},
        ).fetchall()
    by_id = {row[0]: row[1:] for row in rows}
    order = ("embed", "folder", "att", "head", "mlp", "transcoder", "res")
    assert [row[0] for row in rows] == [SAE_ID_OF[k] for k in order]
    assert by_id[SAE_ID_OF["head"]][1:6] == (
        "blocks.0.attn.hook_z",
        "attn_z",
        f"W_dec [{D_SAE}, 256] · W_O[head {HEAD}] @ W_U",
        2,
        256,
    )
    # a transcoder reads the MLP's input and sits where it writes, at hook_mlp_out
    assert by_id[SAE_ID_OF["transcoder"]][1:5] == ("blocks.0.ln2.hook_normalized", "transcoder", "W_dec @ W_U", 4)
    assert by_id[SAE_ID_OF["mlp"]][4] == 4
    assert by_id[SAE_ID_OF["att"]] == (
        GEMMA,
        "blocks.0.attn.hook_z",
        "attn_z",
        f"W_dec reshaped [{D_SAE}, 8, 256] · W_O[all heads] @ W_U",
        2,
        2048,
        D_SAE,
        "gemma-2-2b/0-gemmascope-att-16k",
    )
    assert by_id[SAE_ID_OF["embed"]][1:5] == ("hook_embed", "embed", "W_dec × sqrt(2304) @ W_U", 0)
    assert by_id[SAE_ID_OF["res"]][1:5] == ("blocks.20.hook_resid_post", "resid_post", "W_dec @ W_U", 1 + 5 * 20 + 4)
    assert by_id[SAE_ID_OF["mlp"]][2:4] == ("mlp_out", "W_dec @ W_U")
    assert by_id[SAE_ID_OF["res"]][-1] == "gemma-2-2b/20-gemmascope-res-16k"
    assert by_id[SAE_ID_OF["folder"]][-1] == "gemma-2-2b/0-my-res"


def test_stored_decoders_are_the_mapped_rows_and_fingerprints_the_raw_ones(catalog_db, planted_hub):
    """decoder.vec holds the residual-stream rows (oracle: numpy through the same W_O); the
    fingerprint is sha256 of W_dec as the file holds it."""
    import hashlib

    from ingest.sources.model import load_model

    with duckdb.connect(str(catalog_db), read_only=True) as con:
        vec, head_vec = (
            np.array(
                con.execute(
                    "SELECT vec FROM decoder WHERE sae_id = $s AND feature = $f",
                    {"s": SAE_ID_OF[kind], "f": PLANTED[kind]},
                ).fetchone()[0]
            )
            for kind in ("att", "head")
        )
        fingerprints = dict(con.execute("SELECT sae_id, weights_fingerprint FROM saes").fetchall())
    gemma = planted_hub.hf_home / "hub" / "models--google--gemma-2-2b" / "snapshots"
    W_O = load_model(str(next(gemma.iterdir())), GEMMA, W_O_layers=[0]).W_O[0].numpy()
    expected = np.einsum("hd,hdm->m", planted_hub.W_dec["att"][PLANTED["att"]].reshape(8, 256), W_O)
    np.testing.assert_allclose(vec, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(head_vec, planted_hub.W_dec["head"][PLANTED["head"]] @ W_O[HEAD], rtol=1e-4, atol=1e-5)
    for kind in ("res", "mlp", "att"):
        assert fingerprints[SAE_ID_OF[kind]] == hashlib.sha256(planted_hub.W_dec[kind].tobytes()).hexdigest()


def test_offline_run_without_the_files_in_the_cache_fails_with_one_error(planted_hub, tmp_path, monkeypatch, capsys):
    _offline(monkeypatch, planted_hub.hf_home)
    db = tmp_path / "c.duckdb"
    code = main(
        [
            "run",
            "--db",
            str(db),
            "--release",
            "gemma-scope-2b-pt-res-canonical",
            "--sae-id",
            "layer_5/width_16k/canonical",
        ]
    )
    assert code == 2 and not db.exists()
    err = capsys.readouterr().err
    assert "could not download layer_5/width_16k/average_l0_" in err and "HF_HUB_OFFLINE" in err


def test_neuronpedia_links_and_quick_lists_take_the_model_from_the_id(catalog_db):
    from catalog.neuronpedia import embed_url, feature_url, features_of, quick_list_url

    top = Catalog(catalog_db).top_features_for_set("planted_res", direction=1, limit=1).frame
    expected = "https://neuronpedia.org/gemma-2-2b/20-gemmascope-res-16k/5"
    assert top.iloc[0]["neuronpedia_url"] == expected == feature_url("gemma-2-2b/20-gemmascope-res-16k", 5)
    assert embed_url("gemma-2-2b/20-gemmascope-res-16k", 5).startswith(expected + "?embed=true")
    features = features_of(catalog_db, top)
    assert [f.quick_list_entry() for f in features] == [
        {"modelId": "gemma-2-2b", "layer": "20-gemmascope-res-16k", "index": "5"}
    ]
    assert "%22modelId%22%3A%20%22gemma-2-2b%22" in quick_list_url(features)
    llama = Catalog(catalog_db).top_features_for_set("planted_llama", direction=1, limit=1).frame
    assert llama.iloc[0]["neuronpedia_url"] == "https://neuronpedia.org/llama3.1-8b/0-llamascope-res-32k/9"


def test_saes_query_lists_a_model_in_residual_stream_order(catalog_db):
    saes = Catalog(catalog_db).run("saes", model=GEMMA).frame
    order = ("embed", "folder", "att", "head", "mlp", "transcoder", "res")
    assert list(saes["sae_id"]) == [SAE_ID_OF[k] for k in order]
    kinds = ["embed", "resid_pre", "attn_z", "attn_z", "mlp_out", "transcoder", "resid_post"]
    assert list(saes["hook_kind"]) == kinds


def test_make_ingest_of_a_release_runs_as_the_readme_says_from_the_hf_cache_offline(planted_hub, tmp_path):
    """The README's `make ingest RELEASE=gemma-scope-2b-pt-res-canonical SAE_IDS=layer_20/width_16k/canonical`,
    typed in a user's shell with the HF cache populated and no network (plus the planted token sets)."""
    from tests.test_readme_commands import ROOT, user_env

    db = tmp_path / "gemma.duckdb"
    extra = " ".join(["--token-sets", str(planted_hub.sets_file), *OPTIONS])
    release, sae_id, _ = GEMMA_SAES["res"]
    done = subprocess.run(
        ["make", "ingest", f"RELEASE={release}", f"SAE_IDS={sae_id}", f"DB={db}", f"INGEST_ARGS={extra}"],
        cwd=ROOT,
        env=user_env(HF_HOME=str(planted_hub.hf_home), HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    top = Catalog(db).top_features_for_set("planted_res", direction=1, limit=5).frame
    assert (top.iloc[0]["sae_id"], int(top.iloc[0]["feature"])) == (SAE_ID_OF["res"], PLANTED["res"])
    assert list(Catalog(db).saes().frame["sae_id"]) == [SAE_ID_OF["res"]]
