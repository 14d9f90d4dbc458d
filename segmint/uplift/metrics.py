"""Uplift evaluation metrics: Qini and uplift curves, their normalised areas, uplift@k.

The definitions follow scikit-uplift's (``sklift.metrics``) so numbers are comparable with
published results; a unit test cross-checks them. Bootstrap intervals resample the evaluation rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRIC_NAMES: tuple[str, ...] = ("qini_auc", "auuc", "uplift_at_30")


def _as_arrays(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64)
    u = np.asarray(uplift, dtype=np.float64)
    t = np.asarray(treatment, dtype=np.float64)
    if not (len(y) == len(u) == len(t)):
        raise ValueError(f"y_true, uplift and treatment differ in length: {len(y)}, {len(u)}, {len(t)}")
    return y, u, t


Cumulative = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _cumulative(y: np.ndarray, u: np.ndarray, t: np.ndarray) -> Cumulative:
    # Same ordering as sklift (stable sort reversed) so tie handling matches exactly.
    order = np.argsort(u, kind="mergesort")[::-1]
    y, u, t = y[order], u[order], t[order]
    threshold = np.r_[np.flatnonzero(np.diff(u)), u.size - 1]
    num_trmnt = np.cumsum(t)[threshold]
    y_trmnt = np.cumsum(y * t)[threshold]
    y_ctrl = np.cumsum(y * (1.0 - t))[threshold]
    num_all = (threshold + 1).astype(np.float64)
    return num_all, num_trmnt, num_all - num_trmnt, y_trmnt, y_ctrl


def _start_at_origin(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.size == 0 or v[0] != 0 or x[0] != 0:
        return np.r_[0.0, x], np.r_[0.0, v]
    return x, v


def _qini_points(cumulative: Cumulative) -> tuple[np.ndarray, np.ndarray]:
    num_all, num_t, num_c, y_t, y_c = cumulative
    ratio = np.divide(num_t, num_c, out=np.zeros_like(num_t), where=num_c != 0)
    return _start_at_origin(num_all, y_t - y_c * ratio)


def _uplift_points(cumulative: Cumulative) -> tuple[np.ndarray, np.ndarray]:
    num_all, num_t, num_c, y_t, y_c = cumulative
    rate_t = np.divide(y_t, num_t, out=np.zeros_like(y_t), where=num_t != 0)
    rate_c = np.divide(y_c, num_c, out=np.zeros_like(y_c), where=num_c != 0)
    return _start_at_origin(num_all, (rate_t - rate_c) * num_all)


def qini_curve(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Points of the Qini curve: customers targeted and incremental responders.

    Args:
        y_true: Binary outcome per row.
        uplift: Predicted uplift (higher first).
        treatment: 1 for treated rows, 0 for control rows.

    Returns:
        ``(num_targeted, incremental_responders)``, starting at ``(0, 0)``.
    """
    return _qini_points(_cumulative(*_as_arrays(y_true, uplift, treatment)))


