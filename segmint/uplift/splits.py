"""Seeded row splits of the campaign rows, stratified by arm × outcome where the strata allow."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from segmint.settings import UpliftSettings


def _strata(frame: pd.DataFrame) -> pd.Series:
    return frame["treatment"].astype(str) + "|" + frame["converted"].astype(str)


def held_out_split(frame: pd.DataFrame, settings: UpliftSettings) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) row positions of the seeded ``test_share`` split (plain when a stratum
    has a single row)."""
    idx = np.arange(len(frame))
    strata = _strata(frame)
    stratify = strata if strata.value_counts().min() >= 2 else None
    train, test = train_test_split(
        idx, test_size=settings.test_share, random_state=settings.seed, stratify=stratify
    )
    return np.sort(train), np.sort(test)


def cross_validation_folds(
    frame: pd.DataFrame, settings: UpliftSettings
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded K-fold splits stratified by arm × outcome (plain K-fold when a stratum is too small)."""
    strata = _strata(frame).to_numpy()
    idx = np.arange(len(frame))
    if pd.Series(strata).value_counts().min() >= settings.cv_folds:
        splitter = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
        return [(np.sort(train), np.sort(test)) for train, test in splitter.split(idx, strata)]
    splitter = KFold(settings.cv_folds, shuffle=True, random_state=settings.seed)
    return [(np.sort(train), np.sort(test)) for train, test in splitter.split(idx)]


def selection_rows(frame: pd.DataFrame, settings: UpliftSettings) -> np.ndarray:
    """Row positions learner selection uses: all, or ``selection_max_rows`` of them stratified by
    arm × outcome (seeded), so every offer keeps its share of rows and conversions."""
    idx = np.arange(len(frame))
    if len(frame) <= settings.selection_max_rows:
        return idx
    strata = _strata(frame).to_numpy()
    stratify = strata if pd.Series(strata).value_counts().min() >= 2 else None
    kept, _ = train_test_split(
        idx, train_size=settings.selection_max_rows, stratify=stratify, random_state=settings.seed
    )
    return np.sort(kept)
