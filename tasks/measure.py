"""Measure: the realised uplift of an executed campaign plan, from its outcomes and its hold-out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from segmint.campaign import measure_campaign, next_wave_allocation
from segmint.contracts import BadInputError, coerce_table
from segmint.learning import appended_history, outcomes_key, wave_counts
from segmint.settings import Settings
from tasks import tracking
from tasks.campaign import HISTORY_FILE, PLAN_FILE, SCORES_FILE
from tasks.io import read_parquet, write_json, write_parquet
from tasks.paths import ProjectPaths

ALL_OFFERS = "any_offer"


def read_outcomes(path: Path) -> pd.DataFrame:
    """The outcomes table (canonical campaigns rows; the plan's hold-out appears as ``control``).

    Raises:
        BadInputError: the file is missing or does not hold a canonical campaigns table.
    """
    if not path.exists():
        raise BadInputError("campaigns", "file_exists", f"outcomes file {path} does not exist")
    frame = pd.read_parquet(path) if path.suffix != ".csv" else pd.read_csv(path)
    return coerce_table("campaigns", frame)


def pooled_measurement(plan: pd.DataFrame, outcomes: pd.DataFrame) -> dict[str, Any]:
    """Treated-vs-hold-out over every offer together: the campaign's overall realised uplift."""
    pooled = plan.assign(offer=[ALL_OFFERS if has_offer else None for has_offer in plan["offer"].notna()])
    rows = measure_campaign(pooled, outcomes)
    return rows.drop(columns=["segment_id", "offer"]).iloc[0].to_dict() if len(rows) else {}


def _executed_plan(paths: ProjectPaths) -> pd.DataFrame:
    plan_file = paths.outputs / PLAN_FILE
    if not plan_file.exists():
        raise BadInputError(
            "campaigns", "plan_exists", "no outputs/campaign_plan.parquet: run a campaign first"
        )
    return read_parquet(plan_file)


def _rows_of_plan(plan: pd.DataFrame, outcomes: pd.DataFrame, outcomes_file: Path) -> pd.Series:
    """Which outcome rows belong to a customer with an offer in the plan.

    Raises:
        BadInputError: no outcome row does.
    """
    planned_ids = set(plan.loc[plan["offer"].notna(), "customer_id"].astype(str))
    matched = outcomes["customer_id"].astype(str).isin(planned_ids)
    if not matched.any():
        raise BadInputError(
            "campaigns",
            "matches_plan",
            f"no outcome row in {outcomes_file} belongs to a customer of the plan",
            column="customer_id",
            count=int(len(outcomes)),
        )
    return matched


def _scored_segments(paths: ProjectPaths) -> pd.DataFrame | None:
    """``customer_id``, ``segment_id`` (as str) and ``segment_name`` from the campaign's scores, if any."""
    scores_file = paths.outputs / SCORES_FILE
    if not scores_file.exists():
        return None
    scores = read_parquet(scores_file)
    # Mixed int/str keys cannot be sorted: the library adds a segment "all".
    return scores[["customer_id", "segment_id", "segment_name"]].astype({"segment_id": str})


def per_segment_measurement(
    plan: pd.DataFrame, outcomes: pd.DataFrame, segments: pd.DataFrame | None
) -> pd.DataFrame:
    """Treated-vs-hold-out per segment and offer (segment ``all``: per offer), with segment names."""
    if segments is None:
        return measure_campaign(plan, outcomes, None)
    per_segment = measure_campaign(plan, outcomes, segments[["customer_id", "segment_id"]])
    names = segments.drop_duplicates("segment_id").set_index("segment_id")["segment_name"]
    return per_segment.assign(
        segment_name=per_segment["segment_id"].map(names).fillna(per_segment["segment_id"].astype(str))
    )


def recorded_history(
    paths: ProjectPaths,
    plan: pd.DataFrame,
    outcomes: pd.DataFrame,
    segments: pd.DataFrame | None,
    source: Path,
) -> dict[str, Any]:
    """Adds the wave's counts per segment × offer to ``outputs/measurement_history.parquet`` (replacing
    an earlier measurement of the same outcomes); returns the wave's key and the history's size."""
    key = outcomes_key(outcomes)
    history_file = paths.outputs / HISTORY_FILE
    earlier = read_parquet(history_file) if history_file.exists() else None
    history = appended_history(earlier, wave_counts(plan, outcomes, segments, key, str(source)))
    write_parquet(history_file, history)
    return {"wave_key": key, "waves": int(history["wave_key"].nunique()), "rows": int(len(history))}


def run_measure(settings: Settings, paths: ProjectPaths, outcomes_file: Path) -> dict[str, Any]:
    """Measure the executed plan in ``outputs/`` against ``outcomes_file``; writes ``metrics/measure.json``.

    Logs to its own MLflow run tagged ``segmint.flow=measure``.

    Raises:
        BadInputError: there is no plan, the outcomes file is missing or not a campaigns table, or
            none of its rows belongs to a customer of the plan.
    """
    plan = _executed_plan(paths)
    outcomes = read_outcomes(outcomes_file)
    matched = _rows_of_plan(plan, outcomes, outcomes_file)
    segments = _scored_segments(paths)
    per_segment = per_segment_measurement(plan, outcomes, segments)
    overall = pooled_measurement(plan, outcomes)
    is_offer_total = per_segment["segment_id"].astype(str) == "all"
    by_segment = per_segment[~is_offer_total] if segments is not None else per_segment
    allocation = next_wave_allocation(by_segment, settings.campaign.seed)
    result: dict[str, Any] = {
        "outcomes_file": str(outcomes_file),
        "outcome_rows": int(len(outcomes)),
        "outcome_rows_outside_plan": int((~matched).sum()),
        "overall": overall,
        "per_offer": per_segment[is_offer_total].to_dict(orient="records"),
        "per_segment": per_segment.to_dict(orient="records"),
        "next_wave_allocation": allocation.to_dict(orient="records"),
        "history": recorded_history(paths, plan, outcomes, segments, outcomes_file),
    }
    write_parquet(paths.outputs / "measurement.parquet", per_segment)
    tracking.configure_mlflow(settings, paths)
    with mlflow.start_run(run_name="measure", tags={"segmint.flow": "measure"}) as run:
        mlflow.log_param("outcomes_file", str(outcomes_file))
        mlflow.log_metrics(tracking.flat_metrics({"overall": overall}))
        tracking.log_frame(per_segment, "measure", "measurement.parquet")
        result["mlflow_run_id"] = run.info.run_id
    write_json(paths.metric("measure"), result)
    return result
