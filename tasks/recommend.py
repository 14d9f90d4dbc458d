"""Recommend: choose on the inner split, report on the outer test period, refit the choice, register it.

Every number says where it comes from: ``candidates`` are scores on the inner split
(``metrics.selection_split``), ``metrics`` are the chosen configuration's on the outer test period
(``metrics.report_split``); both descriptions are also tags of the stage's MLflow run.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd

from segmint.recommend import interaction_tables, select_recommender
from segmint.settings import Settings
from tasks import tracking
from tasks.figures import candidate_ndcg_figure
from tasks.io import read_parquet, read_tables, write_json, write_pickle, write_text
from tasks.paths import ProjectPaths
from tasks.pyfunc import RecommenderModel


def skipped_model(paths: ProjectPaths, kind: str, reason: str) -> dict[str, Any]:
    """Record a skipped model stage: a marker in place of the model, the reason in its metrics."""
    write_json(paths.models / kind / "SKIPPED.json", {"skipped": reason})
    model = paths.models / kind / "model.pkl"
    if model.exists():
        model.unlink()
    return {"skipped": reason}


def run_recommend(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Select, save and register the recommender from the validated tables (and segments, if any).

    Returns:
        The stage's metrics, as written to ``metrics/recommend.json``: the winner, its metrics on
        the outer test period, every candidate's scores on the inner split, the winner's
        per-segment scores on the outer test period and the registered version; or the skip
        reason when there are no orders.
    """
    tables = read_tables(paths.validated, paths, names=interaction_tables(settings.recommend))
    if tables.orders is None or not len(tables.orders):
        skipped = skipped_model(
            paths, "recommender", "no orders table: nothing to learn recommendations from"
        )
        write_json(paths.metric("recommend"), skipped)
        _write_ndcg_plot(paths, None)
        return skipped
    segments_file = paths.segments / "segments.parquet"
    segments = read_parquet(segments_file) if segments_file.exists() else None
    selection = select_recommender(tables, segments, settings.recommend)
    write_pickle(paths.models / "recommender" / "model.pkl", selection.model)
    marker = paths.models / "recommender" / "SKIPPED.json"
    if marker.exists():
        marker.unlink()
    result: dict[str, Any] = {
        "winner": selection.name,
        "metrics": selection.metrics,
        "candidates": selection.candidates.to_dict(orient="records"),
        "per_segment": selection.per_segment.to_dict(orient="records"),
    }
    example = pd.DataFrame({"customer_id": tables.customers["customer_id"].head(5).astype(str)})
    result["registered_version"] = tracking.log_pyfunc(
        RecommenderModel(selection.model, settings.recommend.top_n),
        settings,
        "recommender",
        example,
        tags={"candidate": selection.name},
        params={"n": settings.recommend.top_n},
    )
    tracking.log_figure(candidate_ndcg_figure(selection.candidates), "figures/recommend_ndcg.png")
    _tag_splits(selection.metrics)
    write_json(paths.metric("recommend"), result)
    _write_ndcg_plot(paths, selection.candidates)
    return result


def _write_ndcg_plot(paths: ProjectPaths, candidates: pd.DataFrame | None) -> None:
    """Each candidate's NDCG on the inner split, the CSV that DVC plots (header only without orders)."""
    table = pd.DataFrame(columns=["candidate", "ndcg"])
    if candidates is not None:
        table = pd.DataFrame({"candidate": candidates["name"], "ndcg": candidates["ndcg"].round(6)})
    write_text(paths.plots / "recommend_ndcg.csv", table.to_csv(index=False))


def _tag_splits(metrics: dict[str, Any]) -> None:
    """The periods and counts behind the candidates' and the reported numbers, as run tags."""
    if mlflow.active_run() is None:
        return
    tags = {
        f"recommend.{name}.{key}": str(value)
        for name in ("selection_split", "report_split")
        for key, value in metrics.get(name, {}).items()
    }
    mlflow.set_tags(tags)
