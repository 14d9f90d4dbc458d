"""Promotion decisions: may a challenger model replace the champion?

Pure rules over numbers computed elsewhere (quality on the same evaluation data, stability against
the champion, drift). Every decision carries a non-empty list of reasons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmint.settings import GateRule, MonitorSettings

PROMOTE, KEEP_CHALLENGER, REJECT, REVIEW = "promote", "keep_challenger", "reject", "needs_review"
DECISIONS = (PROMOTE, KEEP_CHALLENGER, REJECT, REVIEW)


@dataclass(frozen=True)
class BaselineCheck:
    """The challenger against the trivial baseline: the bar the first model of a registry must clear.

    Attributes:
        baseline: what is beaten, e.g. ``random targeting`` or ``popularity``.
        measure: what ``estimate`` measures, e.g. ``qini_auc difference (paired bootstrap)``.
        floor: the value the interval's lower bound must exceed (or reach, when ``inclusive``).
        estimate: the measured value; None when it was not measured.
        low: the interval's lower bound (equal to ``estimate`` for a point value); None: no interval.
        high: the interval's upper bound.
        inclusive: whether reaching ``floor`` is enough (a minimum) rather than exceeding it.
        identical: the challenger is the baseline itself, so there is nothing simpler to beat.
        note: why no interval was measured, when it was not.
    """

    baseline: str
    measure: str
    floor: float = 0.0
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    inclusive: bool = False
    identical: bool = False
    note: str | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        """``(low, high)`` when measured (``high`` is ``low`` for a point value), else None."""
        if self.low is None or np.isnan(self.low):
            return None
        return float(self.low), float(self.low if self.high is None else self.high)

    @property
    def measured(self) -> bool:
        """Whether there is an interval (or point value) to judge."""
        return self.interval is not None

    @property
    def cleared(self) -> bool:
        """Whether the lower bound clears the floor."""
        if self.interval is None:
            return False
        low = self.interval[0]
        return low >= self.floor if self.inclusive else low > self.floor

    def describe(self) -> str:
        """The comparison with its numbers, for the reasons."""
        if self.interval is None:
            return f"{self.measure} vs {self.baseline}: not measured ({self.note or 'no interval'})"
        low, high = self.interval
        estimate = low if self.estimate is None else float(self.estimate)
        bar = f"{'≥' if self.inclusive else '>'} {self.floor:g}"
        return (
            f"{self.measure} vs {self.baseline}: {estimate:.4f} [{low:.4f}, {high:.4f}], "
            f"lower bound must be {bar}"
        )


@dataclass(frozen=True)
class GateInputs:
    """What the gate knows about one model kind.

    Attributes:
        quality_name: the metric compared (higher is better), e.g. ``ndcg_at_10``.
        challenger_quality: the challenger's value on the evaluation data (None: not measurable).
        champion_quality: the champion's value on the same data (None: no champion, or it failed).
        stability: agreement with the champion's output in [0, 1] (segmenter: ARI), if measured.
        drift_detected: whether the input data drifted from the champion's reference.
        validation_passed: whether the data validation of this run passed.
        skipped: reason the model was not trained this run (its stage was skipped).
        champion_error: the error of loading or scoring the champion; set means a champion exists
            but could not be evaluated, None with ``champion_quality`` None means there is none yet.
        baseline: the challenger against the trivial baseline (judged only for a first model).
    """

    quality_name: str
    challenger_quality: float | None
    champion_quality: float | None
    stability: float | None = None
    drift_detected: bool = False
    validation_passed: bool = True
    skipped: str | None = None
    champion_error: str | None = None
    baseline: BaselineCheck | None = None


@dataclass(frozen=True)
class Decision:
    """The gate's outcome for one challenger.

    Attributes:
        decision: one of :data:`DECISIONS`.
        reasons: why, with the numbers compared; never empty when made by :func:`decide`.
    """

    decision: str
    reasons: list[str] = field(default_factory=list)

    @property
    def promotes(self) -> bool:
        """Whether the challenger replaces the champion."""
        return self.decision == PROMOTE

    @property
    def needs_review(self) -> bool:
        """Whether the challenger was kept for a person to review."""
        return self.decision == REVIEW


def decide(inputs: GateInputs, rule: GateRule) -> Decision:
    """The promotion decision for one challenger against its champion under ``rule``.

    Fails closed: a champion that could not be loaded or evaluated never leads to a promotion, and
    the first model of a registry is promoted only when it clears the trivial baseline.
    """
    if inputs.skipped:
        return Decision(REJECT, [f"no challenger this run: {inputs.skipped}"])
    if not inputs.validation_passed:
        return Decision(REJECT, ["data validation did not pass: nothing trained on it is promoted"])
    if inputs.challenger_quality is None:
        return Decision(REJECT, [f"challenger {inputs.quality_name} could not be measured"])
    if inputs.champion_error is not None:
        return Decision(
            REVIEW,
            [
                f"champion failed: it could not be loaded or evaluated ({inputs.champion_error})",
                "the champion stays in place; kept as challenger until a person checks the champion",
            ],
        )
    if inputs.champion_quality is None:
        return first_model_decision(inputs)
    return _against_champion(inputs, float(inputs.challenger_quality), float(inputs.champion_quality), rule)


def first_model_decision(inputs: GateInputs) -> Decision:
    """The decision for the first model of a registry: promoted only if it clears the trivial baseline."""
    quality = f"{inputs.quality_name}={float(inputs.challenger_quality or 0.0):.4f}"
    check = inputs.baseline
    if check is None:
        return Decision(
            REVIEW, [f"no champion yet ({quality}) and no comparison with a trivial baseline: not proven"]
        )
    if check.identical:
        return Decision(
            PROMOTE,
            [f"no champion yet: the first model is the {check.baseline} baseline itself ({quality})"],
        )
    if not check.measured:
        return Decision(REVIEW, [f"no champion yet ({quality}); not proven: {check.describe()}"])
    if not check.cleared:
        return Decision(
            KEEP_CHALLENGER,
            [f"no champion yet ({quality}); does not beat {check.baseline}: {check.describe()}"],
        )
    return Decision(
        PROMOTE, [f"no champion yet: the first model beats {check.baseline} ({quality}): {check.describe()}"]
    )


def _against_champion(inputs: GateInputs, q_new: float, q_old: float, rule: GateRule) -> Decision:
    """The decision for a challenger against a champion measured on the same data."""
    floor = q_old - rule.quality_tolerance
    reasons = [
        f"{inputs.quality_name}: challenger {q_new:.4f} vs champion {q_old:.4f} "
        f"(tolerance {rule.quality_tolerance:g}, floor {floor:.4f})"
    ]
    if q_new < floor:
        return Decision(KEEP_CHALLENGER, [*reasons, "challenger quality is below the champion's floor"])
    if rule.min_stability is not None and inputs.stability is not None:
        stable = inputs.stability >= rule.min_stability
        reasons.append(f"stability {inputs.stability:.3f} vs floor {rule.min_stability:.3f}")
        if not stable:
            if not inputs.drift_detected:
                return Decision(
                    KEEP_CHALLENGER, [*reasons, "unstable against the champion while the data did not drift"]
                )
            if rule.promote_on_drift:
                return Decision(
                    PROMOTE, [*reasons, "data drifted: segments are expected to move (gate promote_on_drift)"]
                )
            return Decision(
                REVIEW, [*reasons, "data drifted and segments moved: kept as challenger, flagged for review"]
            )
    if inputs.drift_detected:
        reasons.append("the input data drifted from the champion's reference")
    if q_new == q_old and inputs.stability is None:
        reasons.append("challenger is not worse than the champion")
    else:
        reasons.append("challenger is at least as good as the champion within tolerance")
    return Decision(PROMOTE, reasons)


def gate_record(inputs: GateInputs, decision: Decision) -> dict[str, Any]:
    """The decision with every input it was made from, as a JSON-ready mapping."""
    return {"decision": decision.decision, "reasons": list(decision.reasons), "inputs": asdict(inputs)}


@dataclass(frozen=True)
class ShareShift:
    """How the shares of a categorical prediction (e.g. segments) moved between two populations.

    Attributes:
        shares: one row per category: ``category``, ``reference_share``, ``current_share``, ``change``.
        psi: population stability index (0 = identical; > 0.2 is commonly read as a real shift).
        total_variation: half the L1 distance between the share vectors, in [0, 1].
    """

    shares: pd.DataFrame
    psi: float
    total_variation: float


def share_shift(reference: pd.Series, current: pd.Series, floor: float = 1e-4) -> ShareShift:
    """Shares of each category in ``reference`` and ``current`` and how far they moved.

    Args:
        reference: category per reference row (e.g. the champion's segment of each reference customer).
        current: category per current row.
        floor: share given to a category absent on one side, so the PSI stays finite.
    """
    ref_counts = reference.astype(str).value_counts(normalize=True)
    cur_counts = current.astype(str).value_counts(normalize=True)
    categories = sorted(set(ref_counts.index) | set(cur_counts.index))
    ref_share = ref_counts.reindex(categories, fill_value=0.0).to_numpy(dtype=np.float64)
    cur_share = cur_counts.reindex(categories, fill_value=0.0).to_numpy(dtype=np.float64)
    # Floored copies for the PSI only: the reported shares stay the observed ones.
    ref_floored, cur_floored = np.clip(ref_share, floor, None), np.clip(cur_share, floor, None)
    psi = (
        float(np.sum((cur_floored - ref_floored) * np.log(cur_floored / ref_floored))) if categories else 0.0
    )
    frame = pd.DataFrame(
        {
            "category": categories,
            "reference_share": ref_share,
            "current_share": cur_share,
            "change": cur_share - ref_share,
        }
    )
    return ShareShift(frame, psi, float(0.5 * np.abs(cur_share - ref_share).sum()))


def catalogue_coverage(recommended: pd.Series, n_items: int) -> float:
    """Share of the catalogue that appears in at least one customer's recommendation list."""
    if n_items <= 0:
        return 0.0
    items = {item for row in recommended for item in (row if row is not None else [])}
    return len(items) / n_items


def _model_reasons(drift: dict[str, Any]) -> tuple[bool, list[str]]:
    """Whether any model's own inputs drifted, and one reason per model with its verdict and share."""
    reasons, drifted = [], False
    for kind, verdict in (drift.get("models") or {}).items():
        if verdict.get("note"):
            reasons.append(f"{kind}: not judged ({verdict['note']})")
            continue
        detected = bool(verdict.get("drift_detected", False))
        drifted = drifted or detected
        named = ", ".join(verdict.get("drifted_columns", [])[:10]) or "none"
        reasons.append(
            f"{kind}: {'drift' if detected else 'no drift'}, {float(verdict.get('drifted_share', 0.0)):.0%} "
            f"of its inputs drifted ({verdict.get('weighting', 'equal')} weights, threshold "
            f"{float(verdict.get('share_threshold', 0.0)):.0%}); drifted: {named}"
        )
    return drifted, reasons


def retraining_needed(drift: dict[str, Any], settings: MonitorSettings) -> tuple[bool, list[str]]:
    """Whether monitoring findings call for retraining, with the reasons either way.

    Retraining is called for when any model's verdict on its own inputs is drift, or the champion
    segmenter's segment shares moved past ``prediction_psi_threshold``.

    Args:
        drift: the drift findings (``models``: per model ``drift_detected``, ``drifted_share``,
            ``drifted_columns``, ``share_threshold``, ``weighting`` or a ``note``; optionally
            ``predictions.segments.psi`` and ``note``).
        settings: the monitor section (thresholds and the ``retrain_on_drift`` switch).
    """
    models_drifted, reasons = _model_reasons(drift)
    psi = (drift.get("predictions") or {}).get("segments", {}).get("psi")
    segments_moved = psi is not None and float(psi) >= settings.prediction_psi_threshold
    if psi is not None:
        reasons.append(
            f"segment shares PSI {float(psi):.3f} (threshold {settings.prediction_psi_threshold:g})"
        )
    if drift.get("note"):
        reasons.append(str(drift["note"]))
    if not (models_drifted or segments_moved):
        return False, [*reasons, "no drift past the thresholds: no retraining"]
    if not settings.retrain_on_drift:
        return False, [*reasons, "drift detected but monitor.retrain_on_drift is off: no retraining"]
    return True, [*reasons, "drift detected: retraining triggered"]
