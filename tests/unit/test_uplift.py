"""Uplift metrics (cross-checked against scikit-uplift), learners and model selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.settings import UpliftSettings
from segmint.uplift import LEARNERS, auuc, evaluate_uplift, fit_uplift, qini_auc, uplift_at_k
from segmint.uplift.metrics import ResampledMetrics, bootstrap_intervals, uplift_metrics

FAST = dict(n_estimators=30, learning_rate=0.1, min_child_samples=20, bootstrap_rounds=10)


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


@pytest.mark.parametrize("scores", ["few distinct", "continuous", "zeros of both signs"])
def test_resampled_metrics_equal_the_metrics_of_the_resampled_rows_to_the_last_bit(scores: str) -> None:
    """Without sorting each resample, every metric (ties, uplift@k's cut inside a run of equal scores
    and the drawn order within it, an arm missing from the top) is the sorted resample's, exactly."""
    rng = np.random.default_rng(5)
    checked = 0
    for n in (7, 60, 900):
        y = (rng.random(n) < 0.3).astype(int)
        t = rng.integers(0, 2, n)
        u = {
            "few distinct": rng.integers(0, 4, n) / 3.0,
            "continuous": rng.normal(size=n),
            "zeros of both signs": np.where(rng.random(n) < 0.5, 0.0, -0.0) + (rng.random(n) < 0.2),
        }[scores]
        resampled = ResampledMetrics(y, u, t)
        for k in (0.1, 0.3, 0.77):
            for _ in range(20):
                at = rng.integers(0, n, int(rng.integers(1, 2 * n)))
                expected = uplift_metrics(y[at], u[at], t[at], k)
                got = resampled.metrics(at, k)
                assert got.keys() == expected.keys()
                for name, value in expected.items():
                    assert got[name] == value or (np.isnan(got[name]) and np.isnan(value)), (name, n, k)
                checked += 1
    assert checked == 180
    # outcomes that are not 0/1 take the sorting path, with the same result
    revenue = rng.random(50) * 10
    at = rng.integers(0, 50, 50)
    u, t = rng.normal(size=50), rng.integers(0, 2, 50)
    assert ResampledMetrics(revenue, u, t).metrics(at) == uplift_metrics(revenue[at], u[at], t[at])


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
        features,
        campaigns,
        UpliftSettings(learners=("t_learner", "logistic_t_learner"), select_per_offer=False, **FAST),
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
    # The curves are the chosen learner's and random targeting's on the test part.
    assert set(sel.qini["learner"]) == {sel.name, "random"}


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
        # model_copy skips validation (params.yaml typos fail at load): this is the library's own check
        fit_uplift(features, campaigns, UpliftSettings().model_copy(update={"learners": ("magic",)}))


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


def test_per_offer_selection_takes_each_offers_best_cv_learner(planted) -> None:
    features, campaigns = planted
    settings = UpliftSettings(learners=("t_learner", "uplift_tree"), cv_folds=3, **FAST)
    sel = fit_uplift(features, campaigns, settings)
    per_offer = sel.candidates[sel.candidates["offer"] != "overall"]
    for offer in ("A", "B"):
        rows = per_offer[per_offer["offer"] == offer].set_index("learner")
        best = rows["qini_auc"].idxmax()
        assert rows.loc[best, "selected"] and rows["selected"].sum() == 1
        assert sel.model.learner_names[offer] == best
    assert sel.model.settings == settings


def test_cv_selection_is_deterministic_and_single_split_still_works(planted) -> None:
    features, campaigns = planted
    settings = UpliftSettings(learners=("t_learner", "logistic_t_learner"), **FAST)
    first = fit_uplift(features, campaigns, settings).candidates
    pd.testing.assert_frame_equal(first, fit_uplift(features, campaigns, settings).candidates)
    single = fit_uplift(features, campaigns, settings.model_copy(update={"cv_folds": 0}))
    assert not np.allclose(single.candidates["qini_auc"], first["qini_auc"])


def _model(features, campaigns, learner: str):
    return fit_uplift(features, campaigns, UpliftSettings(learners=(learner,), **FAST)).model


