"""Customer anomaly flags: an isolation forest on scaled features plus explicit rules.

Rules (names as they appear in ``anomaly_reasons``):

* ``impossible_basket`` — an order with more than ``max_basket_quantity`` units;
* ``refund_abuse`` — at least ``refund_min_orders`` orders and a return rate ≥ ``refund_min_return_rate``;
* ``bot_browsing`` — ≥ ``bot_min_views_per_session`` views per session with at most
  ``bot_max_purchase_rate`` purchases per view;
* ``signup_burst`` — ≥ ``burst_min_orders`` orders within the first days after signup (the window is
  ``features.burst_days``).

Flag budget: on the fitting data, ``contamination`` × customers are flagged. Rule hits are always
flagged; the remaining budget goes to the customers the isolation forest finds most isolated.
``anomaly_score`` is the forest's percentile among the fitting customers (0–1, higher = more
anomalous), raised to at least the flag threshold for rule hits, so ``is_anomalous`` ⇔
``anomaly_score >= threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from segmint.segmentation import FeatureScaler, fit_feature_scaler
from segmint.settings import AnomalySettings

RULES: tuple[str, ...] = ("impossible_basket", "refund_abuse", "bot_browsing", "signup_burst")
FOREST_REASON = "isolation_forest"


def _col(features: pd.DataFrame, name: str) -> np.ndarray:
    if name not in features.columns:
        return np.zeros(len(features))
    return np.nan_to_num(features[name].to_numpy(dtype=float))


def rule_hits(features: pd.DataFrame, settings: AnomalySettings) -> pd.DataFrame:
    """Which explicit rule each customer breaks: one bool column per name in :data:`RULES`."""
    views = _col(features, "views")
    purchases = _col(features, "purchase_events")
    purchase_rate = np.divide(purchases, views, out=np.zeros_like(views), where=views > 0)
    hits = {
        "impossible_basket": _col(features, "max_order_quantity") > settings.max_basket_quantity,
        "refund_abuse": (_col(features, "frequency") >= settings.refund_min_orders)
        & (_col(features, "return_rate") >= settings.refund_min_return_rate),
        "bot_browsing": (_col(features, "views_per_session") >= settings.bot_min_views_per_session)
        & (purchase_rate <= settings.bot_max_purchase_rate),
        "signup_burst": _col(features, "orders_first_days") >= settings.burst_min_orders,
    }
    return pd.DataFrame(hits, index=features.index)


@dataclass(frozen=True)
class AnomalyDetector:
    """A fitted detector: scaler, isolation forest, and the flag threshold.

    Attributes:
        threshold: Score at or above which a customer is flagged.
        settings: The settings it was fitted with (rule thresholds).
    """

    threshold: float
    settings: AnomalySettings
    _scaler: FeatureScaler = field(repr=False)
    _forest: IsolationForest = field(repr=False)
    _reference: np.ndarray = field(repr=False)

    def forest_percentile(self, features: pd.DataFrame) -> np.ndarray:
        """Isolation-forest anomaly percentile in [0, 1] relative to the fitting customers."""
        return _percentile(self._reference, _isolation(self._forest, self._scaler.transform(features)))

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Anomaly scores and flags.

        Returns:
            ``[customer_id, anomaly_score, is_anomalous, anomaly_reasons]``; reasons are the
            ";"-joined rule names, ``isolation_forest`` when only the forest flags, else "".
        """
        percentile = self.forest_percentile(features)
        hits = rule_hits(features, self.settings)
        any_rule = hits.to_numpy().any(axis=1)
        score = np.where(any_rule, np.maximum(percentile, min(self.threshold, 1.0)), percentile)
        flagged = any_rule | (percentile >= self.threshold)
        names = np.array(RULES, dtype=object)
        rules_broken = [";".join(names[row]) for row in hits.to_numpy()]
        reasons = [
            rules if rules else (FOREST_REASON if is_flagged else "")
            for rules, is_flagged in zip(rules_broken, flagged, strict=True)
        ]
        return pd.DataFrame(
            {
                "customer_id": features["customer_id"].to_numpy(),
                "anomaly_score": np.clip(score, 0.0, 1.0),
                "is_anomalous": flagged,
                "anomaly_reasons": reasons,
            }
        )


def _isolation(forest: IsolationForest, z: np.ndarray) -> np.ndarray:
    """How isolated each row is (higher = more anomalous): the forest's score, negated."""
    return -forest.score_samples(z)


def _percentile(reference: np.ndarray, isolation: np.ndarray) -> np.ndarray:
    """Share of the sorted ``reference`` scores at or below each score."""
    return np.searchsorted(reference, isolation, side="right") / len(reference)


def _flag_threshold(percentile: np.ndarray, any_rule: np.ndarray, contamination: float) -> float:
    """The forest percentile that spends what the rule hits leave of the flag budget."""
    budget = int(round(contamination * len(percentile))) - int(any_rule.sum())
    rest = np.sort(percentile[~any_rule])[::-1]
    # Above 1.0 nothing passes: the rules alone already use up the flag budget.
    return float(rest[budget - 1]) if 0 < budget <= len(rest) else 1.0 + 1e-9


def fit_anomaly_detector(features: pd.DataFrame, settings: AnomalySettings) -> AnomalyDetector:
    """Fit the isolation forest (on a sample when large) and set the flag threshold.

    Args:
        features: Output of :func:`segmint.features.customer_features`.
        settings: The ``anomaly`` settings section.

    Returns:
        The fitted :class:`AnomalyDetector`.
    """
    if len(features) < 10:
        raise ValueError(f"need at least 10 customers to fit an anomaly detector, got {len(features)}")
    scaler = fit_feature_scaler(features)
    z = scaler.transform(features)
    rng = np.random.default_rng(settings.seed)
    sample = rng.choice(len(z), min(len(z), settings.sample_size), replace=False)
    forest = IsolationForest(
        n_estimators=settings.n_estimators, contamination="auto", random_state=settings.seed, n_jobs=1
    ).fit(z[sample])
    isolation = _isolation(forest, z)
    reference = np.sort(isolation)
    any_rule = rule_hits(features, settings).to_numpy().any(axis=1)
    threshold = _flag_threshold(_percentile(reference, isolation), any_rule, settings.contamination)
    return AnomalyDetector(
        threshold=threshold, settings=settings, _scaler=scaler, _forest=forest, _reference=reference
    )


def reason_counts(scores: pd.DataFrame) -> dict[str, int]:
    """How many rows of ``scores`` name each reason, in order of first appearance.

    Args:
        scores: Output of :meth:`AnomalyDetector.score`, or any subset of its rows.

    Returns:
        Reason → number of rows whose ``anomaly_reasons`` name it (empty without that column).
    """
    counts: dict[str, int] = {}
    if "anomaly_reasons" not in scores.columns:
        return counts
    for value in scores["anomaly_reasons"].dropna():
        for reason in str(value).split(";"):
            if reason:
                counts[reason] = counts.get(reason, 0) + 1
    return counts
