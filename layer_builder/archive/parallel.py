"""Ordered parallel map with bounded work in flight: the zip writer's pipeline."""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")
_E = TypeVar("_E", bound=Executor)


@contextlib.contextmanager
def shutting_down(pool: _E) -> Iterator[_E]:
    """``with pool:``, except that when the block raises (an error, Ctrl-C, SIGTERM) the
    calls not started yet are cancelled, so the pool stops after the few in flight."""
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def usable_cpus() -> int:
    """The CPUs this process may run on (``sched_getaffinity`` exists on Linux only)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def ordered_map(
    pool: Executor,
    fn: Callable[[_T], _R],
    items: Iterable[tuple[_T, int]],
    window: int,
    budget: int = 1 << 62,
) -> Iterator[_R]:
    """``pool.map`` over ``(item, weight)`` pairs, results in order, with at most ``window``
    calls and ``budget`` weight (bytes held) in flight; a heavier item runs alone."""
    pending: deque[tuple[Future[_R], int]] = deque()
    source = iter(items)
    waiting: list[tuple[_T, int]] = []
    in_flight = 0

    def admit() -> None:
        nonlocal in_flight
        while len(pending) < window:
            if not waiting:
                for pair in source:
                    waiting.append(pair)
                    break
                else:
                    return
            item, weight = waiting[0]
            if pending and in_flight + weight > budget:
                return
            waiting.clear()
            pending.append((pool.submit(fn, item), weight))
            in_flight += weight

    try:
        admit()
        while pending:
            future, weight = pending.popleft()
            result = future.result()
            in_flight -= weight
            admit()
            yield result
    finally:
        for future, _ in pending:
            future.cancel()
