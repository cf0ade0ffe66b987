"""The storage options of `llcat-ingest run/demo` (issue 12): parsed into the config, recorded on the
SAE's row, and refused with a message naming the option when they cannot work."""

from __future__ import annotations

import pytest

from catalog.store import SaeRecord
from ingest.cli import _ingest_config, build_parser, main
from ingest.config import IngestConfig
from ingest.errors import IngestInputError
from ingest.pipeline import StorageOptions


def test_the_options_reach_the_config_and_the_record(tmp_path):
    args = build_parser().parse_args(
        [
            "demo",
            "--db",
            str(tmp_path / "c.duckdb"),
            "--decoder-storage",
            "int16",
            "--enrichment-storage",
            "compact",
            "--enrichment-top-sets",
            "4",
            "--enrichment-top-features",
            "50",
            "--enrichment-max-q",
            "0.01",
            "--token-index-k",
            "0",
        ]
    )
    config = _ingest_config(args)
    storage = StorageOptions.from_config(config)
    assert storage == StorageOptions("int16", "compact", 4, 50, 0.01, 0)
    record = SaeRecord("r/s", "r", "s", "h", 0, "m", 8, 16, None, "x", "f", 2, False, "{}", "run", 0.0)
    stored = storage.on_record(record, with_enrichment=True)
    assert (stored.decoder_storage, stored.enrichment_storage, stored.enrichment_top_sets) == ("int16", "compact", 4)
    assert (stored.enrichment_top_features, stored.enrichment_max_q, stored.token_index_k) == (50, 0.01, 0)
    # without enrichment there are no pairs to keep: the SAE is not recorded as compact
    assert storage.on_record(record, with_enrichment=False).enrichment_storage == "all"


def test_the_defaults_are_float32_all_pairs_and_a_two_feature_index(tmp_path):
    config = IngestConfig(db=tmp_path / "c.duckdb")
    assert StorageOptions.from_config(config) == StorageOptions()
    assert (config.decoder_storage, config.enrichment_storage, config.token_index_k) == ("float32", "all", 2)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"decoder_storage": "float16"}, r"--decoder-storage 'float16' is not one of float32, int16, none"),
        ({"enrichment_storage": "some"}, r"--enrichment-storage 'some' is not one of all, compact"),
        ({"enrichment_top_sets": 0}, r"--enrichment-top-sets 0 must be a positive number"),
        ({"enrichment_top_features": -1}, r"--enrichment-top-features -1 must be a positive number"),
        ({"enrichment_max_q": 1.5}, r"--enrichment-max-q 1.5 must be a q-value between 0 and 1"),
        ({"token_index_k": -2}, r"--token-index-k -2 must be zero \(no reverse token index\)"),
    ],
)
def test_impossible_values_are_refused_by_name(tmp_path, values, message):
    with pytest.raises(IngestInputError, match=message):
        IngestConfig(db=tmp_path / "c.duckdb", **values)


def test_the_cli_refuses_a_negative_index_before_writing_anything(tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    status = main(["demo", "--db", str(db), "--token-index-k", "-1"])
    assert status != 0 and "--token-index-k -1 must be zero" in capsys.readouterr().err
    assert not db.exists()
