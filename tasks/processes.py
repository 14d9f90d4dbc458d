"""Local service processes: a free loopback port, a process group started and stopped for sure, and the
wait until a service answers over HTTP. Used by the command's temporary Prefect server
(:mod:`tasks.prefect_api`) and by the test and benchmark services of ``infra/services.py``."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ParamSpec, TypeVar

from tasks.masking import masked_uri

P = ParamSpec("P")
R = TypeVar("R")

HOST = "127.0.0.1"


def release_free_memory() -> None:
    """Give the memory a finished step freed back to the system.

    Frames and arrays a step let go stay in the allocators' free lists (glibc malloc's arenas,
    Arrow's pool) and count in the process's resident size, so the next step in the same process
    starts on top of them: after the features of 1M customers, 3.6 GB resident with nothing alive,
    1.2 GB once trimmed. Called between the steps a flow runs in one process.

    The full collection that finds the step's cyclic garbage leaves what survived it out of later
    collections (:func:`exempt_loaded_objects`): the libraries a step imported and the run's records,
    which every later collection walked again to find none of them garbage (in a 100k training, 0.19
    s after the first stage, 0.5 s after the last, 3.3 s in all; 0.4 s with the survivors exempt).
    Frames and arrays form no reference cycles, so what a later step lets go of is still freed at once.
    """
    import pyarrow as pa

    exempt_loaded_objects()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def exempt_loaded_objects() -> None:
    """Collect the garbage, then leave every object still alive (the imported modules, classes and
    their caches) out of all later garbage collections (:func:`gc.freeze`).

    A full collection walks every tracked object, and a command that has imported Prefect, MLflow and
    the models holds half a million of them: 0.3 s for each :func:`release_free_memory`, ten times a
    training run, to find none of them garbage. Called once the command has imported its flows, and
    by :func:`release_free_memory` after each step.
    """
    gc.collect()
    gc.freeze()


def releasing_memory(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn``, then the memory it freed given back (:func:`release_free_memory`) once its locals are gone."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            release_free_memory()

    return run


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(cmd: list[str], log: Path, env: Mapping[str, str], cwd: Path | None = None) -> subprocess.Popen:
    """Start ``cmd`` in a new process group (so that its children die with it), output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen(
        cmd, stdout=handle, stderr=subprocess.STDOUT, env=dict(env), cwd=cwd, start_new_session=True
    )


def stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """Terminate ``proc``'s whole process group; kill it when it outlives ``grace`` seconds."""
    if proc is None or proc.poll() is not None and not _group_alive(proc.pid):
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(proc.pid):
                return
            time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Wait until ``url`` answers 200, failing early when ``proc`` exits (its log tail in the message)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({proc.returncode}): {tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s: {tail(log)}")


def tail(log: Path | None, chars: int = 3000) -> str:
    """The end of a service's log with any password in a URI masked."""
    if log is None or not log.exists():
        return ""
    return masked_uri(log.read_text(errors="replace")[-chars:])
