"""Hillstrom e-mail benchmark: the pipeline's own uplift selection against tuned peers.

Protocol: Womens E-Mail vs No E-Mail, the target the pipeline trains on (the Hillstrom adapter's
``converted``: a site visit), the features the pipeline computes (``customer_features`` as of the
send date with ``params.yaml → features``: the customers' attributes one-hot, plus tenure).
Each of the seeds 0–4 draws a stratified 50/50 split (treatment × target): everything is fitted on
the training half and scored on the other half.

* The champion is ``fit_uplift`` with ``params.yaml → uplift``, unchanged: the pipeline's own
  learner selection (cross-validated on the training half only), its own seed.
* Peers, fitted on the same rows and scored on the same rows: scikit-uplift's SoloModel, TwoModels
  and ClassTransformation with LightGBM, a logistic T-learner, and the "women's buyers" rule (those
  who bought women's merchandise last year first). Their settings are the ones
  ``python -m benchmarks.uplift_tune`` chose (``benchmarks/results/uplift_tune.json``), with the
  same number of configurations as ours and the same validation splits.

Metrics on the test half: Qini AUC (``sklift.metrics.qini_auc_score``) and uplift@30 %
(``uplift_at_k``, strategy "overall"). The champion is compared with every peer by the per-seed
differences, their mean and a paired t-interval over seeds; a lead whose interval covers 0 is a tie.
The seeds re-split the same rows, so their differences are correlated and the plain t-interval is
too narrow: the interval is the corrected resampled t-test's (Nadeau and Bengio, 2003), whose
variance is the differences' variance times 1/J + n_test/n_train (J seeds), not 1/J.
The best peer is the one with the highest mean Qini AUC over the seeds (the hardest comparison).

Kept-aside split: the split of seed :data:`KEPT_ASIDE_SEED`. Tuning saw only its training half
(inner splits of it); nothing chose anything on its test half. There, the champion's Qini AUC is
compared with each peer fitted on the same rows, with a paired bootstrap over test customers.
Its power is written beside it: the bootstrap's standard deviation of the difference, the smallest
lead its interval can call, and the chance that it calls a lead as large as the seeds' mean.
The seeds' test halves share rows with that training half (for ours and the peers alike); the
kept-aside test half is the comparison that nothing was tuned on.

Run: ``python -m benchmarks.uplift_tune`` once, then ``python -m benchmarks.uplift`` (writes
``benchmarks/results/uplift.json``).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from segmint.adapters import HILLSTROM_SENT_TS, load_source
from segmint.contracts import CONTROL
from segmint.features import customer_features
from segmint.settings import Settings, UpliftSettings, load_settings
from segmint.uplift import feature_matrix, fit_uplift, lgb_classifier

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "uplift.json"
TUNE_RESULTS = ROOT / "benchmarks" / "results" / "uplift_tune.json"
OFFER = "womens_email"
SEEDS = (0, 1, 2, 3, 4)
KEPT_ASIDE_SEED = 2008
TEST_SHARE = 0.5  # of every split, seeds and kept-aside alike
TOP_SHARE = 0.3
BOOTSTRAP_ROUNDS = 500
LGBM_PEERS = ("sklift_solo_lgbm", "sklift_two_models_lgbm", "sklift_class_transformation_lgbm")
PEERS = (*LGBM_PEERS, "logistic_t_learner", "rule_womens_buyers")
CHAMPION = "segmint_champion"


@dataclass(frozen=True)
class HillstromRows:
    """The women's e-mail and control rows, one per customer, as the pipeline sees them.

    Attributes:
        features: The pipeline's features of these customers, in row order (``customer_id`` first).
        campaigns: Their canonical campaign rows, in the same order.
        X: The numeric feature matrix of ``features`` (what every peer fits on).
        treated: 1 for the women's e-mail, 0 for control.
        outcome: The adapter's ``converted`` (a visit).
        womens: Whether the customer bought women's merchandise in the past year (the rule's score).
    """

    features: pd.DataFrame
    campaigns: pd.DataFrame
    X: np.ndarray
    treated: np.ndarray
    outcome: np.ndarray
    womens: np.ndarray


def project_settings() -> Settings:
    """The repository's ``params.yaml``, validated."""
    return load_settings(ROOT / "params.yaml")


