"""Building the demo catalog: write the demo folders, then ingest them like any other SAEs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from catalog.connect import open_read_only
from ingest.config import IngestConfig
from ingest.runner import IngestRunner, RunSummary
from ingest.sources.demo import DEMO_MODEL_NAME, DEMO_RELEASE, build_demo_folders


def build_demo_catalog(config: IngestConfig, cache_dir: Path | None = None) -> RunSummary:
    folders = build_demo_folders(cache_dir)
    demo_config = replace(
        config,
        model=str(folders.model),
        model_name=DEMO_MODEL_NAME,
        release=None,
        sae_ids=[],
        sae_dirs=list(folders.saes),
        release_name=DEMO_RELEASE,
    )
    return IngestRunner(demo_config).run()


def demo_summary(db_path: Path) -> str:
    """A few lines a person can read to see the catalog is there and sensible."""
    con = open_read_only(db_path)
    try:
        lines = [f"catalog {db_path}:"]
        for sae_id, layer, d_sae, n_features in con.execute(
            "SELECT s.sae_id, s.layer, s.d_sae, count(f.feature) FROM saes s LEFT JOIN features f USING (sae_id)"
            " GROUP BY ALL ORDER BY s.sae_id"
        ).fetchall():
            lines.append(f"  {sae_id:40s} layer {layer}  {n_features}/{d_sae} features")
        n_sets, n_rows = con.execute(
            "SELECT (SELECT count(*) FROM token_sets), (SELECT count(*) FROM enrichment)"
        ).fetchall()[0]
        lines.append(f"  {n_sets} token sets, {n_rows} enrichment rows")
        lines.append("  most skewed features:")
        for sae_id, feature, skewness, tokens in con.execute(
            "SELECT f.sae_id, f.feature, f.skewness, string_agg(t.token, '|' ORDER BY ft.rank)"
            " FROM features f JOIN feature_tokens ft USING (sae_id, feature) JOIN saes s USING (sae_id)"
            " JOIN tokens t ON t.model_name = s.model_name AND t.token_id = ft.token_id"
            " WHERE ft.direction = 'top' AND ft.rank < 5 GROUP BY ALL ORDER BY f.skewness DESC LIMIT 5"
        ).fetchall():
            lines.append(f"    {sae_id} #{feature}: skewness {skewness:.2f}, top tokens {tokens!r}")
        return "\n".join(lines)
    finally:
        con.close()
