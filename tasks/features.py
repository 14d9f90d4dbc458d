"""Features: point-in-time customer features (and labels) from the validated tables."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from segmint.contracts import Tables, latest_timestamp
from segmint.features import ActivityCodes, activity_codes, customer_features, future_labels
from segmint.nlp import SentimentModel, fit_sentiment_model
from segmint.partition import customer_partitions, features_are_per_customer, features_from_parts
from segmint.settings import FeatureSettings, Settings
from segmint.uplift.waves import WAVE_ID, campaign_waves, wave_features
from tasks.dask_cluster import compute_client, map_partitions
from tasks.io import read_pickle, read_tables, write_json, write_parquet, write_pickle
from tasks.paths import ProjectPaths

FEATURES = "features.parquet"
AT_CAMPAIGN = "features_at_campaign.parquet"
TRAIN, LABELS = "train.parquet", "labels.parquet"
# the CLV check of the evaluate stage: features one horizon before the label cutoff, and the spend up to it
CALIBRATION, CALIBRATION_LABELS = "calibration.parquet", "calibration_labels.parquet"
SENTIMENT_MODEL = "features/sentiment.pkl"  # under models/


@dataclass(frozen=True)
class _Sentiment:
    """The review sentiment model and the tables whose reviews it has scored.

    Attributes:
        model: The fitted model; None when there are too few reviews.
        tables: The input tables, with a ``sentiment_score`` column on the reviews when fitted.
        summary: What the metrics file records about it.
    """

    model: SentimentModel | None
    tables: Tables
    summary: dict[str, Any]


# The event log is the largest table and is only compared and hashed here: its text stays in Arrow,
# a fraction of the memory of one Python string per cell (the features of 1M customers, 28.9M events).
ARROW_TEXT: tuple[str, ...] = ("events",)


def _sentiment(tables: Tables, cfg: FeatureSettings) -> _Sentiment:
    reviews = tables.reviews
    if reviews is None or len(reviews) < cfg.sentiment_min_reviews:
        return _Sentiment(None, tables, {"skipped": "fewer reviews than features.sentiment_min_reviews"})
    sample = reviews.sample(n=min(len(reviews), cfg.sentiment_max_train_reviews), random_state=cfg.seed)
    model = fit_sentiment_model(sample["text"], sample["rating"], seed=cfg.seed)
    return _Sentiment(model, _with_sentiment(tables, model), {"train_reviews": int(len(sample))})


def _with_sentiment(tables: Tables, model: SentimentModel | None) -> Tables:
    """``tables`` with every review scored by ``model`` (``sentiment_score``); as given without a model
    or reviews. Every review is scored once here; the snapshots only filter by time."""
    if model is None or tables.reviews is None:
        return tables
    reviews = tables.reviews
    return dataclasses.replace(tables, reviews=reviews.assign(sentiment_score=model.score(reviews["text"])))


def _campaign_features(
    tables: Tables,
    cfg: FeatureSettings,
    sentiment: SentimentModel | None,
    paths: ProjectPaths,
    codes: ActivityCodes,
) -> dict[str, Any]:
    """Write each campaign wave's customers' features as of the wave's first send; the waves' counts.

    Without campaigns, an earlier run's file is removed so no stage reads stale waves.
    """
    at_campaign = paths.features / AT_CAMPAIGN
    campaigns = tables.campaigns
    if campaigns is None or not len(campaigns):
        if at_campaign.exists():
            at_campaign.unlink()
        return {}
    features = wave_features(tables, cfg, sentiment, codes)
    write_parquet(at_campaign, features)
    with_features = features.groupby(WAVE_ID).size()
    waves = {
        wave.campaign_id: {
            "as_of": None if pd.isna(wave.as_of) else wave.as_of.isoformat(),
            "rows": int(wave.rows),
            "customers_with_features": int(with_features.get(wave.campaign_id, 0)),
        }
        for wave in campaign_waves(campaigns).itertuples()
    }
    return {"campaign_waves": waves}


def _features_as_of(
    tables: Tables,
    as_of: pd.Timestamp,
    settings: Settings,
    sentiment: SentimentModel | None,
    client: Any,
    codes: ActivityCodes | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The customer features as of ``as_of``, and in how many partitions on how many workers.

    With a Dask ``client`` and more customers than ``runtime.dask_partition_customers``, each
    partition of customers (with their orders, events and reviews) is computed on a worker. Locally,
    ``codes`` (:func:`~segmint.features.activity_codes` of ``tables``) spare re-coding the tables.
    """
    cfg, size = settings.features, settings.runtime.dask_partition_customers
    if (
        client is None
        or len(tables.customers) <= size
        or not features_are_per_customer(tables, cfg, sentiment)
    ):
        return customer_features(tables, as_of, cfg, sentiment, codes), {"partitions": 1, "workers": 1}
    parts = customer_partitions(dataclasses.replace(tables, campaigns=None), size)
    results = map_partitions(client, customer_features, parts, as_of=as_of, settings=cfg, sentiment=sentiment)
    return features_from_parts(tables, as_of, cfg, results.parts), results.summary()


