"""The in-process limit: the served handler's own preprocessing + forward + postprocessing (and the
JSON encoding TorchServe does after it) called directly in this process, no HTTP, no TorchServe.
It runs with the torch threads one worker gets, so it is what one core can do."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml

from bengali_digit.catalog import MODEL_CONFIG, MODEL_NAME, WEIGHTS


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
                      threads: int = 1, weights: Path = WEIGHTS) -> dict[str, dict]:
    """For each batch size: images/s and ms per batch, over `seconds` of batches cut from `bodies`."""
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
        images = batches = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            batch = rows[batches % len(rows)]
            [json.dumps(answer) for answer in handler.handle(batch, context)]  # as TorchServe encodes each
            images += len(batch)
            batches += 1
        elapsed = time.perf_counter() - t0
        out[str(bs)] = {"images_per_s": images / elapsed, "ms_per_batch": elapsed / batches * 1e3, "batches": batches}
    return out
