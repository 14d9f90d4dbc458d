"""Behavioural checks of the uplift model against the generator's planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.features import customer_features
from segmint.generate import generate_shop
from segmint.settings import FeatureSettings, GenerateSettings, UpliftSettings
from segmint.uplift import fit_uplift

pytestmark = pytest.mark.slow

PERSUADABLE = ("bargain_hunter", "lapsing")
DO_NOT_DISTURB = ("new", "bulk_reseller")


@pytest.fixture(scope="module")
def fitted():
    shop = generate_shop(GenerateSettings(customers=20_000, seed=5))
    campaigns = shop.tables.campaigns
    as_of = campaigns["sent_ts"].min()
    features = customer_features(shop.tables, as_of, FeatureSettings())
    selection = fit_uplift(features, campaigns, UpliftSettings())
    scores = selection.model.predict(features)
    return shop, features, selection, scores


def test_persuadable_ranked_above_do_not_disturb(fitted) -> None:
    shop, _, _, scores = fitted
    arch = shop.truth["customers_truth"].set_index("customer_id")["archetype"]
    disc = scores[scores["offer"] == "discount_10"].assign(archetype=lambda d: d["customer_id"].map(arch))
    pers = disc.loc[disc["archetype"].isin(PERSUADABLE), "uplift"].to_numpy()
    dnd = disc.loc[disc["archetype"].isin(DO_NOT_DISTURB), "uplift"].to_numpy()
    assert pers.mean() > dnd.mean() + 0.05
    # Probability that a random persuadable customer outranks a random do-not-disturb customer.
    ranks = pd.Series(np.r_[pers, dnd]).rank().to_numpy()
    auc = (ranks[: len(pers)].sum() - len(pers) * (len(pers) + 1) / 2) / (len(pers) * len(dnd))
    assert auc > 0.8


def test_predicted_uplift_tracks_true_uplift(fitted) -> None:
    shop, _, selection, scores = fitted
    truth = shop.truth["effects"][["customer_id", "offer", "true_uplift"]]
    joined = scores.merge(truth, on=["customer_id", "offer"])
    for offer, part in joined.groupby("offer"):
        assert part["uplift"].corr(part["true_uplift"], method="spearman") > 0.4, offer
    assert selection.metrics["overall"]["qini_auc"] > 0.02
