"""Closing the loop: the executed plan's outcomes measured against its hold-out, checked against the truth."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segmint.generate.outcomes import simulate_outcomes
from tasks.measure import pooled_measurement
from tests.integration.conftest import copy_project, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _coverage(plan: pd.DataFrame, truth_dir, true_mean: float, executions: int = 40) -> float:
    """Share of ``executions`` simulated executions of ``plan`` whose pooled 95 % interval of the
    realised uplift covers ``true_mean``, the true uplift of the treated."""
    truth = {name: pd.read_parquet(truth_dir / f"{name}.parquet") for name in ("customers_truth", "effects")}
    covered = 0
    for seed in range(executions):
        overall = pooled_measurement(plan, simulate_outcomes(plan, truth, seed=seed))
        covered += overall["uplift_low"] <= true_mean <= overall["uplift_high"]
    return covered / executions


def test_measured_uplift_covers_the_true_uplift_of_the_treated(trained_project, shop_dir, tmp_path):
    project = copy_project(trained_project, tmp_path / "measure")
    shop = tmp_path / "shop"
    shutil.copytree(shop_dir / "truth", shop / "truth")
    generated = run_segmint(
        project, "generate", "--outcomes-for", "outputs/campaign_plan.parquet", "--out", str(shop)
    )
    assert generated.returncode == 0, generated.stderr[-2000:]
    outcomes = shop / "outcomes" / "campaigns.parquet"
    assert outcomes.exists()

    result = run_segmint(project, "measure", "--outcomes", str(outcomes))
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    assert "realised uplift" in result.stdout

    measure = json.loads((project / "metrics" / "measure.json").read_text())
    overall = measure["overall"]
    plan = pd.read_parquet(project / "outputs" / "campaign_plan.parquet")
    treated = plan[(plan["group"] == "treatment") & plan["offer"].notna()]
    held = plan[plan["group"] == "holdout"]
    assert overall["n_treated"] == len(treated) and overall["n_holdout"] == len(held) > 0
    effects = pd.read_parquet(shop / "truth" / "effects.parquet")
    truth = treated.merge(effects, on=["customer_id", "offer"], how="left")["true_uplift"]
    assert truth.notna().all()
    assert overall["uplift_low"] < overall["uplift"] < overall["uplift_high"]
    # One simulated wave's 95 % interval misses the truth one time in twenty, whichever plan it is: the
    # intervals are checked over many simulated executions of this plan instead.
    assert _coverage(plan, shop / "truth", truth.mean()) >= 0.85
    offers = {row["offer"] for row in measure["per_offer"]}
    assert offers == set(treated["offer"])
    assert any(row["segment_id"] != "all" for row in measure["per_segment"])

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("segmint").experiment_id],
        filter_string="tags.`segmint.flow` = 'measure'",
    )
    assert len(runs) == 1 and runs[0].info.run_id == measure["mlflow_run_id"]
    assert runs[0].data.metrics["overall.uplift"] == pytest.approx(overall["uplift"])
    report = (project / "reports" / "report.html").read_text()
    assert "Measured outcome of the executed plan" in report

    missing = run_segmint(project, "measure", "--outcomes", str(tmp_path / "nope.parquet"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
