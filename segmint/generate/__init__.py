"""Synthetic shops with planted ground truth (archetypes, campaign effects, anomalies, drift)."""

from segmint.generate.outcomes import OFFERS, simulate_outcomes
from segmint.generate.shop import (
    ANOMALY_TYPES,
    ARCHETYPES,
    CATEGORIES,
    PERIOD_END,
    GeneratedShop,
    generate_shop,
)

__all__ = [
    "ANOMALY_TYPES",
    "ARCHETYPES",
    "CATEGORIES",
    "OFFERS",
    "PERIOD_END",
    "GeneratedShop",
    "generate_shop",
    "simulate_outcomes",
]
