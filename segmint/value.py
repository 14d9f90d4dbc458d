"""The value of one conversion per customer, used to turn uplift into expected revenue."""

from __future__ import annotations

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
