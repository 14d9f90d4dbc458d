"""Campaign: score every customer with the champions and plan the campaign under the budget."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segmint.campaign import compare_strategies, plan_campaign
from segmint.contracts import CONTROL, latest_timestamp
from segmint.recommend.interactions import purchased_pairs
from segmint.settings import Settings
from segmint.value import customer_value
from tasks import tracking
from tasks.features import FEATURES
from tasks.io import read_parquet, read_tables, write_json, write_parquet
from tasks.paths import ProjectPaths

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


class NoChampionError(RuntimeError):
    """Scoring needs a champion model that the registry does not hold yet."""


def _champion(settings: Settings, kind: str) -> Any | None:
    return tracking.load_alias(settings, kind, tracking.CHAMPION)


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


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


def run_campaign(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    tracking.configure_mlflow(settings, paths)
    # events and reviews only set the end of the observed period (the plan's as-of)
    tables = read_tables(
        paths.validated,
        paths,
        names=("orders", "campaigns", "events", "reviews"),
        columns={"events": ["ts"], "reviews": ["ts"]},
    )
    features = read_parquet(paths.features / FEATURES)
    segmenter = _champion(settings, "segmenter")
    if segmenter is None:
        raise NoChampionError("no champion segmenter in the registry: run `segmint train` first")
    scores = segmenter.segmenter.assign(features)
    anomaly = read_parquet(paths.anomaly / "anomaly.parquet")[
        ["customer_id", "is_anomalous", "anomaly_score"]
    ]
    scores = scores.merge(anomaly, on="customer_id", how="left").fillna(
        {"is_anomalous": False, "anomaly_score": 0.0}
    )
    scores["is_anomalous"] = scores["is_anomalous"].astype(bool)
    # Customers without any history still get a row: features hold every customer.
    scores = tables.customers[["customer_id"]].merge(scores, on="customer_id", how="left")

    uplift_model = _champion(settings, "uplift")
    result: dict[str, Any] = {"customers": int(len(scores))}
    if uplift_model is not None:
        uplift_scores = uplift_model.uplift_model.predict(features)
        contacts = customer_contacts(tables.customers, tables.campaigns)
        info = scores[["customer_id", "segment_id", "is_anomalous"]].merge(
            contacts, on="customer_id", how="left"
        )
        info["expected_value"] = (
            customer_value(features, tables.campaigns).reindex(info["customer_id"]).to_numpy()
        )
        # The plan is made as of the end of the observed data, which contact rules count back from.
        as_of = latest_timestamp(tables) or pd.Timestamp.now(tz="UTC")
        planned = plan_campaign(uplift_scores, info, settings.campaign, as_of=as_of)
        plan = planned.plan[list(PLAN_COLUMNS)]
        best = plan[plan["group"] == "treatment"][["customer_id", "offer", "expected_incremental_profit"]]
        scores = scores.merge(
            best.rename(
                columns={"offer": "best_offer", "expected_incremental_profit": "expected_incremental_value"}
            ),
            on="customer_id",
            how="left",
        )
        result["plan"] = planned.summary.to_dict(orient="records")
        result["exclusions"] = dict(planned.exclusions)
        result["strategies"] = compare_strategies(
            uplift_scores, info, settings.campaign, as_of=as_of
        ).to_dict(orient="records")
    else:
        uplift_scores, plan = _empty(UPLIFT_COLUMNS), _empty(PLAN_COLUMNS)
        scores["best_offer"] = None
        scores["expected_incremental_value"] = np.nan
        result["plan"] = {"skipped": "no champion uplift model (no campaign history)"}

    recommender = _champion(settings, "recommender")
    top_n = settings.recommend.top_n
    ids = scores["customer_id"].astype(str).tolist()
    if recommender is not None:
        exclude = purchased_pairs(tables.orders) if settings.recommend.exclude_purchased else None
        recs, partitions = recommendations(
            recommender.recommender, ids, top_n, exclude, settings.recommend.exclude_purchased, settings
        )
        result["recommendations"] = {"customers": len(ids), "partitions": partitions}
        recs = recs[["customer_id", "recommended_product_ids"]]
        recs["recommended_product_ids"] = recs["recommended_product_ids"].map(lambda v: [str(x) for x in v])
        scores = scores.merge(recs, on="customer_id", how="left")
    else:
        scores["recommended_product_ids"] = [[] for _ in range(len(scores))]
        result["recommendations"] = {"skipped": "no champion recommender (no orders)"}
    scores["recommended_product_ids"] = scores["recommended_product_ids"].map(
        lambda v: list(v) if isinstance(v, (list, np.ndarray)) else []
    )
    columns = [
        "customer_id",
        "segment_id",
        "segment_name",
        "value_tier",
        "is_anomalous",
        "anomaly_score",
        "best_offer",
        "expected_incremental_value",
        "recommended_product_ids",
    ]
    write_parquet(paths.outputs / "customer_scores.parquet", scores[columns])
    write_parquet(paths.outputs / "uplift_scores.parquet", uplift_scores)
    write_parquet(paths.outputs / "campaign_plan.parquet", plan)
    result.update(
        contacted=int(((plan["group"] == "treatment") & plan["offer"].notna()).sum()),
        holdout=int((plan["group"] == "holdout").sum()),
        expected_incremental_profit=float(
            plan.loc[plan["group"] == "treatment", "expected_incremental_profit"].fillna(0).sum()
        ),
    )
    write_json(paths.metric("campaign"), result)
    return result
