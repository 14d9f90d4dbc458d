"""Promotion decisions: may a challenger model replace the champion?

Pure rules over numbers computed elsewhere (quality on the same evaluation data, stability against
the champion, drift). Every decision carries a non-empty list of reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from segmint.settings import GateRule

PROMOTE, KEEP_CHALLENGER, REJECT, REVIEW = "promote", "keep_challenger", "reject", "needs_review"
DECISIONS = (PROMOTE, KEEP_CHALLENGER, REJECT, REVIEW)


@dataclass(frozen=True)
class GateInputs:
    """What the gate knows about one model kind.

    Attributes:
        quality_name: the metric compared (higher is better), e.g. ``ndcg_at_10``.
        challenger_quality: the challenger's value on the evaluation data (None: not measurable).
        champion_quality: the champion's value on the same data (None: there is no champion).
        stability: agreement with the champion's output in [0, 1] (segmenter: ARI), if measured.
        drift_detected: whether the input data drifted from the champion's reference.
        validation_passed: whether the data validation of this run passed.
        skipped: reason the model was not trained this run (its stage was skipped).
    """

    quality_name: str
    challenger_quality: float | None
    champion_quality: float | None
    stability: float | None = None
    drift_detected: bool = False
    validation_passed: bool = True
    skipped: str | None = None


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: list[str] = field(default_factory=list)

    @property
    def promotes(self) -> bool:
        return self.decision == PROMOTE


def decide(inputs: GateInputs, rule: GateRule) -> Decision:
    """The promotion decision for one challenger against its champion under ``rule``."""
    if inputs.skipped:
        return Decision(REJECT, [f"no challenger this run: {inputs.skipped}"])
    if not inputs.validation_passed:
        return Decision(REJECT, ["data validation did not pass: nothing trained on it is promoted"])
    if inputs.challenger_quality is None:
        return Decision(REJECT, [f"challenger {inputs.quality_name} could not be measured"])
    q_new = float(inputs.challenger_quality)
    if inputs.champion_quality is None:
        return Decision(
            PROMOTE, [f"no champion yet: the first model becomes champion ({inputs.quality_name}={q_new:.4f})"]
        )
    q_old = float(inputs.champion_quality)
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
    if q_new == q_old and inputs.stability is None:
        reasons.append("challenger is not worse than the champion")
    else:
        reasons.append("challenger is at least as good as the champion within tolerance")
    return Decision(PROMOTE, reasons)
