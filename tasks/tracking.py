"""MLflow tracking and the model registry: runs per stage, lineage, pyfunc models, aliases."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
import pathspec
from dvc_data.hashfile.hash import file_md5 as dvc_file_md5
from dvc_data.hashfile.hash_info import HashInfo
from dvc_data.hashfile.tree import Tree
from mlflow.data.dataset_source_registry import get_dataset_source_from_json
from mlflow.data.meta_dataset import MetaDataset
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

import segmint
import tasks.pyfunc
from segmint.settings import Settings
from tasks.masking import masked_uri
from tasks.paths import ProjectPaths
from tasks.retry import call_with_retries

if TYPE_CHECKING:  # figures come from the stages that draw them (tasks.figures)
    from matplotlib.figure import Figure

_log = logging.getLogger("segmint.tracking")
MODEL_KINDS = ("segmenter", "recommender", "uplift", "clv")
CHAMPION, CHALLENGER = "champion", "challenger"
PARENT_RUN_ENV = "SEGMINT_PARENT_RUN_ID"
# The experiment opens on the classic model-training views, not MLflow 3's GenAI overview.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
# Each registered version carries the DVC-style hash of its model files; loaders check it.
ARTIFACT_HASH_TAG = "artifact.md5"


class ArtifactHashMismatchError(RuntimeError):
    """A registered model's files no longer hash to the value recorded when it was registered."""


def tracking_uri(settings: Settings, paths: ProjectPaths) -> str:
    """Tracking URI: ``$MLFLOW_TRACKING_URI``, then params, then a SQLite file in the project."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI")
        or settings.tracking.tracking_uri
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
            experiment_id = client.create_experiment(
                name, artifact_location=artifact_location, tags=dict([EXPERIMENT_KIND])
            )
        else:
            experiment_id = experiment.experiment_id
            key, kind = EXPERIMENT_KIND
            if experiment.tags.get(key) != kind:
                client.set_experiment_tag(experiment_id, key, kind)
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    # Every stage contacts the tracking server here first: a dropped connection gets retried with
    # backoff, a server that stays down fails the run with a message that names it.
    return call_with_retries(connect, f"MLflow tracking server at {masked_uri(uri)}")


def open_local_store(settings: Settings, paths: ProjectPaths) -> None:
    """:func:`configure_mlflow` ahead of a flow, when the store is a local SQLite file.

    Opening the project's store takes 0.7 s (1.6 s to create a new one) that a command would
    otherwise spend after Prefect's server is up; a command calls this while that server starts. A
    remote server is left alone (its retries would only delay the command), and so is a failure: the
    flow's own :func:`configure_mlflow` meets it again and reports it.
    """
    if not tracking_uri(settings, paths).startswith("sqlite:"):
        return
    try:
        configure_mlflow(settings, paths)
    except Exception as exc:  # noqa: BLE001 - reported by the flow's own connection
        _log.debug("the MLflow store was not opened ahead of the flow: %s", exc)


def registered_name(settings: Settings, kind: str) -> str:
    """The registry name of model ``kind`` (allow-listed in :data:`MODEL_KINDS`)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; valid kinds: {', '.join(MODEL_KINDS)}")
    return f"{settings.tracking.model_prefix}-{kind}"


def dvc_hash(path: Path, ignore: Callable[[Path], bool] | None = None) -> str:
    """The md5 DVC records for ``path``: of the bytes for a file, of the sorted file list for a folder.

    A folder's hash is DVC's ``.dir`` hash: the md5 of the JSON list of ``{"md5", "relpath"}`` of
    every file below it (but those ``ignore`` names, as ``.dvcignore`` does), sorted by path, with
    ``.dir`` appended.
    """
    if not path.is_dir():
        return dvc_file_md5(str(path))
    tree = Tree()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        if ignore is None or not ignore(file):
            tree.add(file.relative_to(path).parts, None, HashInfo("md5", dvc_file_md5(str(file))))
    tree.digest()
    return str(tree.hash_info.value)


