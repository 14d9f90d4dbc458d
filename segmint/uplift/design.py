"""Campaign rows as a modelling design: the joined frame, its feature matrix and the per-offer fits.

Each offer is modelled against the control arm alone, so every fit and score works on the rows of
one offer's pair (that offer's rows and the control rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmint.contracts import CONTROL
from segmint.settings import UpliftSettings
from segmint.uplift.learners import BinaryUpliftLearner, make_learner


def feature_matrix(features: pd.DataFrame, columns: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """The float matrix of the numeric (and boolean) feature columns, and their names.

    Args:
        features: One row per customer, ``customer_id`` plus feature columns; non-numeric columns
            other than those named in ``columns`` are ignored.
        columns: Columns to use, in this order (a fitted model's); None picks every numeric column.

    Raises:
        ValueError: a requested column is missing.
    """
    if columns is None:
        columns = [
            column
            for column in features.columns
            if column != "customer_id"
            and (
                pd.api.types.is_numeric_dtype(features[column])
                or pd.api.types.is_bool_dtype(features[column])
            )
        ]
    missing = [column for column in columns if column not in features.columns]
    if missing:
        raise ValueError(f"features lack column(s) the uplift model was fitted on: {missing}")
    X = features[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    return X, list(columns)


def campaign_frame(features: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Campaign rows joined to the customer's features (rows of customers without features drop).

    Raises:
        ValueError: no offer or no control rows, so there is nothing to compare.
    """
    needed = {"customer_id", "treatment", "converted"}
    if not needed <= set(campaigns.columns):
        raise ValueError(f"campaigns need columns {sorted(needed)}; found {list(campaigns.columns)}")
    rows = campaigns[["customer_id", "treatment", "converted"]].assign(
        customer_id=lambda d: d["customer_id"].astype(str), treatment=lambda d: d["treatment"].astype(str)
    )
    feats = features.assign(customer_id=features["customer_id"].astype(str))
    joined = rows.merge(feats, on="customer_id", how="inner")
    treatments = set(joined["treatment"].unique())
    if CONTROL not in treatments:
        raise ValueError("campaigns have no control rows: uplift cannot be estimated without a control arm")
    if not treatments - {CONTROL}:
        raise ValueError("campaigns have only control rows: there is no offer to model")
    return joined


@dataclass(frozen=True)
class OfferScores:
    """One learner's uplift for the rows of one offer's pair.

    Attributes:
        rows: Positions of the scored rows in the design.
        outcome: Their conversion (0/1).
        uplift: The predicted uplift.
        treated: 1.0 for rows sent the offer, 0.0 for control rows.
    """

    rows: np.ndarray
    outcome: np.ndarray
    uplift: np.ndarray
    treated: np.ndarray


@dataclass(frozen=True)
class Design:
    """Campaign rows with their features (``X``), outcomes (``y``) and treatment per row."""

    frame: pd.DataFrame
    X: np.ndarray
    y: np.ndarray
    treatment: np.ndarray

    def offers(self) -> tuple[str, ...]:
        """Every treatment other than control, sorted."""
        return tuple(sorted(set(self.treatment) - {CONTROL}))

    def offer_rows(self, offer: str, rows: np.ndarray) -> np.ndarray:
        """Those of ``rows`` that were sent ``offer`` or are control."""
        treatment = self.treatment[rows]
        return rows[(treatment == offer) | (treatment == CONTROL)]

    def treated(self, rows: np.ndarray, offer: str) -> np.ndarray:
        """1.0 where the row was sent ``offer``, else 0.0."""
        return (self.treatment[rows] == offer).astype(np.float64)

    def fitted(
        self, name: str, offer: str, settings: UpliftSettings, rows: np.ndarray
    ) -> BinaryUpliftLearner:
        """Learner ``name`` fitted for ``offer`` on the pair's part of ``rows``."""
        pair = self.offer_rows(offer, rows)
        return make_learner(name, settings).fit(self.X[pair], self.y[pair], self.treated(pair, offer))

    def scored(
        self, name: str, offer: str, settings: UpliftSettings, train: np.ndarray, test: np.ndarray
    ) -> OfferScores:
        """Fit ``name`` for ``offer`` on the train rows and score the pair's test rows."""
        learner = self.fitted(name, offer, settings, train)
        rows = self.offer_rows(offer, test)
        return OfferScores(rows, self.y[rows], learner.uplift(self.X[rows]), self.treated(rows, offer))


def campaign_design(frame: pd.DataFrame, X: np.ndarray) -> Design:
    """The design of a :func:`campaign_frame` and its feature matrix."""
    return Design(frame, X, frame["converted"].to_numpy(dtype=np.float64), frame["treatment"].to_numpy())
