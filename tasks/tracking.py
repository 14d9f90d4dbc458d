"""MLflow tracking and the model registry: runs per stage, lineage, pyfunc models, aliases."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from segmint.settings import Settings
from tasks.masking import masked_uri
from tasks.paths import ProjectPaths
from tasks.retry import call_with_retries

MODEL_KINDS = ("segmenter", "recommender", "uplift")
CHAMPION, CHALLENGER = "champion", "challenger"
PARENT_RUN_ENV = "SEGMINT_PARENT_RUN_ID"


def tracking_uri(settings: Settings, paths: ProjectPaths) -> str:
    """Tracking URI: params, then ``$MLFLOW_TRACKING_URI``, then a SQLite file in the project."""
    return (
        settings.tracking.tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{paths.mlflow_db}"
    )


def configure_mlflow(settings: Settings, paths: ProjectPaths) -> str:
    """Point MLflow at the project's tracking store and experiment; returns the experiment id."""
    uri = tracking_uri(settings, paths)
    mlflow.set_tracking_uri(uri)

    def connect() -> str:
        client = MlflowClient()
        name = settings.tracking.experiment
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            artifact_location = None
            if uri.startswith("sqlite:"):
                artifact_location = paths.mlflow_artifacts.as_uri()
            experiment_id = client.create_experiment(name, artifact_location=artifact_location)
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    # Every stage contacts the tracking server here first: a dropped connection gets retried with
    # backoff, a server that stays down fails the run with a message that names it.
    return call_with_retries(connect, f"MLflow tracking server at {masked_uri(uri)}")


def registered_name(settings: Settings, kind: str) -> str:
    """The registry name of model ``kind`` (allow-listed in :data:`MODEL_KINDS`)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; valid kinds: {', '.join(MODEL_KINDS)}")
    return f"{settings.tracking.model_prefix}-{kind}"


def file_md5(path: Path) -> str:
    """The md5 of a file's bytes (what DVC records for a file output)."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def lineage(paths: ProjectPaths, deps: tuple[str, ...]) -> dict[str, str]:
    """md5 of every file under each dependency path (relative names), for the run's lineage tags."""
    hashes: dict[str, str] = {}
    for dep in deps:
        target = paths.root / dep
        files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
        for file in files:
            if file.exists() and not file.name.startswith("."):
                hashes[str(file.relative_to(paths.root))] = file_md5(file)
    return hashes


