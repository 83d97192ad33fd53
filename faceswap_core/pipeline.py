"""A small stage runner: each stage in its own thread, joined by bounded queues. Used by chapter 02's
extraction (decode -> detect -> save) and chapter 05's conversion (decode -> detect -> model -> blend ->
encode).

Threads pay off here because PyAV, OpenCV and torch release the GIL while they work. Queues are bounded,
so a fast stage waits for a slow one instead of filling memory. An error in any stage stops all of them,
every thread is joined, and the first error is raised in the caller's thread; so is Ctrl-C.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

_END = object()


def chunked(items: Iterable, n: int) -> Iterator[list]:
    """Group an iterable into lists of `n` (the last may be shorter)."""
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Stage:
    """One step of a pipeline: a name and the function applied to every item (its result goes on)."""

    name: str
    work: Callable
    queue_size: int = 2  # items waiting in front of the next stage


class _Worker(threading.Thread):
    """Runs one stage: reads items from `inbox` (or `source`), puts results in `outbox`."""

    def __init__(self, stage: Stage, inbox: queue.Queue | None, outbox: queue.Queue | None,
                 source: Iterator | None, abort: threading.Event):
        super().__init__(name=stage.name, daemon=True)
        self.work, self.inbox, self.outbox, self.source, self.abort = stage.work, inbox, outbox, source, abort
        self.busy = 0.0
        self.error: BaseException | None = None

    def _put(self, item) -> bool:
        while not self.abort.is_set():
            try:
                self.outbox.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self):
        while not self.abort.is_set():
            try:
                return self.inbox.get(timeout=0.1)
            except queue.Empty:
                continue
        return _END

    def run(self) -> None:
        try:
            items = self.source if self.source is not None else iter(self._get, _END)
            while True:
                t0 = time.perf_counter()
                item = next(items, _END)
                if self.source is None:
                    t0 = time.perf_counter()  # waiting for the previous stage is not this stage's work
                if item is _END or self.abort.is_set():
                    break
                result = self.work(item)
                self.busy += time.perf_counter() - t0
                if self.outbox is not None and not self._put(result):
                    break
        except BaseException as e:  # handed to the caller's thread, which stops the others
            self.error = e
            self.abort.set()
        finally:
            if self.outbox is not None:
                self._put(_END)


def run(source: Iterable, stages: list[Stage]) -> dict[str, float]:
    """Feed every item of `source` through `stages` in order, each in its own thread; the first stage
    also pulls from `source` (so reading overlaps the rest). Returns each stage's busy seconds."""
    abort = threading.Event()
    queues = [queue.Queue(maxsize=s.queue_size) for s in stages[:-1]]
    workers = [_Worker(s, queues[k - 1] if k else None, queues[k] if k < len(queues) else None,
                       iter(source) if k == 0 else None, abort) for k, s in enumerate(stages)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            while w.is_alive():
                w.join(0.2)
    except BaseException:  # Ctrl-C in the caller: stop and join every stage before raising
        abort.set()
        for w in workers:
            w.join()
        raise
    errors = [w.error for w in workers if w.error is not None]
    if errors:
        raise errors[0]
    return {w.name: round(w.busy, 2) for w in workers}


__all__ = ["Stage", "chunked", "run"]
