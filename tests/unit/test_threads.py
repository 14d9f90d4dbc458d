"""Independent calls side by side: both run at once, results in order, errors raised once both end."""

from __future__ import annotations

import threading
import time

import pytest

from segmint.threads import side_by_side


def test_two_calls_run_at_once_and_return_in_order() -> None:
    meet = threading.Barrier(2, timeout=10)  # broken (an error) unless both calls wait at once

    def first() -> str:
        meet.wait()
        return "first"

    def second() -> int:
        meet.wait()
        return 2

    assert side_by_side(first, second) == ("first", 2)


def test_an_error_is_raised_after_the_other_call_has_ended() -> None:
    ended: list[str] = []

    def failing() -> None:
        raise ValueError("no spend to learn from")

    def slow() -> str:
        time.sleep(0.2)
        ended.append("slow")
        return "done"

    with pytest.raises(ValueError, match="no spend"):
        side_by_side(failing, slow)
    assert ended == ["slow"]
