"""A trained project holds the CLV model as a registered champion that beat the naive rate out of time;
its predictions set the value tiers; the report shows an example message per segment and offer."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_first_clv_model_beat_the_naive_rate_out_of_time_and_is_champion(trained_project):
    evaluation = json.loads((trained_project / "metrics" / "evaluate.json").read_text())["clv"]
    scored = evaluation["challenger"]
    assert evaluation["quality_name"] == "spearman" and scored["customers"] > 0
    for metric in ("spearman", "top_decile_revenue_share", "mae"):
        assert metric in scored["model"] and metric in scored["naive_rate"]
    assert evaluation["baseline"]["baseline"] == "naive past-spend rate" and evaluation["baseline"]["low"] > 0

    gate = json.loads((trained_project / "metrics" / "gate.json").read_text())["clv"]
    assert gate["decision"] == "promote" and gate["champion_version"] == evaluation["challenger_version"]
    client = MlflowClient(tracking_uri=f"sqlite:///{trained_project / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("segmint-clv", "champion")
    assert champion.tags["gate.decision"] == "promote" and "artifact.md5" in champion.tags
    assert (trained_project / "models" / "clv" / "model.pkl").is_file()


def test_the_features_stage_keeps_the_calibration_period_the_clv_check_would_compute(trained_project):
    """The evaluate stage refits CLV on features one horizon before the label cutoff: the features stage
    writes them (from the activity it coded once) and they are those computed from the tables."""
    from segmint.settings import load_settings
    from tasks.evaluate import _calibration_period, _clv_data
    from tasks.paths import ProjectPaths

    settings = load_settings(trained_project / "params.yaml")
    paths = ProjectPaths(trained_project)
    metrics = json.loads((trained_project / "metrics" / "features.json").read_text())
    horizon = pd.Timedelta(days=settings.features.label_window_days)
    calibration = pd.Timestamp(metrics["label_cutoff"]) - horizon
    assert pd.Timestamp(metrics["calibration_cutoff"]) == calibration
    periods = _clv_data(settings, paths).periods
    features, spend = _calibration_period(settings, paths)
    assert len(periods.calibration) > 0 and (spend["future_revenue"] > 0).any()
    pd.testing.assert_frame_equal(periods.calibration, features)
    pd.testing.assert_frame_equal(periods.calibration_labels, spend)


def test_value_tiers_follow_predicted_clv(trained_project):
    campaign = json.loads((trained_project / "metrics" / "campaign.json").read_text())
    assert campaign["value_tiers"]["source"] == "clv"
    scores = pd.read_parquet(trained_project / "outputs" / "customer_scores.parquet")
    by_tier = scores.groupby("value_tier")["clv"].agg(["min", "max"])
    assert by_tier.loc["low", "max"] <= by_tier.loc["mid", "min"]
    assert by_tier.loc["mid", "max"] <= by_tier.loc["high", "min"]
    shares = scores["value_tier"].value_counts(normalize=True)
    assert shares["low"] == pytest.approx(0.5, abs=0.01) and shares["high"] == pytest.approx(0.2, abs=0.01)


def test_the_report_shows_an_example_message_per_segment_and_offer(trained_project):
    page = (trained_project / "reports" / "report.html").read_text()
    section = page.split("Messages: one example per segment and offer</h2>", 1)[1].split("</section>", 1)[0]
    examples = pd.read_parquet(trained_project / "outputs" / "message_examples.parquet")
    assert len(examples) > 0 and section.count("<tr><td>") == min(len(examples), 60)
    assert "messages written" in section
