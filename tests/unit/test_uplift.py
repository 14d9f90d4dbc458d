"""Uplift metrics (cross-checked against scikit-uplift), learners and model selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.settings import UpliftSettings
from segmint.uplift import LEARNERS, auuc, fit_uplift, qini_auc, uplift_at_k
from segmint.uplift.metrics import bootstrap_intervals

FAST = dict(n_estimators=30, min_child_samples=20, bootstrap_rounds=10)


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Offer A helps only customers with a > 0; offer B only customers with c == 1."""
    rng = np.random.default_rng(0)
    n = 6000
    features = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.integers(0, 2, n),
        }
    )
    treatment = rng.choice(["control", "A", "B"], n)
    effect = np.where(
        treatment == "A", 0.3 * (features["a"] > 0), np.where(treatment == "B", 0.2 * features["c"], 0)
    )
    converted = (rng.random(n) < 0.1 + 0.05 * (features["b"] > 0) + effect).astype(int)
    campaigns = pd.DataFrame(
        {
            "campaign_id": "w1",
            "customer_id": features["customer_id"],
            "treatment": treatment,
            "sent_ts": pd.Timestamp("2024-01-01", tz="UTC"),
            "converted": converted,
            "revenue": converted * 20.0,
        }
    )
    return features, campaigns


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_uplift(seed: int) -> None:
    sk = pytest.importorskip("sklift.metrics")
    rng = np.random.default_rng(seed)
    n = 3000
    t = rng.integers(0, 2, n)
    score = np.round(rng.normal(size=n), 1)  # ties on purpose
    y = (rng.random(n) < 0.2 + 0.1 * t * (score > 0)).astype(int)
    assert qini_auc(y, score, t) == pytest.approx(sk.qini_auc_score(y, score, t), abs=1e-10)
    assert auuc(y, score, t) == pytest.approx(sk.uplift_auc_score(y, score, t), abs=1e-10)
    assert uplift_at_k(y, score, t, 0.3) == pytest.approx(
        sk.uplift_at_k(y, score, t, strategy="overall", k=0.3)
    )


def test_perfect_ranking_scores_higher_than_reversed() -> None:
    rng = np.random.default_rng(3)
    t = rng.integers(0, 2, 2000)
    good = rng.random(2000) < 0.5
    y = (rng.random(2000) < np.where(good & (t == 1), 0.6, 0.1)).astype(int)
    assert qini_auc(y, good.astype(float), t) > 0.2
    assert qini_auc(y, -good.astype(float), t) < 0


def test_bootstrap_interval_brackets_point() -> None:
    rng = np.random.default_rng(4)
    t = rng.integers(0, 2, 2000)
    s = rng.normal(size=2000)
    y = (rng.random(2000) < 0.2 + 0.2 * t * (s > 0)).astype(int)
    m = bootstrap_intervals(y, s, t, rounds=50, seed=0)
    assert m["qini_auc_low"] <= m["qini_auc"] <= m["qini_auc_high"]
    assert m["qini_auc_low"] > 0


@pytest.mark.parametrize("learner", sorted(LEARNERS))
def test_each_learner_finds_the_planted_effect(planted, learner: str) -> None:
    features, campaigns = planted
    sel = fit_uplift(features, campaigns, UpliftSettings(learners=(learner,), **FAST))
    scores = sel.model.predict(features)
    a = scores[scores["offer"] == "A"].set_index("customer_id")["uplift"]
    positive = features.set_index("customer_id")["a"] > 0
    assert a[positive].mean() - a[~positive].mean() > 0.1
    assert sel.metrics["A"]["qini_auc"] > 0.1


def test_selection_prediction_shape_and_no_mutation(planted) -> None:
    features, campaigns = planted
    before_f, before_c = features.copy(), campaigns.copy()
    sel = fit_uplift(
        features, campaigns, UpliftSettings(learners=("t_learner", "logistic_t_learner"), **FAST)
    )
    pd.testing.assert_frame_equal(features, before_f)
    pd.testing.assert_frame_equal(campaigns, before_c)
    assert sel.name in ("t_learner", "logistic_t_learner")
    assert set(sel.metrics) == {"A", "B", "overall"}
    assert {"qini_auc_low", "qini_auc_high", "auuc", "uplift_at_30"} <= set(sel.metrics["A"])
    chosen = sel.candidates[(sel.candidates["offer"] == "overall")].set_index("learner")["qini_auc"]
    assert chosen[sel.name] == chosen.max()
    pred = sel.model.predict(features.head(5))
    assert list(pred.columns) == ["customer_id", "offer", "uplift", "response_probability"]
    assert len(pred) == 10 and pred["response_probability"].between(0, 1).all()
    assert set(sel.qini["learner"]) == {"t_learner", "logistic_t_learner", "random"}


def test_per_segment_metrics(planted) -> None:
    features, campaigns = planted
    segments = pd.DataFrame(
        {"customer_id": features["customer_id"], "segment_id": (features["c"]).astype(int)}
    )
    sel = fit_uplift(features, campaigns, UpliftSettings(learners=("t_learner",), **FAST), segments=segments)
    b = sel.per_segment[sel.per_segment["offer"] == "B"].set_index("segment_id")
    assert b.loc[1, "observed_uplift"] > b.loc[0, "observed_uplift"] + 0.1


def test_unknown_learner_lists_valid_names(planted) -> None:
    features, campaigns = planted
    with pytest.raises(ValueError, match="valid learners: .*t_learner"):
        fit_uplift(features, campaigns, UpliftSettings(learners=("magic",)))


@pytest.mark.parametrize("keep", [["control"], ["A", "B"]])
def test_campaigns_without_both_arms_raise(planted, keep) -> None:
    features, campaigns = planted
    with pytest.raises(ValueError, match="control"):
        fit_uplift(features, campaigns[campaigns["treatment"].isin(keep)], UpliftSettings(**FAST))


def test_predict_requires_fitted_columns(planted) -> None:
    features, campaigns = planted
    sel = fit_uplift(features, campaigns, UpliftSettings(**FAST))
    with pytest.raises(ValueError, match="lack column"):
        sel.model.predict(features.drop(columns=["a"]))


def test_clv_ranks_big_spenders_first() -> None:
    from segmint.clv import fit_clv

    rng = np.random.default_rng(1)
    n = 2000
    feats = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "past_spend": rng.gamma(1.0, 50.0, n)})
    labels = pd.DataFrame(
        {"customer_id": feats["customer_id"], "future_spend": feats["past_spend"] * rng.uniform(0.5, 1.5, n)}
    )
    pred = fit_clv(feats, labels, seed=0).predict(feats)
    assert list(pred.columns) == ["customer_id", "predicted_clv"]
    assert (pred["predicted_clv"] >= 0).all()
    assert pred["predicted_clv"].corr(labels["future_spend"], method="spearman") > 0.8
