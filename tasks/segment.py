"""Segment: fit the segmenter with model selection, assign and profile customers, register it."""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd

from segmint.segmentation import fit_segmenter
from segmint.settings import Settings
from tasks import tracking
from tasks.features import FEATURES
from tasks.figures import segment_sizes_figure
from tasks.io import read_parquet, write_json, write_parquet, write_pickle
from tasks.paths import ProjectPaths
from tasks.pyfunc import SegmenterModel

REFERENCE_ROWS = 20_000


def run_segment(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Fit the segmenter, assign and profile every customer, and register the model in MLflow.

    Args:
        settings: The project settings (``segment`` section; the rest for the MLflow run).
        paths: Where the features and reviews are read and the segmenter and segments are written.

    Returns:
        The stage metrics: customers, segment sizes, the selected candidate, value tiers and the
        registered model version.
    """
    features = read_parquet(paths.features / FEATURES)
    reviews_file = paths.table(paths.validated, "reviews")
    reviews = read_parquet(reviews_file)[["customer_id", "text"]] if reviews_file.exists() else None
    segmenter = fit_segmenter(features, settings.segment, reviews=reviews)
    segments = segmenter.assign(features)
    profiles = segmenter.profiles
    selection = segmenter.selection
    write_pickle(paths.models / "segmenter" / "segmenter.pkl", segmenter)
    write_parquet(paths.segments / "segments.parquet", segments)
    write_parquet(paths.segments / "profiles.parquet", _flat(profiles))
    write_parquet(paths.segments / "selection.parquet", _flat(selection))

    sizes = segments.groupby("segment_name").size().sort_values(ascending=False)
    result: dict[str, Any] = {
        "customers": int(len(segments)),
        "basis": segmenter.basis,
        "n_segments": int(segments["segment_id"].nunique()),
        "segment_sizes": {str(k): int(v) for k, v in sizes.items()},
        "selected": selected_candidate(selection),
        "value_tiers": {str(k): int(v) for k, v in segments["value_tier"].value_counts().items()},
        # the segmenter's tiers; the campaign stage replaces them by predicted-CLV tiers when it can
        "value_tier_basis": "rfm",
    }
    reference = features.sample(min(REFERENCE_ROWS, len(features)), random_state=settings.segment.seed)
    tracking.log_frame(reference, "reference", "features.parquet")
    mlflow.log_table(_flat(profiles), artifact_file="segments/profiles.json")
    tracking.log_figure(segment_sizes_figure(sizes), "figures/segment_sizes.png")
    version = tracking.log_pyfunc(SegmenterModel(segmenter), settings, "segmenter", features.head(5))
    result["registered_version"] = version
    write_json(paths.metric("segment"), result)
    return result


def selected_candidate(selection: pd.DataFrame) -> dict[str, Any]:
    """The chosen row of the selection table (``chosen`` is True) as plain scalars; {} if none is."""
    if "chosen" not in selection.columns:
        return {}
    chosen = selection[selection["chosen"].astype(bool)]
    row = chosen.iloc[0].to_dict() if len(chosen) else {}
    return {key: value for key, value in row.items() if isinstance(value, (int, float, str))}


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain column names and scalar cells, as parquet and MLflow tables need."""
    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: v if isinstance(v, (str, type(None))) else str(v))
    return out.reset_index(drop=True)
