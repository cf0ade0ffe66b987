"""One SAE of a release, read in its upstream layout with only the files it needs.

SAELens gives, per release, the repo, the SAE's path in it and the converter of its layout; its
``get_*_config_from_hf`` functions give the cfg dict without reading weights. The decoder is read
here, per layout, without ``W_enc`` (for a 1M-feature Gemma Scope SAE that halves the memory):

===================  ====================================================  ==========================
layout               files                                                 W_dec read as
===================  ====================================================  ==========================
sae_lens (native)    ``PATH/cfg.json``, ``PATH/sae_weights.safetensors``,   ``W_dec`` ``[d_sae, d_in]``
                     optional ``PATH/sparsity.safetensors``                 (safe_open, one tensor)
gemma_2 (Gemma       ``PATH/params.npz``                                   the ``W_dec.npy`` member
Scope)                                                                     alone (zipfile)
gemma_3 (Gemma       ``PATH/params.safetensors`` (+ ``PATH/config.json``)   ``w_dec`` (safe_open)
Scope 2)
llama_scope          ``PATH/hyperparams.json``,                            ``decoder.weight`` transposed
                     ``PATH/checkpoints/final.safetensors``
anything else        SAELens's full loader (``NAMED_PRETRAINED_SAE_LOADERS``), which reads W_enc too; a log line says so
===================  ====================================================  ==========================

Gemma Scope's cfg takes ``d_sae`` from the folder name (``width_16k``); the decoder file's shape is
what counts. Embedding SAEs of Gemma Scope are rescaled by ``sqrt(d_in)`` as SAELens's converter does.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import zipfile
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ingest.errors import IngestInputError
from ingest.sources.hub import fetch_file
from ingest.sources.registry import Release, ReleaseSae, sae_lens_config_overrides
from ingest.sources.sae import (
    CFG_FILE,
    SPARSITY_FILE,
    WEIGHTS_FILE,
    LoadedSae,
    SaeConfig,
    _read_cfg_json,
    check_decoder,
    config_from_dict,
    fingerprint,
    load_sae_files,
    read_tensor,
)

log = logging.getLogger(__name__)
NATIVE_LAYOUTS = ("sae_lens", "gemma_2", "gemma_3", "llama_scope")


class ReleaseSaeHandle:
    """What the runner asks of an SAE of a release: its cfg (cheap), then its decoder."""

    def __init__(self, release: Release, sae: ReleaseSae) -> None:
        self.release, self.sae = release, sae
        self._noted: set[str] = set()  # notes already logged (a run loads each SAE twice: to validate, to ingest)

    def _note(self, message: str) -> None:
        if message not in self._noted:
            self._noted.add(message)
            log.info("%s", message)

    @property
    def where(self) -> str:
        return f"{self.release.repo_id}/{self.sae.path} (SAE {self.sae.id!r} of release {self.release.name!r})"

    def _file(self, name: str, optional: bool = False) -> Path | None:
        return fetch_file(self.release, self.sae, f"{self.sae.path}/{name}", optional)

    def _required(self, name: str) -> Path:
        path = self._file(name)
        assert path is not None
        return path

    @cached_property
    def _cfg_dict(self) -> dict[str, Any]:
        if self.release.layout == "sae_lens":
            return _read_cfg_json(self._required(CFG_FILE)) | sae_lens_config_overrides(self.release, self.sae)
        return self._converted_cfg()

    def config(self) -> SaeConfig:
        """The SAE's cfg as the catalog reads it (downloads the cfg file only)."""
        cfg = config_from_dict(self._cfg_dict, self.where)
        return cfg

    def load(self) -> LoadedSae:
        """The decoder (and the sparsity), read from only the files the layout needs."""
        layout = self.release.layout
        if layout == "sae_lens":
            cfg_path = self._required(CFG_FILE)
            return load_sae_files(
                cfg_path.parent, self.config(), cfg_path, self._required(WEIGHTS_FILE), self._file(SPARSITY_FILE, True)
            )
        if layout == "gemma_2":
            return self._gemma_scope()
        if layout == "gemma_3" and "clt" not in self.sae.path:
            return self._decoder_from_safetensors("params.safetensors", "w_dec", transposed=False)
        if layout == "llama_scope":
            return self._decoder_from_safetensors("checkpoints/final.safetensors", "decoder.weight", transposed=True)
        return self._full_loader()

    # --- cfg ---------------------------------------------------------------------------------

    def _converted_cfg(self) -> dict[str, Any]:
        """SAELens's conversion of the upstream cfg, without weights (its getters fetch through the HF cache)."""
        from sae_lens.loading import pretrained_sae_loaders as loaders

        # Gemma Scope 2's getter asks the hub for the safetensors header by HTTP range requests, which
        # bypass the cache (and HF_HUB_OFFLINE); read the header of the cached file instead.
        original = loaders.get_safetensors_tensor_shapes
        loaders.get_safetensors_tensor_shapes = self._tensor_shapes
        try:
            return dict(loaders.load_sae_config_from_huggingface(self.release.name, self.sae.id, device="cpu"))
        except IngestInputError:
            raise
        except Exception as error:  # the converters raise ValueError, KeyError and hub errors alike
            raise IngestInputError(
                f"{self.where}: SAELens's {self.release.layout!r} converter could not read its cfg "
                f"({type(error).__name__}: {error}); check the network (or HF_HUB_OFFLINE with a warm cache)"
            ) from error
        finally:
            loaders.get_safetensors_tensor_shapes = original

    def _tensor_shapes(self, repo_id: str, filename: str) -> dict[str, list[int]]:
        from safetensors import safe_open

        path = fetch_file(self.release, self.sae, filename)
        assert path is not None and repo_id == self.release.repo_id
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {name: list(handle.get_slice(name).get_shape()) for name in handle.keys()}

    # --- decoders ------------------------------------------------------------------------------

    def _loaded(self, W_dec: torch.Tensor, path: Path, folder: Path | None = None) -> LoadedSae:
        """A LoadedSae whose cfg takes d_sae from the decoder read (converters guess it from names); ``path``
        names the file in errors, ``folder`` (default: the file's) is recorded as the SAE's source."""
        cfg = self.config()
        d_sae, width = W_dec.shape
        if width != cfg.d_out:
            raise IngestInputError(
                f"{path}: W_dec is {list(W_dec.shape)} but SAELens's cfg of {self.where} says width {cfg.d_out}; "
                "the file does not belong to this SAE: re-download it"
            )
        if d_sae != cfg.d_sae:
            self._note(f"note: {self.where} has {d_sae} features (its cfg guessed {cfg.d_sae} from the name)")
            cfg = dataclasses.replace(cfg, d_sae=d_sae, raw=cfg.raw | {"d_sae": d_sae})
        W_dec = check_decoder(W_dec, path)
        return LoadedSae(folder or path.parent, cfg, W_dec, None, fingerprint(W_dec, None))

    def _gemma_scope(self) -> LoadedSae:
        path = self._required("params.npz")
        W_dec = torch.from_numpy(read_npz_member(path, ("W_dec", "w_dec"))).to(torch.float32)
        if "embedding" not in self.sae.path:
            return self._loaded(W_dec, path)
        # Gemma scales its embeddings by sqrt(d_model); Gemma Scope's embedding SAEs were trained on the
        # unscaled ones, and SAELens's converter multiplies W_dec by sqrt(d_in) to match hook_embed.
        scale = math.sqrt(self.config().d_in)
        sae = self._loaded(W_dec, path)
        return dataclasses.replace(
            sae, W_dec=sae.W_dec * scale, logit_mapping=f"W_dec × sqrt({self.config().d_in}) @ W_U"
        )

    def _decoder_from_safetensors(self, name: str, tensor: str, transposed: bool) -> LoadedSae:
        from safetensors import safe_open

        path = self._required(name)
        try:
            with safe_open(str(path), framework="pt", device="cpu") as handle:
                shape = list(handle.get_slice(tensor).get_shape()) if tensor in handle.keys() else None
        except Exception as error:  # safetensors raises its own types for corrupt files
            raise IngestInputError(f"{path} could not be read as safetensors ({error}); re-download it") from error
        if shape is None or len(shape) != 2:
            raise IngestInputError(f"{path}: no 2-d tensor {tensor!r} ({self.where}); re-download the file")
        read = read_tensor(path, tensor, tuple(shape), path)
        return self._loaded(read.T.contiguous() if transposed else read, path)

    def _full_loader(self) -> LoadedSae:
        from sae_lens.loading import pretrained_sae_loaders as loaders

        layout = self.release.layout
        self._note(f"{self.where}: layout {layout!r} is read through SAELens's full loader (W_enc is read too)")
        try:
            cfg_dict, state, log_sparsity = loaders.NAMED_PRETRAINED_SAE_LOADERS[layout](
                self.release.repo_id,
                self.sae.path,
                device="cpu",
                cfg_overrides=sae_lens_config_overrides(self.release, self.sae),
            )
        except Exception as error:
            raise IngestInputError(
                f"{self.where}: SAELens's {layout!r} loader failed ({type(error).__name__}: {error}); check "
                "the network (or HF_HUB_OFFLINE with a warm cache)"
            ) from error
        W_dec = state["W_dec"].detach().to("cpu", torch.float32)
        del state
        self.__dict__["_cfg_dict"] = dict(loaders.handle_config_defaulting(cfg_dict))
        sae = self._loaded(W_dec, Path(self.where), folder=Path(self.release.repo_id) / self.sae.path)
        if log_sparsity is None:
            return sae
        density = log_sparsity.detach().to("cpu", torch.float32)
        return dataclasses.replace(sae, log10_density=density, fingerprint=fingerprint(sae.W_dec, density))


def read_npz_member(path: Path, names: tuple[str, ...]) -> np.ndarray:
    """One array of an ``.npz`` archive, read alone: ``numpy.load`` cannot memory-map npz members, and
    reading the archive whole would read ``W_enc`` too. The first of ``names`` present is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            member = next((f"{name}.npy" for name in names if f"{name}.npy" in members), None)
            if member is None:
                raise IngestInputError(
                    f"{path} has no {' or '.join(names)} (it has {sorted(members)[:10]}); "
                    "is it Gemma Scope's params.npz? Re-download it"
                )
            with archive.open(member) as handle:
                array = np.lib.format.read_array(handle, allow_pickle=False)
    except IngestInputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise IngestInputError(f"{path} could not be read as an .npz archive ({error}); re-download it") from error
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise IngestInputError(f"{path}: {member} is {array.dtype} {list(array.shape)}, not a 2-d float matrix")
    return array
