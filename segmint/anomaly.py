"""Customer anomaly flags: an isolation forest and three behavioural signals, each ranked against the
customers the detector was fitted on.

Signals (names as they appear in ``anomaly_reasons``), each computed only for the customers it applies
to and skipped when its feature columns are absent:

* ``bot_browsing`` (customers with views) — deep sessions without carting: the robust z-score of
  log1p(views per session), ``z_depth``, and of the logit view→cart rate (half a cart and one view added
  so that no rate is 0 or 1), ``z_cart``, combined as ``(z_depth - z_cart) / sqrt(2)``. Robust
  z-scores use the median and the MAD of the fitting customers.
* ``refund_abuse`` (customers with orders) — the share of orders with a return, shrunk towards the
  population's share by a beta prior fitted to the customers by moments (empirical Bayes), so two
  returns in two orders weigh less than ten in twenty.
* ``spend_velocity`` (customers with orders) — gross revenue per day of tenure plus
  ``velocity_prior_days``: accounts that spend fast for their age.
* ``isolation_forest`` (everyone) — how isolated the customer is among all scaled features.

No threshold is set in advance, on any signal: each signal and the forest's isolation become a
percentile among the fitting customers it applies to (0 where it does not apply), a customer's
``anomaly_score`` is the highest of them, and the flag threshold is the score that flags
``contamination`` × the fitting customers (ties at the threshold are all flagged). So
``is_anomalous`` ⇔ ``anomaly_score >= threshold``, and ``anomaly_reasons`` names every signal whose own
percentile reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from segmint.segmentation import FeatureScaler, fit_feature_scaler
from segmint.settings import AnomalySettings

SIGNALS: tuple[str, ...] = ("bot_browsing", "refund_abuse", "spend_velocity")
FOREST_REASON = "isolation_forest"
# The kind of abuse each signal looks for, by the names the generator's truth uses.
SIGNAL_FOR_KIND: dict[str, str] = {
    "bot": "bot_browsing",
    "refund_abuse": "refund_abuse",
    "fraud": "spend_velocity",
}
_SIGNAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "bot_browsing": ("views", "carts", "views_per_session"),
    "refund_abuse": ("frequency", "return_orders"),
    "spend_velocity": ("frequency", "gross_revenue", "tenure_days"),
}
# MAD and mean absolute deviation → standard deviation of a normal distribution.
_MAD_TO_SD = 1.4826
_MEAN_AD_TO_SD = 1.2533


@dataclass(frozen=True)
class RobustScale:
    """Centre and spread of a feature among the fitting customers (median and scaled MAD).

    Attributes:
        centre: The median.
        scale: 1.4826 × MAD; 1.2533 × the mean absolute deviation where over half the values share the
            median (the MAD is then 0); 1 where every value does.
    """

    centre: float
    scale: float

    def z(self, values: np.ndarray) -> np.ndarray:
        """Robust z-scores of ``values``."""
        return (values - self.centre) / self.scale


def robust_scale(values: np.ndarray) -> RobustScale:
    """The :class:`RobustScale` of the finite ``values`` (centre 0, scale 1 when there are none)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return RobustScale(0.0, 1.0)
    centre = float(np.median(finite))
    deviation = np.abs(finite - centre)
    scale = _MAD_TO_SD * float(np.median(deviation)) or _MEAN_AD_TO_SD * float(deviation.mean()) or 1.0
    return RobustScale(centre, scale)


@dataclass(frozen=True)
class SignalParameters:
    """What the signals learn from the fitting customers.

    Attributes:
        session_depth: Robust scale of log1p(views per session) among customers with views.
        cart_rate: Robust scale of the logit smoothed view→cart rate among customers with views.
        return_share: Share of all orders that had a return (the prior's mean).
        return_prior_orders: Weight of the prior, in orders (method of moments over customers).
        velocity_prior_days: Days added to tenure in the spend-velocity denominator (from the settings).
    """

    session_depth: RobustScale
    cart_rate: RobustScale
    return_share: float
    return_prior_orders: float
    velocity_prior_days: float


def _col(features: pd.DataFrame, name: str) -> np.ndarray:
    return np.nan_to_num(features[name].to_numpy(dtype=float))


def _has_columns(features: pd.DataFrame, signal: str) -> bool:
    return all(name in features.columns for name in _SIGNAL_COLUMNS[signal])


def _session_depth(features: pd.DataFrame) -> np.ndarray:
    """log1p(views per session) of customers with views, NaN for the others."""
    return np.where(_col(features, "views") > 0, np.log1p(_col(features, "views_per_session")), np.nan)


