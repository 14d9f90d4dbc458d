"""One run at a time per project: an operating-system lock that dies with its holder.

Policy: a second run on the same project does not wait; it exits at once (exit code 1) with
"another segmint run (pid N) is using this project …". Waiting silently behind a long training run
looks like a hang, and a scheduler retries a refused run anyway. Pass ``wait=True`` to queue instead.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from tasks.paths import ProjectPaths


class ProjectBusyError(RuntimeError):
    """Another segmint run holds this project's lock."""


@contextmanager
def project_lock(paths: ProjectPaths, wait: bool = False) -> Iterator[None]:
    """Hold ``.segmint.lock`` (flock) for the duration of a run.

    The kernel releases a flock when its process dies, even by SIGKILL, so a killed run never
    leaves a lock that blocks the next one; the pid written into the file is only for the message.

    Raises:
        ProjectBusyError: another run holds the lock and ``wait`` is False.
    """
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
