"""Customer lifetime value: next-period spend predicted from point-in-time features."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from segmint.threads import core_count, threaded
from segmint.uplift import feature_matrix


@dataclass(frozen=True)
class CLVModel:
    """A fitted next-period spend model."""

    feature_columns: tuple[str, ...]
    model: tuple[lgb.LGBMRegressor, ...]  # fitted with successive seeds; predictions are averaged
    seed: int = 0  # the first of the successive seeds: with the code, the model's configuration
    max_customers: int | None = None  # the fit's sample cap, part of the configuration too
    # the boosting configuration (models saved before these fields existed read the class defaults,
    # the configuration they were fitted with)
    trees: int = 600
    learning_rate: float = 0.025

    @property
    def configuration(self) -> tuple[Any, ...]:
        """What a refit needs besides the data: two models with the same configuration refit alike."""
        return (self.seed, self.max_customers, self.trees, self.learning_rate, len(self.model))

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Predicted next-period spend per customer.

        Returns:
            ``[customer_id, predicted_clv]`` (non-negative).
        """
        X, _ = feature_matrix(features, list(self.feature_columns))
        # Every LightGBM call here runs on one thread, and the cores get a block of rows each. LightGBM
        # keeps the thread count in one process-wide variable that every call sets, and its docs warn
        # against mixing counts in calls that run at once: a prediction on every core beside the
        # one-thread uplift fits that the uplift and evaluate stages run on other Python threads is the
        # likely cause of a segfault in lib_lightgbm seen once in evaluate. Each bagged model scores
        # every block (a row's prediction does not depend on its block), all on one pool, so no core
        # waits for the last model.
        blocks = np.array_split(X, min(core_count(), len(X))) if len(X) else [X]
        parts = threaded(
            [partial(member.predict, block, num_threads=1) for member in self.model for block in blocks]
        )
        predicted = [
            np.concatenate(parts[i * len(blocks) : (i + 1) * len(blocks)]) for i in range(len(self.model))
        ]
        return pd.DataFrame(
            {
                "customer_id": features["customer_id"].astype(str).to_numpy(),
                "predicted_clv": np.mean(predicted, axis=0),
            }
        )


# The label column the pipeline fits and scores CLV on: net revenue in the label window.
CLV_TARGET = "future_revenue"
# Past spend never lowers predicted spend: a prior that holds for the biggest spenders too, whose
# totals lie beyond most of the training range.
MONOTONE_INCREASING = ("monetary", "frequency")
# The defaults of fit_clv (ClvSettings carries the pipeline's values, chosen by
# benchmarks/clv_tune.py on inner out-of-time splits): models averaged over seeds, because a few
# whales sway any single fit and the average much less.
BAGGED_SEEDS = 5
TREES = 600
LEARNING_RATE = 0.025


def fit_clv(
    features_train: pd.DataFrame,
    labels: pd.DataFrame,
    seed: int,
    target: str | None = None,
    max_customers: int | None = None,
    trees: int = TREES,
    learning_rate: float = LEARNING_RATE,
    bagged: int | None = None,
) -> CLVModel:
    """Fit LightGBM with a Tweedie loss (many zero spenders, a long right tail) on next-period spend.

    Predicted spend rises with past spend and orders (monotone constraints); ``trees`` trees at
    ``learning_rate``, averaged over ``bagged`` seeds (the pipeline's values are ``clv.trees``,
    ``clv.learning_rate`` and ``clv.bagged_seeds``, chosen on inner out-of-time splits by
    ``benchmarks/clv_tune.py``). The bagged models are fitted side by side, one thread each (each
    model single-threaded: the same trees whatever the number of cores).

    Args:
        features_train: ``customer_id`` + numeric features as of the training cutoff.
        labels: ``customer_id`` + the next-period spend column.
        seed: random seed (of the sample too).
        target: label column; None takes the only numeric non-id column, or ``future_spend``.
        max_customers: fit on a seeded random sample of at most this many customers (None: all).
        trees: boosting rounds per model.
        learning_rate: shrinkage.
        bagged: models averaged, on successive seeds (None: ``BAGGED_SEEDS`` when called).

    Raises:
        ValueError: the target column cannot be determined, or no customer spent in the window.
    """
    joined, y = _rows_and_label(features_train, labels, _label_column(labels) if target is None else target)
    if not (y > 0).any():
        raise ValueError("no customer spent anything in the label window: there is no CLV to learn")
    kept = fitted_rows(len(joined), seed, max_customers)
    if kept is not None:
        joined, y = joined.iloc[kept].reset_index(drop=True), y[kept]
    X, columns = feature_matrix(joined)
    monotone = [1 if column in MONOTONE_INCREASING else 0 for column in columns]
    members = [
        lgb.LGBMRegressor(
            objective="tweedie",
            n_estimators=trees,
            learning_rate=learning_rate,
            monotone_constraints=monotone,
            num_leaves=15,
            min_child_samples=50,
            subsample=0.8,
            subsample_freq=1,
            n_jobs=1,
            random_state=seed + offset,
            verbose=-1,
        )
        for offset in range(BAGGED_SEEDS if bagged is None else bagged)
    ]
    fitted = threaded([partial(member.fit, X, y) for member in members])
    return CLVModel(tuple(columns), tuple(fitted), seed, max_customers, trees, learning_rate)