def test_evaluate_uplift_is_reproducible_and_on_the_held_out_split(planted) -> None:
    features, campaigns = planted
    settings = UpliftSettings(**FAST)
    for learner in ("t_learner", "uplift_tree"):
        model = _model(features, campaigns, learner)
        one = evaluate_uplift(model, features, campaigns, settings)
        assert one == evaluate_uplift(model, features, campaigns, settings)
        assert set(one["per_offer"]) == {"A", "B"}
        assert one["per_offer"]["A"]["learner"] == learner
        assert one["qini_auc"] == pytest.approx(np.mean([m["qini_auc"] for m in one["per_offer"].values()]))
        assert one["n_rows"] == round(settings.test_share * len(campaigns))
        assert one["n_rows"] + one["n_train_rows"] == len(campaigns)
    # The reported held-out metrics of fit_uplift are the same computation.
    sel = fit_uplift(features, campaigns, UpliftSettings(learners=("t_learner",), **FAST))
    again = evaluate_uplift(sel.model, features, campaigns, settings)
    assert again["per_offer"]["A"]["qini_auc"] == pytest.approx(sel.metrics["A"]["qini_auc"])


def test_evaluate_uplift_scores_a_better_learner_higher() -> None:
    """The offer helps only where a and b share a sign: trees find the interaction, a linear
    T-learner cannot."""
    rng = np.random.default_rng(3)
    n = 8000
    features = pd.DataFrame(
        {"customer_id": [f"c{i}" for i in range(n)], "a": rng.normal(size=n), "b": rng.normal(size=n)}
    )
    treatment = rng.choice(["control", "A"], n)
    helped = (features["a"] * features["b"] > 0) & (treatment == "A")
    converted = (rng.random(n) < 0.1 + 0.3 * helped).astype(int)
    campaigns = pd.DataFrame(
        {"customer_id": features["customer_id"], "treatment": treatment, "converted": converted}
    )
    settings = UpliftSettings(**FAST)
    good = evaluate_uplift(_model(features, campaigns, "x_learner"), features, campaigns, settings)
    weak = evaluate_uplift(_model(features, campaigns, "logistic_t_learner"), features, campaigns, settings)
    assert good["qini_auc"] > weak["qini_auc"] + 0.1
    assert good["n_rows"] == weak["n_rows"]


def test_evaluate_uplift_refits_with_the_models_own_settings(planted) -> None:
    features, campaigns = planted
    model = _model(features, campaigns, "t_learner")
    base = evaluate_uplift(model, features, campaigns, UpliftSettings(**FAST))
    # Other LightGBM sizes in the evaluation settings do not change the evaluated configuration.
    other = evaluate_uplift(model, features, campaigns, UpliftSettings(**{**FAST, "n_estimators": 300}))
    assert base["qini_auc"] == other["qini_auc"]


def test_one_standard_error_rule_prefers_the_simpler_learner_only_within_noise():
    import pandas as pd

    from segmint.uplift.selection import _choose

    close = pd.DataFrame(
        {
            "learner": ["x_learner", "uplift_tree"],
            "offer": ["a", "a"],
            "qini_auc": [0.060, 0.059],
            "qini_auc_se": [0.002, 0.002],
        }
    )
    assert _choose(close, ("a",), per_offer=True, rule="best") == {"a": "x_learner"}
    assert _choose(close, ("a",), per_offer=True, rule="one_se") == {"a": "uplift_tree"}
    far = close.assign(qini_auc=[0.070, 0.059])
    assert _choose(far, ("a",), per_offer=True, rule="one_se") == {"a": "x_learner"}
    with pytest.raises(ValueError, match="valid rules"):
        _choose(close, ("a",), per_offer=True, rule="nope")


def test_selection_sample_keeps_every_arm_and_is_seeded():
    from segmint.uplift.splits import selection_rows

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "treatment": rng.choice(["control", "a", "b"], 5000, p=[0.5, 0.4, 0.1]),
            "converted": rng.random(5000) < 0.1,
        }
    )
    settings = UpliftSettings(selection_max_rows=1000)
    rows = selection_rows(frame, settings)
    assert len(rows) == 1000 and np.array_equal(rows, selection_rows(frame, settings))
    share = frame.iloc[rows]["treatment"].value_counts(normalize=True)
    assert share.to_dict() == pytest.approx(
        frame["treatment"].value_counts(normalize=True).to_dict(), abs=0.01
    )
    assert len(selection_rows(frame, UpliftSettings(selection_max_rows=10_000))) == 5000


