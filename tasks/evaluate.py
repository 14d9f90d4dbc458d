"""Evaluate: each challenger against its champion on the same evaluation data.

Every model kind is compared in the same shape (:func:`evaluate_pair`): read the evaluation data
once, score the challenger, load and score the champion, then compare the two. What differs by kind
is written down once in :data:`PAIRS` as a :class:`PairSpec`.

A champion that cannot be loaded or scored is recorded as ``champion_error`` (the gate then keeps
it and asks for review); without a champion, the challenger is measured against the kind's trivial
baseline (``baseline``), the bar a first model must clear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

import mlflow
import pandas as pd

from segmint.clv import CLV_TARGET, CLVHoldout, CLVPeriods, clv_holdout, spearman_difference
from segmint.contracts import latest_timestamp
from segmint.evaluation import segmentation_silhouette
from segmint.features import customer_features, future_labels
from segmint.gate import BaselineCheck
from segmint.recommend import (
    Split,
    evaluate_recommender,
    interaction_tables,
    make_recommender,
    paired_bootstrap,
    temporal_split,
)
from segmint.segmentation import segment_stability
from segmint.settings import Settings
from segmint.threads import side_by_side
from segmint.uplift import (
    RANDOM_TARGETING,
    against_permuted_treatments,
    compare_uplift,
    held_out_configuration,
    held_out_summary,
)
from tasks import tracking
from tasks.drift import with_model_columns
from tasks.features import (
    ARROW_TEXT,
    AT_CAMPAIGN,
    CALIBRATION,
    CALIBRATION_LABELS,
    FEATURES,
    LABELS,
    TRAIN,
    trained_sentiment,
)
from tasks.io import read_json, read_parquet, read_pickle, read_tables, write_json
from tasks.paths import ProjectPaths

SILHOUETTE_SAMPLE = 5_000
NAIVE_RATE = "naive past-spend rate"
ERROR_CHARS = 500

DataT = TypeVar("DataT")


@dataclass(frozen=True)
class Scored:
    """One model's result on the evaluation data.

    Attributes:
        quality: the compared metric (higher is better); None when it cannot be measured.
        details: reported under the model's role (``challenger`` / ``champion``) when not None.
        notes: further entries of the evaluation record (e.g. columns the champion lacked).
        raw: what the comparison of the two models needs (assignments, per-customer metrics).
    """

    quality: float | None
    details: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    raw: Any = None


def _nothing_to_compare(new: Scored, old: Scored, settings: Settings) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class PairSpec(Generic[DataT]):
    """How one model kind is evaluated, champion against challenger.

    Attributes:
        kind: the model kind in the registry (``segmenter``, ``recommender``, ``uplift``, ``clv``).
        quality_name: the name of the compared metric.
        filename: the challenger's pickle under ``models/<kind>/``.
        read_data: the evaluation data both models are scored on.
        unwrap: the model inside the registry's champion object.
        score_challenger: the challenger's result on the data.
        score_champion: the champion's result on the data.
        compare: further entries that need both results (stability, paired difference).
        baseline: the challenger against the kind's trivial baseline (used when there is no champion).
    """

    kind: str
    quality_name: str
    filename: str
    read_data: Callable[[Settings, ProjectPaths], DataT]
    unwrap: Callable[[Any], Any]
    score_challenger: Callable[[Any, DataT, Settings], Scored]
    score_champion: Callable[[Any, DataT, Settings], Scored]
    compare: Callable[[Scored, Scored, Settings], dict[str, Any]] = _nothing_to_compare
    baseline: Callable[[Any, Scored, DataT, Settings], BaselineCheck] | None = None


def _challenger(paths: ProjectPaths, kind: str, filename: str) -> tuple[Any | None, str | None]:
    folder = paths.models / kind
    if (folder / "SKIPPED.json").exists() or not (folder / filename).exists():
        skipped = (folder / "SKIPPED.json").read_text() if (folder / "SKIPPED.json").exists() else "no model"
        return None, skipped
    return read_pickle(folder / filename, root=paths.models), None


def _versions(settings: Settings, kind: str) -> dict[str, str | None]:
    return {
        "champion_version": tracking.alias_version(settings, kind, tracking.CHAMPION),
        "challenger_version": tracking.alias_version(settings, kind, tracking.CHALLENGER),
    }


def _with_details(record: dict[str, Any], role: str, scored: Scored) -> dict[str, Any]:
    details = {} if scored.details is None else {role: scored.details}
    return {**record, f"{role}_quality": scored.quality, **details}


def _error_text(exc: BaseException, version: str | None) -> str:
    return f"champion version {version}: {type(exc).__name__}: {exc}"[:ERROR_CHARS]


def _baseline_entry(
    spec: PairSpec[Any], challenger: Any, new: Scored, data: Any, settings: Settings
) -> dict[str, Any]:
    """``baseline``: the challenger against the kind's trivial baseline, or why it was not measured."""
    if spec.baseline is None:
        return {}
    try:
        check = spec.baseline(challenger, new, data, settings)
    except Exception as exc:  # noqa: BLE001 - an unmeasured baseline is recorded; the gate fails closed on it
        check = BaselineCheck(
            baseline="trivial baseline", measure=spec.quality_name, note=f"{type(exc).__name__}: {exc}"
        )
    return {"baseline": asdict(check)}


