"""Uplift evaluation metrics: Qini and uplift curves, their normalised areas, uplift@k.

The definitions follow scikit-uplift's (``sklift.metrics``) so numbers are comparable with
published results; a unit test cross-checks them. Bootstrap intervals resample the evaluation rows.
"""

from __future__ import annotations

import numpy as np

METRIC_NAMES: tuple[str, ...] = ("qini_auc", "auuc", "uplift_at_30")


def _as_arrays(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64)
    u = np.asarray(uplift, dtype=np.float64)
    t = np.asarray(treatment, dtype=np.float64)
    if not (len(y) == len(u) == len(t)):
        raise ValueError(f"y_true, uplift and treatment differ in length: {len(y)}, {len(u)}, {len(t)}")
    return y, u, t


def _cumulative(
    y: np.ndarray, u: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def qini_curve(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Points of the Qini curve: customers targeted and incremental responders.

    Args:
        y_true: Binary outcome per row.
        uplift: Predicted uplift (higher first).
        treatment: 1 for treated rows, 0 for control rows.

    Returns:
        ``(num_targeted, incremental_responders)``, starting at ``(0, 0)``.
    """
    y, u, t = _as_arrays(y_true, uplift, treatment)
    num_all, num_t, num_c, y_t, y_c = _cumulative(y, u, t)
    ratio = np.divide(num_t, num_c, out=np.zeros_like(num_t), where=num_c != 0)
    return _start_at_origin(num_all, y_t - y_c * ratio)


def uplift_curve(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Points of the uplift curve: customers targeted and (rate difference × targeted)."""
    y, u, t = _as_arrays(y_true, uplift, treatment)
    num_all, num_t, num_c, y_t, y_c = _cumulative(y, u, t)
    rate_t = np.divide(y_t, num_t, out=np.zeros_like(y_t), where=num_t != 0)
    rate_c = np.divide(y_c, num_c, out=np.zeros_like(y_c), where=num_c != 0)
    return _start_at_origin(num_all, (rate_t - rate_c) * num_all)


def _normalised_area(curve, y: np.ndarray, t: np.ndarray, u: np.ndarray, perfect_score: np.ndarray) -> float:
    x_p, y_p = curve(y, perfect_score, t)
    x_a, y_a = curve(y, u, t)
    baseline = np.trapezoid([0.0, y_p[-1]], [0.0, x_p[-1]])
    perfect = np.trapezoid(y_p, x_p) - baseline
    if perfect == 0:
        return float("nan")
    return float((np.trapezoid(y_a, x_a) - baseline) / perfect)


def qini_auc(y_true, uplift, treatment) -> float:
    """Area under the Qini curve relative to random, normalised by the perfect model's (sklift's
    ``qini_auc_score`` with ``negative_effect=True``)."""
    y, u, t = _as_arrays(y_true, uplift, treatment)
    # The perfect ranking puts treated responders first and control responders last.
    return _normalised_area(qini_curve, y, t, u, y * t - y * (1.0 - t))


def auuc(y_true, uplift, treatment) -> float:
    """Normalised area under the uplift curve (sklift's ``uplift_auc_score``)."""
    y, u, t = _as_arrays(y_true, uplift, treatment)
    # sklift's perfect uplift ordering: rows where outcome equals arm first, then by the larger
    # of the "control responders" / "treated non-responders" groups.
    control_responders = np.sum((y == 1) & (t == 0))
    treated_non_responders = np.sum((y == 0) & (t == 1))
    summand = y if control_responders > treated_non_responders else t
    return _normalised_area(uplift_curve, y, t, u, 2.0 * (y == t) + summand)


def uplift_at_k(y_true, uplift, treatment, k: float = 0.3) -> float:
    """Treated minus control response rate among the top ``k`` share of all rows (strategy "overall").

    Returns NaN when the top rows hold no treated or no control row.
    """
    if not 0.0 < k < 1.0:
        raise ValueError(f"k must lie in (0, 1), got {k}")
    y, u, t = _as_arrays(y_true, uplift, treatment)
    top = np.argsort(u, kind="mergesort")[::-1][: int(len(y) * k)]
    yt, tt = y[top], t[top]
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
    draws = np.empty((rounds, len(METRIC_NAMES)))
    for r in range(rounds):
        idx = np.concatenate([rng.choice(a, size=a.size, replace=True) for a in arms])
        m = uplift_metrics(y[idx], u[idx], t[idx], k)
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
