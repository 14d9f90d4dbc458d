"""Retries with exponential backoff for calls to services (the MLflow tracking server, storage).

Only service calls retry: a bug in a computation fails at once, a dropped connection gets a few more
tries, and a service that stays down fails with one clear message that names it (credentials masked).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tasks.masking import masked_uri

T = TypeVar("T")

DELAYS_SECONDS: tuple[float, ...] = (1.0, 4.0)


class ServiceUnavailableError(RuntimeError):
    """A service stayed unreachable after every retry; the message names it, passwords masked."""


def call_with_retries(
    fn: Callable[[], T],
    service: str,
    delays: tuple[float, ...] = DELAYS_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``fn()``, tried again after each of ``delays`` seconds when it raises.

    Args:
        fn: the call to the service, without arguments.
        service: how the message names the service, e.g. ``MLflow tracking server at http://u:***@h``
            (already masked: it is shown as is).
        delays: the waits between tries; ``len(delays) + 1`` tries in all.
        sleep: the wait function (tests pass a fake one).

    Raises:
        ServiceUnavailableError: every try failed; the message carries the last error, masked.
    """
    for attempt, delay in enumerate((*delays, None), start=1):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - any failure of a remote call may be transient
            if delay is None:
                detail = masked_uri(str(exc))[:500]
                raise ServiceUnavailableError(
                    f"{service} failed after {attempt} tries: {type(exc).__name__}: {detail}"
                ) from None  # the cause's text may hold the unmasked URI; the message has it masked
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