def evaluate_pair(spec: PairSpec[Any], settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """The challenger of ``spec.kind`` against its champion, scored on the same data.

    Returns:
        ``quality_name``, both versions and ``challenger_quality``; then either the champion's
        result and the comparison, or ``champion_quality`` None with ``champion_error`` when loading,
        scoring or comparing the champion raised (any error; loading checks the champion's files
        against its ``artifact.md5`` tag first, so changed files are a champion failure too), or
        ``champion_quality`` None with ``baseline`` when there is no champion yet. ``skipped``
        instead of any result when no challenger was trained.
    """
    record: dict[str, Any] = {"quality_name": spec.quality_name, **_versions(settings, spec.kind)}
    challenger, skipped = _challenger(paths, spec.kind, spec.filename)
    if challenger is None:
        return {**record, "skipped": skipped}
    data = spec.read_data(settings, paths)
    new = spec.score_challenger(challenger, data, settings)
    record = _with_details(record, "challenger", new)
    try:
        # the champion's files are checked against its artifact hash tag before it is unpickled
        champion = tracking.load_alias(settings, spec.kind, tracking.CHAMPION)
        if champion is None:
            return {
                **record,
                "champion_quality": None,
                **_baseline_entry(spec, challenger, new, data, settings),
            }
        old = spec.score_champion(spec.unwrap(champion), data, settings)
        compared = spec.compare(new, old, settings)
    except Exception as exc:  # noqa: BLE001 - any champion failure is recorded; the gate fails closed on it
        error = _error_text(exc, record.get("champion_version"))
        return {**record, "champion_quality": None, "champion_error": error}
    return {**_with_details({**record, **old.notes}, "champion", old), **compared}


# -- segmenter: silhouette in the common representation, stability against the champion -----------


def _labels(assigned: pd.DataFrame) -> pd.Series:
    """Segment label per customer: the name, with the id when two segments share a name."""
    frame = assigned.set_index("customer_id")
    names = frame["segment_name"].astype(str)
    if frame.groupby(names)["segment_id"].nunique().max() > 1:
        return names + " #" + frame["segment_id"].astype(str)
    return names


def _segmentation_features(settings: Settings, paths: ProjectPaths) -> pd.DataFrame:
    return read_parquet(paths.features / FEATURES)


def _silhouette(features: pd.DataFrame, assigned: pd.DataFrame, settings: Settings) -> Scored:
    quality = segmentation_silhouette(
        features, assigned["segment_id"], SILHOUETTE_SAMPLE, settings.segment.seed
    )
    return Scored(quality, raw=assigned)


def _challenger_segments(model: Any, features: pd.DataFrame, settings: Settings) -> Scored:
    return _silhouette(features, model.assign(features), settings)


def _champion_segments(model: Any, features: pd.DataFrame, settings: Settings) -> Scored:
    aligned, filled = with_model_columns(features, getattr(model, "feature_columns", ()))
    scored = _silhouette(features, model.assign(aligned), settings)
    notes = {"champion_columns_filled_with_zero": filled} if filled else {}
    return Scored(scored.quality, notes=notes, raw=scored.raw)


def _segmenter_baseline(model: Any, new: Scored, features: pd.DataFrame, settings: Settings) -> BaselineCheck:
    """The chosen candidate's bootstrap stability (measured when it was fitted) against its minimum."""
    selection = getattr(model, "selection", None)
    chosen = (
        selection[selection["chosen"].astype(bool)]
        if isinstance(selection, pd.DataFrame) and "chosen" in selection.columns
        else pd.DataFrame()
    )
    stability = float(chosen["stability"].iloc[0]) if len(chosen) else None
    measured = stability is not None and not pd.isna(stability)
    return BaselineCheck(
        baseline="segment.min_stability",
        measure="bootstrap stability (mean ARI of refits on resamples)",
        floor=settings.segment.min_stability,
        estimate=stability if measured else None,
        low=stability if measured else None,
        high=stability if measured else None,
        inclusive=True,
        note=None if measured else "no bootstrap stability recorded (segment.bootstrap_rounds is 0?)",
    )


def _segment_migration(new: Scored, old: Scored, settings: Settings) -> dict[str, Any]:
    stability = segment_stability(_labels(old.raw), _labels(new.raw))
    matrix = stability.migration.pivot_table(
        index="from_segment", columns="to_segment", values="customers", aggfunc="sum", fill_value=0
    ).astype(int)
    return {
        "stability": {"ari": stability.ari, "nmi": stability.nmi},
        "migration": {
            "rows": [str(i) for i in matrix.index],
            "columns": [str(c) for c in matrix.columns],
            "counts": matrix.to_numpy().tolist(),
        },
    }


# -- recommender: NDCG of each configuration refit on the same temporal split ----------------------


@dataclass(frozen=True)
class RecommenderData:
    """The temporal split both recommenders are refit and scored on, and the segments, if any."""

    split: Split
    segments: pd.DataFrame | None


def _recommender_data(settings: Settings, paths: ProjectPaths) -> RecommenderData:
    tables = read_tables(paths.validated, paths, names=interaction_tables(settings.recommend))
    segments_file = paths.segments / "segments.parquet"
    segments = read_parquet(segments_file) if segments_file.exists() else None
    return RecommenderData(temporal_split(tables, settings.recommend), segments)


def _recommender_quality(model: Any, data: RecommenderData, settings: Settings) -> Scored:
    # Both are refit on the same training part of the split: a model fit on all history has seen
    # the test period, so only the configuration of each is compared.
    result = evaluate_recommender(
        lambda: make_recommender(model.name, model.settings), data.split, settings.recommend, data.segments
    )
    details = {"name": model.name, "recall": result["recall"], "coverage": result["coverage"]}
    return Scored(result["ndcg"], details=details, raw=result["per_customer"])


def _paired_difference(new: Scored, old: Scored, settings: Settings) -> dict[str, Any]:
    rounds, seed = settings.recommend.bootstrap_rounds, settings.recommend.seed
    return {"paired_difference": paired_bootstrap(new.raw, old.raw, rounds, seed)}


def _recommender_baseline(
    model: Any, new: Scored, data: RecommenderData, settings: Settings
) -> BaselineCheck:
    """The challenger minus the popularity recommender, both refit on the same split: paired bootstrap."""
    measure = "ndcg difference on the test period (paired bootstrap over customers)"
    if model.name == "popularity":
        return BaselineCheck(baseline="popularity", measure=measure, identical=True)
    popular = _recommender_quality(make_recommender("popularity", settings.recommend), data, settings)
    difference = _paired_difference(new, popular, settings)["paired_difference"]
    return BaselineCheck(
        baseline="popularity",
        measure=measure,
        estimate=difference["diff"],
        low=difference["low"],
        high=difference["high"],
        note=None if settings.recommend.bootstrap_rounds else "recommend.bootstrap_rounds is 0",
    )


# -- uplift: Qini AUC of each configuration refit on the same campaign split -----------------------


@dataclass(frozen=True)
class UpliftData:
    """The customer features at campaign time and the campaign rows both models are refit on."""

    features: pd.DataFrame
    campaigns: pd.DataFrame


def _uplift_data(settings: Settings, paths: ProjectPaths) -> UpliftData:
    tables = read_tables(paths.validated, paths, names=("campaigns",))
    return UpliftData(read_parquet(paths.features / AT_CAMPAIGN), tables.campaigns)


def _uplift_quality(model: Any, data: UpliftData, settings: Settings) -> Scored:
    # A model fit on every campaign row has seen any hold-out: like the recommender, each
    # configuration is refit on the same training part and scored on the same test part.
    held = held_out_configuration(model, data.features, data.campaigns, settings.uplift)
    result = held_out_summary(held, settings.uplift)
    return Scored(result["qini_auc"], details=result, raw=held)


def _uplift_paired_difference(new: Scored, old: Scored, settings: Settings) -> dict[str, Any]:
    """Challenger minus champion test-part Qini AUC, bootstrapped on the same resamples of the same rows."""
    return {"paired_difference": compare_uplift(new.raw.scores, old.raw.scores, settings.uplift).record()}


def _uplift_baseline(model: Any, new: Scored, data: UpliftData, settings: Settings) -> BaselineCheck:
    """The challenger against random targeting: its test-part Qini AUC against refits of its
    configuration on permuted treatments (:func:`segmint.uplift.against_permuted_treatments`)."""
    measure = "qini_auc on the test part minus that of refits on permuted treatments (permutation test)"
    if settings.uplift.null_rounds == 0:
        return BaselineCheck(baseline=RANDOM_TARGETING, measure=measure, note="uplift.null_rounds is 0")
    found = against_permuted_treatments(model, data.features, data.campaigns, settings.uplift, new.raw)
    return BaselineCheck(
        baseline=found.against, measure=measure, estimate=found.difference, low=found.low, high=found.high
    )


# -- clv: the configuration refit on a calibration period, scored on the next period's spend --------


@dataclass(frozen=True)
class CLVData:
    """The out-of-time split both CLV models are refit and scored on, and the refits made on it by
    configuration (:attr:`~segmint.clv.CLVModel.configuration`; the code is the same), so a champion
    of the challenger's configuration is not fitted twice."""

    periods: CLVPeriods
    holdouts: dict[tuple[Any, ...], CLVHoldout] = field(default_factory=dict)


def _clv_data(settings: Settings, paths: ProjectPaths) -> CLVData:
    """The features stage's out-of-time split: features as of C - H with spend in [C - H, C) to refit
    on, its label-cutoff features (as of C) and labels (spend in [C, C + H)) to score; C is that
    stage's label cutoff. Features written before the stage kept the calibration period are computed
    here, as that stage computes them."""
    horizon = settings.features.label_window_days
    calibration, calibration_labels = paths.features / CALIBRATION, paths.features / CALIBRATION_LABELS
    if calibration.exists() and calibration_labels.exists():
        before, spend = read_parquet(calibration), read_parquet(calibration_labels)
    else:
        before, spend = _calibration_period(settings, paths)
    periods = CLVPeriods(
        calibration=before,
        calibration_labels=spend,
        test=read_parquet(paths.features / TRAIN),
        test_labels=read_parquet(paths.features / LABELS),
        horizon_days=horizon,
        target=CLV_TARGET,
    )
    return CLVData(periods)


def _calibration_period(settings: Settings, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features as of C - H and the spend in [C - H, C), from the validated tables."""
    horizon = settings.features.label_window_days
    tables = read_tables(paths.validated, paths, arrow_strings=ARROW_TEXT)  # as the features stage reads
    recorded = read_json(paths.metric("features"), {}).get("label_cutoff")
    cutoff = pd.Timestamp(recorded) if recorded else _label_cutoff(tables, horizon)
    calibration = cutoff - pd.Timedelta(days=horizon)
    sentiment = trained_sentiment(paths)
    return (
        customer_features(tables, calibration, settings.features, sentiment),
        future_labels(tables, calibration, horizon),
    )


def _label_cutoff(tables: Any, horizon: int) -> pd.Timestamp:
    """The features stage's label cutoff when its metrics do not record it: a second after the latest
    record, less the horizon."""
    latest = latest_timestamp(tables)
    end = (latest if latest is not None else pd.Timestamp.now(tz="UTC")) + pd.Timedelta(seconds=1)
    return end - pd.Timedelta(days=horizon)


def _clv_scored(model: Any, data: CLVData) -> Scored:
    configuration = model.configuration
    if configuration not in data.holdouts:
        data.holdouts[configuration] = clv_holdout(model, data.periods)
    holdout = data.holdouts[configuration]
    summary = {**holdout.summary(), "seed": model.seed}
    return Scored(summary["model"]["spearman"], details=summary, raw=holdout)


def _challenger_clv(model: Any, data: CLVData, settings: Settings) -> Scored:
    try:
        return _clv_scored(model, data)
    except ValueError as exc:  # too little history to refit or score: not measurable, so not promoted
        return Scored(None, details={"not_measured": str(exc)})


def _clv_difference(new: Scored, old: Scored, settings: Settings) -> dict[str, Any]:
    """Challenger minus champion test-period Spearman, bootstrapped on the same resampled customers."""
    rounds, seed = settings.clv.bootstrap_rounds, settings.clv.seed
    return {
        "paired_difference": spearman_difference(
            new.raw.predicted, old.raw.predicted, new.raw.actual, rounds, seed
        )
    }


def _clv_baseline(model: Any, new: Scored, data: CLVData, settings: Settings) -> BaselineCheck:
    """The challenger's test-period Spearman minus the naive past-spend rate's (paired bootstrap)."""
    measure = "spearman on the test period minus the naive rate's (paired bootstrap over customers)"
    if new.raw is None:
        return BaselineCheck(baseline=NAIVE_RATE, measure=measure, note="the challenger was not measured")
    rounds, seed = settings.clv.bootstrap_rounds, settings.clv.seed
    found = spearman_difference(new.raw.predicted, new.raw.naive, new.raw.actual, rounds, seed)
    return BaselineCheck(
        baseline=NAIVE_RATE,
        measure=measure,
        estimate=found["diff"],
        low=found["low"],
        high=found["high"],
        note=None if rounds else "clv.bootstrap_rounds is 0",
    )


PAIRS: dict[str, PairSpec[Any]] = {
    "segmenter": PairSpec(
        kind="segmenter",
        quality_name="silhouette",
        filename="segmenter.pkl",
        read_data=_segmentation_features,
        unwrap=lambda champion: champion.segmenter,
        score_challenger=_challenger_segments,
        score_champion=_champion_segments,
        compare=_segment_migration,
        baseline=_segmenter_baseline,
    ),
    "recommender": PairSpec(
        kind="recommender",
        quality_name="ndcg_at_10",
        filename="model.pkl",
        read_data=_recommender_data,
        unwrap=lambda champion: champion.recommender,
        score_challenger=_recommender_quality,
        score_champion=_recommender_quality,
        compare=_paired_difference,
        baseline=_recommender_baseline,
    ),
    "uplift": PairSpec(
        kind="uplift",
        quality_name="qini_auc",
        filename="model.pkl",
        read_data=_uplift_data,
        unwrap=lambda champion: champion.uplift_model,
        score_challenger=_uplift_quality,
        score_champion=_uplift_quality,
        compare=_uplift_paired_difference,
        baseline=_uplift_baseline,
    ),
    "clv": PairSpec(
        kind="clv",
        quality_name="spearman",
        filename="model.pkl",
        read_data=_clv_data,
        unwrap=lambda champion: champion.clv_model,
        score_challenger=_challenger_clv,
        score_champion=lambda model, data, settings: _clv_scored(model, data),
        compare=_clv_difference,
        baseline=_clv_baseline,
    ),
}


def run_evaluate(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Evaluate every model kind's challenger against its champion; writes ``metrics/evaluate.json``.

    The record is also logged to the active MLflow run, with each kind's quality name as a tag.
    """
    tracking.configure_mlflow(settings, paths)
    # CLV's refit is rounds of single-threaded LightGBM fits (the last of five alone on a core); the
    # other kinds read and score mostly in Python. Side by side, each fills the core the other leaves
    # idle; every fit keeps its seed, so the records are those of evaluating the kinds in turn.
    others = [kind for kind in PAIRS if kind != "clv"]
    clv, rest = side_by_side(
        partial(evaluate_pair, PAIRS["clv"], settings, paths),
        lambda: {kind: evaluate_pair(PAIRS[kind], settings, paths) for kind in others},
    )
    result = {kind: clv if kind == "clv" else rest[kind] for kind in PAIRS}
    write_json(paths.metric("evaluate"), result)
    if mlflow.active_run() is not None:
        mlflow.log_dict(result, "evaluate/evaluate.json")
        mlflow.set_tags(
            {f"evaluate.{kind}.quality_name": str(v.get("quality_name")) for kind, v in result.items()}
        )
    return result
