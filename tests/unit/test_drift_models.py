"""Drift judged per model on its own inputs: weights, the weighted drifted share and the verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.drift import (
    model_drift,
    model_importances,
    normalised_weights,
    restricted_weights,
    weighted_drift_share,
)
from segmint.gate import retraining_needed
from segmint.settings import MonitorSettings


def test_weights_are_normalised_importances_or_equal():
    assert normalised_weights(["a", "b", "c", "d"]) == pytest.approx({c: 0.25 for c in "abcd"})
    weights = normalised_weights(["a", "b", "c"], [6.0, -3.0, 1.0])
    assert weights == pytest.approx({"a": 0.6, "b": 0.3, "c": 0.1})
    # a model that learnt nothing weighs its inputs alike
    assert normalised_weights(["a", "b"], [0.0, 0.0]) == pytest.approx({"a": 0.5, "b": 0.5})
    with pytest.raises(ValueError, match="one finite importance per column"):
        normalised_weights(["a", "b"], [1.0])
    with pytest.raises(ValueError, match="one finite importance per column"):
        normalised_weights(["a", "b"], [1.0, float("nan")])
    assert restricted_weights({"a": 0.5, "b": 0.3, "c": 0.2}, ["b", "c"]) == pytest.approx(
        {"b": 0.6, "c": 0.4}
    )


def test_weighted_share_decides_not_the_count_of_drifted_columns():
    weights = normalised_weights(["spend", "recency", "views", "returns"], [6.0, 2.0, 1.0, 1.0])
    assert weighted_drift_share(weights, ["spend"]) == pytest.approx(0.6)
    assert weighted_drift_share(weights, ["spend", "not_an_input"]) == pytest.approx(0.6)
    # one of four inputs (25 % by count) but the one carrying 60 % of the importance: drift
    heavy = model_drift("uplift", weights, {"spend": True, "recency": False}, threshold=0.3)
    assert heavy.drift_detected and heavy.drifted_share == pytest.approx(0.6)
    assert heavy.drifted_columns == ["spend"]
    # three of four inputs (75 % by count) that carry 40 % together, against a 0.5 threshold: no drift
    light = model_drift("uplift", weights, {"recency": True, "views": True, "returns": True}, 0.5)
    assert not light.drift_detected and light.drifted_share == pytest.approx(0.4)
    # columns outside the model's inputs never count, however many drifted
    other = model_drift("clv", weights, {"unrelated_1": True, "unrelated_2": True}, 0.3)
    assert not other.drift_detected and other.drifted_share == 0.0 and other.drifted_columns == []
    record = heavy.record()
    assert record["drift_detected"] is True and record["weighting"] == "importance"
    assert record["n_columns"] == 4 and sum(record["weights"].values()) == pytest.approx(1.0)


def test_equal_weights_reach_the_threshold_at_the_share_of_inputs():
    weights = normalised_weights([f"c{i}" for i in range(10)])
    verdicts = {f"c{i}": i < 3 for i in range(10)}
    assert model_drift("segmenter", weights, verdicts, 0.3, "equal").drift_detected
    verdicts["c2"] = False
    assert not model_drift("segmenter", weights, verdicts, 0.3, "equal").drift_detected


def test_importances_come_from_lightgbm_gain_and_logistic_coefficients():
    import lightgbm as lgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2_000, 4))
    y_reg = 3.0 * X[:, 2] + 0.1 * rng.normal(size=2_000)
    booster = lgb.LGBMRegressor(n_estimators=30, verbose=-1, random_state=0).fit(X, y_reg)
    gain = model_importances(booster, 4)
    assert gain is not None and int(np.argmax(gain)) == 2 and gain.sum() == pytest.approx(1.0)

    y_cls = (X[:, 1] + 0.2 * rng.normal(size=2_000) > 0).astype(int)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y_cls)
    coefficients = model_importances({"offer_a": [pipeline]}, 4)
    assert coefficients is not None and int(np.argmax(coefficients)) == 1

    # an S-learner's extra treatment input is left out; both estimators count alike
    with_flag = lgb.LGBMRegressor(n_estimators=30, verbose=-1, random_state=0).fit(
        np.column_stack([X, rng.integers(0, 2, 2_000)]), y_reg
    )
    both = model_importances({"learner": with_flag, "response": pipeline}, 4)
    assert both is not None and both.shape == (4,) and both.sum() == pytest.approx(1.0)
    assert set(np.argsort(both)[-2:]) == {1, 2}
    assert model_importances({"nothing": "fitted"}, 4) is None


def test_retraining_follows_any_model_verdict_and_the_switch():
    settings = MonitorSettings(share_threshold=0.3, prediction_psi_threshold=0.2)
    calm_model = {
        "drift_detected": False,
        "drifted_share": 0.1,
        "drifted_columns": ["recency_days"],
        "share_threshold": 0.3,
        "weighting": "equal",
    }
    calm = {"models": {"segmenter": calm_model, "uplift": {"note": "no champion uplift model"}}}
    retrain, reasons = retraining_needed(calm, settings)
    assert not retrain and "no retraining" in reasons[-1]
    assert any(r.startswith("segmenter: no drift, 10%") and "recency_days" in r for r in reasons)
    assert any(r.startswith("uplift: not judged") for r in reasons)
    drifted_model = {**calm_model, "drift_detected": True, "drifted_share": 0.45, "weighting": "importance"}
    drifted = {"models": {"segmenter": calm_model, "clv": drifted_model}}
    retrain, reasons = retraining_needed(drifted, settings)
    assert retrain and "triggered" in reasons[-1]
    assert any(r.startswith("clv: drift, 45% of its inputs") and "importance" in r for r in reasons)
    moved = {**calm, "predictions": {"segments": {"psi": 0.5}}}
    assert retraining_needed(moved, settings)[0]
    retrain, reasons = retraining_needed(drifted, MonitorSettings(retrain_on_drift=False))
    assert not retrain and "retrain_on_drift is off" in reasons[-1]


def test_evidently_verdicts_judge_each_model_on_its_own_inputs(tmp_path):
    from tasks.drift import ModelInputs, drift_report, model_verdicts

    rng = np.random.default_rng(1)
    n = 1_500
    reference = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(6)}).assign(constant=1.0)
    current = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(6)}).assign(constant=1.0)
    current["x0"] += 1.0  # a full standard deviation: Wasserstein (normed) far past 0.1
    current["x1"] += 1.0
    settings = MonitorSettings()
    inputs = {
        "segmenter": ModelInputs(normalised_weights(["x0", "x1", "x2", "x3", "constant"])),
        "uplift": ModelInputs(normalised_weights(["x0", "x4", "x5"], [0.1, 0.5, 0.4]), "importance"),
        "clv": ModelInputs({}, note="no CLV model"),
    }
    groups = {kind: list(model.weights) for kind, model in inputs.items() if model.weights}
    features = drift_report(reference, current, settings, tmp_path / "features.html", groups=groups)
    assert features["drifted_columns"] == ["x0", "x1"] and features["n_columns"] == 6
    assert features["columns"]["x0"]["method"] == "wasserstein"
    assert features["groups"]["segmenter"] == {"count": 2, "share": 0.5, "n_columns": 4}
    assert (tmp_path / "features.html").exists()
    verdicts = model_verdicts(inputs, features, settings.share_threshold)
    segmenter, uplift = verdicts["segmenter"], verdicts["uplift"]
    # the constant input cannot drift and is not tested: two of the four tested inputs drifted
    assert segmenter["drift_detected"] is True and segmenter["drifted_share"] == pytest.approx(0.5)
    assert segmenter["drifted_share"] == pytest.approx(segmenter["evidently"]["share"])
    # x0 drifted but carries a tenth of the uplift model's importance
    assert uplift["drift_detected"] is False and uplift["drifted_share"] == pytest.approx(0.1)
    assert uplift["evidently"]["count"] == 1
    assert verdicts["clv"] == {
        "drift_detected": False,
        "drifted_share": 0.0,
        "drifted_columns": [],
        "note": "no CLV model",
    }


def test_the_data_summary_is_written_when_asked_and_never_left_stale(tmp_path):
    from tasks.data_summary import summary_report

    rng = np.random.default_rng(2)
    batch = pd.DataFrame({"spend": rng.gamma(2.0, 30.0, 300), "orders": rng.poisson(3, 300).astype(float)})
    html = tmp_path / "summary.html"
    summary_report(batch, MonitorSettings(), html)
    assert html.stat().st_size > 0 and "spend" in html.read_text()
    summary_report(batch, MonitorSettings(summary_report=False), html)
    assert not html.exists()
