"""The Prefect API a segmint command reports its flow run to: the configured server, or a temporary one.

With ``PREFECT_API_URL`` set (a running server, a deployment's worker) nothing is started. Without it,
Prefect would start a temporary server itself when the flow begins, after the command has imported
everything: it imports the server into the command's own process (7 s here), then starts it and waits
(11 s with an existing database, 25 s with a new one), while the command does nothing. Started here when
the command begins, the same local server (SQLite under the project's ``.prefect/``, no UI) comes up
beside the command's own imports on the other core, and the command's process never imports it.

A new database costs the server another 13 s of migrations. The first server started with a given
Prefect version keeps a copy of its freshly migrated database in the user's cache folder, and a project
with no database yet starts from that copy: a new project's first command waits as long as its later
ones.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from tasks.paths import ProjectPaths
from tasks.processes import HOST, exempt_loaded_objects, free_port, start, stop, wait_http

# Set while the API is the command's temporary server: it has no workers, so no deployment can run on it.
TEMPORARY_ENV = "SEGMINT_PREFECT_TEMPORARY"
SERVER_LOG = "server.log"


def uses_temporary_server() -> bool:
    """Whether this process reports to a temporary server of its own (no server or worker configured)."""
    return not os.environ.get("PREFECT_API_URL") or os.environ.get(TEMPORARY_ENV) == "1"


@contextmanager
def prefect_api(
    paths: ProjectPaths,
    warm: Sequence[str] = (),
    timeout: float = 120.0,
    while_starting: Callable[[], object] | None = None,
) -> Iterator[str]:
    """A reachable Prefect API for the flows run inside the block; yields its URL.

    Without ``PREFECT_API_URL``, a local server is started on a free loopback port, the modules in
    ``warm`` (the command's flow modules) are imported and ``while_starting`` is called while it comes
    up, and the block runs once it answers. It is stopped when the process exits, after Prefect has
    sent its last logs and events. When Prefect is already imported, its settings are fixed: it keeps
    its own temporary server.
    """
    configured = os.environ.get("PREFECT_API_URL")
    if configured or "prefect" in sys.modules:
        _import(warm)
        yield configured or ""
        return
    port = free_port()
    url = f"http://{HOST}:{port}/api"
    log = paths.prefect_home / SERVER_LOG
    cmd = [
        sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port),
        "--no-ui", "--no-scheduler", "--no-late-runs",
    ]  # fmt: skip
    database = _local_database()
    # the server migrates a new database; kept as the template only when nothing used it before
    new_database = database if database is not None and not database.exists() else None
    template = _template_database() if new_database is not None else None
    if new_database is not None:
        _seed_database(new_database, template)
    server = start(cmd, log, {**os.environ, "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}, cwd=paths.root)
    # Registered before Prefect is imported: exit handlers run last-in first-out, so Prefect's own (its
    # log and event senders draining) run before the server stops.
    atexit.register(stop, server)
    os.environ.update({"PREFECT_API_URL": url, TEMPORARY_ENV: "1"})
    try:
        _import(warm)
        if while_starting is not None:
            while_starting()
        wait_http(f"{url}/health", timeout, server, log)
    except BaseException:
        stop(server)
        raise
    if new_database is not None:
        _keep_template(new_database, template)
    yield url


def _local_database() -> Path | None:
    """The SQLite file the temporary server keeps its state in; None when a database URL is configured."""
    if os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL") or os.environ.get(
        "PREFECT_SERVER_DATABASE_CONNECTION_URL"
    ):
        return None
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser() / "prefect.db"


def _template_database() -> Path | None:
    """Where a freshly migrated database of the installed Prefect version is kept (per user); None
    when there is no home folder to keep it in."""
    try:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except RuntimeError:  # no home folder: no template, the server migrates a new database
        return None
    return cache / "segmint" / f"prefect-{version('prefect')}" / "prefect.db"


def _copied(source: Path, target: Path) -> None:
    """``source`` copied to ``target`` through SQLite's backup (consistent while a server writes to
    it), written beside ``target`` and renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        with (
            contextlib.closing(sqlite3.connect(source)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _seed_database(database: Path, template: Path | None) -> None:
    """A project with no database yet starts from the kept freshly migrated one, when there is one."""
    if template is None or not template.is_file():
        return
    with contextlib.suppress(OSError, sqlite3.Error):  # no copy: the server migrates a new database
        _copied(template, database)


def _keep_template(database: Path, template: Path | None) -> None:
    """Keep a new database the server has just migrated, before any flow used it, as the template."""
    if template is None or template.exists() or not database.is_file():
        return
    with contextlib.suppress(OSError, sqlite3.Error):  # a cache: failing to write it costs time only
        _copied(database, template)


def _import(modules: Sequence[str]) -> None:
    """Import ``modules``; what they loaded is then left out of later collections."""
    for module in modules:
        importlib.import_module(module)
    if modules:
        exempt_loaded_objects()
