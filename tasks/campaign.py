"""Campaign: score every customer with the champions and plan the campaign under the budget.

With a champion uplift model the plan follows its predicted uplift (``plan_kind: uplift``); without
one that can be used (none promoted, or it fails to load or score), offers go out at random with a
larger hold-out (``plan_kind: exploration``) so the wave yields the randomized data a model needs.
A champion segmenter or recommender that is missing or broken leaves its columns empty, with the
reason in the metrics; the stage does not fail on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmint.campaign import compare_strategies, exploration_plan, plan_campaign, segment_calibrated_scores
from segmint.contracts import CONTROL, Tables, latest_timestamp
from segmint.learning import learned_scores, learning_summary
from segmint.profile import exclusion_masks, exclusion_text, is_item_based, offer_reasons, segment_reasons
from segmint.recommend.interactions import purchased_pairs
from segmint.segmentation import clv_tiers
from segmint.settings import Settings
from segmint.value import Valuation, conversion_valuation, customer_value
from tasks import tracking
from tasks.dask_cluster import compute_client, concat_parts, map_partitions
from tasks.features import FEATURES
from tasks.io import read_parquet, read_tables, write_json, write_parquet
from tasks.messages import write_messages
from tasks.paths import ProjectPaths

SCORES_FILE = "customer_scores.parquet"
UPLIFT_FILE = "uplift_scores.parquet"
PLAN_FILE = "campaign_plan.parquet"
# every measured wave's counts per segment × offer (``segmint measure``), which the next plan learns from
HISTORY_FILE = "measurement_history.parquet"
# The columns of each output, in order: the contract the stage writes and its readers and tests rely on.
CUSTOMER_SCORES_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "segment_id",
    "segment_name",
    "value_tier",
    "clv",
    "is_anomalous",
    "anomaly_score",
    "best_offer",
    "expected_incremental_value",
    "recommended_product_ids",
    "segment_reason",
    "anomaly_reasons",
    "offer_reason",
)
UPLIFT_COLUMNS = {
    "customer_id": "object",
    "offer": "object",
    "uplift": "float64",
    "response_probability": "float64",
}
PLAN_COLUMNS = {
    "customer_id": "object",
    "offer": "object",
    "group": "object",
    "expected_incremental_profit": "float64",
}


@dataclass(frozen=True)
class CampaignInputs:
    """The validated tables the plan reads and the customer features the champions score."""

    tables: Tables
    features: pd.DataFrame


@dataclass(frozen=True)
class CampaignPlan:
    """The uplift scores, the plan and what the metrics record about it.

    Attributes:
        uplift_scores: one row per customer and offer (columns of :data:`UPLIFT_COLUMNS`).
        plan: one row per planned customer (columns of :data:`PLAN_COLUMNS`).
        best_offers: ``customer_id``, ``best_offer``, ``expected_incremental_value`` of the treated
            customers; None when there is no champion uplift model.
        summary: the ``plan`` summary, ``exclusions`` and ``strategies`` (or why it was skipped).
    """

    uplift_scores: pd.DataFrame
    plan: pd.DataFrame
    best_offers: pd.DataFrame | None
    summary: dict[str, Any]


@dataclass(frozen=True)
class SegmentedCustomers:
    """Every customer's segment (None without a usable champion segmenter) and anomaly flag.

    Attributes:
        scores: ``customer_id``, ``segment_id``, ``segment_name``, ``value_tier``, ``segment_reason``,
            ``is_anomalous``, ``anomaly_score``, ``anomaly_reasons``, one row per customer.
        note: why the segments are empty, when they are.
    """

    scores: pd.DataFrame
    note: str | None = None


@dataclass(frozen=True)
class Champion:
    """A champion model loaded from the registry, or why there is none to use."""

    model: Any | None
    problem: str | None = None


@dataclass(frozen=True)
class RecommendedLists:
    """The recommendation lists per customer (None without a champion) and what the metrics record."""

    lists: pd.DataFrame | None
    summary: dict[str, Any]


def _champion(settings: Settings, kind: str) -> Champion:
    """The champion of ``kind``; a missing or unloadable one comes with the reason instead."""
    try:
        model = tracking.load_alias(settings, kind, tracking.CHAMPION)
    except Exception as exc:  # noqa: BLE001 - a broken champion is reported and not used, never fatal
        return Champion(None, f"champion {kind} could not be loaded: {type(exc).__name__}: {exc}"[:500])
    return Champion(model, None if model is not None else f"no champion {kind} in the registry")


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def customer_contacts(customers: pd.DataFrame, campaigns: pd.DataFrame | None) -> pd.DataFrame:
    """customer_id, opted_out and last_contact_ts (treated rows of past campaigns)."""
    out = customers[["customer_id"]].copy()
    out["opted_out"] = customers["opted_out"].astype(bool) if "opted_out" in customers else False
    if campaigns is None or not len(campaigns):
        out["last_contact_ts"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
        return out
    treated = campaigns[campaigns["treatment"] != CONTROL]
    last = treated.groupby("customer_id")["sent_ts"].max().rename("last_contact_ts")
    return out.merge(last, on="customer_id", how="left")


def _recommend_part(
    ids: list[str], model: Any, exclude: pd.DataFrame | None, n: int, exclude_seen: bool
) -> pd.DataFrame:
    own = None if exclude is None else exclude[exclude["customer_id"].isin(ids)]
    return model.recommend(ids, n, exclude=own, exclude_seen=exclude_seen)


def recommendations(
    model: Any,
    ids: list[str],
    n: int,
    exclude: pd.DataFrame | None,
    exclude_seen: bool,
    settings: Settings,
) -> tuple[pd.DataFrame, int]:
    """Top-``n`` for ``ids`` and the number of partitions they were scored in.

    On Dask (``runtime.task_runner: dask``, the cluster at ``runtime.dask_address`` when set),
    customers are scored in partitions of ``runtime.dask_partition_customers`` across its workers,
    the model and the exclusions sent once to each; otherwise (or for fewer customers) in one call here.
    """
    size = settings.runtime.dask_partition_customers
    if len(ids) <= size:
        return _recommend_part(ids, model, exclude, n, exclude_seen), 1
    with compute_client(settings.runtime) as client:
        if client is None:
            return _recommend_part(ids, model, exclude, n, exclude_seen), 1
        parts = [ids[i : i + size] for i in range(0, len(ids), size)]
        shared = {"model": model, "exclude": exclude, "n": n, "exclude_seen": exclude_seen}
        results = map_partitions(client, _recommend_part, parts, **shared)
    return concat_parts(results), len(results.parts)


def _uplift_part(features: pd.DataFrame, model: Any) -> pd.DataFrame:
    return model.predict(features)


def uplift_by_partition(model: Any, features: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """``model.predict(features)``, on Dask in partitions of ``runtime.dask_partition_customers``
    customers across the workers (the model sent once to each); the rows come in the same order."""
    size = settings.runtime.dask_partition_customers
    if len(features) <= size:
        return model.predict(features)
    with compute_client(settings.runtime) as client:
        if client is None:
            return model.predict(features)
        parts = [features.iloc[i : i + size] for i in range(0, len(features), size)]
        return concat_parts(map_partitions(client, _uplift_part, parts, model=model))


def _campaign_inputs(paths: ProjectPaths) -> CampaignInputs:
    # events and reviews only set the end of the observed period (the plan's as-of)
    tables = read_tables(
        paths.validated,
        paths,
        names=("orders", "campaigns", "events", "reviews"),
        columns={"events": ["ts"], "reviews": ["ts"]},
    )
    return CampaignInputs(tables, read_parquet(paths.features / FEATURES))


def _anomaly_flags(paths: ProjectPaths) -> pd.DataFrame:
    anomaly_file = paths.anomaly / "anomaly.parquet"
    if not anomaly_file.exists():
        return pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=object),
                "is_anomalous": False,
                "anomaly_score": 0.0,
                "anomaly_reasons": "",
            }
        )
    flags = read_parquet(anomaly_file)
    reasons = flags["anomaly_reasons"] if "anomaly_reasons" in flags.columns else ""
    return flags[["customer_id", "is_anomalous", "anomaly_score"]].assign(anomaly_reasons=reasons)


def segment_scores(settings: Settings, paths: ProjectPaths, inputs: CampaignInputs) -> SegmentedCustomers:
    """The champion segmenter's segment and the anomaly flag and score of every customer.

    Without a usable champion segmenter (none promoted, or it fails to load or assign), the segment
    columns are empty and the note says why.
    """
    champion = _champion(settings, "segmenter")
    note = champion.problem
    assigned = None
    if champion.model is not None:
        try:
            assigned = champion.model.segmenter.assign(inputs.features)
            zscores = champion.model.segmenter.standard_scores(inputs.features)
            assigned = assigned.assign(segment_reason=segment_reasons(zscores))
        except Exception as exc:  # noqa: BLE001 - a champion that cannot score is reported and not used
            note = f"champion segmenter could not assign segments: {type(exc).__name__}: {exc}"[:500]
    if assigned is None:
        assigned = inputs.features[["customer_id"]].assign(
            segment_id=None, segment_name=None, value_tier=None, segment_reason=None
        )
    scores = assigned.merge(_anomaly_flags(paths), on="customer_id", how="left").fillna(
        {"is_anomalous": False, "anomaly_score": 0.0, "anomaly_reasons": ""}
    )
    scores = scores.assign(is_anomalous=scores["is_anomalous"].astype(bool))
    # Customers without any history still get a row: features hold every customer.
    everyone = inputs.tables.customers[["customer_id"]].merge(scores, on="customer_id", how="left")
    return SegmentedCustomers(everyone, note)


def _contact_info(
    scores: pd.DataFrame, inputs: CampaignInputs, values: pd.Series | None = None
) -> pd.DataFrame:
    """What the plan weighs per customer besides uplift: segment, anomaly, contacts, expected value
    (``values`` by customer id, else the shrunk order value)."""
    tables = inputs.tables
    contacts = customer_contacts(tables.customers, tables.campaigns)
    info = scores[["customer_id", "segment_id", "is_anomalous"]].merge(contacts, on="customer_id", how="left")
    values = customer_value(inputs.features, tables.campaigns) if values is None else values
    expected_value = values.reindex(info["customer_id"]).to_numpy()
    return info.assign(expected_value=expected_value)


def _offers_to_explore(settings: Settings, campaigns: pd.DataFrame | None) -> list[str]:
    """Every treatment of past campaigns; without any, the configured offers (``campaign.offers``).

    As for an uplift plan, ``campaign.offers`` prices the offers the shop has run: an offer configured
    there that this shop never sent (a default for another shop) is not explored beside them.
    """
    past = set() if campaigns is None else set(campaigns["treatment"].astype(str)) - {CONTROL}
    return sorted(past) if past else sorted(settings.campaign.offers)


def _exploration(
    settings: Settings, inputs: CampaignInputs, scores: pd.DataFrame, reason: str
) -> CampaignPlan:
    """Random offers within the budget and a larger hold-out, because no uplift model can be used."""
    offers = _offers_to_explore(settings, inputs.tables.campaigns)
    if not offers:
        skipped = f"{reason}, and no offers to explore (no past campaigns, no campaign.offers)"
        nothing = {"plan_kind": None, "plan": {"skipped": skipped}}
        return CampaignPlan(_empty(UPLIFT_COLUMNS), _empty(PLAN_COLUMNS), None, nothing)
    info = _contact_info(scores, inputs)
    as_of = latest_timestamp(inputs.tables) or pd.Timestamp.now(tz="UTC")
    planned = exploration_plan(info, offers, settings.campaign, as_of=as_of)
    summary: dict[str, Any] = {
        "plan_kind": planned.kind,
        "exploration": {
            "reason": reason,
            "offers": offers,
            "holdout_share": settings.campaign.exploration_holdout_share,
        },
        "plan": planned.summary.to_dict(orient="records"),
        "exclusions": dict(planned.exclusions),
    }
    return CampaignPlan(_empty(UPLIFT_COLUMNS), planned.plan[list(PLAN_COLUMNS)], None, summary)


def _uplift_scores(settings: Settings, inputs: CampaignInputs) -> tuple[pd.DataFrame | None, str]:
    """The champion uplift model's scores of every customer, or None and why it cannot be used."""
    champion = _champion(settings, "uplift")
    if champion.model is None:
        return None, f"{champion.problem}: no uplift model is trusted yet"
    try:
        scored = uplift_by_partition(champion.model.uplift_model, inputs.features, settings)
        return scored, "champion uplift model"
    except Exception as exc:  # noqa: BLE001 - a champion that cannot score is reported and not used
        return None, f"champion uplift could not score: {type(exc).__name__}: {exc}"[:500]


