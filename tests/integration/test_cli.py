"""The segmint command: exit codes and messages a user sees."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.integration.conftest import light_params, run_segmint

pytestmark = pytest.mark.integration


def test_unknown_source_is_exit_2_listing_the_valid_ones(project):
    result = run_segmint(project, "ingest", "--source", "nope")
    assert result.returncode == 2
    assert "valid sources" in result.stderr and "online_retail" in result.stderr


def test_params_typo_is_exit_2_naming_the_key(project, tmp_path):
    (project / "params.yaml").write_text("segment:\n  k_maxx: 4\n")
    (project / "data" / "raw").mkdir(parents=True)
    result = run_segmint(project, "train")
    assert result.returncode == 2 and "segment.k_maxx" in result.stderr


def test_train_without_ingest_is_exit_2(project):
    result = run_segmint(project, "train")
    assert result.returncode == 2 and "segmint ingest" in result.stderr


def test_empty_customers_file_is_exit_2_naming_the_table(project, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "customers.csv").write_text("")
    result = run_segmint(project, "ingest", "--source", "canonical", "--path", str(folder))
    assert result.returncode == 2 and "customers" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_writes_the_canonical_layout_and_truth(project):
    result = run_segmint(project, "generate", "--customers", "300", "--seed", "1", "--out", "shop")
    assert result.returncode == 0, result.stderr
    for table in ("customers", "products", "events", "orders", "reviews", "campaigns"):
        assert (project / "shop" / f"{table}.parquet").exists()
    truth = pd.read_parquet(project / "shop" / "truth" / "customers_truth.parquet")
    assert len(truth) == 300 and {"archetype", "is_anomalous"} <= set(truth.columns)
    effects = pd.read_parquet(project / "shop" / "truth" / "effects.parquet")
    offers = set(pd.read_parquet(project / "shop" / "campaigns.parquet")["treatment"]) - {"control"}
    assert set(effects["offer"]) == offers


def test_ingest_canonical_round_trips_the_generated_shop(project):
    assert run_segmint(project, "generate", "--customers", "300", "--out", "shop").returncode == 0
    light_params(project / "params.yaml")
    result = run_segmint(project, "ingest", "--source", "canonical", "--path", "shop")
    assert result.returncode == 0, result.stderr
    raw = pd.read_parquet(project / "data" / "raw" / "orders.parquet")
    assert len(raw) == len(pd.read_parquet(project / "shop" / "orders.parquet"))
    assert str(raw["ts"].dtype) == "datetime64[ns, UTC]"
    assert (project / "data" / "raw" / "_source.json").exists()
