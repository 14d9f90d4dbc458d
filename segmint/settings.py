"""One frozen, validated settings object read from ``params.yaml``.

Each pipeline stage has its own section. Unknown keys, out-of-range values and names outside an
allow-list raise :class:`SettingsError` naming the offending key (and, for a name, the valid ones), so
a typo never becomes a silent default or a failure halfway through a run.

Every setting chosen by name is a ``Literal`` type exported here (:data:`SegmentAlgorithm`,
:data:`RecommenderName`, ...), so library signatures can say which names they take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from segmint.contracts import EventType

# Allow-lists. Each library registry keyed by these names lists them in the same order.
SegmentAlgorithm = Literal["kmeans", "gmm", "hdbscan", "agglomerative"]
RecommenderName = Literal[
    "popularity", "recent_popularity", "itemknn", "rp3beta", "ease", "als", "torch", "blend"
]
# purchase value: "binary", "count" (orders) or "log" (log1p orders)
InteractionValue = Literal["binary", "count", "log"]
# item-kNN weighting of the customer × item matrix
KnnSimilarity = Literal["cosine", "bm25"]
TorchArchitecture = Literal["linear_dae", "mult_dae"]
UpliftLearnerName = Literal[
    "s_learner",
    "t_learner",
    "x_learner",
    "logistic_t_learner",
    "class_transformation",
    "transformed_outcome",
    "uplift_tree",
    "bagged_tree",
    "ensemble",
]
SelectionRule = Literal["best", "one_se"]
# Evidently's per-column drift tests (p-value tests and distances; see its drift-method docs)
DriftMethod = Literal[
    "wasserstein",
    "jensenshannon",
    "ks",
    "chisquare",
    "z",
    "psi",
    "kl_div",
    "hellinger",
    "anderson",
    "cramer_von_mises",
    "mannw",
    "ed",
    "es",
    "t_test",
    "TVD",
    "g_test",
    "fisher_exact",
]
TaskRunner = Literal["local", "dask"]
# The pipeline stages, in training order (``tasks.stages.STAGES`` holds one spec per name).
StageName = Literal[
    "validate",
    "features",
    "segment",
    "anomaly",
    "recommend",
    "uplift",
    "evaluate",
    "gate",
    "campaign",
    "report",
]


class _Section(BaseModel):
    """Base of every section: frozen, and an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SettingsError(ValueError):
    """A params file that does not validate; the message names each bad key."""


class ProjectSettings(_Section):
    """The project's name and its master seed."""

    seed: int = Field(42, ge=0)
    name: str = "segmint"


# The generator's archetypes and offers a trap may name (``segmint.generate`` lists them in this order).
TrapArchetype = Literal[
    "loyal", "bargain_hunter", "new", "lapsing", "window_shopper", "bulk_reseller", "casual"
]
TrapOffer = Literal["discount_10", "free_shipping"]


class TrapSettings(_Section):
    """A planted segment × offer trap: the generated history shows the archetype's usual effect of
    the offer, while in new waves (``segmint generate --outcomes-for``) its true uplift is ``uplift``."""

    archetype: TrapArchetype = "window_shopper"
    offer: TrapOffer = "free_shipping"
    uplift: float = Field(-0.1, ge=-1.0, le=1.0)


class GenerateSettings(_Section):
    """The synthetic shop: its size, anomaly rate, drift, campaign waves and seed.

    ``waves`` randomised campaign waves are sent 14 days apart, the first 60 days before the period
    end, so up to four fit with their 14-day outcome windows inside the period.
    """

    customers: int = Field(20_000, ge=50)
    products: int = Field(500, ge=20)
    days: int = Field(365, ge=60)
    anomaly_rate: float = Field(0.02, ge=0.0, le=0.2)
    drift: float = Field(0.0, ge=0.0, le=1.0)
    waves: int = Field(1, ge=1, le=4)
    seed: int = Field(7, ge=0)
    # None: new waves have the history's effects; set: truth/effects.parquet holds the trapped ones
    trap: TrapSettings | None = None


