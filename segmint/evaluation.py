"""Model-independent quality measures used to compare a challenger with its champion."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler


def common_representation(features: pd.DataFrame) -> np.ndarray:
    """Signed-log, standardised numeric features: one space in which any two segmentations compare."""
    numeric = features.drop(columns=["customer_id"], errors="ignore").select_dtypes("number")
    values = numeric.to_numpy(dtype=np.float64)
    values = np.sign(values) * np.log1p(np.abs(values))
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return StandardScaler().fit_transform(values)


def segmentation_silhouette(
    features: pd.DataFrame, labels: pd.Series | np.ndarray, sample_size: int, seed: int
) -> float | None:
    """Silhouette of ``labels`` in the common representation, on a seeded sample.

    Returns:
        The silhouette in [-1, 1], or None when there are fewer than two segments.
    """
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2 or len(labels) < 3:
        return None
    x = common_representation(features)
    n = min(sample_size, len(labels))
    return float(silhouette_score(x, labels, sample_size=n, random_state=seed))
