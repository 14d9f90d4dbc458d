"""Evaluate: each challenger against its champion on the same evaluation data."""

from __future__ import annotations

from typing import Any

import mlflow

from segmint.evaluation import segmentation_silhouette
from segmint.recommend import (
    evaluate_recommender,
    interaction_tables,
    make_recommender,
    paired_bootstrap,
    temporal_split,
)
from segmint.segmentation import segment_stability
from segmint.settings import Settings
from segmint.uplift import evaluate_uplift
from tasks import tracking
from tasks.drift import with_model_columns
from tasks.features import AT_CAMPAIGN, FEATURES
from tasks.io import read_parquet, read_pickle, read_tables, write_json
from tasks.paths import ProjectPaths

SILHOUETTE_SAMPLE = 5_000


def _challenger(paths: ProjectPaths, kind: str, filename: str) -> tuple[Any | None, str | None]:
    folder = paths.models / kind
    if (folder / "SKIPPED.json").exists() or not (folder / filename).exists():
        skipped = (folder / "SKIPPED.json").read_text() if (folder / "SKIPPED.json").exists() else "no model"
        return None, skipped
    return read_pickle(folder / filename, root=paths.models), None


def _versions(settings: Settings, kind: str) -> dict[str, str | None]:
    return {
        "champion_version": tracking.alias_version(settings, kind, tracking.CHAMPION),
        "challenger_version": tracking.alias_version(settings, kind, tracking.CHALLENGER),
    }


def _labels(assigned) -> Any:
    """Segment label per customer: the name, with the id when two segments share a name."""
    frame = assigned.set_index("customer_id")
    names = frame["segment_name"].astype(str)
    if frame.groupby(names)["segment_id"].nunique().max() > 1:
        return names + " #" + frame["segment_id"].astype(str)
    return names


def evaluate_segmenter(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    out: dict[str, Any] = {"quality_name": "silhouette", **_versions(settings, "segmenter")}
    challenger, skipped = _challenger(paths, "segmenter", "segmenter.pkl")
    if challenger is None:
        return {**out, "skipped": skipped}
    features = read_parquet(paths.features / FEATURES)
    seed = settings.segment.seed
    new = challenger.assign(features)
    out["challenger_quality"] = segmentation_silhouette(features, new["segment_id"], SILHOUETTE_SAMPLE, seed)
    champion = tracking.load_alias(settings, "segmenter", tracking.CHAMPION)
    if champion is None:
        return {**out, "champion_quality": None}
    aligned, filled = with_model_columns(features, getattr(champion.segmenter, "feature_columns", ()))
    if filled:
        out["champion_columns_filled_with_zero"] = filled
    old = champion.segmenter.assign(aligned)
    out["champion_quality"] = segmentation_silhouette(features, old["segment_id"], SILHOUETTE_SAMPLE, seed)
    stability = segment_stability(_labels(old), _labels(new))
    out["stability"] = {"ari": stability.ari, "nmi": stability.nmi}
    matrix = stability.migration.pivot_table(
        index="from_segment", columns="to_segment", values="customers", aggfunc="sum", fill_value=0
    ).astype(int)
    out["migration"] = {
        "rows": [str(i) for i in matrix.index],
        "columns": [str(c) for c in matrix.columns],
        "counts": matrix.to_numpy().tolist(),
    }
    return out


def evaluate_recommender_pair(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    out: dict[str, Any] = {"quality_name": "ndcg_at_10", **_versions(settings, "recommender")}
    challenger, skipped = _challenger(paths, "recommender", "model.pkl")
    if challenger is None:
        return {**out, "skipped": skipped}
    tables = read_tables(paths.validated, paths, names=interaction_tables(settings.recommend))
    segments_file = paths.segments / "segments.parquet"
    segments = read_parquet(segments_file) if segments_file.exists() else None
    split = temporal_split(tables, settings.recommend)
    # Both are refit on the same training part of the split: a model fit on all history has seen
    # the test period, so only the configuration of each is compared.
    new = evaluate_recommender(
        lambda: make_recommender(challenger.name, challenger.settings), split, settings.recommend, segments
    )
    out["challenger_quality"] = new["ndcg"]
    out["challenger"] = {"name": challenger.name, "recall": new["recall"], "coverage": new["coverage"]}
    champion = tracking.load_alias(settings, "recommender", tracking.CHAMPION)
    if champion is None:
        return {**out, "champion_quality": None}
    champ = champion.recommender
    old = evaluate_recommender(
        lambda: make_recommender(champ.name, champ.settings), split, settings.recommend, segments
    )
    out["champion_quality"] = old["ndcg"]
    out["champion"] = {"name": champ.name, "recall": old["recall"], "coverage": old["coverage"]}
    out["paired_difference"] = paired_bootstrap(
        new["per_customer"], old["per_customer"], settings.recommend.bootstrap_rounds, settings.recommend.seed
    )
    return out


def evaluate_uplift_pair(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    out: dict[str, Any] = {"quality_name": "qini_auc", **_versions(settings, "uplift")}
    challenger, skipped = _challenger(paths, "uplift", "model.pkl")
    if challenger is None:
        return {**out, "skipped": skipped}
    tables = read_tables(paths.validated, paths, names=("campaigns",))
    features = read_parquet(paths.features / AT_CAMPAIGN)
    # A model fit on every campaign row has seen any hold-out: like the recommender, each
    # configuration is refit on the same training part and scored on the same held-out part.
    new = evaluate_uplift(challenger, features, tables.campaigns, settings.uplift)
    out["challenger_quality"] = new["qini_auc"]
    out["challenger"] = new
    champion = tracking.load_alias(settings, "uplift", tracking.CHAMPION)
    if champion is None:
        return {**out, "champion_quality": None}
    try:
        old = evaluate_uplift(champion.uplift_model, features, tables.campaigns, settings.uplift)
    except ValueError as exc:  # e.g. the champion's learner is no longer offered
        return {**out, "champion_quality": None, "champion_note": str(exc)}
    out["champion_quality"] = old["qini_auc"]
    out["champion"] = old
    return out


def run_evaluate(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    tracking.configure_mlflow(settings, paths)
    result = {
        "segmenter": evaluate_segmenter(settings, paths),
        "recommender": evaluate_recommender_pair(settings, paths),
        "uplift": evaluate_uplift_pair(settings, paths),
    }
    write_json(paths.metric("evaluate"), result)
    if mlflow.active_run() is not None:
        mlflow.log_dict(result, "evaluate/evaluate.json")
        mlflow.set_tags(
            {f"evaluate.{kind}.quality_name": str(v.get("quality_name")) for kind, v in result.items()}
        )
    return result
