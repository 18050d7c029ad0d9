"""The time budget of the work in progress, shared by whoever calls out.

An entry point with a hard limit (the API function: API Gateway gives up after 29 s) opens a
budget with :func:`deadline_in`; outbound clients read :func:`remaining` and give up, with the
documented "unavailable" error, before the budget is spent rather than letting the platform cut
the request off. Outside a budget, :func:`remaining` is ``None`` and clients use their own
timeouts and retries alone.

The budget lives in a :class:`contextvars.ContextVar`: it follows the request into the worker
thread FastAPI runs a route in, and into threads started with :func:`in_this_context`.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("chronos_deadline", default=None)


@contextlib.contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Run the block with a budget of ``seconds`` from now (a tighter enclosing budget wins)."""
    new = time.monotonic() + seconds
    current = _deadline.get()
    token = _deadline.set(new if current is None else min(current, new))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left in the current budget (never negative), or ``None`` without a budget."""
    current = _deadline.get()
    return None if current is None else max(0.0, current - time.monotonic())


def in_this_context[**P, R](function: Callable[P, R]) -> Callable[P, R]:
    """``function`` bound to a copy of the caller's context, for running in another thread."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(function, *args, **kwargs)

    return run