def _sklearn_x_learner_uplift(settings: UpliftSettings, X, y, t, X_new) -> np.ndarray:
    """The X-learner as the sklearn estimators fit it (each model binning its rows anew)."""
    from segmint.uplift.learners import TLearner, _lgb_regressor, positive_proba

    treated = t == 1
    first = TLearner(settings).fit(X, y, t)
    effect_treated = y[treated] - positive_proba(first.control_, X[treated])
    effect_control = positive_proba(first.treated_, X[~treated]) - y[~treated]
    tau_treated = _lgb_regressor(settings, 1).fit(X[treated], effect_treated)
    tau_control = _lgb_regressor(settings, 2).fit(X[~treated], effect_control)
    propensity = float(treated.mean())
    return propensity * tau_control.predict(X_new) + (1.0 - propensity) * tau_treated.predict(X_new)


@pytest.mark.parametrize("constant_arm", [False, True])
def test_the_x_learner_binning_each_arm_once_fits_the_sklearn_models_trees(constant_arm: bool) -> None:
    """Sharing an arm's binned rows between its outcome and effect models changes no prediction,
    also when an arm never converts (its outcome model is a constant); pickling keeps them."""
    import pickle

    from segmint.drift import model_importances
    from segmint.uplift.learners import XLearner

    rng = np.random.default_rng(5)
    n = 4000
    X = rng.normal(size=(n, 6))
    t = (rng.random(n) < 0.5).astype(int)
    p = 1 / (1 + np.exp(-(X[:, 0] + t * (0.8 * X[:, 1] > 0))))
    y = (rng.random(n) < p).astype(np.float64)
    if constant_arm:
        y[t == 0] = 0.0
    settings = UpliftSettings(min_child_samples=50, num_leaves=4)
    X_new = rng.normal(size=(500, 6))
    fitted = XLearner(settings).fit(X, y, t)
    expected = _sklearn_x_learner_uplift(settings, X, y, t, X_new)
    np.testing.assert_array_equal(fitted.uplift(X_new), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).uplift(X_new), expected)
    assert "train_set" not in vars(fitted.tau_treated_)  # the model does not keep its rows alive
    importances = model_importances(fitted, 6)
    assert importances is not None and importances.sum() == pytest.approx(1.0) and importances[1] > 0


@pytest.mark.parametrize("constant_control", [False, True])
def test_offers_fitted_in_turn_share_the_control_arm_and_score_as_fitted_apart(
    constant_control: bool,
) -> None:
    """The permutation test's refits fit every offer's X-learner on the same control rows: binned and
    fitted once, they give each offer exactly the scores of fitting it alone; other learners are
    fitted as before, beside them."""
    from segmint.contracts import CONTROL
    from segmint.uplift.design import Design

    rng = np.random.default_rng(11)
    n = 6000
    X = rng.normal(size=(n, 5))
    treatment = rng.choice(np.array([CONTROL, "a", "b", "c"], dtype=object), size=n)
    lift = np.where(treatment == "a", 0.8 * (X[:, 1] > 0), np.where(treatment == "b", 0.5 * X[:, 2], 0.0))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] - 1 + lift)))).astype(np.float64)
    if constant_control:
        y[treatment == CONTROL] = 0.0
    design = Design(pd.DataFrame(index=range(n)), X, y, treatment)
    order = rng.permutation(n)
    train, test = np.sort(order[:4000]), np.sort(order[4000:])
    settings = UpliftSettings(min_child_samples=50, num_leaves=4, n_estimators=30)
    learners = {"a": "x_learner", "b": "logistic_t_learner", "c": "x_learner"}
    together = design.scored_in_turn(learners, settings, train, test)
    assert list(together) == ["a", "b", "c"]
    for offer, name in learners.items():
        apart = design.scored(name, offer, settings, train, test)
        np.testing.assert_array_equal(together[offer].rows, apart.rows)
        np.testing.assert_array_equal(together[offer].uplift, apart.uplift)
