"""The Prefect API a segmint command reports its flow run to: the configured server, or a temporary one.

With ``PREFECT_API_URL`` set (a running server, a deployment's worker) nothing is started. Without it,
Prefect would start a temporary server itself when the flow begins, after the command has imported
everything: it imports the server into the command's own process (7 s here), then starts it and waits
(11 s with an existing database, 25 s with a new one), while the command does nothing. Started here when
the command begins, the same local server (SQLite under the project's ``.prefect/``, no UI) comes up
beside the command's own imports on the other core, and the command's process never imports it.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from tasks.paths import ProjectPaths
from tasks.processes import HOST, free_port, start, stop, wait_http

# Set while the API is the command's temporary server: it has no workers, so no deployment can run on it.
TEMPORARY_ENV = "SEGMINT_PREFECT_TEMPORARY"
SERVER_LOG = "server.log"


def uses_temporary_server() -> bool:
    """Whether this process reports to a temporary server of its own (no server or worker configured)."""
    return not os.environ.get("PREFECT_API_URL") or os.environ.get(TEMPORARY_ENV) == "1"


@contextmanager
def prefect_api(paths: ProjectPaths, warm: Sequence[str] = (), timeout: float = 120.0) -> Iterator[str]:
    """A reachable Prefect API for the flows run inside the block; yields its URL.

    Without ``PREFECT_API_URL``, a local server is started on a free loopback port, the modules in
    ``warm`` (the command's flow modules) are imported while it comes up, and the block runs once it
    answers. It is stopped when the process exits, after Prefect has sent its last logs and events.
    When Prefect is already imported, its settings are fixed: it keeps its own temporary server.
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
    server = start(cmd, log, {**os.environ, "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}, cwd=paths.root)
    # Registered before Prefect is imported: exit handlers run last-in first-out, so Prefect's own (its
    # log and event senders draining) run before the server stops.
    atexit.register(stop, server)
    os.environ.update({"PREFECT_API_URL": url, TEMPORARY_ENV: "1"})
    try:
        _import(warm)
        wait_http(f"{url}/health", timeout, server, log)
    except BaseException:
        stop(server)
        raise
    yield url


def _import(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)
