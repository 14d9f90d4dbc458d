"""The whole system end to end on a small generated shop, through the segmint command."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segmint.settings import load_settings
from tasks.campaign import CUSTOMER_SCORES_COLUMNS, PLAN_COLUMNS
from tests.integration.conftest import copy_project, light_params, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_outputs_cover_every_customer_with_the_contract_columns(trained_project, shop_dir):
    customers = pd.read_parquet(shop_dir / "customers.parquet")
    scores = pd.read_parquet(trained_project / "outputs" / "customer_scores.parquet")
    assert sorted(scores["customer_id"]) == sorted(customers["customer_id"])
    assert list(scores.columns) == list(CUSTOMER_SCORES_COLUMNS)
    assert scores["segment_name"].notna().all() and scores["value_tier"].isin(["high", "mid", "low"]).all()
    assert scores["clv"].notna().all() and (scores["clv"] >= 0).all()  # the CLV model scored everyone
    lists = scores["recommended_product_ids"]
    assert lists.map(len).max() == 10 and all(isinstance(p, str) for p in lists.iloc[0])

    uplift = pd.read_parquet(trained_project / "outputs" / "uplift_scores.parquet")
    offers = set(pd.read_parquet(shop_dir / "campaigns.parquet")["treatment"]) - {"control"}
    assert set(uplift["offer"]) == offers
    assert len(uplift) == len(scores) * len(offers)

    plan = pd.read_parquet(trained_project / "outputs" / "campaign_plan.parquet")
    assert list(plan.columns) == list(PLAN_COLUMNS)
    assert set(plan["group"]) <= {"treatment", "holdout"}
    flagged = set(scores.loc[scores["is_anomalous"], "customer_id"])
    contacted = plan[(plan["group"] == "treatment") & plan["offer"].notna()]
    assert len(contacted) > 0 and not (set(contacted["customer_id"]) & flagged)


def test_recommendations_exclude_products_already_bought(trained_project, shop_dir):
    orders = pd.read_parquet(shop_dir / "orders.parquet")
    bought = orders[~orders["is_return"]].groupby("customer_id")["product_id"].agg(set)
    scores = pd.read_parquet(trained_project / "outputs" / "customer_scores.parquet").set_index("customer_id")
    sample = bought.index[:200]
    overlaps = sum(len(set(scores.loc[c, "recommended_product_ids"]) & bought[c]) for c in sample)
    assert overlaps == 0


def test_registry_holds_three_champions_and_gate_records_reasons(trained_project):
    gate = json.loads((trained_project / "metrics" / "gate.json").read_text())
    assert set(gate) == {"segmenter", "recommender", "uplift", "clv"}
    for decision in gate.values():
        assert decision["decision"] == "promote" and decision["reasons"]
    client = MlflowClient(tracking_uri=f"sqlite:///{trained_project / 'mlflow.db'}")
    for kind in gate:
        version = client.get_model_version_by_alias(f"segmint-{kind}", "champion")
        assert str(version.version) == "1"
    runs = client.search_runs(
        [client.get_experiment_by_name("segmint").experiment_id],
        filter_string="tags.`segmint.stage` = 'features'",
    )
    assert runs and "data/validated" in {d.dataset.name for d in runs[0].inputs.dataset_inputs}


def test_retraining_on_the_same_data_keeps_or_replaces_the_champion_with_reasons(retrained_project):
    gate = json.loads((retrained_project / "metrics" / "gate.json").read_text())
    rules = load_settings(retrained_project / "params.yaml").gate
    for kind, decision in gate.items():
        assert decision["reasons"], kind
        if decision["decision"] == "promote":
            # promoted only within the gate rule's own tolerance of the champion
            tolerance = getattr(rules, kind).quality_tolerance
            assert decision["challenger_quality"] >= decision["champion_quality"] - tolerance - 1e-12
        else:
            assert decision["champion_version"] == decision["champion_version_before"] == "1"


def test_campaign_command_rescores_with_the_champions(trained_project, tmp_path):
    project = copy_project(trained_project, tmp_path / "campaign")
    before = pd.read_parquet(project / "outputs" / "campaign_plan.parquet")
    result = run_segmint(project, "campaign")
    assert result.returncode == 0, result.stderr[-3000:]
    after = pd.read_parquet(project / "outputs" / "campaign_plan.parquet")
    pd.testing.assert_frame_equal(before, after)  # same champions, same seeds → the same plan


def test_customers_and_campaigns_only_trains_uplift_and_scores_everyone(tmp_path, shop_dir):
    folder = tmp_path / "hillstrom_shape"
    folder.mkdir()
    for table in ("customers", "campaigns"):
        (folder / f"{table}.parquet").write_bytes((shop_dir / f"{table}.parquet").read_bytes())
    project = tmp_path / "project"
    project.mkdir()
    light_params(project / "params.yaml")
    assert run_segmint(project, "ingest", "--source", "canonical", "--path", str(folder)).returncode == 0
    result = run_segmint(project, "train")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    assert "recommend (skipped)" in result.stdout
    scores = pd.read_parquet(project / "outputs" / "customer_scores.parquet")
    assert len(scores) == len(pd.read_parquet(folder / "customers.parquet"))
    assert scores["recommended_product_ids"].map(len).eq(0).all()
    # An uplift model is trained on the attributes alone; whether it may drive the plan is the gate's
    # call (it must beat random targeting on its test part), and the plan says which it got.
    assert (project / "models" / "uplift" / "model.pkl").exists()
    decision = json.loads((project / "metrics" / "gate.json").read_text())["uplift"]
    assert decision["reasons"]
    campaign = json.loads((project / "metrics" / "campaign.json").read_text())
    plan = pd.read_parquet(project / "outputs" / "campaign_plan.parquet")
    assert len(plan) > 0 and (plan["group"] == "holdout").any()
    uplift = pd.read_parquet(project / "outputs" / "uplift_scores.parquet")
    if decision["decision"] == "promote":
        assert campaign["plan_kind"] == "uplift"
        assert uplift["customer_id"].nunique() == len(scores)
    else:
        assert campaign["plan_kind"] == "exploration" and len(uplift) == 0
