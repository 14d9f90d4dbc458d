"""Waves that learn: measured treated/hold-out counts per segment × offer, kept across waves, update the
uplift model's view of each pair before the next plan.

Each measured wave adds its counts to a history (:func:`wave_counts`, :func:`appended_history`). Before
planning, every segment × offer pair gets Beta posteriors of its treated and hold-out conversion rates
(:func:`pair_posteriors`): the prior is the model's mean predicted rates over the pair's customers,
worth ``prior_weight`` customers per arm, and every measured wave of the pair adds its counts. A pair
whose P(uplift > 0) falls below ``stop_below`` is not sent; every other pair's predicted uplifts move
by its posterior mean minus its prior mean, so the plan keeps the model's ranking inside a pair and
takes its level from what was measured (:func:`learned_scores`). A seeded random ``exploration_share``
of customers is Thompson-sampled instead: each of their scores moves to its own draw from the pair's
posterior, stopped pairs included, so every pair keeps being measured in proportion to the chance that
it is good. (Moving every customer by one draw per pair sent a whole segment of high-value customers
on a coin flip: on the planted trap of ``tests/model/test_learning_waves.py`` that lost more than the
trap cost.)

The posteriors pool waves as if the pair's effect did not change between them, and treat a segment's
customers as exchangeable within a pair: both stop being right when the effect drifts over time or
when the plan picks very different customers of a segment from one wave to the next.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmint.settings import LearningSettings

HISTORY_COLUMNS: dict[str, str] = {
    "wave_key": "object",
    "campaign_id": "object",
    "outcomes_file": "object",
    "segment_id": "object",
    "offer": "object",
    "n_treated": "int64",
    "n_holdout": "int64",
    "conversions_treated": "float64",
    "conversions_holdout": "float64",
    "revenue_treated": "float64",
    "revenue_holdout": "float64",
}
_COUNTS = ("n_treated", "n_holdout", "conversions_treated", "conversions_holdout")
_POSTERIOR_DRAWS = 4000
# keeps a Beta prior proper when the model predicts a rate of 0 or 1
_RATE_FLOOR = 1e-3


@dataclass(frozen=True)
class LearnedScores:
    """The planner's input after learning, and what was learned.

    Attributes:
        uplift_scores: the model's scores with stopped pairs removed and the rest moved to their draw
            (exploration customers keep the model's scores).
        pairs: one row per segment × offer (see :func:`pair_posteriors`).
        explorers: how many customers kept the model's scores.
    """

    uplift_scores: pd.DataFrame
    pairs: pd.DataFrame
    explorers: int


def outcomes_key(outcomes: pd.DataFrame) -> str:
    """A fingerprint of an outcomes table's content, the same whatever its row order."""
    rows = outcomes.sort_values(list(outcomes.columns)).reset_index(drop=True)
    hashed = pd.util.hash_pandas_object(rows, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def wave_counts(
    plan: pd.DataFrame,
    outcomes: pd.DataFrame,
    segments: pd.DataFrame | None,
    wave_key: str,
    outcomes_file: str,
) -> pd.DataFrame:
    """One history row per segment × offer of a measured wave: arm sizes, conversions and revenue.

    Args:
        plan: ``[customer_id, offer, group]`` as executed; rows without an offer were not contacted.
        outcomes: the wave's campaign rows; a planned customer without one did not convert.
        segments: ``[customer_id, segment_id]``; without it every row is segment ``"all"``.
        wave_key: the wave's identity in the history (see :func:`outcomes_key`).
        outcomes_file: where the outcomes came from, recorded with the rows.

    Returns:
        Columns :data:`HISTORY_COLUMNS`, segment ids as strings.
    """
    planned = plan.loc[plan["offer"].notna(), ["customer_id", "offer", "group"]]
    planned = planned.assign(customer_id=planned["customer_id"].astype(str))
    result = outcomes.assign(customer_id=outcomes["customer_id"].astype(str))
    result = result.groupby("customer_id")[["converted", "revenue"]].max().reset_index()
    rows = planned.merge(result, on="customer_id", how="left").fillna({"converted": 0, "revenue": 0.0})
    if segments is None:
        rows = rows.assign(segment_id="all")
    else:
        seg = segments.assign(customer_id=segments["customer_id"].astype(str))[["customer_id", "segment_id"]]
        rows = rows.merge(seg, on="customer_id", how="left")
    rows = rows.assign(segment_id=rows["segment_id"].astype(str), treated=rows["group"] == "treatment")
    arms = rows.groupby(["segment_id", "offer", "treated"]).agg(
        n=("converted", "size"), conversions=("converted", "sum"), revenue=("revenue", "sum")
    )
    wide = arms.unstack("treated", fill_value=0)
    counts = pd.DataFrame(index=wide.index)
    for arm, flag in (("treated", True), ("holdout", False)):
        for name in ("n", "conversions", "revenue"):
            counts[f"{name}_{arm}"] = wide[(name, flag)] if (name, flag) in wide.columns else 0
    counts = counts.reset_index().assign(
        wave_key=wave_key, campaign_id=_campaign_id(outcomes), outcomes_file=outcomes_file
    )
    return counts[list(HISTORY_COLUMNS)].astype(HISTORY_COLUMNS)


def _campaign_id(outcomes: pd.DataFrame) -> str | None:
    ids = sorted(outcomes["campaign_id"].astype(str).unique()) if "campaign_id" in outcomes else []
    return ",".join(ids) or None


def appended_history(history: pd.DataFrame | None, wave: pd.DataFrame) -> pd.DataFrame:
    """``history`` with ``wave``'s rows in place of any earlier rows of the same wave: measuring the
    same outcomes again replaces them rather than counting them twice."""
    if history is None or not len(history):
        return wave.reset_index(drop=True)
    kept = history[~history["wave_key"].isin(set(wave["wave_key"]))]
    return pd.concat([kept, wave], ignore_index=True)[list(HISTORY_COLUMNS)].astype(HISTORY_COLUMNS)


def _priors(uplift_scores: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    # Per segment × offer: the model's mean uplift and mean treated and hold-out conversion rates.
    seg = segments.assign(customer_id=segments["customer_id"].astype(str), segment_id=segments["segment_id"])
    scored = uplift_scores.assign(customer_id=uplift_scores["customer_id"].astype(str)).merge(
        seg[["customer_id", "segment_id"]].dropna().astype({"segment_id": str}), on="customer_id"
    )
    scored = scored.assign(
        offer=scored["offer"].astype(str), treated_rate=scored.get("response_probability", np.nan)
    )
    priors = scored.groupby(["segment_id", "offer"]).agg(
        prior_uplift=("uplift", "mean"), treated_rate=("treated_rate", "mean"), customers=("uplift", "size")
    )
    treated = priors["treated_rate"].fillna(priors["prior_uplift"].clip(lower=0.0))
    holdout = (treated - priors["prior_uplift"]).clip(_RATE_FLOOR, 1 - _RATE_FLOOR)
    return priors.assign(
        prior_treated=treated.clip(_RATE_FLOOR, 1 - _RATE_FLOOR), prior_holdout=holdout
    ).reset_index()


def _with_counts(priors: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
    if history is None or not len(history):
        return priors.assign(**{name: 0.0 for name in _COUNTS}, waves=0)
    pooled = history.assign(segment_id=history["segment_id"].astype(str), offer=history["offer"].astype(str))
    sums = pooled.groupby(["segment_id", "offer"]).agg(
        **{name: (name, "sum") for name in _COUNTS}, waves=("wave_key", "nunique")
    )
    merged = priors.merge(sums.reset_index(), on=["segment_id", "offer"], how="left")
    return merged.fillna({**{name: 0.0 for name in _COUNTS}, "waves": 0})


def _beta_parameters(pairs: pd.DataFrame, weight: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    # Each arm's Beta posterior: a uniform Beta(1, 1), the model's rate worth ``weight`` customers and
    # the measured conversions among the measured customers.
    out = {}
    for arm in ("treated", "holdout"):
        prior = pairs[f"prior_{arm}"].to_numpy(dtype=np.float64)
        n = pairs[f"n_{arm}"].to_numpy(dtype=np.float64)
        hits = pairs[f"conversions_{arm}"].to_numpy(dtype=np.float64)
        out[arm] = (1 + weight * prior + hits, 1 + weight * (1 - prior) + n - hits)
    return out


def _uplift_draws(
    parameters: dict[str, tuple[np.ndarray, np.ndarray]], rows: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    # Treated minus hold-out rate drawn from the arms' posteriors of the pairs ``rows`` (any shape).
    treated, holdout = (rng.beta(a[rows], b[rows]) for a, b in parameters.values())
    return treated - holdout


def _shares(pairs: pd.DataFrame, draws: np.ndarray) -> np.ndarray:
    # Per segment, how often each offer's sampled uplift is the highest.
    shares = np.zeros(len(pairs))
    for _, index in pairs.groupby("segment_id").indices.items():
        wins = np.bincount(draws[index].argmax(axis=0), minlength=len(index))
        shares[index] = wins / draws.shape[1]
    return shares


def pair_posteriors(
    uplift_scores: pd.DataFrame,
    segments: pd.DataFrame,
    history: pd.DataFrame | None,
    settings: LearningSettings,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Per segment × offer: the model's prior, the pooled measured counts and the posterior of uplift.

    Returns:
        ``segment_id`` (str), ``offer``, ``customers``, ``prior_uplift``, ``prior_treated``,
        ``prior_holdout``, the pooled ``n_treated``, ``n_holdout``, ``conversions_treated``,
        ``conversions_holdout``, ``waves``, and the posterior's ``posterior_uplift`` (mean),
        ``prob_positive``, ``share`` (P(best offer of its segment)) and ``stopped``
        (P(uplift > 0) < ``stop_below``).
    """
    pairs = _with_counts(_priors(uplift_scores, segments), history).reset_index(drop=True)
    parameters = _beta_parameters(pairs, settings.prior_weight)
    rows = np.repeat(np.arange(len(pairs))[:, None], _POSTERIOR_DRAWS, axis=1)
    draws = _uplift_draws(parameters, rows, rng)
    prob_positive = (draws > 0).mean(axis=1)
    return pairs.assign(
        posterior_uplift=draws.mean(axis=1),
        prob_positive=prob_positive,
        share=_shares(pairs, draws),
        stopped=prob_positive < settings.stop_below,
    ).drop(columns=["treated_rate"])


def _keyed_scores(uplift_scores: pd.DataFrame, segments: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    # The scores with the row number of their pair in ``pairs`` (-1: the customer has no segment).
    seg = segments.assign(customer_id=segments["customer_id"].astype(str))[["customer_id", "segment_id"]]
    keyed = uplift_scores.assign(
        customer_id=uplift_scores["customer_id"].astype(str), offer=uplift_scores["offer"].astype(str)
    ).merge(seg.dropna().astype({"segment_id": str}), on="customer_id", how="left")
    index = pairs[["segment_id", "offer"]].assign(pair=np.arange(len(pairs)))
    keyed = keyed.merge(index, on=["segment_id", "offer"], how="left")
    return keyed.assign(pair=keyed["pair"].fillna(-1).astype(np.int64))


def learned_scores(
    uplift_scores: pd.DataFrame,
    segments: pd.DataFrame,
    history: pd.DataFrame | None,
    settings: LearningSettings,
    seed: int,
) -> LearnedScores:
    """The planner's uplift scores after learning from the measured waves in ``history``.

    Most customers' scores move by their pair's posterior mean minus its prior mean, and stopped pairs
    are removed. A seeded random ``exploration_share`` of customers learns instead: each of their
    scores moves by its own Thompson draw from the pair's posterior minus the prior mean, and nothing
    is removed, so a stopped pair gets a send now and then in proportion to P(its uplift is high).

    Args:
        uplift_scores: ``[customer_id, offer, uplift, response_probability]`` from the model.
        segments: ``[customer_id, segment_id]``; customers without a segment keep the model's scores.
        history: measured waves (columns :data:`HISTORY_COLUMNS`), or None.
        settings: the ``campaign.learning`` section.
        seed: seed of the posterior draws and of the exploration customers.

    Returns:
        The adjusted scores (same columns as ``uplift_scores``), the pairs and the number of
        exploration customers.
    """
    rng = np.random.default_rng(seed)
    pairs = pair_posteriors(uplift_scores, segments, history, settings, rng)
    customers = np.sort(uplift_scores["customer_id"].astype(str).unique())
    explorers = set(customers[rng.random(len(customers)) < settings.exploration_share])
    keyed = _keyed_scores(uplift_scores, segments, pairs)
    pair = keyed["pair"].to_numpy()
    paired = pair >= 0
    exploring = paired & keyed["customer_id"].isin(explorers).to_numpy()
    level = np.where(paired, pairs["posterior_uplift"].to_numpy()[pair], 0.0)
    parameters = _beta_parameters(pairs, settings.prior_weight)
    level[exploring] = _uplift_draws(parameters, pair[exploring], rng)
    shift = np.where(paired, level - pairs["prior_uplift"].to_numpy()[pair], 0.0)
    adjusted = keyed.assign(uplift=keyed["uplift"] + shift)
    if "response_probability" in adjusted:
        moved = (adjusted["response_probability"] + shift).clip(0.0, 1.0)
        adjusted = adjusted.assign(response_probability=moved)
    stopped = paired & ~exploring & pairs["stopped"].to_numpy()[pair]
    kept = adjusted.loc[~stopped, list(uplift_scores.columns)].reset_index(drop=True)
    return LearnedScores(uplift_scores=kept, pairs=pairs, explorers=len(explorers))


def learning_summary(learned: LearnedScores, history: pd.DataFrame) -> dict[str, Any]:
    """What the metrics and the plan's metadata record: waves learned from, stopped pairs and shares."""
    stopped = learned.pairs[learned.pairs["stopped"]]
    columns = ["segment_id", "offer", "prior_uplift", "posterior_uplift", "prob_positive", "share", "stopped"]
    return {
        "waves": int(history["wave_key"].nunique()),
        "explorers": learned.explorers,
        "stopped": stopped[["segment_id", "offer", "prob_positive"]].to_dict(orient="records"),
        "pairs": learned.pairs[columns].to_dict(orient="records"),
    }
