"""Retries with exponential backoff for calls to services (the MLflow tracking server, storage).

Only service calls retry: a bug in a computation fails at once, a dropped connection gets a few more
tries, and a service that stays down fails with one clear message that names it (credentials masked).

Two levels: a single call retries in place (:func:`call_with_retries`, and MLflow's own HTTP retries),
and a Prefect stage task retries as a whole only when :func:`retry_on_service_error` says so: a service
error that stopped the stage before its work began. A model is never fitted again because a server
blinked: a service that fails once the work has begun ends the stage with
:class:`ServiceLostAfterWorkError`, which no stage retry catches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import requests

from tasks.masking import masked_uri

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State, TaskRun

T = TypeVar("T")

DELAYS_SECONDS: tuple[float, ...] = (1.0, 4.0)


class ServiceUnavailableError(RuntimeError):
    """A service stayed unreachable after every retry; the message names it, passwords masked."""


class ServiceLostAfterWorkError(RuntimeError):
    """A service failed after a stage's work had begun: retrying the stage would redo that work."""


# Failures to reach a service, as the libraries in use raise them (MLflow wraps the requests error).
SERVICE_ERRORS: tuple[type[BaseException], ...] = (
    ServiceUnavailableError,
    ConnectionError,
    TimeoutError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    httpx.TransportError,
)


def is_service_error(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from or during, is a failure to reach a service."""
    current: BaseException | None = exc
    for _ in range(10):  # a bounded walk: exception chains can loop
        if current is None or isinstance(current, ServiceLostAfterWorkError):
            return False
        if isinstance(current, SERVICE_ERRORS):
            return True
        current = current.__cause__ or current.__context__
    return False


def retry_on_service_error(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's ``retry_condition_fn`` of the stage tasks: retry only a service error, never a failed fit.

    Args:
        task: the Prefect task (unused: the decision rests on the exception alone).
        task_run: the failed task run (unused).
        state: the failed state; its data is the exception the stage raised.
    """
    failure = state.result(raise_on_failure=False)
    return isinstance(failure, BaseException) and is_service_error(failure)


@contextmanager
def work_not_redone(what: str) -> Iterator[Callable[[], None]]:
    """A block in which, once the returned ``begin()`` has been called, a service error ends the block
    as :class:`ServiceLostAfterWorkError` (its message masked) instead of a retryable error.

    Args:
        what: how the message names the work, e.g. ``stage segment``.
    """
    begun: list[bool] = []
    try:
        yield lambda: begun.append(True)
    except Exception as exc:
        if not begun or not is_service_error(exc):
            raise
        detail = masked_uri(str(exc))[:500]
        raise ServiceLostAfterWorkError(
            f"{what}: a service failed after its work had begun, so it is not retried (its models are "
            f"not refitted); run it again once the service is back: {type(exc).__name__}: {detail}"
        ) from None  # the cause's text may hold the unmasked URI


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
