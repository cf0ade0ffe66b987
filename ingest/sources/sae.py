"""Loading one SAE from a folder in the SAELens layout.

A folder holds ``cfg.json``, ``sae_weights.safetensors`` (``W_enc [d_in, d_sae]``, ``b_enc [d_sae]``,
``W_dec [d_sae, d_in]``, ``b_dec [d_in]``) and optionally ``sparsity.safetensors`` (``"sparsity"
[d_sae]``: log10 firing density). Two ``cfg.json`` schemas exist and both load:

- the old one (``jbloom/GPT2-Small-SAEs-Reformatted``): ``hook_point``, ``hook_point_layer``, ...
- the newer SAELens one (v6): ``hook_name`` / ``model_name`` at the top level or under ``metadata``.

Only ``W_dec`` and the sparsity are read into memory: the logit lens needs nothing else. The hook
(``ingest.sources.hooks``) says how the decoder rows reach the logits; ``hook_embed`` SAEs sit at layer 0.
Releases in other upstream layouts (Gemma Scope, Llama Scope, ...) are read by ``ingest.sources.sae_formats``
into the same ``LoadedSae``.
"""

from __future__ import annotations

import hashlib
import json
import re
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors import safe_open

from ingest.errors import IngestInputError
from ingest.sources.hooks import PLAIN_MAPPING, Hook, classify_hook

CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"
SPARSITY_FILE = "sparsity.safetensors"
_LAYER_IN_HOOK = re.compile(r"blocks\.(\d+)\.")
MAX_CFG_BYTES = 1 << 20  # SAELens cfg.json files are a few kB
MAX_LAYER = 2**31 - 1  # the catalog's INTEGER column


@dataclass(frozen=True)
class SaeConfig:
    """What the catalog needs from a ``cfg.json``, whichever schema it used."""

    d_in: int
    d_sae: int
    hook_name: str
    layer: int
    model_name: str | None
    raw: dict[str, Any]
    hook: Hook  # kind, position in the model, head (hook_z SAEs of one head)

    @property
    def d_out(self) -> int:
        """The decoder's width: ``d_in``, or a transcoder's ``d_out`` (what it writes may differ from what it reads)."""
        d_out = _cfg_value(self.raw, "d_out")
        if self.hook.kind == "transcoder" and isinstance(d_out, int) and not isinstance(d_out, bool) and d_out > 0:
            return d_out
        return self.d_in


@dataclass(frozen=True)
class LoadedSae:
    folder: Path
    cfg: SaeConfig
    # The decoder rows: [d_sae, d_in] as read; after ingest.sources.residual.to_residual, the rows mapped
    # into the residual stream, [d_sae, d_model] (the same tensor for all hooks but hook_z). float32, CPU.
    W_dec: torch.Tensor
    log10_density: torch.Tensor | None  # [d_sae] float32, or None without a sparsity file
    fingerprint: str  # sha256 over W_dec as read (before any mapping) and the sparsity
    logit_mapping: str = PLAIN_MAPPING  # how W_dec reaches the logits, as text


def _cfg_value(cfg: dict[str, Any], *keys: str) -> Any:
    """First of `keys` present at the top level or under ``metadata`` (the newer schema)."""
    metadata: dict[str, Any] = cfg["metadata"] if isinstance(cfg.get("metadata"), dict) else {}
    for key in keys:
        for source in (cfg, metadata):
            if source.get(key) is not None:
                return source[key]
    return None


def _positive_int(cfg_path: Path, cfg: dict[str, Any], key: str) -> int:
    value = cfg.get(key)
    if value is None:
        raise IngestInputError(
            f"{cfg_path}: no {key!r}; an SAELens cfg.json must give d_in and d_sae (the SAE's input "
            "width and number of features)"
        )
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise IngestInputError(f"{cfg_path}: {key!r} is {reprlib.repr(value)}; it must be a positive integer")
    return value


