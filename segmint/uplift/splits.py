"""Seeded row splits of the campaign rows, stratified by arm × outcome where the strata allow, and
the test part every reported number comes from: the latest wave, or a stratified share of one wave."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from segmint.contracts import CONTROL
from segmint.settings import UpliftSettings
from segmint.uplift.waves import wave_starts


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


@dataclass(frozen=True)
class EvaluationSplit:
    """The training part (selection and fitting) and the test part (every reported number).

    Attributes:
        train: Sorted row positions of the training part.
        test: Sorted row positions of the test part.
        rows: Which rows the test part is, in words (for metrics and the tracking run).
    """

    train: np.ndarray
    test: np.ndarray
    rows: str


def _arms(frame: pd.DataFrame, rows: np.ndarray) -> set[str]:
    return set(frame["treatment"].to_numpy()[rows].astype(str))


def _wave_split_problem(frame: pd.DataFrame, train: np.ndarray, test: np.ndarray) -> str | None:
    """Why the latest wave cannot be the test part (None when it can)."""
    train_arms, test_arms = _arms(frame, train), _arms(frame, test)
    if CONTROL not in train_arms or CONTROL not in test_arms:
        return "a part without control rows"
    offers = (train_arms | test_arms) - {CONTROL}
    if not offers <= train_arms:
        return f"offer(s) only in the latest wave: {sorted(offers - train_arms)}"
    if not offers & test_arms:
        return "no offer in the latest wave"
    return None


def _stratified(frame: pd.DataFrame, settings: UpliftSettings, why: str) -> EvaluationSplit:
    train, test = held_out_split(frame, settings)
    rows = (
        f"test part: {settings.test_share:.0%} stratified by arm x outcome (seed {settings.seed}), "
        f"n={len(test)}; training part n={len(train)}; {why}"
    )
    return EvaluationSplit(train, test, rows)


def evaluation_split(frame: pd.DataFrame, settings: UpliftSettings) -> EvaluationSplit:
    """The test part: the latest wave when the campaign rows span more than one send date, else the
    seeded ``test_share`` split stratified by arm × outcome.

    A wave is a ``campaign_id`` and starts at its first ``sent_ts``; waves starting at the latest
    start form the latest period. It is the test part unless that leaves a part without control
    rows, an offer without training rows, or no offer to test; then the stratified split is used
    and ``rows`` says why. Offers absent from the latest wave are not tested.

    Args:
        frame: Campaign rows with ``treatment`` and ``converted`` (and ``campaign_id``/``sent_ts``
            for waves).
        settings: The uplift section (``test_share``, ``seed``).
    """
    starts = wave_starts(frame)
    periods = starts.dropna().unique()
    if len(periods) < 2:
        return _stratified(frame, settings, "one send date")
    latest = (starts == periods.max()).to_numpy()
    test, train = np.flatnonzero(latest), np.flatnonzero(~latest)
    problem = _wave_split_problem(frame, train, test)
    if problem is not None:
        return _stratified(frame, settings, f"the latest wave cannot be the test part ({problem})")
    waves = sorted(pd.unique(frame["campaign_id"].to_numpy()[test]).astype(str))
    rows = (
        f"test part: latest wave {', '.join(waves)} (sent {pd.Timestamp(periods.max()).isoformat()}), "
        f"n={len(test)}; training part: {len(periods) - 1} earlier send date(s), n={len(train)}"
    )
    return EvaluationSplit(train, test, rows)


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
