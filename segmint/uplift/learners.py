"""Binary uplift learners (one offer against control) and the allow-list that names them.

Every learner has ``fit(X, y, t) -> self`` and ``uplift(X) -> ndarray`` in probability units, so
the campaign planner can multiply it by a conversion's value. Campaign data is randomized, so the
propensity is the treated share of the training rows, not a fitted model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import lightgbm as lgb
import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from segmint.settings import UpliftSettings


class BinaryUpliftLearner(Protocol):
    """What every learner in :data:`LEARNERS` offers: one offer against control."""

    def fit(self, X: np.ndarray, y: np.ndarray, t: np.ndarray) -> BinaryUpliftLearner:
        """Fit on features ``X``, binary outcomes ``y`` and treatment flags ``t`` (1 = offer)."""
        ...

    def uplift(self, X: np.ndarray) -> np.ndarray:
        """Predicted uplift per row of ``X``, in probability units."""
        ...


def _lgb_params(settings: UpliftSettings, seed_offset: int = 0) -> dict:
    return {
        "n_estimators": settings.n_estimators,
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_child_samples": settings.min_child_samples,
        "subsample": settings.subsample,
        "subsample_freq": 1 if settings.subsample < 1.0 else 0,
        "colsample_bytree": settings.colsample_bytree,
        "reg_lambda": settings.reg_lambda,
        "n_jobs": settings.n_jobs,
        "random_state": settings.seed + seed_offset,
        "verbose": -1,
    }


def lgb_classifier(settings: UpliftSettings, seed_offset: int = 0) -> lgb.LGBMClassifier:
    """The regularised LightGBM classifier every tree learner (and the response model) uses."""
    return lgb.LGBMClassifier(**_lgb_params(settings, seed_offset))


def _lgb_regressor(settings: UpliftSettings, seed_offset: int = 0) -> lgb.LGBMRegressor:
    return lgb.LGBMRegressor(**_lgb_params(settings, seed_offset))


def _booster_params(settings: UpliftSettings, objective: str, seed_offset: int) -> dict:
    """:func:`_lgb_params` as LightGBM's own ``train`` takes them: the same trees as the sklearn models."""
    sklearn_only = ("n_estimators", "n_jobs")
    params = {k: v for k, v in _lgb_params(settings, seed_offset).items() if k not in sklearn_only}
    return {**params, "objective": objective, "num_threads": settings.n_jobs}


def _arm_rows(X: np.ndarray, y: np.ndarray, settings: UpliftSettings) -> lgb.Dataset:
    """One arm's rows binned by LightGBM, with its outcomes as the label."""
    return lgb.Dataset(X, label=y, params=_booster_params(settings, "binary", 0), free_raw_data=False)


def _boosted(rows: lgb.Dataset, settings: UpliftSettings, objective: str, seed_offset: int) -> lgb.Booster:
    """The booster of :func:`lgb_classifier` (``binary``) or the regressor (``regression``) on ``rows``."""
    params = _booster_params(settings, objective, seed_offset)
    # the fitted model does not keep the rows it was trained on alive
    return lgb.train(params, rows, num_boost_round=settings.n_estimators).free_dataset()


def _arm_outcome(rows: lgb.Dataset, y: np.ndarray, settings: UpliftSettings) -> lgb.Booster | _Constant:
    """P(conversion) in one arm: a booster, or a constant when the arm holds one class (as
    :func:`fit_classifier`)."""
    if np.unique(y).size < 2:
        return _Constant(float(y.mean()) if len(y) else 0.0)
    return _boosted(rows, settings, "binary", 0)


def _signed_log(X: np.ndarray) -> np.ndarray:
    return np.sign(X) * np.log1p(np.abs(X))


def _logistic(settings: UpliftSettings) -> Pipeline:
    # Spend-like features are heavy-tailed; a signed log keeps a few big spenders from steering
    # a linear model, and is monotone so one-hot columns are unaffected in ranking.
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        FunctionTransformer(_signed_log),
        StandardScaler(),
        LogisticRegression(C=settings.logistic_c, max_iter=2000),
    )


def positive_proba(model, X: np.ndarray) -> np.ndarray:
    """P(class 1) per row of ``X`` from a fitted classifier (its only class when it saw one)."""
    if len(getattr(model, "classes_", [0, 1])) < 2:
        return np.full(len(X), float(model.classes_[0]))
    return model.predict_proba(X)[:, 1]


def fit_classifier(model, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None):
    """``model`` fitted on ``X``, ``y`` (with optional sample weights), or a constant classifier
    when ``y`` holds a single class."""
    if np.unique(y).size < 2:
        # A constant arm (no conversions at all) still has a well-defined prediction.
        return _Constant(float(y.mean()) if len(y) else 0.0)
    if weight is None:
        return model.fit(X, y)
    if isinstance(model, Pipeline):
        return model.fit(X, y, logisticregression__sample_weight=weight)
    return model.fit(X, y, sample_weight=weight)