class ValidateSettings(_Section):
    """Validation gates and row-rule thresholds (:mod:`segmint.validation`)."""

    max_quarantine_share: float = Field(0.10, ge=0.0, le=1.0)
    max_duplicate_key_share: float = Field(0.05, ge=0.0, le=1.0)
    future_tolerance_hours: float = Field(24.0, ge=0.0)
    min_row_ratio: float = Field(0.2, ge=0.0, le=1.0)
    max_row_ratio: float = Field(5.0, ge=1.0)
    max_unattributed_share: float = Field(0.5, ge=0.0, le=1.0)
    max_price: float = Field(1e6, gt=0.0)
    max_text_chars: int = Field(20_000, ge=100)
    seed: int = Field(31, ge=0)


class FeatureSettings(_Section):
    """Customer features: label window, recency windows, text and category features."""

    label_window_days: int = Field(90, ge=7)
    recency_windows_days: tuple[int, ...] = (30, 90)
    top_categories: int = Field(12, ge=1, le=50)
    sentiment_min_reviews: int = Field(200, ge=10)
    # the sentiment model learns from at most this many reviews (a seeded sample); all are scored
    sentiment_max_train_reviews: int = Field(50_000, ge=100)
    keywords_per_customer: int = Field(3, ge=0, le=20)
    onehot_max_levels: int = Field(8, ge=0, le=100)
    burst_days: int = Field(7, ge=1)
    seed: int = Field(11, ge=0)


class SegmentSettings(_Section):
    """Segmentation: candidate algorithms, the range of k, stability and the columns clustered."""

    algorithms: tuple[SegmentAlgorithm, ...] = ("kmeans",)
    k_min: int = Field(4, ge=2)
    k_max: int = Field(10, ge=2)
    sample_size: int = Field(20_000, ge=500)
    bootstrap_rounds: int = Field(3, ge=0, le=50)
    n_init: int = Field(4, ge=1)
    eval_sample_size: int = Field(3_000, ge=200)
    min_stability: float = Field(0.8, ge=0.0, le=1.0)
    pca_variance: float | None = Field(None, gt=0.0, le=1.0)
    include_attributes: bool = False
    # Behavioural columns to cluster on ("prefix*" matches a family); missing ones are skipped.
    columns: tuple[str, ...] = (
        "recency_days",
        "frequency",
        "monetary",
        "tenure_days",
        "quantity_per_order",
        "discount_share",
        "return_rate",
        "view_to_cart",
        "cart_to_purchase",
        "views_per_session",
        "mean_rating",
        "view_share_*",
    )
    seed: int = Field(13, ge=0)

    @model_validator(mode="after")
    def _k_range(self) -> SegmentSettings:
        if self.k_max < self.k_min:
            raise ValueError("segment.k_max must be >= segment.k_min")
        return self


class AnomalySettings(_Section):
    """Anomaly detection (:mod:`segmint.anomaly`): the flag budget, the isolation forest and the signals.

    No setting is a threshold on a feature. Every signal (bot browsing, refund abuse, spend velocity)
    and the forest's isolation is ranked as a percentile among the customers the detector is fitted on,
    with its centre, spread and prior learned from them, and ``contamination`` alone sets how many of
    them are flagged: the share of the fitting customers with the highest percentile on any signal.
    ``velocity_prior_days`` is added to every customer's tenure before spend is divided by it, so that
    a first-day order is not an infinite rate; it smooths, it does not separate.
    """

    contamination: float = Field(0.04, gt=0.0, lt=0.5)
    n_estimators: int = Field(200, ge=10)
    sample_size: int = Field(50_000, ge=500)
    velocity_prior_days: float = Field(30.0, gt=0.0)
    seed: int = Field(17, ge=0)


