"""Drift per model: the share of a model's own inputs that drifted, each input weighted by its importance.

Evidently says which columns drifted; these pure rules say what that means for one model. The
segmenter's columns count equally (it clusters on standardised columns); the uplift and CLV models'
features count by their importance (LightGBM gain, the absolute coefficients of a logistic model on
standardised inputs, a tree's impurity decrease), normalised to sum to one. A model drifted when the
weighted share of its drifted inputs reaches the threshold, never by a share over every feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Objects inside a fitted model are searched this deep for estimators (learners hold pipelines).
_MAX_DEPTH = 6


@dataclass(frozen=True)
class ModelDrift:
    """One model's drift verdict on its own inputs.

    Attributes:
        model: the model kind, e.g. ``segmenter``.
        weights: each tested input's weight (normalised: they sum to one).
        drifted_columns: the inputs Evidently found drifted, sorted.
        drifted_share: the summed weight of the drifted inputs, in [0, 1].
        threshold: the share at which the model counts as drifted.
        weighting: ``equal`` or ``importance``.
    """

    model: str
    weights: dict[str, float]
    drifted_columns: list[str]
    drifted_share: float
    threshold: float
    weighting: str

    @property
    def drift_detected(self) -> bool:
        """Whether the weighted drifted share reaches the threshold."""
        return bool(self.drifted_columns) and self.drifted_share >= self.threshold

    def record(self) -> dict[str, Any]:
        """The verdict as a JSON-ready mapping."""
        return {
            "drift_detected": self.drift_detected,
            "drifted_share": self.drifted_share,
            "drifted_columns": list(self.drifted_columns),
            "share_threshold": self.threshold,
            "weighting": self.weighting,
            "n_columns": len(self.weights),
            "weights": dict(self.weights),
        }


def normalised_weights(
    columns: Sequence[str], importances: Sequence[float] | None = None
) -> dict[str, float]:
    """Each column's weight: its absolute importance over their sum, or equal weights.

    Equal weights are used when ``importances`` is None or sums to zero (a model that learnt nothing).

    Raises:
        ValueError: ``importances`` does not have one value per column, or holds a non-finite value.
    """
    if not columns:
        return {}
    if importances is None:
        return {column: 1.0 / len(columns) for column in columns}
    values = np.abs(np.asarray(importances, dtype=np.float64))
    if values.shape != (len(columns),) or not np.isfinite(values).all():
        raise ValueError(f"need one finite importance per column: {len(columns)} columns, {values.shape}")
    total = float(values.sum())
    if total <= 0.0:
        return normalised_weights(columns)
    return {column: float(value / total) for column, value in zip(columns, values, strict=True)}


def restricted_weights(weights: Mapping[str, float], columns: Iterable[str]) -> dict[str, float]:
    """``weights`` of the ``columns`` only, normalised again (equal when those weigh nothing)."""
    kept = [column for column in weights if column in set(columns)]
    return normalised_weights(kept, [weights[column] for column in kept])


def weighted_drift_share(weights: Mapping[str, float], drifted: Iterable[str]) -> float:
    """The summed weight of the ``drifted`` columns (columns without a weight add nothing)."""
    share = sum(weights.get(column, 0.0) for column in set(drifted))
    return float(min(max(share, 0.0), 1.0))


def model_drift(
    model: str,
    weights: Mapping[str, float],
    verdicts: Mapping[str, bool],
    threshold: float,
    weighting: str = "importance",
) -> ModelDrift:
    """The model's verdict from Evidently's per-column ``verdicts`` over its weighted inputs.

    Args:
        model: the model kind.
        weights: the model's inputs and their normalised weights.
        verdicts: column → drifted, as Evidently tested it; inputs it did not test count as not drifted.
        threshold: the weighted share at which the model counts as drifted.
        weighting: how ``weights`` were made, recorded with the verdict.
    """
    drifted = sorted(column for column in weights if verdicts.get(column, False))
    return ModelDrift(
        model=model,
        weights=dict(weights),
        drifted_columns=drifted,
        drifted_share=weighted_drift_share(weights, drifted),
        threshold=threshold,
        weighting=weighting,
    )


def _estimator_importances(estimator: Any, n_columns: int) -> np.ndarray | None:
    """One fitted estimator's importance per input column (first ``n_columns`` inputs), or None."""
    try:  # an unfitted estimator raises on these attributes
        # a LightGBM Booster itself (the X-learner's models) or the sklearn model around one
        is_booster = callable(getattr(estimator, "feature_importance", None))
        booster = estimator if is_booster else getattr(estimator, "booster_", None)
        coef = getattr(estimator, "coef_", None)
        tree = getattr(estimator, "feature_importances_", None) if booster is None else None
    except (AttributeError, ValueError):
        return None
    if booster is not None:  # LightGBM: total gain, which split counts understate for strong columns
        values = np.asarray(booster.feature_importance(importance_type="gain"), dtype=np.float64)
    elif coef is not None:  # a linear model on standardised inputs: |coefficient|, summed over classes
        matrix = np.abs(np.asarray(coef, dtype=np.float64))
        values = matrix.reshape(-1, matrix.shape[-1]).sum(axis=0) if matrix.ndim else matrix
    elif tree is not None:
        values = np.asarray(tree, dtype=np.float64)
    else:
        return None
    # An S-learner appends the treatment flag as a last input: only the feature columns count.
    if values.ndim != 1 or len(values) < n_columns or not np.isfinite(values[:n_columns]).all():
        return None
    part = np.abs(values[:n_columns])
    total = float(part.sum())
    return part / total if total > 0 else None


def _children(node: Any) -> list[Any]:
    """The objects a fitted model holds: mapping values, sequence items, pipeline steps, attributes."""
    if isinstance(node, Mapping):
        return list(node.values())
    if isinstance(node, list | tuple):
        return list(node)
    steps = getattr(node, "steps", None)
    if isinstance(steps, list):
        return [step for _, step in steps]
    return list(vars(node).values()) if hasattr(node, "__dict__") else []


def model_importances(model: Any, n_columns: int) -> np.ndarray | None:
    """The mean normalised importance per input column over every estimator a fitted model holds.

    Searches ``model`` (its attributes, mappings, lists and pipeline steps) for LightGBM models,
    linear models and trees fitted on its ``n_columns`` inputs; each estimator's importances are
    normalised before averaging, so no estimator outweighs another by its scale. None when none is
    found.
    """
    found: list[np.ndarray] = []
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(model, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen or isinstance(node, str | bytes | int | float | np.ndarray) or node is None:
            continue
        seen.add(id(node))
        importances = _estimator_importances(node, n_columns)
        if importances is not None:
            found.append(importances)
        elif depth < _MAX_DEPTH:
            stack.extend((child, depth + 1) for child in _children(node))
    return np.mean(found, axis=0) if found else None
