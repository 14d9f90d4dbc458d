"""Test-part bootstrap of uplift rankings: one set of resamples of the test rows for every offer and
every model, so intervals of a difference are paired and the offers' mean is resampled jointly.

Random targeting (every customer the same score) has a Qini AUC of exactly 0 on any rows, so a
model's interval against it is the interval of its own Qini AUC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from segmint.settings import UpliftSettings
from segmint.uplift.design import OfferScores
from segmint.uplift.metrics import METRIC_NAMES, ResampledMetrics, qini_auc, uplift_metrics

# Two-sided level of every uplift interval (the gate's "above zero" is then one-sided 95 %).
INTERVAL_LEVEL = 0.9
RANDOM_TARGETING = "random targeting"


@dataclass(frozen=True)
class UpliftComparison:
    """Mean-over-offers Qini AUC of one ranking minus another's on the same test rows.

    Attributes:
        against: What the first ranking is compared with (``random targeting``, ``champion``).
        difference: The difference on the test part.
        low: Lower percentile-bootstrap bound (paired: both scored on the same resamples).
        high: Upper bound.
        offers: The offers both rankings were scored on (the mean is over these).
        rounds: Bootstrap resamples (``uplift.bootstrap_rounds``).
        level: Two-sided level of ``low``/``high``.
    """

    against: str
    difference: float
    low: float
    high: float
    offers: tuple[str, ...]
    rounds: int
    level: float = INTERVAL_LEVEL

    def record(self) -> dict[str, Any]:
        """The comparison as a metrics entry: ``name``, ``estimate``, ``low``, ``high`` and how."""
        return {
            "name": self.against,
            "estimate": self.difference,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "rounds": self.rounds,
            "offers": list(self.offers),
        }


def _arm_labels(scores: Mapping[str, OfferScores]) -> tuple[np.ndarray, np.ndarray]:
    """The test rows any offer scored (design positions) and each one's arm (an offer or control)."""
    rows = np.unique(np.concatenate([scored.rows for scored in scores.values()]))
    labels = np.full(len(rows), "", dtype=object)
    for offer, scored in scores.items():
        labels[np.searchsorted(rows, scored.rows)] = np.where(scored.treated == 1, offer, "")
    return rows, labels


