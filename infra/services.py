"""Start segmint's production services on loopback for tests and benchmarks, and stop them for sure.

Every service binds to 127.0.0.1 on a free port, runs in its own process group and is killed with that
group when its context ends. Nothing here is imported by the library, the tasks or the flows.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tasks.env import TELEMETRY_OFF
from tasks.processes import HOST, free_port, start, stop, tail, wait_http

__all__ = ["HOST", "free_port", "start", "stop", "tail", "wait_http"]  # with the services below

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment with telemetry off, without any inherited Prefect/MLflow target."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")}
    env.update(TELEMETRY_OFF)
    env.update(extra)
    return env


# ----------------------------------------------------------------------------------------- Prefect


@dataclass(frozen=True)
class PrefectServer:
    """A running Prefect server: its API URL, its home folder and the environment its clients need."""

    api_url: str
    home: Path
    env: dict[str, str]  # what a client or worker of this server needs


@contextlib.contextmanager
def prefect_server(home: Path, timeout: float = 240.0) -> Iterator[PrefectServer]:
    """A Prefect server on 127.0.0.1 with its own SQLite database under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = base_env(PREFECT_HOME=str(home), PREFECT_SERVER_LOGGING_LEVEL="WARNING")
    log = home / "server.log"
    proc = start([str(BIN / "prefect"), "server", "start", "--host", HOST, "--port", str(port)], log, env)
    try:
        api = f"http://{HOST}:{port}/api"
        wait_http(f"{api}/health", timeout, proc, log)
        yield PrefectServer(api, home, {**env, "PREFECT_API_URL": api})
    finally:
        stop(proc)


@contextlib.contextmanager
def prefect_worker(server: PrefectServer, pool: str, cwd: Path = ROOT) -> Iterator[subprocess.Popen]:
    """A process worker polling ``pool`` of ``server`` (flow runs start as its children)."""
    cmd = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "process"]
    proc = start(cmd, server.home / "worker.log", {**server.env, "PATH": f"{BIN}:{os.environ['PATH']}"}, cwd)
    try:
        yield proc
    finally:
        stop(proc)


# ------------------------------------------------------------------------------------------- Dask


@contextlib.contextmanager
def dask_process_cluster(
    scratch: Path, memory_limit: str = "2GiB", workers: int = 2, timeout: float = 120.0
) -> Iterator[str]:
    """A Dask scheduler and ``workers`` single-threaded worker processes on loopback, started with
    Dask's own CLI (``dask scheduler``, ``dask worker``), logs and worker folders under ``scratch``;
    yields the scheduler's address once every worker has joined. The workers import the project from
    this checkout."""
    from distributed import Client

    scratch.mkdir(parents=True, exist_ok=True)
    dask = [sys.executable, "-m", "dask"]
    env = base_env(PYTHONPATH=str(ROOT))
    port = str(free_port())
    address = f"tcp://{HOST}:{port}"
    scheduler = [*dask, "scheduler", "--host", HOST, "--port", port, "--no-dashboard"]
    started = [start(scheduler, scratch / "scheduler.log", env, scratch)]
    try:
        for i in range(1, workers + 1):
            worker = [
                *dask,
                "worker",
                address,
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--memory-limit",
                memory_limit,
            ]
            worker += ["--host", HOST, "--no-dashboard", "--name", f"worker-{i}"]
            worker += ["--local-directory", str(scratch / f"worker-{i}"), "--death-timeout", "60"]
            started.append(start(worker, scratch / f"worker-{i}.log", env, scratch))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=timeout)
        yield address
    finally:
        for process in reversed(started):
            stop(process)


# -------------------------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL cluster of the machine: its port, version and cluster name."""

    port: int
    version: str
    cluster: str


def postgres_cluster() -> Postgres | None:
    """The Debian PostgreSQL cluster, started when it is down (as root); None when not installed."""
    if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        return None
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
    rows = [line.split() for line in listed.stdout.splitlines() if line.strip()]
    if not rows:
        return None
    version, cluster, port, status = rows[0][:4]
    if status != "online":
        started = subprocess.run(
            ["pg_ctlcluster", version, cluster, "start"], capture_output=True, text=True, check=False
        )
        if started.returncode != 0:
            return None
    return Postgres(int(port), version, cluster)


def _psql(pg: Postgres, sql: str) -> None:
    cmd = ["psql", "-p", str(pg.port), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        # the statement may hold a password: report psql's own message only
        raise subprocess.SubprocessError(f"psql failed ({done.returncode}): {done.stderr.strip()[-500:]}")


@contextlib.contextmanager
def postgres_database(pg: Postgres, prefix: str = "segmint_test") -> Iterator[str]:
    """A fresh database and owner with a random password; yields its SQLAlchemy URI, then drops both."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    _psql(pg, f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    _psql(pg, f"CREATE DATABASE {name} OWNER {name}")
    try:
        yield f"postgresql+psycopg2://{name}:{password}@{HOST}:{pg.port}/{name}"
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            _psql(pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            _psql(pg, f"DROP ROLE IF EXISTS {name}")


# ------------------------------------------------------------------------------------------ MLflow


@contextlib.contextmanager
def _http_service(
    cmd: list[str],
    log: Path,
    env: Mapping[str, str],
    port: int,
    ready_path: str,
    timeout: float,
    cwd: Path | None = None,
) -> Iterator[str]:
    """Start ``cmd``, wait until ``ready_path`` answers on 127.0.0.1:``port``, yield its URL, stop it."""
    proc = start(cmd, log, env, cwd)
    try:
        url = f"http://{HOST}:{port}"
        wait_http(f"{url}{ready_path}", timeout, proc, log)
        yield url
    finally:
        stop(proc)


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, log: Path, timeout: float = 300.0) -> Iterator[str]:
    """An MLflow tracking server (and registry) on 127.0.0.1 that proxies artifacts to ``artifacts``."""
    port = free_port()
    cmd = [
        str(BIN / "mlflow"), "server",
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", str(artifacts),
        "--host", HOST, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # segmint submits no server-side jobs (GenAI evaluation, trace roll-ups): without job execution the
    # server starts none of the seven job-consumer processes, each of which imports MLflow again.
    env = base_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    with _http_service(cmd, log, env, port, "/health", timeout) as url:
        yield url


@contextlib.contextmanager
def model_server(
    model_uri: str, tracking: str, log: Path, cwd: Path, timeout: float = 300.0
) -> Iterator[str]:
    """``mlflow models serve`` of ``model_uri`` in this environment (no new env built), on 127.0.0.1."""
    port = free_port()
    cmd = [
        str(BIN / "mlflow"), "models", "serve", "-m", model_uri,
        "--env-manager", "local", "-h", HOST, "-p", str(port), "-w", "1",
    ]  # fmt: skip
    env = base_env(MLFLOW_TRACKING_URI=tracking, PATH=f"{BIN}:{os.environ['PATH']}")
    with _http_service(cmd, log, env, port, "/ping", timeout, cwd) as url:
        yield url
