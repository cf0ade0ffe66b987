"""``llcat-ingest releases``: SAELens's releases, one line each, with a search filter.

SAELens's directory names each SAE by id and path but gives neither its hook nor its width; both are
read from how the release, repo and ids spell them (``resid_post``, ``-att-``, ``width_16k``, ``32k``),
so the listing's hook kinds and widths are a guide: the cfg read at ingest is what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.sources.registry import Release

# (marker in the lower-cased release name, repo or SAE path/id, the hook kind it spells), first match wins per SAE.
_KIND_MARKERS = (
    ("transcoder", "transcoder"),
    ("clt", "transcoder"),
    ("hook_z", "attn_z"),
    ("embed", "embed"),
    ("resid_pre", "resid_pre"),
    ("resid_mid", "resid_mid"),
    ("resid_post", "resid_post"),
    ("attn_out", "attn_out"),
    ("mlp_out", "mlp_out"),
    ("-att", "attn_z"),
    ("lxr", "resid_post"),  # Llama Scope: L{layer}{R|A|M}, residual, attention output, MLP output
    ("lxa", "attn_out"),
    ("lxm", "mlp_out"),
    ("mlp", "mlp_out"),
    ("res", "resid_post"),
)
_WIDTH = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?[km])(?![a-z0-9])")


def _kind(release: Release, text: str) -> str:
    lowered = text.lower()
    for marker, kind in _KIND_MARKERS:
        if marker in lowered:
            return kind
    for marker, kind in _KIND_MARKERS:
        if marker in f"{release.name} {release.repo_id}".lower():
            return kind
    return "?"


def hook_kinds(release: Release) -> list[str]:
    """The hook kinds the release's SAE ids spell, in order of first appearance."""
    return list(dict.fromkeys(_kind(release, f"{sae.id} {sae.path}") for sae in release.saes))


def _width_value(width: str) -> float:
    return float(width[:-1]) * (1e3 if width.endswith("k") else 1e6)


def widths(release: Release) -> list[str]:
    """The widths (``16k``, ``1m``) the SAE paths or the release name spell, smallest first."""
    found = {w for sae in release.saes for w in _WIDTH.findall(f"{sae.id} {sae.path}".lower())}
    return sorted(found or set(_WIDTH.findall(release.name.lower())), key=_width_value)


def matching(releases: Iterable[Release], search: str | None) -> list[Release]:
    """The releases whose name, repo or model contains ``search`` (case-insensitive; all when None)."""
    needle = (search or "").lower()
    return [r for r in releases if needle in f"{r.name} {r.repo_id} {r.model_name}".lower()]


def release_line(release: Release) -> str:
    with_np = sum(sae.neuronpedia_id is not None for sae in release.saes)
    return (
        f"{release.name}  model {release.model_name}, {len(release.saes)} SAEs, hooks {'/'.join(hook_kinds(release))}, "
        f"widths {'/'.join(widths(release)) or '?'}, layout {release.layout}, {with_np} on Neuronpedia  "
        f"({release.repo_id})"
    )


def listing(releases: list[Release], search: str | None, with_saes: bool) -> str:
    """The text ``llcat-ingest releases`` prints."""
    chosen = matching(releases, search)
    total = sum(len(r.saes) for r in chosen)
    lines = [release_line(release) for release in chosen]
    if with_saes:
        lines = []
        for release in chosen:
            lines.append(release_line(release))
            lines += [f"    {sae.id:40s} neuronpedia {sae.neuronpedia_id or '-'}" for sae in release.saes]
    what = f" matching {search!r}" if search else ""
    lines.append(
        f"{len(chosen)} releases{what}, {total} SAEs (SAELens's directory: {len(releases)} releases); "
        "ingest one with: llcat-ingest run --release NAME [--sae-id ID ...]"
    )
    return "\n".join(lines)
