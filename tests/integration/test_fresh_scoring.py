"""`segmint campaign` on a newer raw delivery validates it, builds features and flags anomalies first."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tasks.fresh import SCORING_STEPS, stale_scoring_steps
from tasks.paths import ProjectPaths
from tests.integration.conftest import copy_project, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEW_CUSTOMERS = 40


def _with_new_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """``customers`` plus a few who signed up on the last day, copied from existing rows."""
    newcomers = customers.tail(NEW_CUSTOMERS).assign(
        customer_id=[f"new-{i:04d}" for i in range(NEW_CUSTOMERS)],
        signup_ts=pd.to_datetime(customers["signup_ts"]).max(),
    )
    return pd.concat([customers, newcomers], ignore_index=True)


def test_campaign_on_a_new_delivery_scores_the_new_customers_without_retraining(trained_project, tmp_path):
    project = copy_project(trained_project, tmp_path / "fresh")
    paths = ProjectPaths(project)
    assert stale_scoring_steps(paths) == (), "a freshly trained project has nothing to rebuild"
    models_before = {p: p.stat().st_mtime_ns for p in paths.models.rglob("*") if p.is_file()}
    raw_customers = paths.raw / "customers.parquet"
    _with_new_customers(pd.read_parquet(raw_customers)).to_parquet(raw_customers, index=False)
    assert stale_scoring_steps(paths) == SCORING_STEPS

    result = run_segmint(project, "campaign")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    assert "ran validate, features, anomaly_scores" in " ".join(result.stdout.split())
    new_ids = {f"new-{i:04d}" for i in range(NEW_CUSTOMERS)}
    for table in ("data/validated/customers.parquet", "data/features/features.parquet"):
        assert new_ids <= set(pd.read_parquet(project / table)["customer_id"].astype(str)), table
    flags = pd.read_parquet(project / "data" / "anomaly" / "anomaly.parquet")
    assert new_ids <= set(flags["customer_id"].astype(str))
    scores = pd.read_parquet(project / "outputs" / "customer_scores.parquet")
    assert new_ids <= set(scores["customer_id"].astype(str))
    assert scores.loc[scores["customer_id"].isin(new_ids), "segment_id"].notna().all()
    validation = json.loads((project / "metrics" / "validation.json").read_text())
    assert validation["passed"] and validation["tables"]["customers"]["accepted"] >= NEW_CUSTOMERS
    # scoring only: no model file was rewritten, and now everything is fresh
    assert {p: p.stat().st_mtime_ns for p in paths.models.rglob("*") if p.is_file()} == models_before
    assert stale_scoring_steps(paths) == ()
