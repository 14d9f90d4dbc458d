"""The gate fails closed and the campaign explores: on a shop whose campaign treatments carry no real
effect, and with champion model artifacts corrupted between two trainings."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.integration.conftest import copy_project, light_params, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KINDS = ("segmenter", "recommender", "uplift")
CORRUPTED = ("segmenter", "recommender")


def _client(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def _champions(project: Path) -> dict[str, str | None]:
    """The version holding the ``champion`` alias of each model kind (None: no champion)."""
    client = _client(project)
    found: dict[str, str | None] = {}
    for kind in KINDS:
        try:
            found[kind] = str(client.get_model_version_by_alias(f"segmint-{kind}", "champion").version)
        except Exception:  # noqa: BLE001 - an unset alias is what is being checked
            found[kind] = None
    return found


def _read(project: Path, name: str) -> dict:
    return json.loads((project / "metrics" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def shuffled_project(tmp_path_factory, shop_dir) -> Path:
    """A project trained once on the small shop with its campaign treatments shuffled (no effect)."""
    folder = tmp_path_factory.mktemp("shuffled_shop")
    for table in Path(shop_dir).glob("*.parquet"):
        (folder / table.name).write_bytes(table.read_bytes())
    campaigns = pd.read_parquet(folder / "campaigns.parquet")
    rng = np.random.default_rng(12)
    # Treatments are permuted within each wave, as a randomised campaign assigns them: every wave keeps
    # its arm sizes and no effect is left. (A no-effect shop is promoted by chance at the rule's
    # one-sided 5 %; tests/model/test_uplift_null.py measures that rate over many permutations.)
    shuffled = campaigns.assign(
        treatment=campaigns.groupby("campaign_id")["treatment"].transform(
            lambda t: rng.permutation(t.to_numpy())
        )
    )
    shuffled.to_parquet(folder / "campaigns.parquet", index=False)
    project = tmp_path_factory.mktemp("shuffled_project")
    light_params(project / "params.yaml")
    ingest = run_segmint(project, "ingest", "--source", "canonical", "--path", str(folder))
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    train = run_segmint(project, "train")
    assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-2000:]
    return project


@pytest.fixture(scope="module")
def campaign_rerun(tmp_path_factory, shuffled_project) -> Path:
    """A copy of the shuffled project after `segmint campaign` (run before any artifact is corrupted)."""
    project = copy_project(shuffled_project, tmp_path_factory.mktemp("campaign_rerun") / "project")
    result = run_segmint(project, "campaign")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    return project


@pytest.fixture(scope="module")
def corrupted_retrain(tmp_path_factory, shuffled_project, campaign_rerun) -> tuple[Path, dict]:
    """A copy of the shuffled project whose segmenter and recommender champions' pickles were
    overwritten with garbage, trained a second time; with the champions before that training."""
    project = copy_project(shuffled_project, tmp_path_factory.mktemp("corrupted") / "project")
    before = _champions(project)
    client = _client(project)
    for kind in CORRUPTED:
        assert before[kind] is not None, f"the first training promoted no {kind}: nothing to corrupt"
        version = client.get_model_version(f"segmint-{kind}", before[kind])
        model_id = version.source.removeprefix("models:/")
        location = Path(urlparse(client.get_logged_model(model_id).artifact_location).path)
        pickle = location / "python_model.pkl"
        assert pickle.exists(), pickle
        pickle.write_bytes(b"this is not a pickle")
    train = run_segmint(project, "train")
    assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-2000:]
    return project, before


def test_no_real_effect_gives_no_uplift_champion_and_an_exploration_plan(shuffled_project):
    baseline = _read(shuffled_project, "evaluate")["uplift"]["baseline"]
    assert baseline["baseline"] == "random targeting"
    assert baseline["low"] is not None and baseline["low"] <= 0.0 <= baseline["high"], baseline
    gate = _read(shuffled_project, "gate")["uplift"]
    assert gate["decision"] == "keep_challenger", gate["reasons"]
    assert "random targeting" in gate["reasons"][0]
    assert _champions(shuffled_project)["uplift"] is None

    campaign = _read(shuffled_project, "campaign")
    assert campaign["plan_kind"] == "exploration" and campaign["exploration"]["holdout_share"] == 0.5
    assert "no champion uplift" in campaign["exploration"]["reason"]
    plan = pd.read_parquet(shuffled_project / "outputs" / "campaign_plan.parquet")
    assert plan.attrs["plan_kind"] == "exploration"
    planned = plan[plan["offer"].notna()]
    offers = set(pd.read_parquet(shuffled_project / "data" / "raw" / "campaigns.parquet")["treatment"])
    assert len(planned) > 0 and set(planned["offer"]) == offers - {"control"}
    assert (planned["group"] == "holdout").mean() == pytest.approx(0.5, abs=0.02)
    scores = pd.read_parquet(shuffled_project / "outputs" / "customer_scores.parquet")
    flagged = set(scores.loc[scores["is_anomalous"], "customer_id"])
    assert not set(planned["customer_id"]) & flagged
    assert scores["best_offer"].isna().all()  # no model picked a best offer
    report = (shuffled_project / "reports" / "report.html").read_text()
    assert "plan_kind: exploration" in report


def test_campaign_command_without_an_uplift_champion_writes_the_same_exploration_plan(
    shuffled_project, campaign_rerun
):
    assert _read(campaign_rerun, "campaign")["plan_kind"] == "exploration"
    before = pd.read_parquet(shuffled_project / "outputs" / "campaign_plan.parquet")
    after = pd.read_parquet(campaign_rerun / "outputs" / "campaign_plan.parquet")
    pd.testing.assert_frame_equal(before, after)  # seeded
    assert after.attrs["plan_kind"] == "exploration"


def test_corrupted_champions_are_kept_and_flagged_for_review(corrupted_retrain):
    project, before = corrupted_retrain
    gate = _read(project, "gate")
    evaluate = _read(project, "evaluate")
    for kind in CORRUPTED:
        assert evaluate[kind]["champion_error"], kind
        assert gate[kind]["decision"] == "needs_review", gate[kind]["reasons"]
        assert "champion failed" in gate[kind]["reasons"][0]
        assert evaluate[kind]["champion_error"] in gate[kind]["reasons"][0]
        assert gate[kind]["champion_version"] == gate[kind]["champion_version_before"] == before[kind]
    assert _champions(project) == before
    campaign = _read(project, "campaign")
    assert "could not be loaded" in campaign["segments"]["skipped"]
    assert "could not be loaded" in campaign["recommendations"]["skipped"]
    assert campaign["plan_kind"] == "exploration"