def uplift_curve(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Points of the uplift curve: customers targeted and (rate difference × targeted)."""
    return _uplift_points(_cumulative(*_as_arrays(y_true, uplift, treatment)))


def _relative_area(perfect: tuple[np.ndarray, np.ndarray], actual: tuple[np.ndarray, np.ndarray]) -> float:
    """The area between ``actual``'s curve and the random line, as a share of ``perfect``'s."""
    (x_p, y_p), (x_a, y_a) = perfect, actual
    baseline = np.trapezoid([0.0, y_p[-1]], [0.0, x_p[-1]])
    area = np.trapezoid(y_p, x_p) - baseline
    if area == 0:
        return float("nan")
    return float((np.trapezoid(y_a, x_a) - baseline) / area)


def _normalised_area(curve, y: np.ndarray, t: np.ndarray, u: np.ndarray, perfect_score: np.ndarray) -> float:
    return _relative_area(curve(y, perfect_score, t), curve(y, u, t))


def _qini_perfect_score(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    # The perfect ranking puts treated responders first and control responders last.
    return y * t - y * (1.0 - t)


def _auuc_perfect_score(y: np.ndarray, t: np.ndarray, summand: np.ndarray) -> np.ndarray:
    # sklift's perfect uplift ordering: rows where outcome equals arm first, then by the larger
    # of the "control responders" / "treated non-responders" groups (``summand``: y or t).
    return 2.0 * (y == t) + summand


def qini_auc(y_true, uplift, treatment) -> float:
    """Area under the Qini curve relative to random, normalised by the perfect model's (sklift's
    ``qini_auc_score`` with ``negative_effect=True``)."""
    y, u, t = _as_arrays(y_true, uplift, treatment)
    return _normalised_area(qini_curve, y, t, u, _qini_perfect_score(y, t))


def auuc(y_true, uplift, treatment) -> float:
    """Normalised area under the uplift curve (sklift's ``uplift_auc_score``)."""
    y, u, t = _as_arrays(y_true, uplift, treatment)
    control_responders = np.sum((y == 1) & (t == 0))
    treated_non_responders = np.sum((y == 0) & (t == 1))
    summand = y if control_responders > treated_non_responders else t
    return _normalised_area(uplift_curve, y, t, u, _auuc_perfect_score(y, t, summand))


def uplift_at_k(y_true, uplift, treatment, k: float = 0.3) -> float:
    """Treated minus control response rate among the top ``k`` share of all rows (strategy "overall").

    Returns NaN when the top rows hold no treated or no control row.
    """
    _check_share(k)
    y, u, t = _as_arrays(y_true, uplift, treatment)
    top = np.argsort(u, kind="mergesort")[::-1][: int(len(y) * k)]
    return _rate_difference(y[top], t[top])


def _check_share(k: float) -> None:
    if not 0.0 < k < 1.0:
        raise ValueError(f"k must lie in (0, 1), got {k}")


def _rate_difference(yt: np.ndarray, tt: np.ndarray) -> float:
    """Treated minus control response rate of rows with outcomes ``yt`` and arms ``tt`` (NaN when an
    arm is missing)."""
    n_t, n_c = tt.sum(), (1.0 - tt).sum()
    if n_t == 0 or n_c == 0:
        return float("nan")
    return float((yt * tt).sum() / n_t - (yt * (1.0 - tt)).sum() / n_c)


def uplift_metrics(y_true, uplift, treatment, k: float = 0.3) -> dict[str, float]:
    """Qini AUC, AUUC and uplift@k of one ranking."""
    return {
        "qini_auc": qini_auc(y_true, uplift, treatment),
        "auuc": auuc(y_true, uplift, treatment),
        "uplift_at_30": uplift_at_k(y_true, uplift, treatment, k),
    }


@dataclass(frozen=True)
class _Runs:
    """Rows ranked by a score, highest first, cut into runs of equal score: each row's run (0 holds
    the highest score) and how many runs there are."""

    of_row: np.ndarray
    count: int


def _runs(score: np.ndarray) -> _Runs:
    distinct, position = np.unique(score, return_inverse=True)  # ascending: run 0 is the last
    return _Runs((len(distinct) - 1 - position.reshape(-1)).astype(np.intp), len(distinct))


class ResampledMetrics:
    """:func:`uplift_metrics` of one ranking on resamples of its rows, without sorting each resample.

    A resample is given as positions into the rows (repeats allowed, in draw order). The curves of a
    resample only take their points where the score changes, so they follow from per-run sums of the
    drawn rows over the runs of equal score, ranked once: with binary outcomes and arms every sum is a
    whole number, exact in floating point, and each metric equals :func:`uplift_metrics` of the
    resampled arrays to the last bit. Within a run, where uplift@k cuts, the rows drawn last come first,
    as they do in the stable sort reversed. Rankings with NaN scores, or outcomes or arms other than
    0/1, are scored the slow way, by :func:`uplift_metrics` of the resampled arrays.
    """

    def __init__(self, y_true, uplift, treatment) -> None:
        y, u, t = _as_arrays(y_true, uplift, treatment)
        self._y, self._u, self._t = y, u, t
        binary = bool(np.isin(y, (0.0, 1.0)).all() and np.isin(t, (0.0, 1.0)).all())
        self._exact = binary and not np.isnan(u).any()
        if not self._exact:
            return
        self._yt, self._yc = y * t, y * (1.0 - t)
        self._control_responder, self._treated_non_responder = (y == 1) & (t == 0), (y == 0) & (t == 1)
        self._by_uplift = _runs(u)
        self._qini_perfect = _runs(_qini_perfect_score(y, t))
        self._auuc_perfect = {
            "y": _runs(_auuc_perfect_score(y, t, y)),
            "t": _runs(_auuc_perfect_score(y, t, t)),
        }

    def _cumulative(self, runs: _Runs, at: np.ndarray) -> Cumulative:
        """:func:`_cumulative` of the rows at ``at``, ranked by the score ``runs`` were cut on."""
        run = runs.of_row[at]
        drawn = np.bincount(run, minlength=runs.count)
        kept = drawn > 0
        num_all = np.cumsum(drawn.astype(np.float64))[kept]
        num_t, y_t, y_c = (
            np.cumsum(np.bincount(run, weights=values[at], minlength=runs.count))[kept]
            for values in (self._t, self._yt, self._yc)
        )
        return num_all, num_t, num_all - num_t, y_t, y_c

    def qini_auc(self, at: np.ndarray) -> float:
        """:func:`qini_auc` of the rows at ``at``."""
        if not self._exact:
            return qini_auc(self._y[at], self._u[at], self._t[at])
        perfect = _qini_points(self._cumulative(self._qini_perfect, at))
        return _relative_area(perfect, _qini_points(self._cumulative(self._by_uplift, at)))

    def _auuc(self, at: np.ndarray) -> float:
        control_responders = np.count_nonzero(self._control_responder[at])
        treated_non_responders = np.count_nonzero(self._treated_non_responder[at])
        summand = "y" if control_responders > treated_non_responders else "t"
        perfect = _uplift_points(self._cumulative(self._auuc_perfect[summand], at))
        return _relative_area(perfect, _uplift_points(self._cumulative(self._by_uplift, at)))

    def _uplift_at_k(self, at: np.ndarray, k: float) -> float:
        _check_share(k)
        run = self._by_uplift.of_row[at]
        cut = int(len(at) * k)
        through = np.cumsum(np.bincount(run, minlength=self._by_uplift.count))
        split = int(np.searchsorted(through, cut, side="right"))  # runs before it lie wholly in the top
        top = run < split
        wanted = cut - (int(through[split - 1]) if split > 0 else 0)
        if wanted > 0:
            top[np.flatnonzero(run == split)[-wanted:]] = True
        return _rate_difference(self._y[at][top], self._t[at][top])

    def metrics(self, at: np.ndarray, k: float = 0.3) -> dict[str, float]:
        """:func:`uplift_metrics` of the rows at ``at``."""
        if not self._exact:
            return uplift_metrics(self._y[at], self._u[at], self._t[at], k)
        return {
            "qini_auc": self.qini_auc(at),
            "auuc": self._auuc(at),
            "uplift_at_30": self._uplift_at_k(at, k),
        }


def bootstrap_intervals(
    y_true, uplift, treatment, rounds: int, seed: int, k: float = 0.3, level: float = 0.9
) -> dict[str, float]:
    """Point metrics plus percentile bootstrap bounds (``<metric>_low`` / ``<metric>_high``).

    Resampling is stratified by arm so every replicate keeps both arms.
    """
    y, u, t = _as_arrays(y_true, uplift, treatment)
    out = uplift_metrics(y, u, t, k)
    if rounds <= 0 or len(y) < 10:
        return out
    rng = np.random.default_rng(seed)
    arms = [np.flatnonzero(t == 1), np.flatnonzero(t == 0)]
    resampled = ResampledMetrics(y, u, t)
    draws = np.empty((rounds, len(METRIC_NAMES)))
    for r in range(rounds):
        idx = np.concatenate([rng.choice(a, size=a.size, replace=True) for a in arms])
        m = resampled.metrics(idx, k)
        draws[r] = [m[name] for name in METRIC_NAMES]
    tail = (1.0 - level) / 2.0 * 100.0
    low = np.nanpercentile(draws, tail, axis=0)
    high = np.nanpercentile(draws, 100.0 - tail, axis=0)
    for i, name in enumerate(METRIC_NAMES):
        out[f"{name}_low"] = float(low[i])
        out[f"{name}_high"] = float(high[i])
    return out


def qini_points(y_true, uplift, treatment, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve on an even grid of targeted fractions, as incremental responders per customer
    evaluated (so curves from samples of different sizes share one scale)."""
    x, v = qini_curve(y_true, uplift, treatment)
    n = max(float(x[-1]), 1.0)
    grid = np.linspace(0.0, 1.0, points)
    return grid, np.interp(grid, x / n, v / n)
