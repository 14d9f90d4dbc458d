"""Campaign: score every customer with the champions and plan the campaign under the budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segmint.campaign import compare_strategies, plan_campaign
from segmint.contracts import CONTROL, Tables, latest_timestamp
from segmint.recommend.interactions import purchased_pairs
from segmint.settings import Settings
from segmint.value import customer_value
from tasks import tracking
from tasks.features import FEATURES
from tasks.io import read_parquet, read_tables, write_json, write_parquet
from tasks.paths import ProjectPaths

SCORES_FILE = "customer_scores.parquet"
UPLIFT_FILE = "uplift_scores.parquet"
PLAN_FILE = "campaign_plan.parquet"
# The columns of each output, in order: the contract the stage writes and its readers and tests rely on.
CUSTOMER_SCORES_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "segment_id",
    "segment_name",
    "value_tier",
    "is_anomalous",
    "anomaly_score",
    "best_offer",
    "expected_incremental_value",
    "recommended_product_ids",
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
class RecommendedLists:
    """The recommendation lists per customer (None without a champion) and what the metrics record."""

    lists: pd.DataFrame | None
    summary: dict[str, Any]


class NoChampionError(RuntimeError):
    """Scoring needs a champion model that the registry does not hold yet."""


def _champion(settings: Settings, kind: str) -> Any | None:
    return tracking.load_alias(settings, kind, tracking.CHAMPION)


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


def _dask_client() -> Any | None:
    """A client of the Dask cluster this stage runs on (DaskTaskRunner), else None."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return None
    from prefect_dask import get_dask_client

    return get_dask_client()


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

    When the stage runs on a Dask cluster (``runtime.task_runner: dask``), customers are scored
    in partitions of ``runtime.dask_partition_customers`` across its workers, the model and the
    exclusions sent once to each; otherwise (or for fewer customers) in one call here.
    """
    size = settings.runtime.dask_partition_customers
    client_context = _dask_client() if settings.runtime.task_runner == "dask" and len(ids) > size else None
    if client_context is None:
        return _recommend_part(ids, model, exclude, n, exclude_seen), 1
    parts = [ids[i : i + size] for i in range(0, len(ids), size)]
    with client_context as client:
        shared_model = client.scatter(model, broadcast=True, hash=False)
        shared_exclude = client.scatter(exclude, broadcast=True, hash=False) if exclude is not None else None
        options = {"n": n, "exclude_seen": exclude_seen, "pure": False}
        futures = client.map(_recommend_part, parts, model=shared_model, exclude=shared_exclude, **options)
        frames = client.gather(futures)
    return pd.concat(frames, ignore_index=True), len(parts)


def _campaign_inputs(paths: ProjectPaths) -> CampaignInputs:
    # events and reviews only set the end of the observed period (the plan's as-of)
    tables = read_tables(
        paths.validated,
        paths,
        names=("orders", "campaigns", "events", "reviews"),
        columns={"events": ["ts"], "reviews": ["ts"]},
    )
    return CampaignInputs(tables, read_parquet(paths.features / FEATURES))


def segment_scores(settings: Settings, paths: ProjectPaths, inputs: CampaignInputs) -> pd.DataFrame:
    """The champion segmenter's segment and the anomaly flag and score of every customer.

    Raises:
        NoChampionError: the registry holds no champion segmenter.
    """
    segmenter = _champion(settings, "segmenter")
    if segmenter is None:
        raise NoChampionError("no champion segmenter in the registry: run `segmint train` first")
    assigned = segmenter.segmenter.assign(inputs.features)
    anomaly = read_parquet(paths.anomaly / "anomaly.parquet")[
        ["customer_id", "is_anomalous", "anomaly_score"]
    ]
    scores = assigned.merge(anomaly, on="customer_id", how="left").fillna(
        {"is_anomalous": False, "anomaly_score": 0.0}
    )
    scores = scores.assign(is_anomalous=scores["is_anomalous"].astype(bool))
    # Customers without any history still get a row: features hold every customer.
    return inputs.tables.customers[["customer_id"]].merge(scores, on="customer_id", how="left")


def _contact_info(scores: pd.DataFrame, inputs: CampaignInputs) -> pd.DataFrame:
    """What the plan weighs per customer besides uplift: segment, anomaly, contacts, expected value."""
    tables = inputs.tables
    contacts = customer_contacts(tables.customers, tables.campaigns)
    info = scores[["customer_id", "segment_id", "is_anomalous"]].merge(contacts, on="customer_id", how="left")
    expected_value = customer_value(inputs.features, tables.campaigns).reindex(info["customer_id"]).to_numpy()
    return info.assign(expected_value=expected_value)


def campaign_plan(settings: Settings, inputs: CampaignInputs, scores: pd.DataFrame) -> CampaignPlan:
    """The champion uplift model's scores and the plan under the budget, or empty ones without it."""
    uplift_model = _champion(settings, "uplift")
    if uplift_model is None:
        return CampaignPlan(
            uplift_scores=_empty(UPLIFT_COLUMNS),
            plan=_empty(PLAN_COLUMNS),
            best_offers=None,
            summary={"plan": {"skipped": "no champion uplift model (no campaign history)"}},
        )
    uplift_scores = uplift_model.uplift_model.predict(inputs.features)
    info = _contact_info(scores, inputs)
    # The plan is made as of the end of the observed data, which contact rules count back from.
    as_of = latest_timestamp(inputs.tables) or pd.Timestamp.now(tz="UTC")
    planned = plan_campaign(uplift_scores, info, settings.campaign, as_of=as_of)
    plan = planned.plan[list(PLAN_COLUMNS)]
    best = plan[plan["group"] == "treatment"][["customer_id", "offer", "expected_incremental_profit"]]
    strategies = compare_strategies(uplift_scores, info, settings.campaign, as_of=as_of)
    return CampaignPlan(
        uplift_scores=uplift_scores,
        plan=plan,
        best_offers=best.rename(
            columns={"offer": "best_offer", "expected_incremental_profit": "expected_incremental_value"}
        ),
        summary={
            "plan": planned.summary.to_dict(orient="records"),
            "exclusions": dict(planned.exclusions),
            "strategies": strategies.to_dict(orient="records"),
        },
    )