def fitted_rows(rows: int, seed: int, max_customers: int | None) -> np.ndarray | None:
    """The positions, in order, of the feature rows :func:`fit_clv` fits on: a seeded sample of
    ``max_customers`` of ``rows``; None when it fits on all of them."""
    if max_customers is None or rows <= max_customers:
        return None
    return np.sort(np.random.default_rng(seed).choice(rows, size=max_customers, replace=False))


def _label_column(labels: pd.DataFrame) -> str:
    """``future_spend`` when present, else the only numeric non-id column of ``labels``."""
    numeric = [
        column
        for column in labels.columns
        if column != "customer_id" and pd.api.types.is_numeric_dtype(labels[column])
    ]
    if "future_spend" in numeric:
        return "future_spend"
    if len(numeric) == 1:
        return numeric[0]
    raise ValueError(f"pass target=; label columns are {list(labels.columns)}")


def _rows_and_label(
    features_train: pd.DataFrame, labels: pd.DataFrame, target: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature rows and each customer's non-negative ``target`` (0 for customers without a label)."""
    joined = features_train.assign(customer_id=features_train["customer_id"].astype(str)).merge(
        labels.assign(customer_id=labels["customer_id"].astype(str))[["customer_id", target]].rename(
            columns={target: "_y"}
        ),
        on="customer_id",
        how="left",
    )
    y = joined.pop("_y").fillna(0.0).clip(lower=0.0).to_numpy(dtype=np.float64)
    return joined, y


@dataclass(frozen=True)
class CLVPeriods:
    """An out-of-time split: fit on the calibration period, score the test period.

    Attributes:
        calibration: features as of the calibration cutoff C - H.
        calibration_labels: spend in [C - H, C): what a refit learns.
        test: features as of C.
        test_labels: spend in [C, C + H): what the refit and the naive baseline are scored against.
        horizon_days: H.
        target: the spend column of both label frames.
    """

    calibration: pd.DataFrame
    calibration_labels: pd.DataFrame
    test: pd.DataFrame
    test_labels: pd.DataFrame
    horizon_days: int
    target: str


@dataclass(frozen=True)
class CLVHoldout:
    """Predicted and actual test-period spend of the customers who bought before the test period.

    Attributes:
        customer_id: the customers scored (at least one order before C).
        predicted: the refit model's predicted spend.
        naive: the naive baseline: past spend per day since the first order, times the horizon.
        actual: their spend in the test period (non-negative).
    """

    customer_id: np.ndarray
    predicted: np.ndarray
    naive: np.ndarray
    actual: np.ndarray

    def summary(self) -> dict[str, Any]:
        """The customers scored, the test revenue, and each predictor's :func:`clv_metrics`."""
        return {
            "customers": len(self.actual),
            "test_revenue": float(self.actual.sum()),
            "model": clv_metrics(self.predicted, self.actual),
            "naive_rate": clv_metrics(self.naive, self.actual),
        }


def naive_rate(features: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """Past spend per day since the first order (at least one day), times the horizon, per row."""
    days = (features["tenure_days"] - features["days_to_first_order"]).clip(lower=1.0)
    return (features["monetary"].clip(lower=0.0) / days * horizon_days).to_numpy(dtype=np.float64)


def test_buyers(periods: CLVPeriods) -> tuple[pd.DataFrame, np.ndarray]:
    """The test period's features of the customers with an order before it, and their spend in it
    (non-negative, zero for those who spent nothing).

    Raises:
        ValueError: nobody bought before the test period.
    """
    buyers = periods.test[periods.test["frequency"] > 0]
    if not len(buyers):
        raise ValueError("no customer bought before the test period: there is no CLV to score")
    actual = (
        periods.test_labels.assign(customer_id=periods.test_labels["customer_id"].astype(str))
        .set_index("customer_id")[periods.target]
        .reindex(buyers["customer_id"].astype(str))
        .fillna(0.0)
        .clip(lower=0.0)
    )
    return buyers, actual.to_numpy(dtype=np.float64)


def clv_holdout(model: CLVModel, periods: CLVPeriods) -> CLVHoldout:
    """``model``'s configuration (its seed, this code) refit on the calibration period and scored on the
    test period, with the naive baseline, on the customers with an order before the test period.

    Raises:
        ValueError: nobody spent in the calibration period, or nobody bought before the test period.
    """
    refit = fit_clv(
        periods.calibration,
        periods.calibration_labels,
        model.seed,
        periods.target,
        model.max_customers,
        model.trees,
        model.learning_rate,
        len(model.model),
    )
    buyers, actual = test_buyers(periods)
    return CLVHoldout(
        customer_id=buyers["customer_id"].astype(str).to_numpy(),
        predicted=refit.predict(buyers)["predicted_clv"].clip(lower=0.0).to_numpy(dtype=np.float64),
        naive=naive_rate(buyers, periods.horizon_days),
        actual=actual,
    )


def clv_metrics(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Spearman rank correlation, the share of actual revenue held by the top decile of ``predicted``
    (ties broken by row order) and the mean absolute error."""
    top = np.argsort(-predicted, kind="stable")[: max(1, len(predicted) // 10)]
    total = float(actual.sum())
    return {
        "spearman": _spearman(predicted, actual),
        "top_decile_revenue_share": float(actual[top].sum() / total) if total > 0 else float("nan"),
        "mae": float(np.abs(predicted - actual).mean()) if len(actual) else float("nan"),
    }


def _spearman(predicted: np.ndarray, actual: np.ndarray) -> float:
    if len(actual) < 2 or np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return 0.0  # a constant ranks nothing
    return float(spearmanr(predicted, actual).statistic)


def _tie_codes(values: np.ndarray) -> np.ndarray:
    """Each value's position among the sorted distinct values (equal values share a code)."""
    return np.unique(values, return_inverse=True)[1].reshape(-1)


def _weighted_ranks(codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average ranks of the rows in a resample that holds row i ``counts[i]`` times (ties averaged,
    as :func:`scipy.stats.rankdata` does on the expanded resample), in O(n) from the tie codes."""
    per_value = np.bincount(codes, weights=counts)
    last = np.cumsum(per_value)
    return (last - (per_value - 1.0) / 2.0)[codes]


def _weighted_pearson(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> float:
    total = counts.sum()
    dx = x - (counts @ x) / total
    dy = y - (counts @ y) / total
    sxx, syy = counts @ (dx * dx), counts @ (dy * dy)
    if sxx <= 0 or syy <= 0:
        return 0.0  # a constant ranks nothing
    return float(counts @ (dx * dy) / np.sqrt(sxx * syy))


def spearman_difference(
    first: np.ndarray, second: np.ndarray, actual: np.ndarray, rounds: int, seed: int
) -> dict[str, float | None]:
    """Spearman of ``first`` minus that of ``second`` against ``actual``, with a 95 % paired bootstrap
    interval (the same resampled customers for both); ``low``/``high`` None when ``rounds`` is 0.

    A resample is held as each customer's count of draws, and its Spearman is the count-weighted
    Pearson correlation of average ranks (:func:`_weighted_ranks`): the same value as ranking the
    expanded resample, without sorting it again each round.
    """
    diff = _spearman(first, actual) - _spearman(second, actual)
    if rounds == 0:
        return {"diff": diff, "low": None, "high": None}
    rng = np.random.default_rng(seed)
    codes = [_tie_codes(np.asarray(values)) for values in (first, second, actual)]
    draws = []
    for _ in range(rounds):
        counts = np.bincount(rng.integers(0, len(actual), len(actual)), minlength=len(actual)).astype(float)
        ranked_first, ranked_second, ranked_actual = (_weighted_ranks(code, counts) for code in codes)
        draws.append(
            _weighted_pearson(ranked_first, ranked_actual, counts)
            - _weighted_pearson(ranked_second, ranked_actual, counts)
        )
    low, high = np.quantile(draws, [0.025, 0.975])
    return {"diff": diff, "low": float(low), "high": float(high)}
