"""Model-test fixtures: the 50,000-customer planted shop as features, built once for the tests using it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from segmint.features import customer_features
from segmint.generate import PERIOD_END, generate_shop
from segmint.settings import FeatureSettings, GenerateSettings


@dataclass(frozen=True)
class PlantedFeatures:
    """A generated shop's customer features as of the end of its period, beside its planted truth.

    Attributes:
        settings: What the shop was generated with (its planted anomaly rate among them).
        features: One row per customer, as ``segmint.features.customer_features`` returns them.
        truth: The generator's ``customers_truth`` table (archetype, anomaly flag and type).
    """

    settings: GenerateSettings
    features: pd.DataFrame
    truth: pd.DataFrame


@pytest.fixture(scope="session")
def planted_50k() -> PlantedFeatures:
    """The 50,000-customer shop of seed 7 as features at ``PERIOD_END`` (shared, read-only): the anomaly
    and segment tests score the same customers, and its generation is the costliest step of either."""
    settings = GenerateSettings(customers=50_000, seed=7)
    shop = generate_shop(settings)
    features = customer_features(shop.tables, PERIOD_END, FeatureSettings())
    return PlantedFeatures(settings, features, shop.truth["customers_truth"])
