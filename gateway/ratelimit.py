"""A sliding-window rate limit, in memory: at most `limit` events a key in any `window` seconds.

Per process: under gunicorn each worker counts on its own, so a client may get up to `limit` times
the number of workers through (2 by default) when its requests land on every worker. That bounds a
flood well enough for corrections; a shared count would need a shared store (Redis) to hold it."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.events: dict[str, deque[float]] = {}
        self.swept = clock()
        self.lock = threading.Lock()  # gunicorn's threads share one limiter

    def hit(self, key: str) -> float | None:
        """Count one event of `key`: None when it is allowed, else the seconds until it would be.
        A refused event is not counted, so a client that waits as told gets through."""
        now = self.clock()
        with self.lock:
            self.sweep(now)
            times = self.events.setdefault(key, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return times[0] + self.window - now
            times.append(now)
            return None

    def sweep(self, now: float) -> None:
        """Once a window, forget the keys with no event in the last one: memory stays bounded by
        the clients of the last two windows, not by every client ever seen."""
        if now - self.swept < self.window:
            return
        self.events = {k: t for k, t in self.events.items() if t and t[-1] > now - self.window}
        self.swept = now


def retry_after(seconds: float) -> str:
    """An HTTP Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
