"""Memory given back between the steps a flow runs in one process."""

from __future__ import annotations

import pytest

from tasks.processes import release_free_memory, releasing_memory


def test_a_wrapped_step_returns_its_result_and_memory_is_released_even_when_it_fails(monkeypatch):
    import tasks.processes as processes

    released = []
    monkeypatch.setattr(processes, "release_free_memory", lambda: released.append(1))

    def step(a: int, b: int = 0) -> int:
        """Adds."""
        if b < 0:
            raise ValueError("negative")
        return a + b

    wrapped = releasing_memory(step)
    assert wrapped(2, b=3) == 5
    assert wrapped.__name__ == "step" and wrapped.__doc__ == "Adds."  # Prefect names tasks by these
    with pytest.raises(ValueError, match="negative"):
        wrapped(1, b=-1)
    assert released == [1, 1]


def test_release_gives_freed_memory_back():
    import numpy as np

    def resident_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    # blocks freed between blocks still in use stay in malloc's heap until it is trimmed
    blocks = [np.ones(2048) for _ in range(40_000)]  # 16 KB each, below malloc's mmap threshold
    del blocks[::2]
    held = resident_mb()
    release_free_memory()
    assert resident_mb() < held - 100
    del blocks
