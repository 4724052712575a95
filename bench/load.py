"""A closed-loop HTTP load: `concurrency` clients on one aiohttp session, each posting the next body
as soon as its previous answer is in, for a fixed time. Bounded: every client stops at the deadline.

Only requests that finish inside the measured window count (after a warm-up that fills the
connection pool and TorchServe's queues), so requests/s = answers in the window / its length.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import aiohttp
import numpy as np

Bodies = list[tuple[int | str | None, bytes]]  # (what is drawn, PNG): see what_is_right
TIMEOUT = aiohttp.ClientTimeout(total=30)  # TorchServe's own responseTimeout: a hung request is an error


@dataclass
class Sample:
    seconds: float
    status: str  # "200", another status, or the exception's name
    right: bool  # the answer names the digit (or number, for a str label) drawn; label None: refused it
    batch: int  # X-Batch-Size (0 when absent, as through the gateway)
    side: int  # the PNG's width: larger canvases cost more to decode


@dataclass
class Result:
    """One cell: a target at one concurrency."""

    concurrency: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)  # status or exception name -> count
    correct: float = 0.0  # share of 200 answers that are right (Sample.right): a sanity check, not a score
    batch_sizes: dict[str, int] = field(default_factory=dict)  # X-Batch-Size as TorchServe reported it
    tail: dict = field(default_factory=dict)  # the slowest 1 % against all: batch size, canvas side

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict:
        return {**asdict(self), "error_count": self.error_count}


def png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")  # IHDR, right after the 8-byte signature and its header


def is_json(body: bytes) -> bool:
    return body[:1] == b"{"


def body_width(body: bytes) -> int:
    """The width of the image a body carries: a PNG, or the page's JSON holding one as a data URL."""
    if is_json(body):
        return png_width(base64.b64decode(json.loads(body)["image"].partition(",")[2]))
    return png_width(body)


def profile_of(samples: list[Sample]) -> dict:
    batches = [s.batch for s in samples if s.batch]
    sides = Counter(s.side for s in samples)
    return {"requests": len(samples), "mean_batch": round(float(np.mean(batches)), 2) if batches else None,
            "sides_px": {str(k): round(n / len(samples), 3) for k, n in sorted(sides.items())}}


def summarise(concurrency: int, seconds: float, samples: list[Sample]) -> Result:
    ms = np.asarray([s.seconds for s in samples]) * 1e3 if samples else np.asarray([np.nan])
    errors = Counter(s.status for s in samples if s.status != "200")
    ok = [s for s in samples if s.status == "200"]
    batch_sizes = Counter(str(s.batch) for s in samples if s.batch)
    p99 = float(np.percentile(ms, 99))
    slowest = [s for s, t in zip(samples, ms, strict=True) if t >= p99] if samples else []
    return Result(
        concurrency=concurrency, seconds=round(seconds, 3), requests=len(samples),
        rps=len(samples) / seconds,
        p50_ms=float(np.percentile(ms, 50)), p95_ms=float(np.percentile(ms, 95)),
        p99_ms=p99, mean_ms=float(ms.mean()), max_ms=float(ms.max()),
        errors=dict(errors), correct=sum(s.right for s in ok) / len(ok) if ok else 0.0,
        batch_sizes={k: batch_sizes[k] for k in sorted(batch_sizes, key=int)},
        tail={"slowest_1pct": profile_of(slowest), "all": profile_of(samples)} if samples else {},
    )


def what_is_right(label: int | str | None) -> tuple[str, int | str]:
    """The answer's key that must be there and the value it should have: a digit's drawing (int)
    reads as that digit, a number's (str) as that number, a drawing of no digit (None) is refused."""
    if label is None:
        return "verdict", "not_a_digit"
    return ("number" if isinstance(label, str) else "digit"), label


async def _run(url: str, bodies: Bodies, concurrency: int, seconds: float,
               warmup: float, mark: Callable[[str], None] | None) -> list[Sample]:
    samples: list[Sample] = []
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    # one connection per client, kept alive: the way a pool of browsers or a proxy talks to us
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    types = [{"Content-Type": "application/json" if is_json(body) else "image/png"} for _, body in bodies]
    sides = [body_width(body) for _, body in bodies]

    async def client(index: int, session: aiohttp.ClientSession) -> None:
        k = index
        while time.perf_counter() < stop_at:
            i = k % len(bodies)  # every client walks the set from its own place
            k += concurrency
            label, body = bodies[i]
            key, expected = what_is_right(label)
            t0 = time.perf_counter()
            status, right, batch = "", False, 0
            try:
                async with session.post(url, data=body, headers=types[i]) as response:
                    raw = await response.read()
                    status = str(response.status)
                    batch = int(response.headers.get("X-Batch-Size", 0))
                    if response.status == 200:
                        answer = json.loads(raw)
                        if key not in answer:
                            status = f"200 without a {key}"
                        right = answer.get(key) == expected
            except (aiohttp.ClientError, TimeoutError, ValueError) as err:
                status = type(err).__name__
            t1 = time.perf_counter()
            if measure_from <= t1 <= stop_at:
                samples.append(Sample(t1 - t0, status, right, batch, sides[i]))

    async def window() -> None:
        await asyncio.sleep(warmup)
        mark("start")
        await asyncio.sleep(seconds)
        mark("stop")

    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        await asyncio.gather(*(client(i, session) for i in range(concurrency)), *([window()] if mark else []))
    return samples


def collect(url: str, bodies: Bodies, concurrency: int, seconds: float,
            warmup: float = 1.0, mark: Callable[[str], None] | None = None) -> list[Sample]:
    """The samples of one load, unsummarised: for pooling several rounds into one result."""
    return asyncio.run(_run(url, bodies, concurrency, seconds, warmup, mark))


def run_alternating(urls: dict[str, str], bodies: Bodies, concurrency: int, seconds: float,
                    rounds: int, warmup: float = 0.5) -> tuple[dict[str, Result], list[dict[str, Result]]]:
    """The same load on several targets in turn, `rounds` times over, each for `seconds`: per target,
    all its rounds pooled; and each round's results on its own, for ratios that must hold in every
    round. On a noisy host a slow spell then hits every target alike."""
    per_round = []
    for _ in range(rounds):
        per_round.append({name: asyncio.run(_run(url, bodies, concurrency, seconds, warmup, None))
                          for name, url in urls.items()})
    pooled = {name: summarise(concurrency, seconds * rounds, [s for r in per_round for s in r[name]]) for name in urls}
    return pooled, [{name: summarise(concurrency, seconds, r[name]) for name in urls} for r in per_round]