def _read_cfg_json(cfg_path: Path) -> dict[str, Any]:
    if not cfg_path.is_file():
        raise IngestInputError(
            f"{cfg_path} is missing; an SAE folder in the SAELens layout needs cfg.json, "
            f"{WEIGHTS_FILE} and optionally {SPARSITY_FILE}"
        )
    if cfg_path.stat().st_size > MAX_CFG_BYTES:
        raise IngestInputError(
            f"{cfg_path} is {cfg_path.stat().st_size} bytes; an SAELens cfg.json is a few kB, so "
            "this is not one: fix or re-download the file"
        )
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        reason = "it nests too deeply" if isinstance(error, RecursionError) else str(error)
        raise IngestInputError(
            f"{cfg_path} could not be read as JSON ({reason}); fix or re-download the file"
        ) from error
    if not isinstance(cfg, dict):
        raise IngestInputError(
            f"{cfg_path} holds a JSON {type(cfg).__name__}, not an object; fix or re-download the file"
        )
    try:  # JSON escapes can spell lone surrogates, which no UTF-8 text (nor the catalog) can hold
        json.dumps(cfg, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError) as error:
        raise IngestInputError(
            f"{cfg_path} holds text that is not valid Unicode ({error}); fix or re-download the file"
        ) from error
    return cfg


def parse_cfg(cfg_path: Path) -> SaeConfig:
    """Read a ``cfg.json`` in either SAELens schema."""
    return config_from_dict(_read_cfg_json(cfg_path), cfg_path)


def config_from_dict(cfg: dict[str, Any], cfg_path: Path | str) -> SaeConfig:
    """The catalog's view of a cfg dict (a ``cfg.json``, or SAELens's conversion of an upstream layout);
    ``cfg_path`` names it in errors."""
    cfg_path = Path(cfg_path)
    d_in = _positive_int(cfg_path, cfg, "d_in")
    d_sae = _positive_int(cfg_path, cfg, "d_sae")
    hook_name = _cfg_value(cfg, "hook_name", "hook_point")
    if not isinstance(hook_name, str) or not hook_name:
        raise IngestInputError(
            f"{cfg_path}: no hook name ('hook_name', 'metadata.hook_name' or 'hook_point'); add the "
            'hook the SAE reads, e.g. "blocks.8.hook_resid_pre"'
        )
    layer = _cfg_value(cfg, "hook_layer", "hook_point_layer")
    if layer is None and hook_name == "hook_embed":
        layer = 0  # the embedding comes before block 0
    if layer is None:
        match = _LAYER_IN_HOOK.search(hook_name)
        layer = int(match.group(1)) if match else None
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= MAX_LAYER:
        raise IngestInputError(
            f"{cfg_path}: cannot tell the layer (hook {reprlib.repr(hook_name)}, layer "
            f"{reprlib.repr(layer)}); "
            f"add 'hook_layer' (an integer from 0 to {MAX_LAYER}) to cfg.json"
        )
    model_name = _cfg_value(cfg, "model_name")
    return SaeConfig(
        d_in=d_in,
        d_sae=d_sae,
        hook_name=hook_name,
        layer=layer,
        model_name=str(model_name) if model_name is not None else None,
        raw=cfg,
        hook=_hook(cfg_path, cfg, hook_name),
    )


def _hook(cfg_path: Path, cfg: dict[str, Any], hook_name: str) -> Hook:
    head_index = _cfg_value(cfg, "hook_head_index", "hook_point_head_index")
    if head_index is not None and (isinstance(head_index, bool) or not isinstance(head_index, int) or head_index < 0):
        raise IngestInputError(
            f"{cfg_path}: hook_head_index is {reprlib.repr(head_index)}; it must be null or a head number (0, 1, ...)"
        )
    hook_name_out = _cfg_value(cfg, "hook_name_out")
    try:
        return classify_hook(hook_name, hook_name_out if isinstance(hook_name_out, str) else None, head_index)
    except ValueError as error:
        raise IngestInputError(f"{cfg_path}: {error}") from error