def dvcignored(root: Path) -> Callable[[Path], bool]:
    """Whether a file below ``root`` is one that ``root/.dvcignore`` hides from DVC."""
    file = root / ".dvcignore"
    lines = file.read_text().splitlines() if file.is_file() else []
    spec = pathspec.PathSpec.from_lines("gitwildmatch", lines)
    return lambda path: spec.match_file(path.relative_to(root).as_posix())


def model_files_hash(model_dir: Path) -> str:
    """The DVC hash of a logged model's files, without those that loading it writes beside them.

    Loading a model from a local store reads it in place: MLflow adds ``registered_model_meta`` and
    Python may cache bytecode of the model's code there. Neither changes what the model does.
    """
    return dvc_hash(model_dir, _written_by_loading)


def _written_by_loading(path: Path) -> bool:
    return path.name == "registered_model_meta" or path.suffix == ".pyc" or "__pycache__" in path.parts


def lineage(paths: ProjectPaths, deps: tuple[str, ...]) -> dict[str, str]:
    """The DVC hash of each dependency path that exists (by its project-relative name)."""
    ignore = dvcignored(paths.root)
    return {dep: dvc_hash(paths.root / dep, ignore) for dep in deps if (paths.root / dep).exists()}


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
    """Log a stage's numbers as metrics and its inputs as datasets (DVC hashes as digests)."""
    metrics = flat_metrics(result)
    if metrics:
        mlflow.log_metrics(metrics)
    log_inputs(lineage_hashes)


def log_inputs(lineage_hashes: Mapping[str, str], context: str = "input") -> None:
    """Log each input path as an MLflow dataset of the active run, its DVC hash as the digest."""
    for dep, digest in lineage_hashes.items():
        source = get_dataset_source_from_json(json.dumps({"uri": Path(dep).as_posix()}), source_type="local")
        # MLflow's metadata-only dataset leaves ``profile`` abstract on paper; its base is no ABC
        dataset = MetaDataset(source, name=dep, digest=digest)  # type: ignore[abstract]
        mlflow.log_input(dataset, context=context)


def log_figure(figure: Figure, artifact_file: str) -> None:
    """Log a matplotlib figure as an image of the active run (none: nothing is logged), then close it.

    The figures are built on :class:`matplotlib.figure.Figure` without pyplot, so no global figure
    registry holds them; clearing releases their drawing state at once.
    """
    if mlflow.active_run() is not None:
        mlflow.log_figure(figure, artifact_file)
    figure.clear()


