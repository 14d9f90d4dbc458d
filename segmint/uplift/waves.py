"""Campaign waves: each ``campaign_id`` starts at its first ``sent_ts``, and its customers' features
are computed as of that start, so a later wave never gets stale features and an earlier one never
sees what happened after its send."""

from __future__ import annotations

import pandas as pd

from segmint.contracts import Tables
from segmint.features import ActivityCodes, activity_codes, customer_features
from segmint.nlp import SentimentModel
from segmint.settings import FeatureSettings

WAVE_ID = "campaign_id"
FEATURES_AS_OF = "features_as_of"


def wave_starts(campaigns: pd.DataFrame) -> pd.Series:
    """Per campaign row, the first ``sent_ts`` of its wave (its ``campaign_id``).

    Without ``campaign_id`` every row is one wave; without ``sent_ts`` the starts are NaT.
    """
    if "sent_ts" not in campaigns.columns:
        return pd.Series(pd.NaT, index=campaigns.index, dtype="datetime64[ns, UTC]")
    sent = pd.to_datetime(campaigns["sent_ts"], utc=True)
    if WAVE_ID not in campaigns.columns:
        return pd.Series(sent.min(), index=campaigns.index, dtype=sent.dtype)
    return sent.groupby(campaigns[WAVE_ID].astype(str).to_numpy()).transform("min")


def campaign_waves(campaigns: pd.DataFrame) -> pd.DataFrame:
    """One row per wave, in order of start: ``campaign_id``, ``as_of`` (its first send; NaT when
    no row has a send time) and ``rows``.

    Raises:
        ValueError: ``campaign_id`` or ``sent_ts`` is missing.
    """
    missing = sorted({WAVE_ID, "sent_ts"} - set(campaigns.columns))
    if missing:
        raise ValueError(f"campaigns lack column(s) {missing}: waves need a campaign id and a send time")
    waves = pd.DataFrame(
        {
            WAVE_ID: campaigns[WAVE_ID].astype(str).reset_index(drop=True),
            "as_of": wave_starts(campaigns).reset_index(drop=True),
        }
    )
    summary = waves.groupby(WAVE_ID, sort=False).agg(as_of=("as_of", "first"), rows=("as_of", "size"))
    return summary.reset_index().sort_values(["as_of", WAVE_ID], kind="stable").reset_index(drop=True)


def _wave_part(
    features: pd.DataFrame, members: pd.Series, campaign_id: str, as_of: pd.Timestamp
) -> pd.DataFrame:
    part = features[features["customer_id"].astype(str).isin(set(members.astype(str)))]
    return part.assign(**{WAVE_ID: campaign_id, FEATURES_AS_OF: as_of})


def wave_features(
    tables: Tables,
    settings: FeatureSettings,
    sentiment: SentimentModel | None = None,
    codes: ActivityCodes | None = None,
) -> pd.DataFrame:
    """The features of every wave's customers as of that wave's first send, stacked.

    Each wave's customers get :func:`~segmint.features.customer_features` as of the wave's start;
    customers who signed up at or after it have none (the join with the campaign rows counts them).
    Waves without a send time are left out. One-hot levels that a wave's population lacks are 0.

    Args:
        tables: The canonical tables; ``campaigns`` with ``campaign_id`` and ``sent_ts``.
        settings: The ``features`` section.
        sentiment: As for :func:`~segmint.features.customer_features`.
        codes: :func:`~segmint.features.activity_codes` of ``tables`` (computed once here when None).

    Returns:
        ``campaign_id``, ``features_as_of``, ``customer_id`` and the feature columns, one row per
        wave and customer with features; empty when there are no campaigns.
    """
    campaigns = tables.campaigns
    if campaigns is None or not len(campaigns):
        return pd.DataFrame(columns=[WAVE_ID, FEATURES_AS_OF, "customer_id"])
    ids = campaigns[WAVE_ID].astype(str)
    codes = activity_codes(tables, settings) if codes is None else codes
    parts = [
        _wave_part(
            customer_features(tables, wave.as_of, settings, sentiment, codes),
            campaigns.loc[ids == wave.campaign_id, "customer_id"],
            wave.campaign_id,
            wave.as_of,
        )
        for wave in campaign_waves(campaigns).itertuples()
        if pd.notna(wave.as_of)
    ]
    if not parts:
        return pd.DataFrame(columns=[WAVE_ID, FEATURES_AS_OF, "customer_id"])
    stacked = pd.concat(parts, ignore_index=True)
    columns = [WAVE_ID, FEATURES_AS_OF, *(c for c in stacked.columns if c not in (WAVE_ID, FEATURES_AS_OF))]
    numeric = [c for c in columns[3:] if pd.api.types.is_numeric_dtype(stacked[c])]
    return stacked[columns].fillna(dict.fromkeys(numeric, 0.0))
