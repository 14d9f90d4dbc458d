"""The tables behind the DVC plots: wide Qini curves per offer, CLV cumulative gain and calibration.

Each table is what one ``plots:`` entry of ``dvc.yaml`` draws, one column per line, so ``dvc plots
show`` and ``dvc plots diff`` need no template of their own. Values are rounded so that an unchanged
model writes byte-identical files.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

DECIMALS = 6
RANDOM = "random"
SHARE = "share_targeted"


def qini_by_offer(qini: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Long Qini points (``offer, learner, fraction, qini``) as one wide table per offer.

    Returns:
        Per offer: ``share_targeted`` (the x axis), ``model`` (the offer's chosen learner, the one
        learner that is not ``random``) and ``random`` (random targeting), one row per grid point.
    """
    out: dict[str, pd.DataFrame] = {}
    for offer, part in qini.groupby("offer", sort=True):
        wide = part.pivot_table(index="fraction", columns="learner", values="qini", aggfunc="first")
        learners = [column for column in wide.columns if column != RANDOM]
        if len(learners) != 1 or RANDOM not in wide.columns:
            raise ValueError(
                f"offer {offer!r}: expected one learner and {RANDOM!r}, got {list(wide.columns)}"
            )
        table = pd.DataFrame(
            {
                SHARE: wide.index.to_numpy(),
                "model": wide[learners[0]].to_numpy(),
                RANDOM: wide[RANDOM].to_numpy(),
            }
        )
        out[str(offer)] = table.round(DECIMALS)
    return out


def file_stem(name: str) -> str:
    """``name`` made safe as a file name (an offer id becomes its plot's file)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "unnamed"


def cumulative_gain(predicted: np.ndarray, actual: np.ndarray, points: int = 101) -> pd.DataFrame:
    """Share of the total ``actual`` value captured when targeting the top share by ``predicted``.

    Returns:
        ``share_targeted`` on an even grid from 0 to 1, ``model`` (ranked by ``predicted``),
        ``random`` (the diagonal) and ``perfect`` (ranked by ``actual`` itself).

    Raises:
        ValueError: the arrays differ in length, are empty, or ``actual`` sums to zero or less.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if len(predicted) != len(actual) or not len(actual):
        raise ValueError(
            f"predicted and actual must be equally long and non-empty: {len(predicted)}, {len(actual)}"
        )
    total = actual.sum()
    if total <= 0:
        raise ValueError("actual values sum to zero or less: there is no gain to capture")
    grid = np.linspace(0.0, 1.0, points)
    shares = np.arange(len(actual) + 1) / len(actual)

    def captured(order: np.ndarray) -> np.ndarray:
        return np.interp(grid, shares, np.r_[0.0, np.cumsum(actual[order])] / total)

    model = captured(np.argsort(-predicted, kind="mergesort"))
    perfect = captured(np.argsort(-actual, kind="mergesort"))
    return pd.DataFrame({SHARE: grid, "model": model, RANDOM: grid, "perfect": perfect}).round(DECIMALS)


def calibration_by_decile(predicted: np.ndarray, actual: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted and mean actual value per bin of predicted value (deciles by default).

    Rows are ranked by ``predicted`` (ties in input order) and cut into ``bins`` groups of equal size.

    Returns:
        ``decile`` (1 = lowest predictions), ``predicted``, ``actual`` and ``customers`` per bin.

    Raises:
        ValueError: the arrays differ in length or hold fewer rows than ``bins``.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if len(predicted) != len(actual) or len(actual) < bins:
        raise ValueError(f"need equally long arrays of at least {bins} rows: {len(predicted)}, {len(actual)}")
    rank = np.empty(len(predicted), dtype=np.int64)
    rank[np.argsort(predicted, kind="mergesort")] = np.arange(len(predicted))
    frame = pd.DataFrame(
        {"decile": rank * bins // len(predicted) + 1, "predicted": predicted, "actual": actual}
    )
    table = frame.groupby("decile").agg(
        predicted=("predicted", "mean"), actual=("actual", "mean"), customers=("actual", "size")
    )
    return table.reset_index().round(DECIMALS)
