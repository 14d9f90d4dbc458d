"""The value of one conversion per customer, used to turn uplift into expected revenue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmint.contracts import CONTROL


def customer_value(features: pd.DataFrame, campaigns: pd.DataFrame | None) -> pd.Series:
    """Expected revenue of one conversion for each customer, indexed by customer_id.

    A customer's own average order value when they have ordered, shrunk towards the population's
    so that one large order does not dominate; customers with no orders get the mean revenue of a
    converted campaign customer, or the population's average order value.
    """
    ids = features["customer_id"].astype(str)
    fallback = np.nan
    if campaigns is not None and len(campaigns):
        converted = campaigns[(campaigns["converted"] == 1) & (campaigns["treatment"] != CONTROL)]
        if len(converted) and converted["revenue"].gt(0).any():
            fallback = float(converted.loc[converted["revenue"] > 0, "revenue"].mean())
    if "avg_order_value" not in features.columns:
        value = np.full(len(features), fallback if np.isfinite(fallback) else 1.0)
        return pd.Series(value, index=ids.to_numpy(), name="expected_value")
    aov = features["avg_order_value"].to_numpy(dtype=np.float64)
    orders = features["frequency"].to_numpy(dtype=np.float64) if "frequency" in features else (aov > 0) * 1.0
    has = (orders > 0) & np.isfinite(aov) & (aov > 0)
    population = float(np.median(aov[has])) if has.any() else (fallback if np.isfinite(fallback) else 1.0)
    prior = population if not np.isfinite(fallback) else fallback
    # Shrinkage with the weight of two orders' worth of prior.
    shrunk = np.where(has, (aov * orders + 2.0 * prior) / (orders + 2.0), prior)
    return pd.Series(shrunk, index=ids.to_numpy(), name="expected_value")


VALUATIONS: tuple[str, ...] = ("order_value", "clv")


@dataclass(frozen=True)
class Valuation:
    """The value of one conversion per customer, which candidate it came from, and why.

    Attributes:
        values: expected revenue of one conversion, indexed by customer_id.
        name: the chosen candidate, one of :data:`VALUATIONS`.
        errors: each candidate's mean absolute error on the converted campaign rows (empty without any).
    """

    values: pd.Series
    name: str
    errors: dict[str, float]


def _calibrated(candidate: pd.Series, converted: pd.DataFrame) -> tuple[pd.Series, float]:
    # One scale factor (the median ratio of revenue to the candidate on converted rows) and the mean
    # absolute error that leaves; a candidate that is zero on every converted row is unusable.
    predicted = converted["customer_id"].map(candidate).to_numpy(dtype=np.float64)
    revenue = converted["revenue"].to_numpy(dtype=np.float64)
    usable = np.isfinite(predicted) & (predicted > 0)
    if not usable.any():
        return candidate, float("inf")
    scale = float(np.median(revenue[usable] / predicted[usable]))
    error = np.abs(revenue - scale * np.nan_to_num(predicted, nan=0.0))
    return candidate * scale, float(error.mean())


def conversion_valuation(
    features: pd.DataFrame,
    campaigns: pd.DataFrame | None,
    clv: pd.Series | None = None,
    kept_share: dict[str, float] | None = None,
) -> Valuation:
    """The value of one conversion per customer: the shrunk order value, or the predicted CLV scaled to
    one order, whichever predicts the revenue of past converted campaign rows better.

    Each candidate is scaled by the median ratio of revenue to candidate on those rows and scored by
    its mean absolute error there. A treated row's revenue is divided by its offer's ``kept_share``
    (1 − redemption share), so that every row measures an undiscounted order. Without converted rows
    or a CLV, the order value is used.

    Args:
        features: as for :func:`customer_value`.
        campaigns: past campaign rows (``customer_id``, ``treatment``, ``converted``, ``revenue``).
        clv: predicted next-period spend by customer_id (``customer_scores.clv``), or None.
        kept_share: per offer, the share of the order value the shop keeps when it is redeemed.

    Returns:
        :class:`Valuation`.
    """
    order_value = customer_value(features, campaigns)
    if campaigns is None or clv is None or clv.dropna().empty:
        return Valuation(order_value, "order_value", {})
    converted = campaigns[(campaigns["converted"] == 1) & (campaigns["revenue"] > 0)]
    if converted.empty:
        return Valuation(order_value, "order_value", {})
    kept = converted["treatment"].astype(str).map(kept_share or {}).fillna(1.0).clip(lower=1e-6)
    converted = converted.assign(
        customer_id=converted["customer_id"].astype(str), revenue=converted["revenue"] / kept
    )
    candidates = {"order_value": order_value, "clv": clv.reindex(order_value.index).astype(np.float64)}
    scored = {name: _calibrated(values, converted) for name, values in candidates.items()}
    errors = {name: error for name, (_, error) in scored.items()}
    name = min(VALUATIONS, key=lambda n: errors[n])
    values = scored[name][0] if name == "clv" else order_value
    # Customers the CLV model did not score keep their order value.
    values = values.fillna(order_value).rename("expected_value")
    return Valuation(values, name, {k: round(v, 4) for k, v in errors.items()})