def flat_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Every leaf of a nested mapping as text keyed by its dotted path (cut to MLflow's 500 characters)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_params(value, f"{name}."))
        else:
            out[name] = str(value)[:500]
    return out


def flat_metrics(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every finite number in a nested mapping, keyed by its dotted path."""
    out: dict[str, float] = {}
    for key, value in data.items():
        name = re.sub(r"[^0-9A-Za-z_\-./ ]", "_", f"{prefix}{key}")
        if isinstance(value, Mapping):
            out.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, bool) or (
            isinstance(value, (int, float)) and pd.notna(value) and abs(float(value)) != float("inf")
        ):
            out[name] = float(value)
    return out


@contextmanager
def stage_run(
    stage: str, settings: Settings, paths: ProjectPaths, params: Mapping[str, Any] | None = None
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run for one stage, nested under the flow's parent run when there is one."""
    configure_mlflow(settings, paths)
    parent = os.environ.get(PARENT_RUN_ENV)
    tags = {"segmint.stage": stage, "segmint.runner": "prefect" if parent else "cli"}
    with mlflow.start_run(
        run_name=stage, nested=bool(parent), parent_run_id=parent or None, tags=tags
    ) as run:
        if params:
            mlflow.log_params(flat_params(params))
        yield run


def log_stage_result(result: Mapping[str, Any], lineage_hashes: Mapping[str, str]) -> None:
    """Log a stage's numbers as metrics and its inputs' hashes as ``lineage.*`` tags of the active run."""
    metrics = flat_metrics(result)
    if metrics:
        mlflow.log_metrics(metrics)
    if lineage_hashes:
        mlflow.set_tags({f"lineage.{k}": v for k, v in lineage_hashes.items()})


def log_pyfunc(
    python_model: PythonModel,
    settings: Settings,
    kind: str,
    input_example: pd.DataFrame,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Log and register a pyfunc model in the active run; it gets the alias ``challenger``.

    Returns:
        The new registered model version.
    """
    example = input_example.head(5).reset_index(drop=True)
    output = python_model.predict(None, example)
    signature = infer_signature(example, output)
    name = registered_name(settings, kind)
    # The registry prints its progress to stderr; the stage reports the version itself.
    with contextlib.redirect_stderr(io.StringIO()):
        info = mlflow.pyfunc.log_model(
            name=kind,
            python_model=python_model,
            signature=signature,
            input_example=example,
            pip_requirements=_pip_requirements(),
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_registered_model_alias(name, CHALLENGER, version)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version, key, value)
    return version


def _pip_requirements() -> list[str]:
    pins = []
    for pkg in ("pandas", "numpy", "scikit-learn", "scipy", "lightgbm", "torch", "mlflow"):
        try:
            pins.append(f"{pkg}=={package_version(pkg)}")
        except Exception:  # noqa: BLE001 - a missing optional package is simply not pinned
            continue
    return pins


def log_frame(frame: pd.DataFrame, artifact_path: str, filename: str) -> None:
    """Log a data frame as a parquet artifact of the active run."""
    with tempfile.TemporaryDirectory(prefix="segmint-artifact-") as tmp:
        target = Path(tmp) / filename
        frame.to_parquet(target, index=False)
        mlflow.log_artifact(str(target), artifact_path=artifact_path)


def load_run_frame(run_id: str, artifact: str) -> pd.DataFrame | None:
    """A parquet artifact of a run as a frame, or None when the run has no such artifact."""
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact)
    except Exception:  # noqa: BLE001 - absent artifact: the caller decides what that means
        return None
    return pd.read_parquet(local)


def alias_version(settings: Settings, kind: str, alias: str) -> str | None:
    """The version holding ``alias`` for model ``kind``, or None."""
    client = MlflowClient()
    try:
        return str(client.get_model_version_by_alias(registered_name(settings, kind), alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def load_alias(settings: Settings, kind: str, alias: str) -> Any | None:
    """The python model object behind ``models:/<name>@alias`` (None when the alias is unset)."""
    if alias_version(settings, kind, alias) is None:
        return None
    # The pipeline logged these models from this environment: skip MLflow's per-load comparison of
    # their pip requirements with the installed packages (seconds per load, nothing to report).
    model = mlflow.pyfunc.load_model(
        f"models:/{registered_name(settings, kind)}@{alias}", suppress_warnings=True
    )
    return model.unwrap_python_model()


def set_alias(settings: Settings, kind: str, alias: str, version: str) -> None:
    """Point ``alias`` of model ``kind`` at ``version``."""
    MlflowClient().set_registered_model_alias(registered_name(settings, kind), alias, version)


def tag_version(settings: Settings, kind: str, version: str, tags: Mapping[str, str]) -> None:
    """Set ``tags`` on a version of model ``kind`` (values cut to 5,000 characters)."""
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(registered_name(settings, kind), version, key, str(value)[:5000])


def version_run_id(settings: Settings, kind: str, version: str) -> str:
    """The id of the MLflow run that logged this version of model ``kind``."""
    return str(MlflowClient().get_model_version(registered_name(settings, kind), version).run_id)


@contextmanager
def flow_run(flow_name: str, settings: Settings, paths: ProjectPaths) -> Iterator[str]:
    """The parent MLflow run of one flow run; stage runs started inside nest under it."""
    configure_mlflow(settings, paths)
    previous = os.environ.get(PARENT_RUN_ENV)
    with mlflow.start_run(run_name=flow_name, tags={"segmint.flow": flow_name}) as run:
        mlflow.log_params(flat_params({"project.seed": settings.project.seed}))
        os.environ[PARENT_RUN_ENV] = run.info.run_id
        try:
            yield run.info.run_id
        finally:
            if previous is None:
                os.environ.pop(PARENT_RUN_ENV, None)
            else:
                os.environ[PARENT_RUN_ENV] = previous
