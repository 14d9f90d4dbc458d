"""The training flow on a 2-worker local Dask cluster gives the same segments and plan as the local run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.integration.conftest import light_params, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_stage_graph_lets_independent_stages_run_side_by_side() -> None:
    from flows.training import _producers
    from tasks.stages import TRAINING_ORDER

    graph = _producers(list(TRAINING_ORDER))
    assert graph["validate"] == []
    assert graph["segment"] == ["features"] and graph["anomaly"] == ["features"]
    assert "segment" in graph["recommend"]
    assert {"segment", "recommend", "uplift"} <= set(graph["evaluate"])
    assert {"gate", "anomaly"} <= set(graph["campaign"])


def test_dask_task_runner_follows_runtime_settings() -> None:
    from flows.training import dask_task_runner
    from segmint.settings import RuntimeSettings

    local = dask_task_runner(RuntimeSettings(task_runner="dask", dask_workers=3))
    assert local.cluster_kwargs["n_workers"] == 3 and local.cluster_kwargs["processes"] is False
    # Dask opens HTTP endpoints even without a dashboard: they must stay on loopback.
    assert local.cluster_kwargs["scheduler_kwargs"]["dashboard_address"].startswith("127.0.0.1:")
    assert local.cluster_kwargs["worker_dashboard_address"].startswith("127.0.0.1:")
    remote = dask_task_runner(RuntimeSettings(task_runner="dask", dask_address="tcp://127.0.0.1:8786"))
    assert remote.address == "tcp://127.0.0.1:8786"


def test_training_on_dask_matches_the_local_run(tmp_path, shop_dir, trained_project) -> None:
    project = tmp_path / "dask"
    project.mkdir()
    light_params(
        project / "params.yaml",
        {"runtime": {"task_runner": "dask", "dask_workers": 2, "dask_partition_customers": 500}},
    )
    ingest = run_segmint(project, "ingest", "--source", "canonical", "--path", str(shop_dir))
    assert ingest.returncode == 0, ingest.stderr + ingest.stdout
    train = run_segmint(project, "train")
    assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-3000:]

    key = ["customer_id"]
    local = pd.read_parquet(trained_project / "outputs" / "customer_scores.parquet").sort_values(key)
    dask = pd.read_parquet(project / "outputs" / "customer_scores.parquet").sort_values(key)
    cols = ["customer_id", "segment_id", "segment_name", "value_tier", "is_anomalous"]
    pd.testing.assert_frame_equal(local[cols].reset_index(drop=True), dask[cols].reset_index(drop=True))
    recs = "recommended_product_ids"
    assert local[recs].map(list).tolist() == dask[recs].map(list).tolist()

    # recommendations were scored in partitions across the cluster's workers
    campaign = json.loads((project / "metrics" / "campaign.json").read_text())
    assert campaign["recommendations"]["partitions"] == -(-campaign["customers"] // 500) > 1

    local_plan = pd.read_parquet(trained_project / "outputs" / "campaign_plan.parquet").sort_values(key)
    dask_plan = pd.read_parquet(project / "outputs" / "campaign_plan.parquet").sort_values(key)
    pd.testing.assert_frame_equal(
        local_plan.reset_index(drop=True), dask_plan.reset_index(drop=True), check_exact=False, rtol=1e-6
    )
