"""Segment profiles on a generated shop with planted archetypes: keywords, categories, sentiment."""

from __future__ import annotations

import pandas as pd
import pytest

from segmint.features import customer_features
from segmint.generate import PERIOD_END, generate_shop
from segmint.segmentation import Segmenter, fit_segmenter
from segmint.settings import FeatureSettings, GenerateSettings, SegmentSettings

# The default columns cluster on view shares, not spend shares: the profiles must read those anyway.
SETTINGS = SegmentSettings(k_min=4, k_max=6, sample_size=1_500, eval_sample_size=500, bootstrap_rounds=0)


@pytest.fixture(scope="module")
def fitted() -> tuple[Segmenter, pd.DataFrame]:
    shop = generate_shop(GenerateSettings(customers=1_500, products=200, seed=11))
    features = customer_features(shop.tables, PERIOD_END, FeatureSettings())
    reviews = shop.tables.reviews
    assert reviews is not None
    return fit_segmenter(features, SETTINGS, reviews=reviews[["customer_id", "text"]]), features


def test_keywords_differ_between_segments(fitted: tuple[Segmenter, pd.DataFrame]) -> None:
    profiles = fitted[0].profiles
    keywords = profiles["top_keywords"]
    assert (keywords != "").sum() >= len(profiles) - 1  # at most one segment barely reviews
    lists = [set(k.split(", ")) for k in keywords if k]
    assert len({frozenset(words) for words in lists}) == len(lists)
    # No word leads every segment's list: that would describe the shop, not the segment.
    firsts = [k.split(", ")[0] for k in keywords if k]
    assert len(set(firsts)) > 1
    assert not set.intersection(*lists)


def test_top_categories_are_filled_from_the_spend_shares(fitted: tuple[Segmenter, pd.DataFrame]) -> None:
    segmenter, features = fitted
    assert not any(column.startswith("cat_share_") for column in segmenter.feature_columns)
    tops = segmenter.profiles["top_categories"]
    assert (tops != "").all()
    shares = [column for column in features.columns if column.startswith("cat_share_")]
    known = {column.removeprefix("cat_share_") for column in shares}
    for top in tops:
        assert set(top.split(", ")) <= known
    assert tops.nunique() > 1


def test_profiles_carry_mean_review_sentiment(fitted: tuple[Segmenter, pd.DataFrame]) -> None:
    sentiment = fitted[0].profiles["mean_review_sentiment"]
    assert sentiment.notna().sum() >= len(sentiment) - 1
    assert sentiment.dropna().between(-1, 1).all()
    assert sentiment.max() - sentiment.min() > 0.05  # archetypes rate differently


def test_standard_scores_are_the_clustered_columns(fitted: tuple[Segmenter, pd.DataFrame]) -> None:
    segmenter, features = fitted
    scores = segmenter.standard_scores(features.head(50))
    assert list(scores.columns) == list(segmenter.feature_columns)
    assert scores.shape == (50, len(segmenter.feature_columns))
    assert scores.abs().to_numpy().max() <= 5.0
