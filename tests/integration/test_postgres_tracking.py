"""`segmint train` against a real MLflow tracking server on loopback, backed by PostgreSQL.

PostgreSQL comes from Debian's packages (.ci/run installs and starts it). Locally the test skips when it
is not there; in CI (CI=true) a missing PostgreSQL is a failure, never a silent skip.
"""

from __future__ import annotations

import os

import pytest
from mlflow.tracking import MlflowClient

from infra import services
from tasks.tracking import masked_uri
from tests.integration.conftest import light_params, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def postgres_uri(tmp_path_factory):
    pg = services.postgres_cluster()
    if pg is None:
        message = "PostgreSQL is not installed or does not start (apt-get install -y postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must provide it (.ci/run)")
        pytest.skip(message)
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("psycopg2-binary is not installed; the PostgreSQL backend store needs it")
        pytest.skip("psycopg2-binary is not installed (needed for a PostgreSQL backend store)")
    with services.postgres_database(pg) as uri:
        yield uri


def test_training_registers_the_three_models_on_a_postgres_backed_server(tmp_path, shop_dir, postgres_uri):
    log = tmp_path / "mlflow-server.log"
    with services.mlflow_server(postgres_uri, tmp_path / "artifacts", log) as url:
        project = tmp_path / "project"
        project.mkdir()
        light_params(project / "params.yaml")
        env = {"MLFLOW_TRACKING_URI": url}
        ingest = run_segmint(project, "ingest", "--source", "canonical", "--path", str(shop_dir), env=env)
        assert ingest.returncode == 0, ingest.stderr + ingest.stdout
        train = run_segmint(project, "train", env=env)
        assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-3000:] + services.tail(log)

        # Nothing was tracked in the project's own SQLite file: the server holds it all.
        assert not (project / "mlflow.db").exists()
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        for kind in ("segmenter", "recommender", "uplift"):
            model = client.get_registered_model(f"segmint-{kind}")
            assert "champion" in model.aliases, (kind, model.aliases)
            version = client.get_model_version_by_alias(f"segmint-{kind}", "champion")
            assert version.status == "READY"
        experiment = client.get_experiment_by_name("segmint")
        stages = {
            r.data.tags.get("segmint.stage")
            for r in client.search_runs([experiment.experiment_id], max_results=200)
        }
        assert {"validate", "features", "segment", "gate", "campaign"} <= stages
        # Artifacts went through the server's proxy into its artifact store.
        assert any((tmp_path / "artifacts").rglob("MLmodel"))

    password = postgres_uri.split(":")[2].split("@")[0]
    assert password not in masked_uri(postgres_uri)
    assert password not in train.stdout + train.stderr