def read_tensor(path: Path, name: str, expected_shape: tuple[int, ...], cfg_path: Path) -> torch.Tensor:
    """Check the declared shape and dtype from the header first, then read: a file that declares
    a huge or wrong tensor fails before anything is allocated."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            if name not in handle.keys():
                raise IngestInputError(
                    f"{path} has no tensor {name!r} (it has {sorted(handle.keys())[:10]}); is it an "
                    f"SAELens {path.name}?"
                )
            declared = handle.get_slice(name)
            shape, dtype = tuple(declared.get_shape()), str(declared.get_dtype())
            if shape != expected_shape:
                raise IngestInputError(
                    f"{path}: {name} has shape {list(shape)} but {cfg_path} says "
                    f"{list(expected_shape)}; the weights and cfg.json do not belong together"
                )
            if not dtype.startswith(("F", "BF")):
                raise IngestInputError(f"{path}: {name} has dtype {dtype}; SAE weights must be floating point")
            tensor = handle.get_tensor(name)
    except IngestInputError:
        raise
    except Exception as error:  # safetensors raises its own error types for truncated or corrupt files
        raise IngestInputError(
            f"{path} could not be read as safetensors ({error}); re-download or re-save the file"
        ) from error
    if tuple(tensor.shape) != expected_shape or not tensor.is_floating_point():
        raise IngestInputError(
            f"{path}: {name} read as {tensor.dtype} {list(tensor.shape)}, not floating point "
            f"{list(expected_shape)}; re-download or re-save the file"
        )
    return tensor.to(torch.float32)


def fingerprint(W_dec: torch.Tensor, log10_density: torch.Tensor | None) -> str:
    digest = hashlib.sha256(W_dec.contiguous().numpy().tobytes())
    if log10_density is not None:
        digest.update(log10_density.contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_decoder(W_dec: torch.Tensor, path: Path) -> torch.Tensor:
    """``W_dec`` itself, after checking it holds no NaN or Inf (``path`` names the file at fault)."""
    bad = ~torch.isfinite(W_dec)
    if bad.any():
        rows = bad.any(dim=1).nonzero().flatten()[:5].tolist()
        raise IngestInputError(
            f"{path}: W_dec has {int(bad.sum())} NaN or Inf values (features {rows}...); "
            "the weights are corrupt, re-download or re-train them"
        )
    return W_dec


def check_density(log10_density: torch.Tensor, path: Path) -> torch.Tensor:
    """The log10 firing densities, after checking for NaN and +Inf (-Inf is a feature that never fired)."""
    bad = torch.isnan(log10_density) | (log10_density == float("inf"))
    if bad.any():
        raise IngestInputError(
            f"{path}: sparsity has {int(bad.sum())} NaN or +Inf values (features "
            f"{bad.nonzero().flatten()[:5].tolist()}...); "
            "it must hold log10 firing densities: re-download the file, or remove it to ingest "
            "without densities"
        )
    return log10_density


def load_sae_files(
    folder: Path, cfg: SaeConfig, cfg_path: Path, weights_path: Path, sparsity_path: Path | None
) -> LoadedSae:
    """W_dec (and the sparsity) of SAELens-layout files whose cfg has been read."""
    if not weights_path.is_file():
        raise IngestInputError(f"{weights_path} is missing; an SAE folder needs its weights next to {CFG_FILE}")
    W_dec = check_decoder(read_tensor(weights_path, "W_dec", (cfg.d_sae, cfg.d_out), cfg_path), weights_path)
    log10_density = None
    if sparsity_path is not None and sparsity_path.exists():
        log10_density = check_density(read_tensor(sparsity_path, "sparsity", (cfg.d_sae,), cfg_path), sparsity_path)
    return LoadedSae(
        folder=folder, cfg=cfg, W_dec=W_dec, log10_density=log10_density, fingerprint=fingerprint(W_dec, log10_density)
    )


def load_sae_folder(folder: Path | str) -> LoadedSae:
    """Load and validate one SAE folder; raises IngestInputError naming the file at fault."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IngestInputError(
            f"SAE folder {folder} does not exist or is not a folder; pass a folder holding cfg.json and {WEIGHTS_FILE}"
        )
    cfg_path = folder / CFG_FILE
    return load_sae_files(folder, parse_cfg(cfg_path), cfg_path, folder / WEIGHTS_FILE, folder / SPARSITY_FILE)


class SaeHandle(Protocol):
    """Where the runner gets one SAE from: its cfg first (small), then its decoder."""

    def config(self) -> SaeConfig: ...

    def load(self) -> LoadedSae: ...


@dataclass(frozen=True)
class FolderSae:
    """An SAE folder on disk in the SAELens layout."""

    folder: Path

    def config(self) -> SaeConfig:
        if not self.folder.is_dir():
            return load_sae_folder(self.folder).cfg  # raises the folder error
        return parse_cfg(self.folder / CFG_FILE)

    def load(self) -> LoadedSae:
        return load_sae_folder(self.folder)