def hillstrom_rows(settings: Settings) -> HillstromRows:
    """Hillstrom through the pipeline's door: the adapter, then features as of the send date."""
    tables = load_source("hillstrom")
    assert tables.campaigns is not None
    campaigns = tables.campaigns[tables.campaigns["treatment"].isin([OFFER, CONTROL])]
    features = customer_features(tables, HILLSTROM_SENT_TS, settings.features)
    ordered = campaigns[["customer_id"]].merge(features, on="customer_id", how="inner", validate="1:1")
    if len(ordered) != len(campaigns):
        raise ValueError(f"{len(campaigns) - len(ordered)} campaign rows have no features")
    X, _ = feature_matrix(ordered)
    return HillstromRows(
        features=ordered.reset_index(drop=True),
        campaigns=campaigns.reset_index(drop=True),
        X=X,
        treated=(campaigns["treatment"] == OFFER).to_numpy().astype(int),
        outcome=campaigns["converted"].to_numpy().astype(int),
        womens=ordered["attr_womens"].to_numpy(dtype=float),
    )


def half_split(
    rows: HillstromRows, seed: int, within: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (training, test) row positions of a stratified 50/50 split of ``within`` (default: all)."""
    positions = np.arange(len(rows.outcome)) if within is None else within
    strata = rows.treated[positions] * 2 + rows.outcome[positions]
    train, test = train_test_split(positions, test_size=TEST_SHARE, random_state=seed, stratify=strata)
    return np.sort(train), np.sort(test)


def peer_settings(base: UpliftSettings, config: dict[str, Any], seed: int) -> UpliftSettings:
    """The uplift settings whose LightGBM classifier a LightGBM peer uses: ``config`` on ``base``."""
    return base.model_copy(update={**config, "seed": seed})


@dataclass(frozen=True)
class PeerRun:
    """One peer fit: which peer, its configuration, the LightGBM knobs it does not tune, its seed."""

    name: str
    config: dict[str, Any]
    base: UpliftSettings
    seed: int


def peer_scores(peer: PeerRun, rows: HillstromRows, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The uplift scores of ``peer`` fitted on the ``train`` rows, for the ``test`` rows.

    LightGBM peers use the classifier our tree learners use (``lgb_classifier``) with the peer's
    tuned sizes on the project's other LightGBM knobs (subsampling, L2, one thread).
    """
    from sklift.models import ClassTransformation, SoloModel, TwoModels

    name, config = peer.name, peer.config
    X, y, t = rows.X[train], rows.outcome[train], rows.treated[train]
    if name in LGBM_PEERS:
        settings = peer_settings(peer.base, config, peer.seed)
        if name == "sklift_solo_lgbm":
            model: Any = SoloModel(lgb_classifier(settings))
        elif name == "sklift_two_models_lgbm":
            model = TwoModels(lgb_classifier(settings), lgb_classifier(settings, 1), method="vanilla")
        else:
            model = ClassTransformation(lgb_classifier(settings))
        return np.asarray(model.fit(X, y, t).predict(rows.X[test]), dtype=float)
    if name == "logistic_t_learner":
        fitted = [
            make_pipeline(StandardScaler(), LogisticRegression(C=config["C"], max_iter=2000)).fit(
                X[t == arm], y[t == arm]
            )
            for arm in (1, 0)
        ]
        return fitted[0].predict_proba(rows.X[test])[:, 1] - fitted[1].predict_proba(rows.X[test])[:, 1]
    if name == "rule_womens_buyers":
        return rows.womens[test].copy()
    raise ValueError(f"unknown peer {name!r}; valid peers: {', '.join(PEERS)}")


@dataclass(frozen=True)
class ChampionFit:
    """The pipeline's selection fitted on some rows and its scores for others."""

    scores: np.ndarray
    learner: str
    seconds: float


def champion_scores(
    rows: HillstromRows, train: np.ndarray, test: np.ndarray, settings: UpliftSettings
) -> ChampionFit:
    """``fit_uplift`` (the pipeline's selection with ``settings``) on ``train``, scores for ``test``."""
    started = time.perf_counter()
    selection = fit_uplift(rows.features, rows.campaigns.iloc[train], settings)
    test_features = rows.features.iloc[test]
    predicted = selection.model.predict(test_features)
    uplift = predicted[predicted["offer"] == OFFER].set_index("customer_id")["uplift"]
    scores = uplift.reindex(test_features["customer_id"].astype(str)).to_numpy(dtype=float)
    return ChampionFit(scores, selection.name, time.perf_counter() - started)


def quality(rows: HillstromRows, test: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Qini AUC and uplift@30 % of ``scores`` on the ``test`` rows (scikit-uplift's definitions)."""
    from sklift.metrics import qini_auc_score, uplift_at_k

    y, t = rows.outcome[test], rows.treated[test]
    return {
        "qini_auc": float(qini_auc_score(y, scores, t)),
        "uplift_at_30": float(uplift_at_k(y, scores, t, strategy="overall", k=TOP_SHARE)),
    }


def verdict(low: float, high: float) -> str:
    """``champion better`` when the interval of champion − peer is above 0, ``peer better`` when
    below, else ``tie`` (the lead is inside the noise)."""
    if low > 0:
        return "champion better"
    if high < 0:
        return "peer better"
    return "tie"


def paired_over_seeds(champion: list[float], peer: list[float]) -> dict[str, Any]:
    """Per-seed differences (champion − peer), their mean and a 95 % interval.

    The interval is the corrected resampled t-test's (Nadeau and Bengio, 2003): the seeds' splits
    share rows, so the variance of the mean is the differences' variance times
    ``1/J + n_test/n_train``, not ``1/J``. The plain paired t-interval is kept beside it
    (``uncorrected_interval_95``) to show how much narrower it is; the verdict reads the corrected one.
    """
    diffs = np.asarray(champion) - np.asarray(peer)
    mean, spread, seeds = float(diffs.mean()), float(diffs.std(ddof=1)), len(diffs)
    quantile = float(stats.t.ppf(0.975, seeds - 1))
    half = quantile * spread * float(np.sqrt(1 / seeds + TEST_SHARE / (1 - TEST_SHARE)))
    plain = quantile * spread / float(np.sqrt(seeds))
    return {
        "differences": [float(d) for d in diffs],
        "mean": mean,
        "interval_95": [mean - half, mean + half],
        "uncorrected_interval_95": [mean - plain, mean + plain],
        "verdict": verdict(mean - half, mean + half),
    }


def paired_bootstrap(
    rows: HillstromRows, test: np.ndarray, champion: np.ndarray, peer: np.ndarray, seed: int
) -> dict[str, Any]:
    """Qini AUC difference (champion − peer) on ``test`` and its 95 % paired bootstrap interval
    (the same resampled customers for both, stratified by arm)."""
    from sklift.metrics import qini_auc_score

    rng = np.random.default_rng(seed)
    y, t = rows.outcome[test], rows.treated[test]
    arms = [np.flatnonzero(t == arm) for arm in (0, 1)]
    diffs = []
    for _ in range(BOOTSTRAP_ROUNDS):
        pick = np.concatenate([rng.choice(arm, len(arm)) for arm in arms])
        diffs.append(
            qini_auc_score(y[pick], champion[pick], t[pick]) - qini_auc_score(y[pick], peer[pick], t[pick])
        )
    low, high = (float(q) for q in np.quantile(diffs, [0.025, 0.975]))
    estimate = float(qini_auc_score(y, champion, t) - qini_auc_score(y, peer, t))
    return {
        "difference": estimate,
        "interval_95": [low, high],
        "bootstrap_sd": float(np.std(diffs, ddof=1)),
        "verdict": verdict(low, high),
    }


def power(bootstrap_sd: float, lead: float, test_rows: int) -> dict[str, float | None]:
    """What a split whose difference has ``bootstrap_sd`` can call (normal approximation).

    ``smallest_lead_called``: the lead whose 95 % interval just clears 0. ``chance_to_call_lead``:
    the chance that the interval lies above 0 when the true lead is ``lead``.
    ``test_rows_to_call_lead_at_80``: the test rows a split would need to call ``lead`` with 80 %
    chance, the standard deviation shrinking as one over the square root of the rows (None for
    no lead, which no number of rows calls).
    """
    z = float(stats.norm.ppf(0.975))
    needed_sd = abs(lead) / (z + float(stats.norm.ppf(0.8)))
    return {
        "bootstrap_sd": bootstrap_sd,
        "smallest_lead_called": z * bootstrap_sd,
        "lead": lead,
        "chance_to_call_lead": float(stats.norm.sf(z - lead / bootstrap_sd)),
        "test_rows_to_call_lead_at_80": (
            float(test_rows * (bootstrap_sd / needed_sd) ** 2) if needed_sd > 0 else None
        ),
    }


def tuned_peer_configs() -> dict[str, dict[str, Any]]:
    """Each peer's configuration chosen by ``benchmarks.uplift_tune`` (its results file)."""
    if not TUNE_RESULTS.exists():
        raise SystemExit(
            f"{TUNE_RESULTS.relative_to(ROOT)} missing: run python -m benchmarks.uplift_tune first"
        )
    winners = json.loads(TUNE_RESULTS.read_text())["winners"]
    return {name: winners[name]["config"] for name in PEERS}


def split_results(
    rows: HillstromRows, seed: int, settings: UpliftSettings, configs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Every model fitted on the training half of split ``seed`` and scored on its test half."""
    train, test = half_split(rows, seed)
    scores: dict[str, np.ndarray] = {}
    record: dict[str, Any] = {"seed": seed, "train_rows": int(len(train)), "test_rows": int(len(test))}
    for name in PEERS:
        started = time.perf_counter()
        scores[name] = peer_scores(PeerRun(name, configs[name], settings, seed), rows, train, test)
        record[name] = {**quality(rows, test, scores[name]), "seconds": time.perf_counter() - started}
    champion = champion_scores(rows, train, test, settings)
    scores[CHAMPION] = champion.scores
    record[CHAMPION] = {
        **quality(rows, test, champion.scores),
        "seconds": champion.seconds,
        "learner": champion.learner,
    }
    return {"record": record, "scores": scores, "test": test}


def summary(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of each model's metrics, and the per-seed values."""
    out = {}
    for name in (CHAMPION, *PEERS):
        values = {key: [r[name][key] for r in per_seed] for key in ("qini_auc", "uplift_at_30")}
        out[name] = {
            **{f"{key}_mean": float(np.mean(v)) for key, v in values.items()},
            **{f"{key}_sd": float(np.std(v, ddof=1)) for key, v in values.items()},
            "per_seed": [
                {"seed": r["seed"], "qini_auc": r[name]["qini_auc"], "uplift_at_30": r[name]["uplift_at_30"]}
                for r in per_seed
            ],
        }
    return out


def seeds_benchmark(
    rows: HillstromRows, settings: UpliftSettings, configs: dict[str, dict[str, Any]]
) -> dict:
    """Seeds 0–4: per-seed metrics, their summary, and the paired comparison with every peer."""
    per_seed = []
    for seed in SEEDS:
        per_seed.append(split_results(rows, seed, settings, configs)["record"])
        print(f"  seed {seed}: champion {per_seed[-1][CHAMPION]['qini_auc']:.4f}", flush=True)
    results = summary(per_seed)
    best_peer = max(PEERS, key=lambda name: results[name]["qini_auc_mean"])
    champion = [r[CHAMPION]["qini_auc"] for r in per_seed]
    paired = {
        name: {
            metric: paired_over_seeds(
                [r[CHAMPION][metric] for r in per_seed], [r[name][metric] for r in per_seed]
            )
            for metric in ("qini_auc", "uplift_at_30")
        }
        for name in PEERS
    }
    return {
        "seeds": list(SEEDS),
        "results": results,
        "champion_learner_per_seed": [r[CHAMPION]["learner"] for r in per_seed],
        "best_peer": best_peer,
        "champion_vs_best_peer": paired[best_peer],
        "champion_vs_each_peer": paired,
        "champion_qini_auc_per_seed": champion,
        "seconds_per_seed": {
            name: float(np.mean([r[name]["seconds"] for r in per_seed])) for name in (CHAMPION, *PEERS)
        },
    }


def kept_aside_benchmark(
    rows: HillstromRows, settings: UpliftSettings, configs: dict[str, dict[str, Any]], seeds: dict
) -> dict[str, Any]:
    """The split nothing was tuned on: each model on its test half, champion − peer with a paired
    bootstrap over the test customers, and the power of that comparison for the seeds' mean lead
    over the best peer."""
    best_peer = seeds["best_peer"]
    split = split_results(rows, KEPT_ASIDE_SEED, settings, configs)
    comparisons = {
        name: paired_bootstrap(
            rows, split["test"], split["scores"][CHAMPION], split["scores"][name], KEPT_ASIDE_SEED
        )
        for name in PEERS
    }
    record = split["record"]
    return {
        "seed": KEPT_ASIDE_SEED,
        "train_rows": record["train_rows"],
        "test_rows": record["test_rows"],
        "results": {
            name: {k: v for k, v in record[name].items() if k != "seconds"} for name in (CHAMPION, *PEERS)
        },
        "best_peer": best_peer,
        "champion_qini_auc": record[CHAMPION]["qini_auc"],
        "best_peer_qini_auc": record[best_peer]["qini_auc"],
        "champion_vs_best_peer": comparisons[best_peer],
        "champion_vs_each_peer": comparisons,
        "power_vs_best_peer": power(
            comparisons[best_peer]["bootstrap_sd"],
            seeds["champion_vs_best_peer"]["qini_auc"]["mean"],
            record["test_rows"],
        ),
    }


def protocol(settings: Settings, rows: HillstromRows) -> dict[str, Any]:
    """What was run, in words and settings, for the results file."""
    return {
        "data": "Hillstrom, Womens E-Mail vs No E-Mail, target: the adapter's converted (visit)",
        "rows": int(len(rows.outcome)),
        "features": f"customer_features as of {HILLSTROM_SENT_TS.date()} ({rows.X.shape[1]} columns)",
        "split": "stratified 50/50 (treatment x target); fit on the training half, metrics on the test half",
        "champion": "fit_uplift with params.yaml -> uplift, unchanged",
        "uplift_settings": settings.uplift.model_dump(),
        "peer_configs_from": str(TUNE_RESULTS.relative_to(ROOT)),
        "metrics": "sklift qini_auc_score; uplift_at_k(strategy='overall', k=0.3)",
        "seed_interval": "95 % corrected resampled t-interval over the seeds (Nadeau and Bengio 2003: "
        "variance x (1/J + n_test/n_train), the splits share rows); a lead whose interval covers 0 is a tie",
        "kept_aside": f"seed {KEPT_ASIDE_SEED}; tuning saw only its training half; "
        f"paired bootstrap over test customers ({BOOTSTRAP_ROUNDS} rounds, stratified by arm)",
    }


def main() -> None:
    """Run the seeds and the kept-aside split, print a table, write the results file."""
    warnings.filterwarnings("ignore")
    settings = project_settings()
    configs = tuned_peer_configs()
    rows = hillstrom_rows(settings)
    started = time.perf_counter()
    seeds = seeds_benchmark(rows, settings.uplift, configs)
    kept = kept_aside_benchmark(rows, settings.uplift, configs, seeds)
    out = {
        "protocol": protocol(settings, rows),
        "peer_configs": configs,
        "seeds": seeds,
        "kept_aside": kept,
        "seconds": time.perf_counter() - started,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print_table(out)
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def print_table(out: dict[str, Any]) -> None:
    """The seeds' means and the two comparisons, as a reviewer reads them."""
    seeds, kept = out["seeds"], out["kept_aside"]
    print(f"{'model':34s} {'Qini AUC (seeds)':>20s} {'uplift@30%':>18s} {'Qini kept-aside':>16s}")
    for name, r in sorted(seeds["results"].items(), key=lambda kv: -kv[1]["qini_auc_mean"]):
        print(
            f"{name:34s} {r['qini_auc_mean']:.4f} ± {r['qini_auc_sd']:.4f}   "
            f"{r['uplift_at_30_mean']:.4f} ± {r['uplift_at_30_sd']:.4f} "
            f"{kept['results'][name]['qini_auc']:16.4f}"
        )
    paired = seeds["champion_vs_best_peer"]["qini_auc"]
    print(
        f"champion − {seeds['best_peer']} over seeds: {paired['mean']:+.4f} "
        f"[{paired['interval_95'][0]:+.4f}, {paired['interval_95'][1]:+.4f}] → {paired['verdict']}"
    )
    boot, reach = kept["champion_vs_best_peer"], kept["power_vs_best_peer"]
    needed = reach["test_rows_to_call_lead_at_80"]
    print(
        f"kept-aside: champion − {kept['best_peer']}: {boot['difference']:+.4f} "
        f"[{boot['interval_95'][0]:+.4f}, {boot['interval_95'][1]:+.4f}] → {boot['verdict']}; "
        f"it calls a lead of {reach['smallest_lead_called']:.4f} or more, and the seeds' "
        f"{reach['lead']:+.4f} with chance {reach['chance_to_call_lead']:.2f} "
        f"({'no' if needed is None else f'{needed:,.0f}'} test rows would call it 4 times in 5)"
    )


if __name__ == "__main__":
    main()