class RecommendSettings(_Section):
    """Recommenders: candidates, interaction values, the split and each model's knobs."""

    candidates: tuple[RecommenderName, ...] = ("popularity", "itemknn")
    top_n: int = Field(10, ge=1, le=200)
    k: int = Field(10, ge=1, le=200)
    split_quantile: float = Field(0.8, gt=0.0, lt=1.0)
    # candidates are compared on at most this many customers (a seeded sample); the winner is
    # refit on all of them
    split_max_customers: int = Field(20_000, ge=100)
    min_item_customers: int = Field(5, ge=1)
    event_weights: dict[EventType, float] = {"purchase": 1.0, "cart": 0.0, "view": 0.0}
    exclude_purchased: bool = True
    knn_neighbours: int = Field(100, ge=1)
    ease_lambda: float = Field(500.0, gt=0.0)
    bootstrap_rounds: int = Field(200, ge=0)
    batch_size: int = Field(4096, ge=64)
    seed: int = Field(19, ge=0)
    # optional recency decay of every interaction value
    interaction_value: InteractionValue = "binary"
    recency_half_life_days: float | None = Field(None, gt=0.0)
    # how item models weigh a customer's own history when they score them (the query side): each
    # value decays with this half-life (days; None: undecayed), whatever decay their item-to-item
    # weights were learnt under; "fitted": as the fitted matrix (the same decay)
    history_half_life_days: Annotated[float, Field(gt=0.0)] | Literal["fitted"] | None = "fitted"
    # half-lives (days; None: no decay) each candidate is tried under on the inner cuts, the best
    # kept per candidate; empty: recency_half_life_days only
    recency_grid_days: tuple[Annotated[float, Field(gt=0.0)] | None, ...] = ()
    # length of the period a served model is used for: each inner test period has this length
    # (None: the outer test period's), and selection averages over selection_cuts rolling cuts
    horizon_days: float | None = Field(None, gt=0.0)
    selection_cuts: int = Field(2, ge=2, le=12)
    knn_similarity: KnnSimilarity = "bm25"
    bm25_k1: float = Field(1.2, gt=0.0)
    bm25_b: float = Field(0.75, ge=0.0, le=1.0)
    # EASE inverts a dense items × items matrix: only the most popular items take part beyond this
    ease_max_items: int = Field(6_000, ge=10)
    # RP3beta: item-item random-walk similarity with a popularity penalty
    rp3_alpha: float = Field(1.0, gt=0.0)
    rp3_beta: float = Field(0.5, ge=0.0)
    # ALS (implicit feedback, conjugate-gradient solver)
    als_factors: int = Field(64, ge=2)
    als_regularization: float = Field(0.05, ge=0.0)
    als_alpha: float = Field(2.0, gt=0.0)
    als_iterations: int = Field(15, ge=1)
    als_cg_steps: int = Field(3, ge=1)
    # torch model: a denoising autoencoder over purchase histories (segmint/recommend/torch_model.py):
    # "linear_dae" (item × item, zero diagonal, squared loss + torch_l2) or "mult_dae" (Mult-DAE,
    # torch_hidden tanh units, multinomial likelihood)
    torch_architecture: TorchArchitecture = "linear_dae"
    torch_l2: float = Field(500.0, ge=0.0)
    torch_hidden: int = Field(256, ge=8)
    torch_dropout: float = Field(0.25, ge=0.0, lt=1.0)
    torch_lr: float = Field(1e-3, gt=0.0)
    torch_weight_decay: float = Field(0.0, ge=0.0)
    torch_batch_size: int = Field(256, ge=8)
    torch_max_epochs: int = Field(15, ge=1)
    torch_max_seconds: float = Field(300.0, gt=0.0)
    # early stopping: epochs without a better loss on held-out customers before training stops
    torch_patience: int = Field(2, ge=1)
    # the linear model holds items² weights (and Adam twice that): 6,000 items ≈ 430 MB
    torch_max_items: int = Field(6_000, ge=10)
    # blend: members and weights of a per-customer normalised score sum
    blend_members: tuple[RecommenderName, ...] = ("ease", "rp3beta")
    blend_weights: tuple[float, ...] = (0.5, 0.5)


