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


def test_release_exempts_what_survived_and_still_collects_later_cycles():
    import gc
    import weakref

    class Node:
        pass

    def cycle() -> Node:
        node = Node()
        node.self = node
        return node

    kept = cycle()
    frozen_before = gc.get_freeze_count()
    release_free_memory()
    assert gc.get_freeze_count() > frozen_before  # the survivors are left out of later collections
    assert gc.is_tracked(kept) and not any(obj is kept for obj in gc.get_objects())

    garbage = weakref.ref(cycle())  # a cycle made after the release, then dropped
    assert garbage() is not None
    release_free_memory()
    assert garbage() is None  # is still found and freed