def _cart_logit(features: pd.DataFrame) -> np.ndarray:
    """Logit of (carts + ½) / (views + 1) for customers with views, NaN for the others."""
    views, carts = _col(features, "views"), np.clip(_col(features, "carts"), 0.0, None)
    rate = np.clip((carts + 0.5) / (views + 1.0), 1e-6, 1 - 1e-6)
    return np.where(views > 0, np.log(rate / (1.0 - rate)), np.nan)


def _return_prior(features: pd.DataFrame) -> tuple[float, float]:
    """Mean return share and prior weight (orders) of a beta prior, by moments over customers with orders."""
    if not _has_columns(features, "refund_abuse"):
        return 0.0, 1.0
    orders, returned = _col(features, "frequency"), _col(features, "return_orders")
    buyers = orders > 0
    if not buyers.any():
        return 0.0, 1.0
    n, share = orders[buyers], np.clip(returned[buyers] / orders[buyers], 0.0, 1.0)
    mean = float(np.clip(returned[buyers].sum() / n.sum(), 1e-6, 1 - 1e-6))
    # Spread of the customers' own rates: the observed variance less what binomial noise explains.
    between = max(float(share.var() - np.mean(mean * (1.0 - mean) / n)), 1e-9)
    return mean, float(max(mean * (1.0 - mean) / between - 1.0, 1.0))


def fit_signal_parameters(features: pd.DataFrame, settings: AnomalySettings) -> SignalParameters:
    """The signals' population parameters, learned from ``features``."""
    has_events = _has_columns(features, "bot_browsing")
    nothing = np.full(len(features), np.nan)
    return_share, prior_orders = _return_prior(features)
    return SignalParameters(
        session_depth=robust_scale(_session_depth(features) if has_events else nothing),
        cart_rate=robust_scale(_cart_logit(features) if has_events else nothing),
        return_share=return_share,
        return_prior_orders=prior_orders,
        velocity_prior_days=settings.velocity_prior_days,
    )


def signal_values(features: pd.DataFrame, params: SignalParameters) -> pd.DataFrame:
    """Each signal's value per customer (higher = more anomalous), NaN where it does not apply.

    Returns:
        One float column per name in :data:`SIGNALS`, on the index of ``features``.
    """
    out = pd.DataFrame(index=features.index, columns=list(SIGNALS), dtype=float)
    if _has_columns(features, "bot_browsing"):
        depth = params.session_depth.z(_session_depth(features))
        cart = params.cart_rate.z(_cart_logit(features))
        out["bot_browsing"] = (depth - cart) / np.sqrt(2.0)
    buyers = _col(features, "frequency") > 0 if "frequency" in features.columns else None
    if buyers is not None and _has_columns(features, "refund_abuse"):
        prior = params.return_prior_orders
        shrunk = (_col(features, "return_orders") + prior * params.return_share) / (
            _col(features, "frequency") + prior
        )
        out["refund_abuse"] = np.where(buyers, shrunk, np.nan)
    if buyers is not None and _has_columns(features, "spend_velocity"):
        days = np.clip(_col(features, "tenure_days"), 0.0, None) + params.velocity_prior_days
        out["spend_velocity"] = np.where(buyers, np.log1p(_col(features, "gross_revenue") / days), np.nan)
    return out


def _percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of the sorted ``reference`` at or below each value; 0 for NaN values or no reference."""
    if not len(reference):
        return np.zeros(len(values))
    ranks = np.searchsorted(reference, np.nan_to_num(values, nan=-np.inf), side="right") / len(reference)
    return np.where(np.isnan(values), 0.0, ranks)


def _sorted_finite(values: np.ndarray) -> np.ndarray:
    return np.sort(values[np.isfinite(values)])


@dataclass(frozen=True)
class AnomalyDetector:
    """A fitted detector: the signals' parameters, scaler, isolation forest, and the flag threshold.

    Attributes:
        threshold: Score at or above which a customer is flagged.
        settings: The settings it was fitted with.
        signals: The signals' population parameters.
    """

    threshold: float
    settings: AnomalySettings
    signals: SignalParameters
    _scaler: FeatureScaler = field(repr=False)
    _forest: IsolationForest = field(repr=False)
    _references: Mapping[str, np.ndarray] = field(repr=False)

    def percentiles(self, features: pd.DataFrame) -> pd.DataFrame:
        """Each signal's and the forest's percentile in [0, 1] among the fitting customers.

        Returns:
            Columns :data:`SIGNALS` then ``isolation_forest``, on the index of ``features``.
        """
        values = signal_values(features, self.signals)
        values[FOREST_REASON] = _isolation(self._forest, self._scaler.transform(features))
        ranks = {
            name: _percentile(self._references[name], values[name].to_numpy()) for name in values.columns
        }
        return pd.DataFrame(ranks, index=features.index)

    def forest_percentile(self, features: pd.DataFrame) -> np.ndarray:
        """Isolation-forest anomaly percentile in [0, 1] relative to the fitting customers."""
        return self.percentiles(features)[FOREST_REASON].to_numpy()

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Anomaly scores and flags.

        Returns:
            ``[customer_id, anomaly_score, is_anomalous, anomaly_reasons]``; reasons are the ";"-joined
            names of the signals (then ``isolation_forest``) whose percentile reaches the threshold,
            "" for customers not flagged.
        """
        ranks = self.percentiles(features)
        score = ranks.to_numpy().max(axis=1)
        reached = ranks.to_numpy() >= self.threshold
        names = np.array(ranks.columns, dtype=object)
        return pd.DataFrame(
            {
                "customer_id": features["customer_id"].to_numpy(),
                "anomaly_score": np.clip(score, 0.0, 1.0),
                "is_anomalous": score >= self.threshold,
                "anomaly_reasons": [";".join(names[row]) for row in reached],
            }
        )