class _Constant:
    # Pickled models refer to this class by name: renaming it would break loading them.
    def __init__(self, value: float) -> None:
        self.value = value
        self.classes_ = np.array([0, 1])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.full(len(X), self.value)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray, **_: object) -> np.ndarray:
        return np.full(len(X), self.value)


class SLearner:
    """One model with the treatment flag as a feature; uplift = f(x, 1) − f(x, 0)."""

    def __init__(self, settings: UpliftSettings) -> None:
        self.settings = settings

    def fit(self, X, y, t):
        self.model_ = fit_classifier(lgb_classifier(self.settings), np.column_stack([X, t]), y)
        return self

    def uplift(self, X):
        ones, zeros = np.ones(len(X)), np.zeros(len(X))
        return positive_proba(self.model_, np.column_stack([X, ones])) - positive_proba(
            self.model_, np.column_stack([X, zeros])
        )


class TLearner:
    """Separate response models for treated and control rows."""

    def __init__(self, settings: UpliftSettings, make: Callable[[], object] | None = None) -> None:
        self.settings = settings
        # functools.partial, not a lambda: fitted learners are pickled with the model.
        self.make = make or partial(lgb_classifier, settings)

    def fit(self, X, y, t):
        treated = t == 1
        self.treated_ = fit_classifier(self.make(), X[treated], y[treated])
        self.control_ = fit_classifier(self.make(), X[~treated], y[~treated])
        return self

    def uplift(self, X):
        return positive_proba(self.treated_, X) - positive_proba(self.control_, X)


class LogisticTLearner(TLearner):
    """T-learner with L2-regularised logistic regressions: few parameters, hard to overfit."""

    def __init__(self, settings: UpliftSettings) -> None:
        super().__init__(settings, make=partial(_logistic, settings))


@dataclass(frozen=True)
class ControlArm:
    """The control rows of an X-learner's fit, binned, with their outcome model: the same for every
    offer fitted on the same rows, so offers fitted one after another can share it
    (:meth:`XLearner.fit`). Each fit sets the binned rows' label to its own imputed effects, so two
    fits must not use one arm at the same time."""

    X: np.ndarray
    y: np.ndarray
    rows: lgb.Dataset
    outcome: lgb.Booster | _Constant


def control_arm(X: np.ndarray, y: np.ndarray, settings: UpliftSettings) -> ControlArm:
    """The control rows ``X``, ``y`` binned once, with P(conversion) fitted on them."""
    rows = _arm_rows(X, y, settings)
    return ControlArm(X, y, rows, _arm_outcome(rows, y, settings))


class XLearner:
    """Künzel et al.'s X-learner: T-learner outcomes impute each row's effect, second-stage
    regressors learn it, blended by the (constant, randomized) propensity."""

    def __init__(self, settings: UpliftSettings) -> None:
        self.settings = settings

    def fit(self, X, y, t, control: ControlArm | None = None):
        """Fit on ``X``, ``y``, ``t``; ``control``: the :func:`control_arm` of exactly the rows where
        ``t`` is 0, in their order (fitted once for several offers), or None to fit it here."""
        # The models of the T-learner's LightGBM classifiers and of the regressors, through LightGBM's
        # own API so that each arm's rows are binned once for both its models (the sklearn estimators
        # bin their input anew on every fit: a third of a fit's time). The trees are the same: the
        # bins are found on the same rows (for an arm of over ``subsample_for_bin`` rows, on a sample
        # drawn with the outcome model's seed rather than the effect model's).
        treated = t == 1
        X_treated, y_treated = X[treated], y[treated]
        arm = control_arm(X[~treated], y[~treated], self.settings) if control is None else control
        treated_rows = _arm_rows(X_treated, y_treated, self.settings)
        outcome_treated = _arm_outcome(treated_rows, y_treated, self.settings)
        threads = self.settings.n_jobs
        treated_rows.set_label(y_treated - arm.outcome.predict(X_treated, num_threads=threads))
        arm.rows.set_label(outcome_treated.predict(arm.X, num_threads=threads) - arm.y)
        self.tau_treated_ = _boosted(treated_rows, self.settings, "regression", 1)
        self.tau_control_ = _boosted(arm.rows, self.settings, "regression", 2)
        self.propensity_ = float(treated.mean())
        return self

    def uplift(self, X):
        # models fitted before the boosters were sklearn regressors: both take num_threads
        propensity, threads = self.propensity_, self.settings.n_jobs
        return propensity * self.tau_control_.predict(X, num_threads=threads) + (
            1.0 - propensity
        ) * self.tau_treated_.predict(X, num_threads=threads)


