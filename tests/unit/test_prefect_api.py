"""The Prefect API a command's flows report to: a configured server is used as it is; without one, the
command's temporary server is known as such (no deployment can run on it)."""

from __future__ import annotations

import gc
import sqlite3
import sys
from contextlib import closing

from tasks.paths import ProjectPaths
from tasks.prefect_api import (
    TEMPORARY_ENV,
    _keep_template,
    _local_database,
    _seed_database,
    prefect_api,
    uses_temporary_server,
)


def test_a_configured_server_is_used_and_nothing_is_started(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.delenv(TEMPORARY_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    gc.unfreeze()
    try:
        with prefect_api(ProjectPaths(tmp_path), warm=("colorsys",)) as url:
            assert url == "http://127.0.0.1:4200/api"
            assert "colorsys" in sys.modules  # the flow modules are imported all the same
            # what the imports loaded is left out of the collections between stages
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert not (tmp_path / ".prefect").exists()
    assert uses_temporary_server() is False


def test_the_commands_own_server_counts_as_temporary(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert uses_temporary_server() is True
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:5555/api")
    monkeypatch.setenv(TEMPORARY_ENV, "1")
    assert uses_temporary_server() is True


def test_with_prefect_already_imported_its_own_temporary_server_is_left_to_it(monkeypatch, tmp_path):
    import prefect  # noqa: F401 - its settings are fixed from here on

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with prefect_api(ProjectPaths(tmp_path)) as url:
        assert url == ""
    assert not (tmp_path / ".prefect").exists()


def _tables(database) -> list[str]:
    with closing(sqlite3.connect(database)) as db:
        return [row[0] for row in db.execute("select name from sqlite_master where type = 'table'")]


def _database_with(path, table: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"create table {table} (x integer)")
        db.commit()
    return path


def test_a_new_database_is_kept_as_the_template_and_seeds_the_next_new_project(tmp_path):
    template = tmp_path / "cache" / "prefect-3" / "prefect.db"
    first = _database_with(tmp_path / "one" / ".prefect" / "prefect.db", "alembic_version")
    _keep_template(first, template)
    assert _tables(template) == ["alembic_version"]
    second = tmp_path / "two" / ".prefect" / "prefect.db"
    _seed_database(second, template)
    assert _tables(second) == ["alembic_version"]
    # a template once kept is not replaced by a later database
    _keep_template(_database_with(tmp_path / "three" / "prefect.db", "flow_run"), template)
    assert _tables(template) == ["alembic_version"]


def test_without_a_template_the_server_migrates_a_new_database_itself(tmp_path):
    database = tmp_path / ".prefect" / "prefect.db"
    _seed_database(database, tmp_path / "cache" / "missing.db")
    _seed_database(database, None)  # no home folder to keep a template in
    assert not database.exists()


def test_a_copy_that_fails_leaves_nothing_behind(tmp_path):
    not_a_database = tmp_path / "cache" / "prefect.db"
    not_a_database.parent.mkdir()
    not_a_database.write_text("not sqlite")
    database = tmp_path / ".prefect" / "prefect.db"
    _seed_database(database, not_a_database)
    assert not database.exists() and list(database.parent.iterdir()) == []


def test_a_configured_database_url_is_left_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", raising=False)
    assert _local_database() == tmp_path / "prefect.db"
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://db/prefect")
    assert _local_database() is None
