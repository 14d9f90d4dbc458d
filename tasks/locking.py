"""One run at a time per project: an operating-system lock that dies with its holder.

Policy: a second run on the same project does not wait; it exits at once (exit code 1) with
"another segmint run (pid N) is using this project …". Waiting silently behind a long training run
looks like a hang, and a scheduler retries a refused run anyway. Pass ``wait=True`` to queue instead.

The flows take the lock themselves, so a deployment run and a manual one never overlap; the lock is
re-entrant within one process, so the command (which takes it before its checks) and the flow it starts,
or the training flow that the monitoring flow starts, do not lock each other out.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tasks.paths import ProjectPaths


class ProjectBusyError(RuntimeError):
    """Another segmint run holds this project's lock."""


# How many times this process holds each project's lock (the flock itself is taken once).
_held: Counter[Path] = Counter()
_held_guard = threading.Lock()


@contextmanager
def project_lock(paths: ProjectPaths, wait: bool = False) -> Iterator[None]:
    """Hold ``.segmint.lock`` (flock) for the duration of a run; inside a hold of this process, a no-op.

    The kernel releases a flock when its process dies, even by SIGKILL, so a killed run never
    leaves a lock that blocks the next one; the pid written into the file is only for the message.

    Raises:
        ProjectBusyError: another run holds the lock and ``wait`` is False.
    """
    key = paths.lock.resolve()
    with _held_guard:
        nested = _held[key] > 0
        if nested:  # counted under the guard: the outer hold cannot end in between
            _held[key] += 1
    if nested:
        with _counted(key, already=True):
            yield
        return
    with _flock(paths, wait), _counted(key, already=False):
        yield


@contextmanager
def _counted(key: Path, already: bool) -> Iterator[None]:
    """One more hold of ``key`` by this process while the block runs (``already``: counted by the caller)."""
    if not already:
        with _held_guard:
            _held[key] += 1
    try:
        yield
    finally:
        with _held_guard:
            _held[key] -= 1


@contextmanager
def _flock(paths: ProjectPaths, wait: bool) -> Iterator[None]:
    paths.lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise ProjectBusyError(
                f"another segmint run (pid {holder}) is using this project ({paths.root}): "
                "wait for it to finish, then run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        # Closing the descriptor releases the flock.
        os.close(fd)
