"""Sentiment model and keywords on small hand-made review sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.nlp import fit_sentiment_model, review_keywords, sentiment_classes

POS = [
    "great product love it",
    "excellent quality highly recommend",
    "love it perfect",
    "great value excellent",
]
NEG = ["terrible waste of money", "broke quickly awful", "awful quality terrible", "waste broke disappointed"]
MID = ["okay average product", "average nothing special", "okay fine average", "fine okay nothing special"]


def _model():
    texts = (POS + NEG + MID) * 5
    ratings = ([5] * 4 + [1] * 4 + [3] * 4) * 5
    return fit_sentiment_model(texts, ratings, seed=0)


def test_classes_from_stars() -> None:
    assert sentiment_classes([1, 2, 3, 4, 5]).tolist() == [-1, -1, 0, 1, 1]


def test_scores_order_positive_above_negative_and_stay_in_range() -> None:
    model = _model()
    scores = model.score(["love it great", "terrible awful waste", "okay average"])
    assert scores[0] > 0.3 > scores[2] > -0.3 > scores[1]
    assert np.all((scores >= -1) & (scores <= 1))
    assert model.predict(["excellent love"]).tolist() == [1]


def test_keywords_describe_the_texts() -> None:
    kws = _model().keywords(NEG, n=3)
    assert len(kws) == 3 and set(kws) & {"terrible", "awful", "waste", "broke"}


def test_single_class_is_rejected() -> None:
    with pytest.raises(ValueError, match="two sentiment classes"):
        fit_sentiment_model(["good", "nice"], [5, 4], seed=0)


def test_review_keywords_are_distinctive_per_group() -> None:
    reviews = pd.DataFrame(
        {
            "customer_id": ["x", "x", "y", "y"],
            "text": ["blender kettle shop", "kettle shop", "tent hiking shop", "tent"],
        }
    )
    kw = review_keywords(reviews, n=1).set_index("customer_id")["keywords"]
    assert kw["x"] == "kettle" and kw["y"] == "tent"  # "shop" is in both, so it is not distinctive