def _isolation(forest: IsolationForest, z: np.ndarray) -> np.ndarray:
    """How isolated each row is (higher = more anomalous): the forest's score, negated."""
    return -forest.score_samples(z)


def _flag_threshold(score: np.ndarray, contamination: float) -> float:
    """The score that flags ``contamination`` × the customers (above 1 when that is nobody)."""
    budget = int(round(contamination * len(score)))
    return float(np.sort(score)[::-1][budget - 1]) if budget > 0 else 1.0 + 1e-9


def _fitted_forest(z: np.ndarray, settings: AnomalySettings) -> IsolationForest:
    rng = np.random.default_rng(settings.seed)
    sample = rng.choice(len(z), min(len(z), settings.sample_size), replace=False)
    return IsolationForest(
        n_estimators=settings.n_estimators, contamination="auto", random_state=settings.seed, n_jobs=1
    ).fit(z[sample])


def fit_anomaly_detector(features: pd.DataFrame, settings: AnomalySettings) -> AnomalyDetector:
    """Fit the signals' parameters and the isolation forest (on a sample when large), and set the
    threshold that flags ``settings.contamination`` of ``features``.

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
    forest = _fitted_forest(z, settings)
    params = fit_signal_parameters(features, settings)
    values = signal_values(features, params)
    values[FOREST_REASON] = _isolation(forest, z)
    references = {name: _sorted_finite(values[name].to_numpy()) for name in values.columns}
    ranks = np.column_stack(
        [_percentile(references[name], values[name].to_numpy()) for name in values.columns]
    )
    threshold = _flag_threshold(ranks.max(axis=1), settings.contamination)
    return AnomalyDetector(
        threshold=threshold,
        settings=settings,
        signals=params,
        _scaler=scaler,
        _forest=forest,
        _references=references,
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


def flag_quality(scores: pd.DataFrame, kinds: pd.Series) -> dict[str, dict[str, float | int]]:
    """Recall and precision of the flags against known anomaly kinds, overall and per kind.

    A kind's recall is the share of its customers flagged (for any reason); its precision is the share
    of its kind among the customers flagged with the kind's signal (:data:`SIGNAL_FOR_KIND`).

    Args:
        scores: Output of :meth:`AnomalyDetector.score`.
        kinds: The known kind of each row of ``scores`` (None or NaN for normal customers), aligned.

    Returns:
        ``{"overall": {...}, kind: {...}}`` with planted, flagged, found, recall and precision.
    """
    kind = kinds.astype(object).where(kinds.notna(), None).to_numpy()
    flagged = scores["is_anomalous"].to_numpy(dtype=bool)
    planted = kind != None  # noqa: E711 - elementwise comparison on object array
    out = {"overall": _recall_precision(planted, flagged, flagged)}
    reasons = scores["anomaly_reasons"].fillna("").astype(str).str.split(";")
    for name, signal in SIGNAL_FOR_KIND.items():
        named = flagged & reasons.map(lambda row, s=signal: s in row).to_numpy(dtype=bool)
        out[name] = _recall_precision(kind == name, flagged, named)
    return out


def _recall_precision(
    planted: np.ndarray, flagged: np.ndarray, attributed: np.ndarray
) -> dict[str, float | int]:
    """Recall of ``planted`` among ``flagged``, and precision of the ``attributed`` flags."""
    return {
        "planted": int(planted.sum()),
        "flagged": int(attributed.sum()),
        "found": int((planted & flagged).sum()),
        "recall": float((planted & flagged).sum() / max(planted.sum(), 1)),
        "precision": float((planted & attributed).sum() / max(attributed.sum(), 1)),
    }