def log_pyfunc(
    python_model: PythonModel,
    settings: Settings,
    kind: str,
    input_example: pd.DataFrame,
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
) -> str:
    """Log and register a self-contained pyfunc model in the active run; it gets the alias ``challenger``.

    The model carries the code it unpickles (``segmint`` and the wrappers of :mod:`tasks.pyfunc`), so
    it loads and serves where the project is not installed; ``params`` (name → default) become the
    signature's params schema. The version is tagged with ``tags`` and the hash of its model files.

    Returns:
        The new registered model version.
    """
    example = input_example.head(5).reset_index(drop=True)
    defaults = dict(params) if params else None
    output = python_model.predict(None, example, defaults)
    signature = infer_signature(example, output, params=defaults)
    name = registered_name(settings, kind)
    # The registry prints its progress to stderr; the stage reports the version itself.
    with _model_code() as code_paths, contextlib.redirect_stderr(io.StringIO()):
        info = mlflow.pyfunc.log_model(
            name=kind,
            python_model=python_model,
            signature=signature,
            input_example=example,
            pip_requirements=_pip_requirements(),
            code_paths=code_paths,
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_registered_model_alias(name, CHALLENGER, version)
    with tempfile.TemporaryDirectory(prefix="segmint-model-") as tmp:
        digest = model_files_hash(Path(_download_version(name, version, tmp)))
    for key, value in {**(tags or {}), ARTIFACT_HASH_TAG: digest}.items():
        client.set_model_version_tag(name, version, key, value)
    return version


@contextmanager
def _model_code() -> Iterator[list[str]]:
    """Copies of the packages a logged model unpickles: ``segmint`` and ``tasks`` with only its wrappers.

    Only ``tasks/__init__.py`` and ``tasks/pyfunc.py`` are copied: the rest of ``tasks`` does I/O and
    tracking, which a served model never runs.
    """
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    with tempfile.TemporaryDirectory(prefix="segmint-code-") as tmp:
        library = Path(tmp) / "segmint"
        shutil.copytree(Path(segmint.__file__).parent, library, ignore=skip)
        wrappers = Path(tmp) / "tasks"
        wrappers.mkdir()
        source = Path(tasks.pyfunc.__file__)
        for file in (source.parent / "__init__.py", source):
            shutil.copy2(file, wrappers / file.name)
        yield [str(library), str(wrappers)]


def _download_version(name: str, version: str, target: str) -> str:
    """Download the stored files of registered model ``name`` version ``version`` into ``target``.

    The files come from where the version is stored, not through ``models:/``, which adds a
    ``registered_model_meta`` file of its own to what it downloads.
    """
    stored = MlflowClient().get_model_version_download_uri(name, version)
    return str(mlflow.artifacts.download_artifacts(artifact_uri=stored, dst_path=target))


def _pip_requirements() -> list[str]:
    pins = []
    packages = ("pandas", "numpy", "scikit-learn", "scipy", "lightgbm", "torch", "implicit", "threadpoolctl")
    for pkg in (*packages, "pyarrow", "pydantic", "pyyaml", "mlflow"):
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
    """The python model object behind ``models:/<name>@alias`` (None when the alias is unset).

    The model's files are checked against the version's ``artifact.md5`` tag before anything is
    unpickled, so the evaluate stage, drift and the campaign never use a model whose files changed
    after registration (a failure there is a champion failure: the gate sends it for review).

    Raises:
        ArtifactHashMismatchError: the files hash to another value than the tag records, or the
            version has no such tag (its files cannot be checked).
    """
    version = alias_version(settings, kind, alias)
    if version is None:
        return None
    name = registered_name(settings, kind)
    recorded = MlflowClient().get_model_version(name, version).tags.get(ARTIFACT_HASH_TAG)
    with tempfile.TemporaryDirectory(prefix="segmint-model-") as tmp:
        local = _download_version(name, version, tmp)
        actual = model_files_hash(Path(local))
        if actual != recorded:
            raise ArtifactHashMismatchError(
                f"{name} version {version}: model files hash to {actual}, "
                f"its {ARTIFACT_HASH_TAG} tag records {recorded or 'nothing'}"
            )
        return _python_model(local)


def _python_model(model_path: str) -> Any:
    """The python model object logged at ``model_path``, loaded without touching ``sys.path`` for good.

    The model's code folder goes first on ``sys.path`` while it loads; the project's own packages,
    already imported, keep precedence (their submodules resolve through the package), and the path
    is restored afterwards.
    """
    saved_path = list(sys.path)
    try:
        # The pipeline logged these models from this environment: skip MLflow's per-load comparison
        # of their pip requirements with the installed packages (seconds per load, nothing to report).
        model = mlflow.pyfunc.load_model(model_path, suppress_warnings=True)
    finally:
        sys.path[:] = saved_path
    return model.unwrap_python_model()


def set_alias(settings: Settings, kind: str, alias: str, version: str) -> None:
    """Point ``alias`` of model ``kind`` at ``version``."""
    MlflowClient().set_registered_model_alias(registered_name(settings, kind), alias, version)


def describe_version(settings: Settings, kind: str, version: str, description: str) -> None:
    """Set the description of a version of model ``kind`` (cut to 5,000 characters)."""
    MlflowClient().update_model_version(registered_name(settings, kind), version, description[:5000])


def tag_champion_versions(settings: Settings) -> dict[str, str]:
    """Tag the active run with the version holding ``champion`` of each model kind; returns the tags.

    ``model.<kind>.version`` is the version, or ``none`` when the kind has no champion: with the
    run's dataset inputs, this ties what the run writes to the data and the models it came from.
    """
    tags = {
        f"model.{kind}.version": alias_version(settings, kind, CHAMPION) or "none" for kind in MODEL_KINDS
    }
    if mlflow.active_run() is not None:
        mlflow.set_tags(tags)
    return tags


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