class UpliftSettings(_Section):
    """Uplift modelling: candidate learners, their selection and the boosting knobs."""

    # The plain T-learner is left out by default: its noisy effects on high-value customers cost
    # more in a value-weighted plan than its Qini AUC shows.
    learners: tuple[UpliftLearnerName, ...] = ("x_learner", "logistic_t_learner")
    test_share: float = Field(0.3, gt=0.0, lt=0.9)
    # Learner selection by K-fold cross-validated Qini AUC (below 2: the single held-out split).
    cv_folds: int = Field(3, ge=0, le=10)
    # Selection (the CV above) uses at most this many campaign rows, a seeded sample stratified by
    # arm × outcome; the held-out metrics and the final fit use every row.
    selection_max_rows: int = Field(40_000, ge=1_000)
    select_per_offer: bool = True  # each offer its own learner, else one learner for all offers
    # "best" mean cross-validated Qini AUC, or "one_se": the simplest learner within one standard
    # error of the best (steadier when effects are weak).
    selection_rule: SelectionRule = "best"
    # Campaign effects are small against the outcome noise: few, large leaves and slow learning.
    n_estimators: int = Field(100, ge=10)
    learning_rate: float = Field(0.03, gt=0.0, le=1.0)
    num_leaves: int = Field(4, ge=2)
    min_child_samples: int = Field(300, ge=1)
    bootstrap_rounds: int = Field(100, ge=0)
    # first-model check against random targeting: refits on permuted treatments (a permutation test)
    null_rounds: int = Field(20, ge=0)
    seed: int = Field(23, ge=0)
    subsample: float = Field(0.8, gt=0.0, le=1.0)
    colsample_bytree: float = Field(0.8, gt=0.0, le=1.0)
    reg_lambda: float = Field(5.0, ge=0.0)
    logistic_c: float = Field(0.05, gt=0.0)  # inverse L2 strength of the logistic learners
    top_share: float = Field(0.3, gt=0.0, lt=1.0)  # k of uplift@k
    tree_max_leaves: int = Field(3, ge=2)  # uplift_tree learner
    tree_min_leaf_share: float = Field(0.05, gt=0.0, lt=0.5)
    n_jobs: int = Field(1, ge=1)  # one thread: OpenMP threads thrash when the cores are shared


class OfferSettings(_Section):
    """The economics of one offer: cost, value, contact cap and the share given away."""

    cost: float = Field(1.0, ge=0.0)
    value: float | None = Field(None, ge=0.0)  # None: the customer's predicted order value
    max_contacts: int | None = Field(None, ge=0)
    # Share of the order value given away on every redeemed order (e.g. 0.1 for a 10 % discount),
    # paid on conversions that would have happened anyway too.
    redemption_share: float = Field(0.0, ge=0.0, le=1.0)


class LearningSettings(_Section):
    """Learning across waves (:mod:`segmint.learning`): per segment × offer, the model's mean predicted
    rates (``prior_weight`` pseudo-customers per arm) updated by every measured wave's treated and
    hold-out counts. A pair with P(uplift > 0) below ``stop_below`` is not sent; the others move to
    their posterior mean; a random ``exploration_share`` of customers gets Thompson draws instead.
    On only when ``outputs/measurement_history.parquet`` holds a measured wave."""

    enabled: bool = True
    prior_weight: float = Field(30.0, ge=0.0)
    stop_below: float = Field(0.1, ge=0.0, le=1.0)
    exploration_share: float = Field(0.02, ge=0.0, le=1.0)


