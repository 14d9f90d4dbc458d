"""Customer lifetime value out of time: segmint's CLV model against BG/NBD + Gamma-Gamma and a naive rate.

    python -m benchmarks.clv            # CDNOW and Online Retail 2010-11 → benchmarks/results/clv.json

Protocol, per dataset, with the horizon H = ``features.label_window_days`` from ``params.yaml``:
- the calibration period ends at C = the last order - H; the test period is [C, C + H);
- segmint fits exactly as its features and uplift stages do on data before C: features as of C - H,
  next-period revenue in [C - H, C) as the label (``fit_clv``), then predicts from features as of C;
- BG/NBD + Gamma-Gamma (pymc-marketing, MAP fits) on the repeat-purchase summary of the orders before C:
  expected purchases in H days × expected spend per purchase;
- the naive baseline extrapolates each customer's past spend rate: spend before C / days since their
  first order × H;
- order lines with no customer id are left out (they are nobody's: pooled, they would be one
  pseudo-customer holding a sixth of Online Retail's test revenue);
- every model is scored on the same customers (at least one order before C) against their actual net
  revenue in the test period: Spearman rank correlation, the share of test revenue held by each model's
  top decile, and the mean absolute error. Paired bootstrap intervals (customers resampled) compare
  segmint with each peer; an interval that covers 0 is a tie.

The peers need the ``bench`` requirements (``make bench-install``).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from benchmarks.online_retail_tables import online_retail_tables
from benchmarks.results_file import write_json
from segmint.adapters import load_source
from segmint.clv import fit_clv
from segmint.contracts import Tables
from segmint.features import customer_features, future_labels
from segmint.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "clv.json"
BOOTSTRAP_ROUNDS = 500
SEED = 2026


@dataclass(frozen=True)
class Period:
    """The calibration end and the horizon of one dataset."""

    calibration_end: pd.Timestamp
    horizon_days: int

    @property
    def test_end(self) -> pd.Timestamp:
        return self.calibration_end + pd.Timedelta(days=self.horizon_days)


def _net_orders(tables: Tables) -> pd.DataFrame:
    """Net order lines of identified customers: lines with no customer id (Online Retail's guest
    checkouts) are no customer's, and would otherwise score as one huge pseudo-customer."""
    assert tables.orders is not None
    orders = tables.orders[tables.orders["customer_id"].notna()]
    sign = np.where(orders.get("is_return", pd.Series(False, index=orders.index)).astype(bool), -1.0, 1.0)
    discount = orders["discount"].fillna(0.0) if "discount" in orders else 0.0
    value = sign * orders["quantity"] * orders["unit_price"] * (1.0 - discount)
    return pd.DataFrame(
        {
            "customer_id": orders["customer_id"].astype(str),
            "ts": pd.to_datetime(orders["ts"], utc=True),
            "value": value,
            "purchase": sign > 0,
        }
    )


def segmint_clv(tables: Tables, period: Period) -> pd.Series:
    """Predicted next-period spend by segmint's CLV model, fitted as the pipeline fits it."""
    settings = load_settings(ROOT / "params.yaml")
    cfg = settings.features
    cutoff = period.calibration_end - pd.Timedelta(days=period.horizon_days)
    history = _before(tables, period.calibration_end)
    train = customer_features(history, cutoff, cfg)
    labels = future_labels(history, cutoff, period.horizon_days)
    model = fit_clv(
        train,
        labels,
        seed=settings.clv.seed,
        target="future_revenue",
        max_customers=settings.clv.fit_max_customers,
    )
    scored = model.predict(customer_features(history, period.calibration_end, cfg))
    return scored.set_index("customer_id")["predicted_clv"].clip(lower=0.0)


def _before(tables: Tables, end: pd.Timestamp) -> Tables:
    frames = {}
    for name, frame in tables.items():
        column = "signup_ts" if name == "customers" else "ts" if "ts" in frame.columns else None
        frames[name] = frame if column is None else frame[pd.to_datetime(frame[column], utc=True) < end]
    return Tables.from_mapping(frames)


def _repeat_summary(net: pd.DataFrame, period: Period) -> pd.DataFrame:
    """frequency (repeat purchase days), recency, T (days) and mean repeat spend per customer before C."""
    days = (
        net[net["purchase"] & (net["ts"] < period.calibration_end)]
        .assign(day=lambda d: d["ts"].dt.floor("D"))
        .groupby(["customer_id", "day"], as_index=False)["value"]
        .sum()
    )
    first = days.groupby("customer_id")["day"].transform("min")
    days = days.assign(repeat=days["day"] > first)
    end = period.calibration_end.floor("D")
    grouped = days.groupby("customer_id")
    summary = pd.DataFrame(
        {
            "frequency": grouped["repeat"].sum().astype(float),
            "recency": (grouped["day"].max() - grouped["day"].min()).dt.days.astype(float),
            "T": (end - grouped["day"].min()).dt.days.astype(float),
            "monetary_value": days[days["repeat"]].groupby("customer_id")["value"].mean(),
        }
    )
    return summary.fillna({"monetary_value": 0.0}).rename_axis("customer_id").reset_index()


