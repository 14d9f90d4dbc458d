"""Features: point-in-time customer features (and labels) from the validated tables."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from segmint.contracts import latest_timestamp
from segmint.features import customer_features, future_labels
from segmint.nlp import fit_sentiment_model
from segmint.settings import Settings
from tasks.io import read_tables, write_json, write_parquet, write_pickle
from tasks.paths import ProjectPaths

FEATURES = "features.parquet"
AT_CAMPAIGN = "features_at_campaign.parquet"
TRAIN, LABELS = "train.parquet", "labels.parquet"


def run_features(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    tables = read_tables(paths.validated, paths)
    cfg = settings.features
    end = latest_timestamp(tables)
    end = (end if end is not None else pd.Timestamp.now(tz="UTC")) + pd.Timedelta(seconds=1)
    out = paths.features
    models = paths.models / "features"
    sentiment = None
    reviews = tables.reviews
    result: dict[str, Any] = {"as_of": end.isoformat()}
    if reviews is not None and len(reviews) >= cfg.sentiment_min_reviews:
        sample = reviews.sample(n=min(len(reviews), cfg.sentiment_max_train_reviews), random_state=cfg.seed)
        sentiment = fit_sentiment_model(sample["text"], sample["rating"], seed=cfg.seed)
        result["sentiment"] = dict(getattr(sentiment, "metrics", {}) or {})
        result["sentiment"]["train_reviews"] = int(len(sample))
        # every review is scored once here; the three snapshots below only filter by time
        tables = dataclasses.replace(
            tables, reviews=reviews.assign(sentiment_score=sentiment.score(reviews["text"]))
        )
    else:
        result["sentiment"] = {"skipped": "fewer reviews than features.sentiment_min_reviews"}
    write_pickle(models / "sentiment.pkl", sentiment)

    features = customer_features(tables, end, cfg, sentiment)
    write_parquet(out / FEATURES, features)
    result.update(customers=int(len(features)), feature_columns=int(features.shape[1] - 1))

    campaigns = tables.campaigns
    at_campaign = out / AT_CAMPAIGN
    if campaigns is not None and len(campaigns):
        sent = campaigns["sent_ts"].min()
        write_parquet(at_campaign, customer_features(tables, sent, cfg, sentiment))
        result["campaign_as_of"] = sent.isoformat()
    elif at_campaign.exists():
        at_campaign.unlink()

    cutoff = end - pd.Timedelta(days=cfg.label_window_days)
    train = customer_features(tables, cutoff, cfg, sentiment)
    labels = future_labels(tables, cutoff, cfg.label_window_days)
    write_parquet(out / TRAIN, train)
    write_parquet(out / LABELS, labels)
    result["label_cutoff"] = cutoff.isoformat()
    write_json(paths.metric("features"), result)
    return result
