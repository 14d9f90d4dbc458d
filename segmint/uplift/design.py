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
from segmint.uplift.learners import (
    LEARNERS,
    BinaryUpliftLearner,
    ControlArm,
    XLearner,
    control_arm,
    make_learner,
)
from segmint.uplift.waves import FEATURES_AS_OF, WAVE_ID, wave_starts


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


# Columns of a design frame that are not features.
DESIGN_COLUMNS = ("customer_id", WAVE_ID, "sent_ts", "treatment", "converted", FEATURES_AS_OF)

SIGNED_UP_LATER = "no features as of sent_ts (signed up later)"
UNKNOWN_CUSTOMER = "customer not in the customers table"
NO_SEND_TIME = "no sent_ts in the wave"
NO_FEATURES = "no features for the customer at its wave"


@dataclass(frozen=True)
class CampaignRows:
    """Campaign rows joined to their customer's features, and the rows the join dropped.

    Attributes:
        frame: One row per kept campaign row: its ``customer_id``, ``treatment``, ``converted``
            (and ``campaign_id``/``sent_ts`` when given) plus the feature columns.
        dropped: Number of dropped campaign rows per reason.
    """

    frame: pd.DataFrame
    dropped: dict[str, int]


def _campaign_columns(campaigns: pd.DataFrame) -> pd.DataFrame:
    needed = {"customer_id", "treatment", "converted"}
    if not needed <= set(campaigns.columns):
        raise ValueError(f"campaigns need columns {sorted(needed)}; found {list(campaigns.columns)}")
    kept = [c for c in (WAVE_ID, "customer_id", "treatment", "sent_ts", "converted") if c in campaigns]
    rows = campaigns[kept].assign(
        customer_id=lambda d: d["customer_id"].astype(str), treatment=lambda d: d["treatment"].astype(str)
    )
    return rows.assign(**{WAVE_ID: rows[WAVE_ID].astype(str)}) if WAVE_ID in rows else rows


def _drop_reasons(unmatched: pd.DataFrame, customers: pd.DataFrame | None) -> pd.Series:
    """Why each campaign row found no features: no send time, unknown customer, signed up later."""
    starts = wave_starts(unmatched)
    reasons = pd.Series(NO_FEATURES, index=unmatched.index, dtype=object)
    if customers is not None and "signup_ts" in customers:
        first = customers.assign(customer_id=customers["customer_id"].astype(str)).drop_duplicates(
            "customer_id"
        )
        signup = pd.to_datetime(first.set_index("customer_id")["signup_ts"], utc=True)
        reasons[(unmatched["customer_id"].map(signup) >= starts).to_numpy()] = SIGNED_UP_LATER
        reasons[~unmatched["customer_id"].isin(signup.index).to_numpy()] = UNKNOWN_CUSTOMER
    if "sent_ts" in unmatched:
        reasons[starts.isna().to_numpy()] = NO_SEND_TIME
    return reasons


def campaign_rows(
    features: pd.DataFrame, campaigns: pd.DataFrame, customers: pd.DataFrame | None = None
) -> CampaignRows:
    """Campaign rows joined to their customer's features, counting every row the join drops.

    Features with a ``campaign_id`` column (:func:`~segmint.uplift.waves.wave_features`) join per
    wave and customer; a single snapshot joins on the customer alone.

    Args:
        features: Features per customer, or per wave and customer.
        campaigns: Canonical campaign rows.
        customers: The customers table; with it, dropped rows are told apart by reason (unknown
            customer, signed up at or after the wave's first send).

    Raises:
        ValueError: missing columns, or no offer or no control rows left to compare.
    """
    rows = _campaign_columns(campaigns)
    keys = [WAVE_ID, "customer_id"] if WAVE_ID in features else ["customer_id"]
    if WAVE_ID in keys and WAVE_ID not in rows:
        raise ValueError("features are per campaign wave but the campaigns have no campaign_id")
    feats = features.assign(**{key: features[key].astype(str) for key in keys}).drop_duplicates(keys)
    feats = feats.drop(columns=[c for c in feats.columns if c in rows and c not in keys])
    joined = rows.merge(feats, on=keys, how="left", indicator=True)
    matched = (joined.pop("_merge") == "both").to_numpy()
    reasons = _drop_reasons(rows[~matched], customers)
    dropped = {str(reason): int(n) for reason, n in reasons.value_counts().items()}
    frame = joined[matched].reset_index(drop=True)
    _require_both_arms(frame, dropped)
    return CampaignRows(frame, dropped)