class ClassTransformation:
    """Jaskowski & Jaroszewicz: predict z = 1{y == t}; with arms weighted to equal size,
    uplift = 2·P(z = 1) − 1."""

    def __init__(self, settings: UpliftSettings) -> None:
        self.settings = settings

    def fit(self, X, y, t):
        propensity = float(t.mean())
        weight = np.where(t == 1, 0.5 / propensity, 0.5 / (1.0 - propensity))
        z = (y == t).astype(int)
        self.model_ = fit_classifier(lgb_classifier(self.settings), X, z, weight)
        return self

    def uplift(self, X):
        return 2.0 * positive_proba(self.model_, X) - 1.0


def _transformed_outcome(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    # With the randomized propensity p, E[y·(t − p)/(p(1 − p)) | x] is the uplift at x.
    propensity = float(t.mean())
    return y * (t - propensity) / (propensity * (1.0 - propensity))


class TransformedOutcome:
    """Athey & Imbens: regress y·(t − p)/(p(1 − p)), whose expectation is the uplift."""

    def __init__(self, settings: UpliftSettings) -> None:
        self.settings = settings

    def fit(self, X, y, t):
        self.model_ = _lgb_regressor(self.settings).fit(X, _transformed_outcome(y, t))
        return self

    def uplift(self, X):
        return self.model_.predict(X)


class UpliftTree:
    """A shallow regression tree on the transformed outcome: a few large, readable segments with
    one uplift each. Ties inside a leaf keep the ranking from chasing noise, which on weak
    effects beats finer-grained learners."""

    def __init__(self, settings: UpliftSettings) -> None:
        self.settings = settings

    def fit(self, X, y, t):
        self.model_ = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            DecisionTreeRegressor(
                max_leaf_nodes=self.settings.tree_max_leaves,
                min_samples_leaf=max(1, int(self.settings.tree_min_leaf_share * len(y))),
                random_state=self.settings.seed,
            ),
        ).fit(X, _transformed_outcome(y, t))
        return self

    def uplift(self, X):
        return self.model_.predict(X)


class BaggedUpliftTree:
    """Shallow transformed-outcome trees on bootstrap resamples, averaged: the readable, rule-like
    splits of :class:`UpliftTree` without its all-or-nothing leaf boundaries."""

    rounds = 25

    def __init__(self, settings: UpliftSettings) -> None:
        self.settings = settings

    def fit(self, X, y, t):
        rng = np.random.default_rng(self.settings.seed)
        self.trees_ = []
        for _ in range(self.rounds):
            rows = rng.integers(0, len(y), len(y))
            self.trees_.append(UpliftTree(self.settings).fit(X[rows], y[rows], t[rows]))
        return self

    def uplift(self, X):
        return np.mean([tree.uplift(X) for tree in self.trees_], axis=0)


class Ensemble:
    """Mean uplift of a logistic T-learner and a LightGBM X-learner: the linear model carries the
    broad trends, the trees the interactions, and averaging cuts the variance of each."""

    members = ("logistic_t_learner", "x_learner")

    def __init__(self, settings: UpliftSettings) -> None:
        self.settings = settings

    def fit(self, X, y, t):
        self.models_ = [LEARNERS[name](self.settings).fit(X, y, t) for name in self.members]
        return self

    def uplift(self, X):
        return np.mean([model.uplift(X) for model in self.models_], axis=0)


LEARNERS: dict[str, Callable[[UpliftSettings], BinaryUpliftLearner]] = {
    "s_learner": SLearner,
    "t_learner": TLearner,
    "x_learner": XLearner,
    "logistic_t_learner": LogisticTLearner,
    "class_transformation": ClassTransformation,
    "transformed_outcome": TransformedOutcome,
    "uplift_tree": UpliftTree,
    "bagged_tree": BaggedUpliftTree,
    "ensemble": Ensemble,
}


# Rough model complexity, for the one-standard-error selection rule (lower is simpler).
COMPLEXITY: dict[str, int] = {
    "uplift_tree": 1,
    "logistic_t_learner": 2,
    "class_transformation": 3,
    "transformed_outcome": 3,
    "bagged_tree": 3,
    "s_learner": 4,
    "t_learner": 4,
    "x_learner": 5,
    "ensemble": 6,
}


def _require_known(name: str) -> None:
    if name not in LEARNERS:
        raise ValueError(f"unknown uplift learner {name!r}; valid learners: {', '.join(LEARNERS)}")


def check_learners(names: Sequence[str]) -> None:
    """Fail early, before any fitting, on an empty or unknown learner list.

    Raises:
        ValueError: ``names`` is empty or names a learner not in :data:`LEARNERS`.
    """
    if not names:
        raise ValueError(f"uplift.learners is empty; valid learners: {', '.join(LEARNERS)}")
    for name in names:
        _require_known(name)


def make_learner(name: str, settings: UpliftSettings) -> BinaryUpliftLearner:
    """A fresh, unfitted learner from the allow-list.

    Raises:
        ValueError: ``name`` is not in :data:`LEARNERS`.
    """
    _require_known(name)
    return LEARNERS[name](settings)
