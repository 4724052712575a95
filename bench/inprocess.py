"""The in-process limit: the served handler's own preprocessing + forward + postprocessing (and the
JSON encoding TorchServe does after it) called directly, no HTTP, no TorchServe. It runs with the
torch threads one worker gets: in this process it is what one core can do, and in as many processes
at once as the host has cores (two_processes) what the whole host could serve at most."""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import yaml

from bengali_digit.catalog import MODEL_CONFIG, MODEL_NAME, WEIGHTS

# How long a process waits at a batch size's start for the others: far longer than a start-up, so
# reached only when one of them died.
BARRIER_TIMEOUT = 300


class NullMetric:
    def add_or_update(self, *args, **kwargs) -> None:
        pass


class NullMetrics:
    def get_metric(self, *args, **kwargs) -> NullMetric:
        return NullMetric()

    def add_time(self, *args, **kwargs) -> None:  # BaseHandler.handle's HandlerTime
        pass


class Context:
    """The parts of TorchServe's Context that the handler touches, doing nothing with responses."""

    def __init__(self, weights: Path, threads: int):
        self.system_properties = {"model_dir": str(weights.parent)}
        self.manifest = {"model": {"serializedFile": weights.name}}
        # the archive's own handler settings (the not-sure threshold among them), threads as asked
        config = yaml.safe_load(MODEL_CONFIG.read_text())
        self.model_yaml_config = {**config, "handler": {**config["handler"], "torch_threads": threads}}
        self.model_name = MODEL_NAME
        self.metrics = NullMetrics()

    def set_response_content_type(self, idx: int, value: str) -> None:
        pass

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        pass

    def set_response_status(self, code: int, phrase: str, idx: int) -> None:
        pass

    def get_request_header(self, idx: int, key: str) -> None:  # no "describe" or "explain" requests here
        return None


def images_per_second(bodies: list[tuple[int, bytes]], batch_sizes: list[int], seconds: float,
                      threads: int = 1, weights: Path = WEIGHTS,
                      start: Callable[[], object] | None = None) -> dict[str, dict]:
    """For each batch size: images/s and ms per batch, over `seconds` of batches cut from `bodies`.
    Given `start`, it is called after each batch size's warm-up and the window begins when it returns;
    the window's ends (time.monotonic, the same clock in every process) are then kept too."""
    from handler.handler import BengaliDigitHandler

    os.environ.pop("BDR_TORCH_THREADS", None)  # the argument decides, as model-config.yaml does in a worker
    handler = BengaliDigitHandler()
    context = Context(weights, threads)
    handler.initialize(context)
    out = {}
    for bs in batch_sizes:
        # consecutive slices of the bodies, wrapping round when there are fewer bodies than a batch
        rows = [[{"body": bodies[(i * bs + j) % len(bodies)][1]} for j in range(bs)]
                for i in range(max(1, len(bodies) // bs))]
        for batch in rows[:2]:  # warm-up: first calls allocate
            handler.handle(batch, context)
        if start:
            start()
        begun = time.monotonic()
        images = batches = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            batch = rows[batches % len(rows)]
            [json.dumps(answer) for answer in handler.handle(batch, context)]  # as TorchServe encodes each
            images += len(batch)
            batches += 1
        elapsed = time.perf_counter() - t0
        out[str(bs)] = {"images_per_s": images / elapsed, "ms_per_batch": elapsed / batches * 1e3, "batches": batches}
        if start:
            out[str(bs)]["window"] = [begun, time.monotonic()]
    return out


def _one_of_many(args: tuple, barrier: Barrier, results: Queue) -> None:
    results.put(images_per_second(*args, start=barrier.wait))


def two_processes(bodies: list[tuple[int, bytes]], batch_sizes: list[int], seconds: float, threads: int = 1,
                  weights: Path = WEIGHTS, processes: int = 2) -> dict[str, dict]:
    """images_per_second in `processes` fresh processes at once (spawned: each its own torch and
    handler, as TorchServe's workers are), each batch size's window begun together once all have
    warmed up, so that they share the cores the way the workers do. Per batch size: the summed
    images/s, each process's figures, and how much of the windows overlapped (shared / spanned)."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(processes, timeout=BARRIER_TIMEOUT), ctx.Queue()
    workers = [ctx.Process(target=_one_of_many, args=((bodies, batch_sizes, seconds, threads, weights), barrier,
                                                      results), daemon=True) for _ in range(processes)]
    for w in workers:
        w.start()
    got: list[dict] = []
    try:
        while len(got) < processes:
            try:
                got.append(results.get(timeout=1))
            except queue.Empty:
                failed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
                if failed:
                    raise RuntimeError(f"an in-process limit process failed (exit codes {failed})") from None
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.kill()
    out = {}
    for bs in map(str, batch_sizes):
        each = [g[bs] for g in got]
        begun, ended = zip(*(e.pop("window") for e in each), strict=True)
        out[bs] = {"images_per_s": sum(e["images_per_s"] for e in each), "per_process": each,
                   "overlap": (min(ended) - max(begun)) / (max(ended) - min(begun))}
    return out
