"""Customers with attributes plus one campaign, nothing else: Hillstrom through the canonical door.

A new user's first try: the Hillstrom e-mail customers (their covariates as attributes) and the
campaign, written as a canonical folder, then ``segmint ingest``, ``segmint train`` and
``segmint campaign``. There are no orders, events, products or reviews: the stages that need them
skip with a message, segmentation falls back to the customers' attributes, and the uplift model,
the plan and the report are still produced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from segmint.adapters import load_source
from tests.conftest import SHARED_DATA
from tests.integration.conftest import light_params, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMERS = 2_500


def _hillstrom_folder() -> Path:
    """The Hillstrom data beside the checkout; missing is a failure in CI, a skip elsewhere."""
    folder = SHARED_DATA / "hillstrom"
    if not folder.is_dir():
        message = f"{folder} not present (the real datasets sit beside the CI checkout)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="module")
def canonical_folder(tmp_path_factory) -> Path:
    """A canonical folder of 2,500 Hillstrom customers (attributes only) and their campaign rows."""
    tables = load_source("hillstrom", _hillstrom_folder())
    assert tables.campaigns is not None
    customers = tables.customers.sample(CUSTOMERS, random_state=12)
    campaigns = tables.campaigns[tables.campaigns["customer_id"].isin(customers["customer_id"])]
    folder = tmp_path_factory.mktemp("hillstrom_canonical")
    customers.to_parquet(folder / "customers.parquet", index=False)
    campaigns.to_parquet(folder / "campaigns.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, canonical_folder) -> tuple[Path, str]:
    """A project that ingested the folder and ran ``segmint train``; with the train output."""
    project = tmp_path_factory.mktemp("attributes_only")
    light_params(project / "params.yaml")
    ingest = run_segmint(project, "ingest", "--source", "canonical", "--path", str(canonical_folder))
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    train = run_segmint(project, "train")
    assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-3000:]
    return project, train.stdout


def _metrics(project: Path, stage: str) -> dict:
    return json.loads((project / "metrics" / f"{stage}.json").read_text())


def test_train_trains_uplift_and_skips_what_has_no_input(trained):
    project, stdout = trained
    assert "recommend (skipped)" in stdout
    uplift = _metrics(project, "uplift")
    assert not uplift.get("skipped"), uplift.get("skipped")
    assert uplift["winner"] and (project / "models" / "uplift" / "model.pkl").exists()
    assert "womens_email" in uplift["metrics"] and "mens_email" in uplift["metrics"]
    assert _metrics(project, "recommend")["skipped"]


def test_segments_come_from_the_customers_attributes(trained, canonical_folder):
    project, _ = trained
    segment = _metrics(project, "segment")
    assert segment["basis"] == "attributes" and segment["customers"] == CUSTOMERS
    assert segment["n_segments"] >= 2
    # The metrics name the candidate the segmenter chose.
    selection = pd.read_parquet(project / "data" / "segments" / "selection.parquet")
    chosen = selection[selection["chosen"].astype(bool)].iloc[0]
    assert segment["selected"]["chosen"] is True and segment["selected"]["k"] == chosen["k"]
    profiles = pd.read_parquet(project / "data" / "segments" / "profiles.parquet")
    assert any(column.startswith(("mean_attr_", "mean_zip_code__")) for column in profiles.columns)


def test_train_writes_a_plan_and_a_report_covering_every_customer(trained, canonical_folder):
    project, _ = trained
    customers = pd.read_parquet(canonical_folder / "customers.parquet")
    scores = pd.read_parquet(project / "outputs" / "customer_scores.parquet")
    assert sorted(scores["customer_id"]) == sorted(customers["customer_id"])
    plan = pd.read_parquet(project / "outputs" / "campaign_plan.parquet")
    assert len(plan) > 0 and set(plan["customer_id"]) <= set(customers["customer_id"])
    assert set(plan["offer"].dropna()) <= {"womens_email", "mens_email"}
    campaign = _metrics(project, "campaign")
    # A few thousand customers rarely give an uplift model the gate trusts: then the plan is an
    # exploration plan that says why; with a trusted one, every customer has uplift scores.
    if campaign["plan_kind"] == "exploration":
        assert campaign["exploration"]["reason"]
    else:
        assert campaign["plan_kind"] == "uplift"
        uplift = pd.read_parquet(project / "outputs" / "uplift_scores.parquet")
        assert uplift["customer_id"].nunique() == CUSTOMERS
    report = (project / "reports" / "report.html").read_text()
    assert "womens_email" in report


def test_campaign_command_plans_again_with_exit_0(trained, tmp_path):
    from tests.integration.conftest import copy_project

    project = copy_project(trained[0], tmp_path / "campaign")
    (project / "outputs" / "campaign_plan.parquet").unlink()
    # without a Prefect server, as a user without one runs it: the command starts its temporary server
    result = run_segmint(project, "campaign", own_prefect=True)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    assert (project / ".prefect" / "prefect.db").exists()  # the run's state stays in the project
    assert len(pd.read_parquet(project / "outputs" / "campaign_plan.parquet")) > 0
    assert (project / "reports" / "report.html").exists()
