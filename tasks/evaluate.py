"""Evaluate: each challenger against its champion on the same evaluation data."""

from __future__ import annotations

from typing import Any

from segmint.evaluation import segmentation_silhouette
from segmint.recommend import evaluate_recommender, make_recommender, paired_bootstrap, temporal_split
from segmint.segmentation import segment_stability
from segmint.settings import Settings
from segmint.uplift import evaluate_uplift
from tasks import tracking
from tasks.features import AT_CAMPAIGN, FEATURES
from tasks.io import read_parquet, read_pickle, read_tables, write_json
from tasks.paths import ProjectPaths

SILHOUETTE_SAMPLE = 5_000


def _challenger(paths: ProjectPaths, kind: str, filename: str) -> tuple[Any | None, str | None]:
    folder = paths.models / kind
    if (folder / "SKIPPED.json").exists() or not (folder / filename).exists():
        skipped = (folder / "SKIPPED.json").read_text() if (folder / "SKIPPED.json").exists() else "no model"
        return None, skipped
    return read_pickle(folder / filename), None


def _versions(settings: Settings, kind: str) -> dict[str, str | None]:
    return {
        "champion_version": tracking.alias_version(settings, kind, tracking.CHAMPION),
        "challenger_version": tracking.alias_version(settings, kind, tracking.CHALLENGER),
    }


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
    old = champion.segmenter.assign(features)
    out["champion_quality"] = segmentation_silhouette(features, old["segment_id"], SILHOUETTE_SAMPLE, seed)
    stability = segment_stability(old["segment_name"], new["segment_name"])
    out["stability"] = {"ari": stability.ari, "nmi": stability.nmi}
    migration = stability.migration
    out["migration"] = {
        "rows": [str(i) for i in migration.index],
        "columns": [str(c) for c in migration.columns],
        "counts": migration.to_numpy().astype(int).tolist(),
    }
    return out


def evaluate_recommender_pair(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    out: dict[str, Any] = {"quality_name": "ndcg_at_10", **_versions(settings, "recommender")}
    challenger, skipped = _challenger(paths, "recommender", "model.pkl")
    if challenger is None:
        return {**out, "skipped": skipped}
    tables = read_tables(paths.validated, paths)
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
    tables = read_tables(paths.validated, paths)
    features = read_parquet(paths.features / AT_CAMPAIGN)
    new = evaluate_uplift(challenger, features, tables.campaigns, settings.uplift)
    out["challenger_quality"] = new["qini_auc"]
    out["challenger"] = new
    champion = tracking.load_alias(settings, "uplift", tracking.CHAMPION)
    if champion is None:
        return {**out, "champion_quality": None}
    old = evaluate_uplift(champion.uplift_model, features, tables.campaigns, settings.uplift)
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
    return result

