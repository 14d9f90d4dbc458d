"""Lineage hashes are DVC's own, and the tracking URI from the environment wins over params.yaml."""

from __future__ import annotations

from pathlib import Path

from dvc_data.hashfile.build import build
from dvc_data.hashfile.db import HashFileDB
from dvc_objects.fs import LocalFileSystem, MemoryFileSystem

from segmint.settings import Settings
from tasks.paths import ProjectPaths
from tasks.tracking import dvc_hash, lineage, tracking_uri


def _dvc_built(path: Path) -> str:
    """The hash DVC's own object builder gives ``path`` (what ``dvc add`` / ``dvc.lock`` record)."""
    odb = HashFileDB(MemoryFileSystem(), "memory://odb")
    _, _, obj = build(odb, str(path), LocalFileSystem(), "md5")
    return str(obj.hash_info.value)


def test_hashes_are_the_ones_dvc_records_and_dvcignore_hides_files(tmp_path):
    data = tmp_path / "data" / "raw"
    (data / "sub").mkdir(parents=True)
    (data / "orders.csv").write_bytes(b"id,amount\r\n1,2.5\n")
    (data / "sub" / "customers.csv").write_text("id\n1\n")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    expected = {"data/raw": _dvc_built(data), "params.yaml": _dvc_built(tmp_path / "params.yaml")}
    assert expected["data/raw"].endswith(".dir")
    paths = ProjectPaths(tmp_path)
    assert lineage(paths, ("data/raw", "params.yaml", "data/missing")) == expected

    # files that .dvcignore hides from DVC change no hash
    (tmp_path / ".dvcignore").write_text("*.tmp\n__pycache__/\n")
    (data / ".orders.csv.x1.tmp").write_text("half-written")
    (data / "__pycache__").mkdir()
    (data / "__pycache__" / "m.pyc").write_bytes(b"\0")
    assert lineage(paths, ("data/raw",)) == {"data/raw": expected["data/raw"]}
    assert dvc_hash(data) != expected["data/raw"]  # without the ignore rules they count


def test_the_environment_tracking_uri_wins_over_params(tmp_path, monkeypatch):
    paths = ProjectPaths(tmp_path)
    from_params = Settings.model_validate({"tracking": {"tracking_uri": "http://127.0.0.1:5001"}})
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(Settings(), paths) == f"sqlite:///{paths.mlflow_db}"
    assert tracking_uri(from_params, paths) == "http://127.0.0.1:5001"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5002")
    assert tracking_uri(from_params, paths) == "http://127.0.0.1:5002"
    assert tracking_uri(Settings(), paths) == "http://127.0.0.1:5002"


def test_the_local_store_is_opened_ahead_of_a_flow_and_a_remote_one_is_left_to_it(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from tasks.tracking import open_local_store

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    paths = ProjectPaths(tmp_path)
    settings = Settings()
    open_local_store(settings, paths)
    # the project's SQLite store exists, with the experiment the flow's runs go to
    assert paths.mlflow_db.is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{paths.mlflow_db}")
    assert client.get_experiment_by_name(settings.tracking.experiment) is not None

    # a remote server is not contacted (its retries would only delay the command): nothing raises
    # or waits, though nothing listens there
    remote = Settings.model_validate({"tracking": {"tracking_uri": "http://127.0.0.1:9"}})
    elsewhere = ProjectPaths(tmp_path / "elsewhere")
    open_local_store(remote, elsewhere)
    assert not elsewhere.mlflow_db.exists()

    # a store that cannot be opened is left for the flow's own connection to report
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the project folder should be")
    open_local_store(settings, ProjectPaths(blocked))