class ClvSettings(_Section):
    """Customer lifetime value: its fit, its out-of-time evaluation and the value tiers it sets.

    ``tier_quantiles`` are quantiles of predicted CLV over all customers (not absolute amounts): the
    customers below the first are ``low``, from the first to the second ``mid``, the rest ``high``.
    """

    seed: int = 23
    # the fit and its out-of-time refit use a seeded sample of at most this many customers (None: all):
    # at 100k customers, 29 s instead of 52 s, Spearman 0.637 vs 0.639 (benchmarks/results/clv_sample.json)
    fit_max_customers: int | None = Field(30_000, ge=1_000)
    # LightGBM boosting rounds, shrinkage and the models averaged over successive seeds
    # (benchmarks/results/clv_tune.json)
    trees: int = Field(600, ge=1)
    learning_rate: float = Field(0.025, gt=0.0, le=1.0)
    bagged_seeds: int = Field(5, ge=1)
    # paired bootstrap rounds of the test-period Spearman difference (against the naive rate or champion)
    bootstrap_rounds: int = Field(200, ge=0)
    tier_quantiles: tuple[float, float] = (0.5, 0.8)

    @field_validator("tier_quantiles")
    @classmethod
    def _increasing(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 < value[0] < value[1] < 1.0:
            raise ValueError("tier_quantiles must be two increasing quantiles strictly between 0 and 1")
        return value


class CampaignSettings(_Section):
    """Campaign planning: budget, hold-out, contact spacing and the offers."""

    budget: float = Field(5_000.0, ge=0.0)
    holdout_share: float = Field(0.1, ge=0.0, lt=1.0)
    # share held back in an exploration plan (random offers while no uplift model is trusted)
    exploration_holdout_share: float = Field(0.5, ge=0.0, lt=1.0)
    min_days_between_contacts: int = Field(14, ge=0)
    default_offer: OfferSettings = OfferSettings()
    offers: dict[str, OfferSettings] = {}
    learning: LearningSettings = LearningSettings()
    seed: int = Field(29, ge=0)

    def offer(self, name: str) -> OfferSettings:
        """The settings for ``name``, or the defaults when it is not listed."""
        return self.offers.get(name, self.default_offer)


class GateRule(_Section):
    """When a challenger of one model kind may replace the champion."""

    quality_tolerance: float = Field(0.0, ge=0.0)
    min_stability: float | None = Field(None, ge=0.0, le=1.0)
    promote_on_drift: bool = False


class GateSettings(_Section):
    """Promotion gates, and the training deployment monitoring starts when drift calls for it."""

    # monitoring retrains through this deployment when it exists (in-process otherwise)
    training_deployment: str | None = "training/training-weekly"
    segmenter: GateRule = GateRule(quality_tolerance=0.02, min_stability=0.7)
    recommender: GateRule = GateRule(quality_tolerance=0.0)
    uplift: GateRule = GateRule(quality_tolerance=0.0)
    clv: GateRule = GateRule(quality_tolerance=0.0)


class MonitorSettings(_Section):
    """Drift monitoring: Evidently's per-column test and when a model's inputs count as drifted.

    Each column is tested by Evidently with ``numeric_method`` (numeric columns) or
    ``categorical_method`` (categorical ones) against ``column_threshold``; None leaves the choice
    (or the method's default threshold) to Evidently. A model drifted when the drifted share of
    its own inputs reaches ``share_threshold``: the segmenter's ``segment.columns`` count equally,
    the uplift and CLV models' features by their normalised importance.
    """

    numeric_method: DriftMethod | None = "wasserstein"
    categorical_method: DriftMethod | None = "jensenshannon"
    column_threshold: float | None = Field(0.1, gt=0.0)
    share_threshold: float = Field(0.3, gt=0.0, le=1.0)
    # segment shares (reference vs current, champion's assignment): population stability index
    prediction_psi_threshold: float = Field(0.2, gt=0.0)
    sample_rows: int = Field(20_000, ge=100)
    # Evidently's data summary of each new batch (reports/drift/summary.html): about 0.2 s per feature
    # column whatever the rows, the costliest part of a small project's gate
    summary_report: bool = True
    # retrain when any model's inputs drifted (or its segment shares moved)
    retrain_on_drift: bool = True
    seed: int = Field(37, ge=0)


class TrackingSettings(_Section):
    """MLflow tracking: where runs go and how models are named."""

    tracking_uri: str | None = None  # None: sqlite file in the project (or $MLFLOW_TRACKING_URI)
    experiment: str = "segmint"
    model_prefix: str = "segmint"


class PrivacySettings(_Section):
    """Personal data at ingest (:mod:`segmint.privacy`).

    With ``pseudonymise`` on, customer ids are replaced at ingest by an HMAC-SHA256 under the key in
    the environment variable ``SEGMINT_PSEUDONYM_KEY`` (never written anywhere). Columns recognised as
    personal data are dropped at ingest unless named in ``allow_columns`` (``column`` or
    ``table.column``); allowed or not, they never become features.
    """

    pseudonymise: bool = False
    allow_columns: tuple[str, ...] = ()


class RuntimeSettings(_Section):
    """Where and how long the pipeline runs: task runner, Dask cluster, stage budgets."""

    task_runner: TaskRunner = "local"
    dask_address: str | None = None
    dask_workers: int = Field(2, ge=1)
    # on Dask, features and the campaign scoring are computed in partitions of this many customers
    dask_partition_customers: int = Field(250_000, ge=100)
    # Wall-time budget per stage, sized for a 100k-customer shop on 2 cores; a stage that runs
    # longer still finishes, with a warning and ``over_budget`` in its metrics and MLflow run.
    stage_budget_seconds: dict[StageName, float] = {}

    @field_validator("stage_budget_seconds")
    @classmethod
    def _positive_budgets(cls, value: dict[StageName, float]) -> dict[StageName, float]:
        bad = [stage for stage, seconds in value.items() if not seconds > 0]
        if bad:
            raise ValueError(f"stage budgets must be positive seconds: {', '.join(bad)}")
        return value


class Settings(_Section):
    """Every section of ``params.yaml``; ``validate`` is read into ``validate_``."""

    project: ProjectSettings = ProjectSettings()
    generate: GenerateSettings = GenerateSettings()
    validate_: ValidateSettings = Field(ValidateSettings(), alias="validate")
    features: FeatureSettings = FeatureSettings()
    segment: SegmentSettings = SegmentSettings()
    anomaly: AnomalySettings = AnomalySettings()
    recommend: RecommendSettings = RecommendSettings()
    uplift: UpliftSettings = UpliftSettings()
    clv: ClvSettings = ClvSettings()
    campaign: CampaignSettings = CampaignSettings()
    gate: GateSettings = GateSettings()
    monitor: MonitorSettings = MonitorSettings()
    tracking: TrackingSettings = TrackingSettings()
    privacy: PrivacySettings = PrivacySettings()
    runtime: RuntimeSettings = RuntimeSettings()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def settings_from_mapping(data: dict[str, Any] | None) -> Settings:
    """Validate a parsed params mapping into :class:`Settings`.

    Args:
        data: sections as parsed from YAML; ``None`` means all defaults.

    Raises:
        SettingsError: naming every key that is unknown, out of range or outside its allow-list
            (with the valid names).
    """
    try:
        return Settings.model_validate(data or {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "<root>"
            problems.append(f"{key}: {err['msg']}")
        raise SettingsError("invalid params: " + "; ".join(problems)) from None


def load_settings(path: str | Path = "params.yaml") -> Settings:
    """Read and validate ``params.yaml`` (a missing file means all defaults).

    Raises:
        SettingsError: the file is not YAML, not a mapping of sections, or does not validate.
    """
    path = Path(path)
    if not path.exists():
        return settings_from_mapping({})
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"invalid params: {path} is not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"invalid params: {path} must hold a mapping of sections")
    return settings_from_mapping(data)
