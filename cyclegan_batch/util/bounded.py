"""Bounded concurrent work: at most `in_flight` calls submitted ahead of the consumer, so memory stays flat.

The one mechanism every pipeline uses: prepare's worker processes (results as they finish), the image
pipeline's decode threads and the video pipeline's model calls (results in order), and, through
`in_background`, the video decoder's thread.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from itertools import islice, repeat
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def bounded_map(
    pool: Executor,
    fn: Callable[[T], R],
    items: Iterable[T],
    in_flight: int,
    *,
    ordered: bool = True,
    waited: Callable[[float], None] | None = None,
) -> Iterator[tuple[T, R]]:
    """(item, fn(item)) for every item, run in `pool`: in input order, or as they finish (`ordered=False`).

    `waited(seconds)` is told how long the consumer blocked on each result (time the pool kept it waiting).
    A failure in `fn` is raised here, at its turn.
    """
    items = iter(items)
    pending: deque[tuple[T, Future[R]]] = deque()

    def submit(count: int) -> None:
        pending.extend((item, pool.submit(fn, item)) for item in islice(items, count))

    submit(in_flight)
    while pending:
        if ordered:
            item, future = pending.popleft()
        else:
            wait([f for _, f in pending], return_when=FIRST_COMPLETED)
            index = next(i for i, (_, f) in enumerate(pending) if f.done())
            item, future = pending[index]
            del pending[index]
        submit(1)
        start = time.perf_counter()
        result = future.result()
        if waited is not None:
            waited(time.perf_counter() - start)
        yield item, result


_EXHAUSTED = object()


def in_background(items: Iterable[T], ahead: int, name: str = "producer") -> Iterator[T]:
    """`items`, produced in a thread of their own up to `ahead` items before the consumer needs them.

    One worker pulls them one at a time, in order, so an iterator that is not thread-safe (a decoder) is
    fine. An error while producing is raised here, at its turn; leaving early drops what was queued.
    """
    source = iter(items)
    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    try:
        for _, item in bounded_map(pool, lambda _: next(source, _EXHAUSTED), repeat(None), ahead):
            if item is _EXHAUSTED:
                return
            yield item  # type: ignore[misc]
    finally:
        pool.shutdown(cancel_futures=True)