def _require_both_arms(frame: pd.DataFrame, dropped: dict[str, int]) -> None:
    if not len(frame):
        raise ValueError(f"no campaign row has features to model; dropped rows: {dropped}")
    treatments = set(frame["treatment"].unique())
    if CONTROL not in treatments:
        raise ValueError("campaigns have no control rows: uplift cannot be estimated without a control arm")
    if not treatments - {CONTROL}:
        raise ValueError("campaigns have only control rows: there is no offer to model")


def campaign_frame(features: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    """The frame of :func:`campaign_rows` (campaign rows of customers without features drop).

    Raises:
        ValueError: no offer or no control rows, so there is nothing to compare.
    """
    return campaign_rows(features, campaigns).frame


def design_matrix(frame: pd.DataFrame, columns: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """The feature matrix of a design frame: every column but :data:`DESIGN_COLUMNS`, or ``columns``."""
    return feature_matrix(frame.drop(columns=[c for c in DESIGN_COLUMNS if c in frame]), columns)


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
        self,
        name: str,
        offer: str,
        settings: UpliftSettings,
        rows: np.ndarray,
        control: ControlArm | None = None,
    ) -> BinaryUpliftLearner:
        """Learner ``name`` fitted for ``offer`` on the pair's part of ``rows``; an X-learner takes
        ``control``, the :meth:`control_arm` of the same ``rows``, when given."""
        pair = self.offer_rows(offer, rows)
        X, y, t = self.X[pair], self.y[pair], self.treated(pair, offer)
        learner = make_learner(name, settings)
        if control is not None and isinstance(learner, XLearner):
            return learner.fit(X, y, t, control=control)
        return learner.fit(X, y, t)

    def control_arm(self, rows: np.ndarray, settings: UpliftSettings) -> ControlArm:
        """The control rows among ``rows`` (in their order) binned, with their outcome model: what an
        X-learner fits for every offer on ``rows`` alike."""
        control = rows[self.treatment[rows] == CONTROL]
        return control_arm(self.X[control], self.y[control], settings)

    def scored(
        self,
        name: str,
        offer: str,
        settings: UpliftSettings,
        train: np.ndarray,
        test: np.ndarray,
        control: ControlArm | None = None,
    ) -> OfferScores:
        """Fit ``name`` for ``offer`` on the train rows and score the pair's test rows."""
        learner = self.fitted(name, offer, settings, train, control)
        rows = self.offer_rows(offer, test)
        return OfferScores(rows, self.y[rows], learner.uplift(self.X[rows]), self.treated(rows, offer))

    def scored_in_turn(
        self, learners: dict[str, str], settings: UpliftSettings, train: np.ndarray, test: np.ndarray
    ) -> dict[str, OfferScores]:
        """:meth:`scored` for each offer's learner, one offer after another; the X-learners share one
        control arm, binned and fitted once (the same models as fitting it for each offer)."""
        arm: ControlArm | None = None
        scored = {}
        for offer, name in learners.items():
            if LEARNERS.get(name) is XLearner and arm is None:
                arm = self.control_arm(train, settings)
            scored[offer] = self.scored(name, offer, settings, train, test, arm)
        return scored


def campaign_design(frame: pd.DataFrame, X: np.ndarray) -> Design:
    """The design of a :func:`campaign_frame` and its feature matrix."""
    return Design(frame, X, frame["converted"].to_numpy(dtype=np.float64), frame["treatment"].to_numpy())