def _learned_scores(
    settings: Settings, uplift_scores: pd.DataFrame, scores: pd.DataFrame, history: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The planner's uplift scores after learning from the measured waves, and what was learned."""
    learning = settings.campaign.learning
    if history is None or not len(history) or not learning.enabled or scores["segment_id"].isna().all():
        why = "disabled" if not learning.enabled else "no measured wave or no segments"
        return uplift_scores, {"skipped": why}
    seed = settings.campaign.seed + int(history["wave_key"].nunique())
    learned = learned_scores(uplift_scores, scores[["customer_id", "segment_id"]], history, learning, seed)
    return learned.uplift_scores, learning_summary(learned, history)


def conversion_values(settings: Settings, inputs: CampaignInputs, clv: pd.Series) -> Valuation:
    """The value of one conversion per customer: the shrunk order value or the champion CLV (``clv``,
    by customer id, from :func:`customer_clv`) scaled to one order, whichever predicts past converted
    campaign rows better (:func:`conversion_valuation`)."""
    campaigns = inputs.tables.campaigns
    offers = [] if campaigns is None else sorted(set(campaigns["treatment"].astype(str)) - {CONTROL})
    kept = {offer: 1.0 - settings.campaign.offer(offer).redemption_share for offer in offers}
    return conversion_valuation(inputs.features, campaigns, clv, kept)


def campaign_plan(
    settings: Settings,
    inputs: CampaignInputs,
    scores: pd.DataFrame,
    clv: pd.Series,
    history: pd.DataFrame | None = None,
) -> CampaignPlan:
    """The plan under the budget: by the champion uplift model's scores (moved by what the measured
    waves in ``history`` taught, see :mod:`segmint.learning`; conversions valued with ``clv`` among
    the candidates), else an exploration plan."""
    uplift_scores, reason = _uplift_scores(settings, inputs)
    if uplift_scores is None:
        return _exploration(settings, inputs, scores, reason)
    valuation = conversion_values(settings, inputs, clv)
    info = _contact_info(scores, inputs, valuation.values)
    # The plan is made as of the end of the observed data, which contact rules count back from.
    as_of = latest_timestamp(inputs.tables) or pd.Timestamp.now(tz="UTC")
    # each segment's level from the past randomized campaigns, the ranking within it from the model
    calibrated = segment_calibrated_scores(uplift_scores, scores, inputs.tables.campaigns)
    planner_scores, learning = _learned_scores(settings, calibrated, scores, history)
    planned = plan_campaign(planner_scores, info, settings.campaign, as_of=as_of)
    plan = planned.plan[list(PLAN_COLUMNS)]
    best = plan[plan["group"] == "treatment"][["customer_id", "offer", "expected_incremental_profit"]]
    strategies = compare_strategies(calibrated, info, settings.campaign, as_of=as_of)
    return CampaignPlan(
        uplift_scores=uplift_scores,
        plan=plan,
        best_offers=best.rename(
            columns={"offer": "best_offer", "expected_incremental_profit": "expected_incremental_value"}
        ),
        summary={
            "plan_kind": planned.kind,
            "plan": planned.summary.to_dict(orient="records"),
            "exclusions": dict(planned.exclusions),
            "strategies": strategies.to_dict(orient="records"),
            "learning": learning,
            "valuation": {"name": valuation.name, "errors": valuation.errors},
        },
    )


def _with_best_offers(scores: pd.DataFrame, best_offers: pd.DataFrame | None) -> pd.DataFrame:
    if best_offers is None:
        return scores.assign(best_offer=None, expected_incremental_value=np.nan)
    return scores.merge(best_offers, on="customer_id", how="left")


def recommended_lists(settings: Settings, ids: list[str], orders: pd.DataFrame | None) -> RecommendedLists:
    """The champion recommender's top-n product ids (as strings) for ``ids``, or none without it."""
    champion = _champion(settings, "recommender")
    if champion.model is None:
        return RecommendedLists(None, {"skipped": champion.problem})
    exclude_seen = settings.recommend.exclude_purchased
    exclude = purchased_pairs(orders) if exclude_seen else None
    recs, partitions = recommendations(
        champion.model.recommender, ids, settings.recommend.top_n, exclude, exclude_seen, settings
    )
    lists = recs[["customer_id", "recommended_product_ids"]]  # product ids are text already
    summary = {
        "customers": len(ids),
        "partitions": partitions,
        "model": getattr(champion.model.recommender, "name", None),
        "item_based": is_item_based(champion.model.recommender),
    }
    return RecommendedLists(lists, summary)


def _with_recommendations(scores: pd.DataFrame, lists: pd.DataFrame | None) -> pd.DataFrame:
    if lists is None:
        scores = scores.assign(recommended_product_ids=[[] for _ in range(len(scores))])
    else:
        scores = scores.merge(lists, on="customer_id", how="left")
    # Customers the recommender returned nothing for get an empty list, not a missing value.
    lists_or_missing = scores["recommended_product_ids"].tolist()
    return scores.assign(
        recommended_product_ids=[
            v if type(v) is list else list(v) if isinstance(v, np.ndarray) else [] for v in lists_or_missing
        ]
    )


def _offer_reasons(
    settings: Settings, inputs: CampaignInputs, scores: pd.DataFrame, campaign: CampaignPlan
) -> pd.Series:
    """Why each customer gets their offer, is held out or gets nothing (``offer_reason``)."""
    contacts = customer_contacts(inputs.tables.customers, inputs.tables.campaigns)
    info = scores[["customer_id", "is_anomalous"]].merge(contacts, on="customer_id", how="left")
    days = settings.campaign.min_days_between_contacts
    broken = exclusion_text(exclusion_masks(info, days, latest_timestamp(inputs.tables)), days)
    reasons = offer_reasons(
        campaign.plan,
        campaign.uplift_scores,
        pd.Series(broken, index=info["customer_id"].astype(str).to_numpy()),
        campaign.summary.get("plan_kind"),
    )
    return scores["customer_id"].astype(str).map(reasons).fillna("not in the campaign plan")


def customer_clv(settings: Settings, features: pd.DataFrame) -> tuple[pd.Series, str | None]:
    """Predicted next-period spend (non-negative) by customer id from the champion CLV model, scored
    on the current features; empty, with the reason, when there is no usable champion."""
    champion = _champion(settings, "clv")
    if champion.model is None:
        return pd.Series(dtype=float), f"{champion.problem}: clv is empty"
    try:
        predicted = champion.model.clv_model.predict(features)
    except Exception as exc:  # noqa: BLE001 - a champion that cannot score is reported and not used
        return pd.Series(dtype=float), f"champion clv could not score: {type(exc).__name__}: {exc}"[:500]
    return predicted.set_index("customer_id")["predicted_clv"].clip(lower=0.0), None


def with_value_tiers(settings: Settings, scores: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``value_tier`` from predicted CLV (``clv.tier_quantiles``) when any customer has one, else the
    segmenter's RFM tiers as they are; with what the metrics record: the source and the counts."""
    source = "rfm"
    if scores["clv"].notna().any():
        scores = scores.assign(value_tier=clv_tiers(scores["clv"], settings.clv.tier_quantiles).to_numpy())
        source = "clv"
    counts = scores["value_tier"].dropna().astype(str).value_counts()
    return scores, {"source": source, "counts": {str(k): int(v) for k, v in counts.items()}}


def _plan_totals(plan: pd.DataFrame) -> dict[str, Any]:
    # An exploration plan's rows claim no incremental profit (0): there is no model to expect it from.
    treated = plan["group"] == "treatment"
    return {
        "contacted": int((treated & plan["offer"].notna()).sum()),
        "holdout": int((plan["group"] == "holdout").sum()),
        "expected_incremental_profit": float(
            plan.loc[treated, "expected_incremental_profit"].fillna(0).sum()
        ),
    }


def run_campaign(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Score every customer with the champions and plan the campaign; writes ``outputs/`` and the metrics.

    Outputs are ``customer_scores.parquet`` (columns :data:`CUSTOMER_SCORES_COLUMNS`),
    ``uplift_scores.parquet`` and ``campaign_plan.parquet`` (columns :data:`PLAN_COLUMNS`, with
    ``plan_kind`` in its metadata), and the contacted customers' messages (``messages.parquet``,
    ``message_examples.parquet``); ``metrics/campaign.json`` holds ``plan_kind``, the plan's
    summary, the strategies compared (uplift plans), the messages written and its totals.
    """
    tracking.configure_mlflow(settings, paths)
    tracking.tag_champion_versions(settings)
    inputs = _campaign_inputs(paths)
    segmented = segment_scores(settings, paths, inputs)
    history_file = paths.outputs / HISTORY_FILE
    history = read_parquet(history_file) if history_file.exists() else None
    # the champion CLV is loaded and scored once: it values conversions and fills customer_scores.clv
    clv, clv_note = customer_clv(settings, inputs.features)
    campaign = campaign_plan(settings, inputs, segmented.scores, clv, history)
    scores = _with_best_offers(segmented.scores, campaign.best_offers)
    recommended = recommended_lists(
        settings, scores["customer_id"].astype(str).tolist(), inputs.tables.orders
    )
    scores = _with_recommendations(scores, recommended.lists)
    scores = scores.assign(offer_reason=_offer_reasons(settings, inputs, scores, campaign).to_numpy())
    scores = scores.assign(clv=scores["customer_id"].astype(str).map(clv).astype(float).to_numpy())
    scores, tiers = with_value_tiers(settings, scores)
    plan = campaign.plan.copy()
    plan.attrs = {
        "plan_kind": campaign.summary.get("plan_kind"),
        "learning": campaign.summary.get("learning"),
        "valuation": (campaign.summary.get("valuation") or {}).get("name"),
    }
    write_parquet(paths.outputs / SCORES_FILE, scores[list(CUSTOMER_SCORES_COLUMNS)])
    write_parquet(paths.outputs / UPLIFT_FILE, campaign.uplift_scores)
    write_parquet(paths.outputs / PLAN_FILE, plan)
    messages = write_messages(paths)
    result: dict[str, Any] = {
        "customers": int(len(segmented.scores)),
        **({"segments": {"skipped": segmented.note}} if segmented.note else {}),
        **campaign.summary,
        "recommendations": recommended.summary,
        "messages": messages,
        **({"clv": {"skipped": clv_note}} if clv_note else {}),
        "value_tiers": tiers,
        **_plan_totals(campaign.plan),
    }
    write_json(paths.metric("campaign"), result)
    return result