def _features_as_of_end(tables: Tables) -> pd.Timestamp:
    """Just after the last timestamp of the data (now when there is none): the features' as-of."""
    end = latest_timestamp(tables)
    return (end if end is not None else pd.Timestamp.now(tz="UTC")) + pd.Timedelta(seconds=1)


def run_features(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Write the customer features now, per campaign wave at its first send, at the label cutoff, and
    one horizon before it (the calibration period the evaluate stage refits CLV on).

    Args:
        settings: The project settings (``features`` section).
        paths: Where the validated tables are read and the features, labels and sentiment model
            are written.

    Returns:
        The stage metrics: the cutoffs, the customer and feature counts, and the sentiment model's.
    """
    tables = read_tables(paths.validated, paths, arrow_strings=ARROW_TEXT)
    cfg = settings.features
    end = _features_as_of_end(tables)
    out = paths.features
    sentiment = _sentiment(tables, cfg)
    result: dict[str, Any] = {"as_of": end.isoformat(), "sentiment": sentiment.summary}
    write_pickle(paths.models / SENTIMENT_MODEL, sentiment.model)
    tables = sentiment.tables

    cutoff = end - pd.Timedelta(days=cfg.label_window_days)
    calibration = cutoff - pd.Timedelta(days=cfg.label_window_days)
    codes = activity_codes(tables, cfg)  # one coding of the activity tables for every cutoff below
    with compute_client(settings.runtime) as client:
        features, result["dask"] = _features_as_of(tables, end, settings, sentiment.model, client, codes)
        train, _ = _features_as_of(tables, cutoff, settings, sentiment.model, client, codes)
        before, _ = _features_as_of(tables, calibration, settings, sentiment.model, client, codes)
    write_parquet(out / FEATURES, features)
    result.update(customers=int(len(features)), feature_columns=int(features.shape[1] - 1))

    result.update(_campaign_features(tables, cfg, sentiment.model, paths, codes))

    labels = future_labels(tables, cutoff, cfg.label_window_days)
    write_parquet(out / TRAIN, train)
    write_parquet(out / LABELS, labels)
    write_parquet(out / CALIBRATION, before)
    write_parquet(out / CALIBRATION_LABELS, future_labels(tables, calibration, cfg.label_window_days))
    result["label_cutoff"] = cutoff.isoformat()
    result["calibration_cutoff"] = calibration.isoformat()
    write_json(paths.metric("features"), result)
    return result


def trained_sentiment(paths: ProjectPaths) -> SentimentModel | None:
    """The review sentiment model the last features stage fitted (None: none was, or too few reviews)."""
    model_file = paths.models / SENTIMENT_MODEL
    return read_pickle(model_file, root=paths.models) if model_file.exists() else None


def run_scoring_features(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Rebuild only the current features (``features.parquet``) for scoring, with the trained sentiment model.

    Nothing is refitted: the review sentiment model of the last training scores the reviews, and the
    training-only files (label-cutoff features, labels, campaign-wave features) are left as they are.

    Returns:
        ``as_of``, ``customers`` and ``feature_columns`` of the rebuilt features.
    """
    tables = read_tables(paths.validated, paths, arrow_strings=ARROW_TEXT)
    end = _features_as_of_end(tables)
    model = trained_sentiment(paths)
    tables = _with_sentiment(tables, model)
    with compute_client(settings.runtime) as client:
        features, partitions = _features_as_of(tables, end, settings, model, client)
    write_parquet(paths.features / FEATURES, features)
    return {
        "as_of": end.isoformat(),
        "customers": int(len(features)),
        "feature_columns": int(features.shape[1] - 1),
        "dask": partitions,
    }
