"""What the trained project left in MLflow: figures, DVC-hashed dataset inputs, version tags and
descriptions, the campaign's model versions, and models that load without the project installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tasks.tracking import ARTIFACT_HASH_TAG, MODEL_KINDS, dvc_hash, model_files_hash

pytestmark = [pytest.mark.integration]

FIGURES = {
    "segment": "figures/segment_sizes.png",
    "uplift": "figures/qini.png",
    "recommend": "figures/recommend_ndcg.png",
    "anomaly": "figures/anomaly_scores.png",
}


def _client(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def _stage_runs(client: MlflowClient) -> dict[str, mlflow.entities.Run]:
    experiment = client.get_experiment_by_name("segmint")
    runs = client.search_runs([experiment.experiment_id], "tags.`segmint.stage` != ''")
    return {run.data.tags["segmint.stage"]: run for run in runs}


def test_experiment_is_a_model_development_experiment(trained_project):
    experiment = _client(trained_project).get_experiment_by_name("segmint")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_stage_runs_log_figures_and_their_inputs_with_dvc_hashes(trained_project):
    client = _client(trained_project)
    runs = _stage_runs(client)
    for stage, figure in FIGURES.items():
        folder, name = figure.split("/")
        listed = [a.path for a in client.list_artifacts(runs[stage].info.run_id, folder)]
        assert figure in listed, (stage, listed)
        local = Path(client.download_artifacts(runs[stage].info.run_id, figure))
        assert local.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    segment = runs["segment"]
    assert not any(key.startswith("lineage.") for key in segment.data.tags)
    inputs = {d.dataset.name: d for d in segment.inputs.dataset_inputs}
    assert set(inputs) == {"data/features"}  # the code deps are not in the project folder
    # the digest is DVC's hash of the folder, as ``dvc.lock`` would record it
    features = inputs["data/features"].dataset
    assert features.digest == dvc_hash(trained_project / "data" / "features")
    assert features.digest.endswith(".dir") and json.loads(features.source)["uri"] == "data/features"
    validate = {d.dataset.name: d.dataset for d in runs["validate"].inputs.dataset_inputs}
    assert validate["data/raw"].digest == dvc_hash(trained_project / "data" / "raw")


def test_versions_carry_the_gate_decision_and_their_artifact_hash(trained_project, tmp_path):
    client = _client(trained_project)
    gate = json.loads((trained_project / "metrics" / "gate.json").read_text())
    for kind in MODEL_KINDS:
        version = client.get_model_version(f"segmint-{kind}", gate[kind]["challenger_version"])
        assert version.tags["gate.decision"] == gate[kind]["decision"]
        assert version.tags["gate.reasons"] == " | ".join(gate[kind]["reasons"])
        assert version.description.splitlines() == [
            f"Gate decision: {gate[kind]['decision']}",
            *(f"- {reason}" for reason in gate[kind]["reasons"]),
        ]
        stored = client.get_model_version_download_uri(f"segmint-{kind}", version.version)
        local = mlflow.artifacts.download_artifacts(artifact_uri=stored, dst_path=str(tmp_path / kind))
        assert version.tags[ARTIFACT_HASH_TAG] == model_files_hash(Path(local))
        assert (Path(local) / "code" / "segmint" / "__init__.py").is_file()
        # only the wrappers of tasks/ travel with the model (a load may have cached bytecode beside them)
        assert sorted(p.name for p in (Path(local) / "code" / "tasks").glob("*.py")) == [
            "__init__.py",
            "pyfunc.py",
        ]
        assert "pandas==" in (Path(local) / "requirements.txt").read_text()


def test_campaign_run_records_the_champion_versions_it_used(trained_project):
    client = _client(trained_project)
    campaign = _stage_runs(client)["campaign"]
    for kind in MODEL_KINDS:
        try:
            champion = client.get_model_version_by_alias(f"segmint-{kind}", "champion").version
        except mlflow.exceptions.MlflowException:
            champion = "none"
        assert campaign.data.tags[f"model.{kind}.version"] == str(champion), kind
    assert campaign.data.tags["model.segmenter.version"] != "none"


# Loads the champion recommender where neither ``segmint`` nor ``tasks`` can be imported from the
# project: run isolated (-I: no PYTHONPATH, no current folder) with the editable install's finder gone.
_ISOLATED_LOAD = textwrap.dedent(
    """
    import importlib.util, json, sys
    sys.meta_path = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
    sys.meta_path = [f for f in sys.meta_path if "editable" not in type(f).__module__]
    assert importlib.util.find_spec("segmint") is None and importlib.util.find_spec("tasks") is None
    import mlflow, pandas as pd
    mlflow.set_tracking_uri(sys.argv[1])
    model = mlflow.pyfunc.load_model("models:/segmint-recommender@champion")
    customers = pd.DataFrame({"customer_id": json.loads(sys.argv[2])})
    out = model.predict(customers, params={"n": 5})
    import segmint
    print(json.dumps({"segmint": segmint.__file__, "lists": out["recommended_product_ids"].tolist()}))
    """
)


def test_a_champion_loads_and_predicts_without_the_project_installed(trained_project, tmp_path):
    customers = (
        pd.read_parquet(trained_project / "outputs" / "customer_scores.parquet")["customer_id"]
        .astype(str)
        .head(3)
        .tolist()
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", _ISOLATED_LOAD, f"sqlite:///{trained_project / 'mlflow.db'}"]
        + [json.dumps(customers)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert "/code/segmint/" in answer["segmint"]  # the model's own copy of the library
    assert [len(listed.split(",")) for listed in answer["lists"]] == [5, 5, 5]


def test_a_champion_whose_files_differ_from_its_hash_tag_is_a_champion_failure(trained_project, tmp_path):
    from segmint.gate import REVIEW, decide
    from segmint.settings import load_settings
    from tasks.evaluate import PAIRS, evaluate_pair
    from tasks.gate import gate_inputs
    from tasks.paths import ProjectPaths
    from tasks.tracking import configure_mlflow, load_alias
    from tests.integration.conftest import copy_project

    # The copy's registry still points at the shared project's model files: the copy's tag changes.
    project = copy_project(trained_project, tmp_path / "project")
    settings = load_settings(project / "params.yaml")
    configure_mlflow(settings, ProjectPaths(project))
    # what loading wrote beside the stored files (the isolated load above) is no change of the model
    assert load_alias(settings, "recommender", "champion") is not None
    client = _client(project)
    champion = client.get_model_version_by_alias("segmint-segmenter", "champion").version
    client.set_model_version_tag("segmint-segmenter", champion, ARTIFACT_HASH_TAG, "0" * 32)

    record = evaluate_pair(PAIRS["segmenter"], settings, ProjectPaths(project))
    assert "ArtifactHashMismatchError" in record["champion_error"], record
    assert f"tag records {'0' * 32}" in record["champion_error"]
    assert record["champion_quality"] is None and record["challenger_quality"] is not None
    decision = decide(gate_inputs("segmenter", record, {}, True), settings.gate.segmenter)
    assert decision.decision == REVIEW