def _with_best_offers(scores: pd.DataFrame, best_offers: pd.DataFrame | None) -> pd.DataFrame:
    if best_offers is None:
        return scores.assign(best_offer=None, expected_incremental_value=np.nan)
    return scores.merge(best_offers, on="customer_id", how="left")


def recommended_lists(settings: Settings, ids: list[str], orders: pd.DataFrame | None) -> RecommendedLists:
    """The champion recommender's top-n product ids (as strings) for ``ids``, or none without it."""
    recommender = _champion(settings, "recommender")
    if recommender is None:
        return RecommendedLists(None, {"skipped": "no champion recommender (no orders)"})
    exclude_seen = settings.recommend.exclude_purchased
    exclude = purchased_pairs(orders) if exclude_seen else None
    recs, partitions = recommendations(
        recommender.recommender, ids, settings.recommend.top_n, exclude, exclude_seen, settings
    )
    lists = recs[["customer_id", "recommended_product_ids"]]
    lists = lists.assign(
        recommended_product_ids=lists["recommended_product_ids"].map(lambda v: [str(x) for x in v])
    )
    return RecommendedLists(lists, {"customers": len(ids), "partitions": partitions})


def _with_recommendations(scores: pd.DataFrame, lists: pd.DataFrame | None) -> pd.DataFrame:
    if lists is None:
        scores = scores.assign(recommended_product_ids=[[] for _ in range(len(scores))])
    else:
        scores = scores.merge(lists, on="customer_id", how="left")
    # Customers the recommender returned nothing for get an empty list, not a missing value.
    return scores.assign(
        recommended_product_ids=scores["recommended_product_ids"].map(
            lambda v: list(v) if isinstance(v, (list, np.ndarray)) else []
        )
    )


def _plan_totals(plan: pd.DataFrame) -> dict[str, Any]:
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
    ``uplift_scores.parquet`` and ``campaign_plan.parquet`` (columns :data:`PLAN_COLUMNS`);
    ``metrics/campaign.json`` holds the plan's summary, the strategies compared and its totals.

    Raises:
        NoChampionError: the registry holds no champion segmenter.
    """
    tracking.configure_mlflow(settings, paths)
    inputs = _campaign_inputs(paths)
    segmented = segment_scores(settings, paths, inputs)
    campaign = campaign_plan(settings, inputs, segmented)
    scores = _with_best_offers(segmented, campaign.best_offers)
    recommended = recommended_lists(
        settings, scores["customer_id"].astype(str).tolist(), inputs.tables.orders
    )
    scores = _with_recommendations(scores, recommended.lists)
    write_parquet(paths.outputs / SCORES_FILE, scores[list(CUSTOMER_SCORES_COLUMNS)])
    write_parquet(paths.outputs / UPLIFT_FILE, campaign.uplift_scores)
    write_parquet(paths.outputs / PLAN_FILE, campaign.plan)
    result: dict[str, Any] = {
        "customers": int(len(segmented)),
        **campaign.summary,
        "recommendations": recommended.summary,
        **_plan_totals(campaign.plan),
    }
    write_json(paths.metric("campaign"), result)
    return result
