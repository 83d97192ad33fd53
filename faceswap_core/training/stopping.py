"""Stopping training only between whole steps: Ctrl-C (SIGINT) or a plain `kill` (SIGTERM) during a step is
held until the step is complete, so the checkpoint saved on the way out holds whole steps and a resumed run
is bit-exact (the persons are updated one after the other: a step cut in two would save half of it).

A second signal while one is held stops at once, without saving: the last checkpoint stands."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class StopRequests:
    """The signal that asked training to stop (None while none has), for the loop to act on between steps."""

    def __init__(self):
        self.signum: int | None = None

    def _held(self, signum, frame) -> None:
        if self.signum is not None:  # asked twice: stop now (mid-step: nothing is saved)
            raise KeyboardInterrupt(f"signal {signum}, twice")
        self.signum = signum

    def check(self) -> None:
        """Raise the held stop (as Ctrl-C) at a step boundary."""
        if self.signum is not None:
            signum, self.signum = self.signum, None
            raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def whole_steps() -> Iterator[StopRequests]:
    """Hold SIGINT and SIGTERM for the block (in the main thread; elsewhere signals cannot be caught). A
    signal the process ignores (a job started in the background without job control ignores Ctrl-C) stays
    ignored."""
    requests = StopRequests()
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return
    old = {s: signal.signal(s, requests._held) for s in (signal.SIGINT, signal.SIGTERM)
           if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield requests
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