def bgnbd_gamma_gamma(net: pd.DataFrame, period: Period) -> pd.Series:
    """BG/NBD expected purchases in the horizon × Gamma-Gamma expected spend (pymc-marketing, MAP)."""
    from pymc_marketing import clv

    summary = _repeat_summary(net, period)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        purchases = clv.BetaGeoModel(data=summary[["customer_id", "frequency", "recency", "T"]])
        purchases.fit(method="map", progressbar=False)
        expected = purchases.expected_purchases(future_t=period.horizon_days)
        repeaters = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        spend = clv.GammaGammaModel(data=repeaters[["customer_id", "monetary_value", "frequency"]])
        spend.fit(method="map", progressbar=False)
        per_purchase = spend.expected_customer_spend(
            data=summary.assign(monetary_value=summary["monetary_value"])
        )
    count = np.asarray(expected.mean(dim=[d for d in expected.dims if d != "customer_id"]))
    value = np.asarray(per_purchase.mean(dim=[d for d in per_purchase.dims if d != "customer_id"]))
    return pd.Series(count * value, index=summary["customer_id"].to_numpy())


def naive_rate(net: pd.DataFrame, period: Period) -> pd.Series:
    """Past net spend per day since the first order, times the horizon."""
    past = net[net["ts"] < period.calibration_end]
    first = past[past["purchase"]].groupby("customer_id")["ts"].min()
    spend = past.groupby("customer_id")["value"].sum().reindex(first.index).fillna(0.0)
    days = ((period.calibration_end - first).dt.total_seconds() / 86_400).clip(lower=1.0)
    return (spend / days * period.horizon_days).clip(lower=0.0)


def actual_spend(net: pd.DataFrame, period: Period, customers: pd.Index) -> pd.Series:
    window = net[(net["ts"] >= period.calibration_end) & (net["ts"] < period.test_end)]
    return window.groupby("customer_id")["value"].sum().reindex(customers).fillna(0.0).clip(lower=0.0)


def _metrics(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    top = np.argsort(-predicted, kind="stable")[: max(1, len(predicted) // 10)]
    total = actual.sum()
    return {
        "spearman": float(spearmanr(predicted, actual).statistic),
        "top_decile_revenue_share": float(actual[top].sum() / total) if total > 0 else float("nan"),
        "mae": float(np.abs(predicted - actual).mean()),
    }


def _paired_intervals(
    ours: np.ndarray, peer: np.ndarray, actual: np.ndarray, rng: np.random.Generator
) -> dict[str, Any]:
    differences: dict[str, list[float]] = {"spearman": [], "top_decile_revenue_share": [], "mae": []}
    for _ in range(BOOTSTRAP_ROUNDS):
        rows = rng.integers(0, len(actual), len(actual))
        a, b = _metrics(ours[rows], actual[rows]), _metrics(peer[rows], actual[rows])
        for key in differences:
            differences[key].append(a[key] - b[key])
    out: dict[str, Any] = {}
    for key, values in differences.items():
        low, high = np.quantile(values, [0.025, 0.975])
        better = (low > 0) if key != "mae" else (high < 0)
        worse = (high < 0) if key != "mae" else (low > 0)
        verdict = "segmint better" if better else "segmint worse" if worse else "tie"
        out[key] = {
            "mean": float(np.mean(values)),
            "interval_95": [float(low), float(high)],
            "verdict": verdict,
        }
    return out


def evaluate(name: str, tables: Tables, horizon_days: int) -> dict[str, Any]:
    """The three models on one dataset, scored on the same customers in the test period."""
    net = _net_orders(tables)
    period = Period((net["ts"].max() - pd.Timedelta(days=horizon_days)).floor("D"), horizon_days)
    started = time.perf_counter()
    predictions = {"segmint": segmint_clv(tables, period)}
    fitted = {"segmint": time.perf_counter() - started}
    for peer, fit in (("bgnbd_gamma_gamma", bgnbd_gamma_gamma), ("naive_rate", naive_rate)):
        started = time.perf_counter()
        predictions[peer] = fit(net, period)
        fitted[peer] = time.perf_counter() - started
    customers = predictions["naive_rate"].index  # everyone with a purchase before C
    actual = actual_spend(net, period, customers).to_numpy()
    aligned = {k: v.reindex(customers).fillna(0.0).to_numpy() for k, v in predictions.items()}
    rng = np.random.default_rng(SEED)
    return {
        "calibration_end": period.calibration_end.isoformat(),
        "horizon_days": horizon_days,
        "customers": len(customers),
        "test_revenue": float(actual.sum()),
        "metrics": {k: _metrics(v, actual) for k, v in aligned.items()},
        "segmint_vs": {
            peer: _paired_intervals(aligned["segmint"], aligned[peer], actual, rng)
            for peer in ("bgnbd_gamma_gamma", "naive_rate")
        },
        "fit_seconds": fitted,
    }


def main() -> None:
    horizon = load_settings(ROOT / "params.yaml").features.label_window_days
    datasets = {
        "cdnow": lambda: load_source("cdnow", DATA / "cdnow"),
        "online_retail_2010_2011": online_retail_tables,
    }
    results: dict[str, Any] = {
        "protocol": __doc__.split("Protocol, per dataset,")[1].split("The peers need")[0].strip(),
        "bootstrap_rounds": BOOTSTRAP_ROUNDS,
        "seed": SEED,
    }
    for name, load in datasets.items():
        results[name] = evaluate(name, load(), horizon)
        metrics = results[name]["metrics"]
        print(name, {model: {k: round(v, 4) for k, v in m.items()} for model, m in metrics.items()})
    write_json(RESULTS, results)


if __name__ == "__main__":
    main()