def resamples(scores: Mapping[str, OfferScores], rounds: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Bootstrap resamples of the test rows, stratified by arm, as positions into each offer's scores.

    Every arm keeps its size in every resample, and an offer's resample is the drawn rows of its
    own pair (its treated rows and the control rows), so offers sharing the control arm are
    resampled together.
    """
    rows, labels = _arm_labels(scores)
    arms = [np.flatnonzero(labels == arm) for arm in sorted(set(labels))]
    # each test row's position among an offer's scored rows (-1: not one of them)
    position = {}
    for offer, scored in scores.items():
        position[offer] = np.full(len(rows), -1, dtype=np.intp)
        position[offer][np.searchsorted(rows, scored.rows)] = np.arange(len(scored.rows))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        drawn = np.concatenate([rng.choice(arm, size=arm.size, replace=True) for arm in arms])
        at = {offer: where[drawn] for offer, where in position.items()}
        draws.append({offer: kept[kept >= 0] for offer, kept in at.items()})
    return draws


def mean_qini(scores: Mapping[str, OfferScores], offers: tuple[str, ...] | None = None) -> float:
    """Mean over ``offers`` (default: all) of each offer's Qini AUC."""
    offers = tuple(scores) if offers is None else offers
    return float(
        np.nanmean([qini_auc(scores[o].outcome, scores[o].uplift, scores[o].treated) for o in offers])
    )


def _resampled(scores: Mapping[str, OfferScores]) -> dict[str, ResampledMetrics]:
    """Each offer's scores ready to be measured on resamples (:class:`ResampledMetrics`)."""
    return {
        offer: ResampledMetrics(scored.outcome, scored.uplift, scored.treated)
        for offer, scored in scores.items()
    }


def _resampled_mean_qini(
    resampled: Mapping[str, ResampledMetrics], offers: tuple[str, ...], draw: dict
) -> float:
    """:func:`mean_qini` on the resample ``draw``."""
    return float(np.nanmean([resampled[offer].qini_auc(draw[offer]) for offer in offers]))


def _same_rows(a: Mapping[str, OfferScores], b: Mapping[str, OfferScores], offers: tuple[str, ...]) -> None:
    for offer in offers:
        if not np.array_equal(a[offer].rows, b[offer].rows):
            raise ValueError(f"the two rankings of offer {offer!r} were scored on different rows")


def compare_uplift(
    scores: Mapping[str, OfferScores],
    other: Mapping[str, OfferScores] | None,
    settings: UpliftSettings,
    against: str = "champion",
) -> UpliftComparison:
    """Mean-over-offers Qini AUC of ``scores`` minus ``other``'s, with a paired bootstrap interval.

    Both are scored on the same resamples of the same test rows (``bootstrap_rounds`` of them,
    seeded by ``settings.seed``), over the offers both scored.

    Args:
        scores: The first configuration's test-part scores per offer.
        other: The second's on the same test rows; None compares with random targeting.
        settings: The uplift section (``bootstrap_rounds``, ``seed``).
        against: What ``other`` is, for the record (ignored for random targeting).

    Raises:
        ValueError: no offer in common, or an offer scored on different rows.
    """
    offers = tuple(sorted(set(scores) if other is None else set(scores) & set(other)))
    if not offers:
        raise ValueError(f"no offer in common to compare: {sorted(scores)} vs {sorted(other or {})}")
    if other is not None:
        _same_rows(scores, other, offers)

    shared = {offer: scores[offer] for offer in offers}
    first, second = _resampled(shared), None if other is None else _resampled({o: other[o] for o in offers})

    def difference(draw: dict) -> float:
        base = 0.0 if second is None else _resampled_mean_qini(second, offers, draw)
        return _resampled_mean_qini(first, offers, draw) - base

    draws = [difference(draw) for draw in resamples(shared, settings.bootstrap_rounds, settings.seed)]
    low, high = interval_bounds(np.asarray(draws, dtype=np.float64))
    point = mean_qini(scores, offers) - (0.0 if other is None else mean_qini(other, offers))
    return UpliftComparison(
        RANDOM_TARGETING if other is None else against,
        point,
        float(low),
        float(high),
        offers,
        settings.bootstrap_rounds,
    )


def interval_bounds(values: np.ndarray, axis: int = 0) -> tuple[Any, Any]:
    """Percentile bounds at :data:`INTERVAL_LEVEL` (NaN without resamples)."""
    if not len(values) or np.isnan(values).all():
        nan = np.full(values.shape[1:], np.nan) if values.ndim > 1 else float("nan")
        return nan, nan
    tail = (1.0 - INTERVAL_LEVEL) / 2.0 * 100.0
    return np.nanpercentile(values, tail, axis=axis), np.nanpercentile(values, 100.0 - tail, axis=axis)


def held_out_metrics(
    scores: Mapping[str, OfferScores], settings: UpliftSettings
) -> dict[str, dict[str, float]]:
    """Metrics per offer and ``"overall"`` (their mean), each with ``<metric>_low``/``_high`` bounds
    from the same resamples (so the overall bounds are those of the mean, not means of bounds)."""
    offers = tuple(scores)
    draws = resamples(scores, settings.bootstrap_rounds, settings.seed)
    ranked = _resampled(scores)
    resampled = np.array(
        [
            [_metric_row(ranked[offer].metrics(draw[offer], settings.top_share)) for offer in offers]
            for draw in draws
        ]
    ).reshape(len(draws), len(offers), len(METRIC_NAMES))
    points = np.array([_metric_row(_point_metrics(scores[offer], settings.top_share)) for offer in offers])
    entries = {**{offer: points[j] for j, offer in enumerate(offers)}, "overall": np.nanmean(points, axis=0)}
    low_high = {
        **{offer: interval_bounds(resampled[:, j, :]) for j, offer in enumerate(offers)},
        "overall": interval_bounds(np.nanmean(resampled, axis=1)),
    }
    return {name: _with_bounds(entries[name], *low_high[name], bool(draws)) for name in entries}


def _point_metrics(scored: OfferScores, top_share: float) -> dict[str, float]:
    return uplift_metrics(scored.outcome, scored.uplift, scored.treated, top_share)


def _metric_row(metrics: dict[str, float]) -> list[float]:
    return [metrics[name] for name in METRIC_NAMES]


def _with_bounds(point: np.ndarray, low: np.ndarray, high: np.ndarray, bounded: bool) -> dict[str, float]:
    out = {name: float(point[i]) for i, name in enumerate(METRIC_NAMES)}
    if bounded:
        for i, name in enumerate(METRIC_NAMES):
            out[f"{name}_low"], out[f"{name}_high"] = float(low[i]), float(high[i])
    return out
