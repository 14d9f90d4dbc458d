"""The CLV model out of time on a generated shop: it ranks next-period spend better than the past rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from segmint.clv import fit_clv
from segmint.features import customer_features, future_labels
from segmint.generate import PERIOD_END, generate_shop
from segmint.settings import FeatureSettings, GenerateSettings
from tasks.campaign import customer_clv
from tasks.paths import ProjectPaths

HORIZON = 90


def test_clv_ranks_a_later_window_better_than_the_past_spend_rate() -> None:
    shop = generate_shop(GenerateSettings(customers=2_000, products=150, seed=5))
    settings = FeatureSettings()
    # fitted as the pipeline fits it: features two windows back, labels in the window after them
    scoring_cutoff = PERIOD_END - pd.Timedelta(days=HORIZON)
    training_cutoff = scoring_cutoff - pd.Timedelta(days=HORIZON)
    train = customer_features(shop.tables, training_cutoff, settings)
    model = fit_clv(
        train, future_labels(shop.tables, training_cutoff, HORIZON), seed=3, target="future_revenue"
    )

    # scored on the held-out last window, on the customers who bought before it
    current = customer_features(shop.tables, scoring_cutoff, settings)
    actual = future_labels(shop.tables, scoring_cutoff, HORIZON)["future_revenue"].clip(lower=0.0)
    buyers = (current["frequency"] > 0).to_numpy()
    predicted = model.predict(current)["predicted_clv"].to_numpy()
    days = (current["tenure_days"] - current["days_to_first_order"]).clip(lower=1.0)
    naive = (current["monetary"].clip(lower=0.0) / days).to_numpy()

    assert len(predicted) == len(current) and np.all(np.isfinite(predicted)) and (predicted >= 0).all()
    ours = spearmanr(predicted[buyers], actual.to_numpy()[buyers]).statistic
    baseline = spearmanr(naive[buyers], actual.to_numpy()[buyers]).statistic
    assert buyers.sum() > 200 and actual[buyers].gt(0).sum() > 50
    assert ours > baseline + 0.01, (ours, baseline)


def test_campaign_clv_is_empty_with_a_reason_without_a_model(tmp_path: Path) -> None:
    clv, note = customer_clv(ProjectPaths(tmp_path), pd.DataFrame({"customer_id": ["c1"], "monetary": [1.0]}))
    assert clv.empty and note is not None and "clv.pkl" in note
    scores = pd.DataFrame({"customer_id": ["c1"]})
    assert scores["customer_id"].map(clv).astype(float).isna().all()  # NaN, as the stage writes it
