"""TorchServe handler: a batch of requests -> one JSON answer each, for both models: a digit
(`bengali_digit`) or a whole number (`bengali_number`, `task: number` in its archive's config).

A thin adapter in the shape of TorchServe's BaseHandler: the payload formats, the preprocessing and
the network all come from the `bengali_digit` package, shipped inside the .mar, which training and
evaluation use too. A request that cannot be read gets its own 4xx JSON through
`context.set_response_status(..., idx)`; the rest of its batch is answered normally.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

from bengali_digit import network, verdict
from bengali_digit.limits import PreprocessError
from bengali_digit.number import read_number
from bengali_digit.payload import drawing, image_bytes, request_body
from bengali_digit.preprocess import decode_pixels, prepare

logger = logging.getLogger(__name__)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory(mmap_threshold: int = 16 << 20, trim_threshold: int = 32 << 20) -> None:
    """Let glibc keep the memory of one image's pixels for the next. By default a block of over 128 KiB
    (a canvas and its copies) is mapped from the kernel and handed back when freed, so every image pays
    again for faulting its pages in: on the benchmark host that cost as much as decoding it. Blocks
    under `mmap_threshold` now come from the heap, which keeps up to `trim_threshold` of freed memory;
    larger images are still mapped and handed back. Nothing happens without glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)
    except (OSError, AttributeError):
        logger.info("not glibc: malloc left at its defaults")


# a request between the handler's steps: its work so far and True, or the error JSON it gets and False
Outcome = tuple[Any, bool]


def sent_image(row: dict):
    """The decoded image of one request of a batch, in any accepted payload form (a plain PNG as its
    pixel array, which `prepare` and `read_number` read fastest)."""
    return decode_pixels(image_bytes(request_body(row)))


def sent_number(row: dict):
    """The decoded image of one request for a number, and the strokes it was drawn in, if sent."""
    data, strokes = drawing(request_body(row))
    return decode_pixels(data), strokes


class BengaliDigitHandler(BaseHandler):
    """BaseHandler's own handle() runs preprocess -> inference -> postprocess and sends HandlerTime;
    between the steps each request is either its work so far or the error JSON it will get."""

    def initialize(self, context) -> None:
        properties = context.system_properties
        self.manifest = context.manifest
        config = (getattr(context, "model_yaml_config", None) or {}).get("handler", {})
        # One thread per worker by default: workers are TorchServe's unit of parallelism, and
        # more threads than cores across workers makes every request slower.
        threads = int(os.environ.get("BDR_TORCH_THREADS", config.get("torch_threads", 1)))
        torch.set_num_threads(threads)
        keep_freed_memory()
        self.device = torch.device("cpu")
        weights = Path(properties["model_dir"]) / self.manifest["model"]["serializedFile"]
        self.model, meta = network.load_with_meta(weights)
        # calibration travels with the weights; the refusal threshold is a serving setting
        self.temperature = float(meta.get("temperature", 1.0))
        self.score_method = meta.get("digit_score", "msp")
        self.task = config.get("task", "digit")
        self.threshold = verdict.threshold(config, in_numbers=self.task == "number")
        self.model_name = context.model_name
        # every answer names the release it came from (the archive's --version), so that a
        # correction, a metric or a bug report can be traced to the weights that gave it
        self.version = str(self.manifest["model"].get("modelVersion", ""))
        self.initialized = True
        logger.info("loaded %s with %d torch threads; temperature %.4g, %s score, not-sure below %.4g",
                    weights.name, threads, self.temperature, self.score_method, self.threshold)

    def preprocess(self, data: list[dict]) -> list[Outcome]:
        """Each request's image, decoded (a digit's prepared, a number's with its strokes), or its error."""
        t0 = time.perf_counter()
        for idx in range(len(data)):
            self.context.set_response_content_type(idx, "application/json")
            # lets operators (and the tests) see dynamic batching at work
            self.context.set_response_header(idx, "X-Batch-Size", str(len(data)))
        step = sent_number if self.task == "number" else (lambda row: prepare(sent_image(row)))
        outcomes = [self.attempt(idx, lambda row=row: step(row)) for idx, row in enumerate(data)]
        self.record("PreprocessTime", (time.perf_counter() - t0) * 1000, self.dims(), MetricTypes.GAUGE)
        return outcomes

    def inference(self, outcomes: list[Outcome]) -> list[Outcome]:
        """A digit batch goes through the network at once; each number reads its own candidates."""
        t0 = time.perf_counter()
        if self.task == "number":
            outcomes = [self.attempt(idx, lambda sent=sent: read_number(sent[0], self.classify, sent[1])) if ok
                        else (sent, ok) for idx, (sent, ok) in enumerate(outcomes)]
        else:
            slots = [idx for idx, (_, ok) in enumerate(outcomes) if ok]
            if not slots:
                return outcomes
            probabilities, _, scores = self.classify(np.stack([outcomes[idx][0] for idx in slots]))
            outcomes = list(outcomes)
            for idx, p, score in zip(slots, probabilities.tolist(), scores.tolist(), strict=True):
                outcomes[idx] = (self.answer(p, score), True)
        self.record("InferenceTime", (time.perf_counter() - t0) * 1000, self.dims(), MetricTypes.GAUGE)
        return outcomes

    def postprocess(self, outcomes: list[Outcome]) -> list[dict]:
        """One JSON value per request, in order: TorchServe answers 503 for the batch otherwise."""
        for answer, ok in outcomes:
            if ok:
                answer["model_version"] = self.version
            if ok and self.task == "number":
                self.record("NumberPredictions", 1, self.dims(), MetricTypes.COUNTER)
                self.record("NumberDigits", len(answer["digits"]), self.dims(), MetricTypes.COUNTER)
        return [answer for answer, _ in outcomes]

    def classify(self, prepared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prepared images -> calibrated probabilities, is a digit, digit score (verdict.classify)."""
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(prepared)[:, None])
            return verdict.classify(logits, self.temperature, self.score_method, self.threshold)

    def attempt(self, idx: int, work: Callable[[], Any]) -> Outcome:
        """(work(), True), or (the 4xx/500 JSON that request `idx` gets instead, False): a bad or
        failing input fails that request alone, never its whole batch (503) or its worker."""
        try:
            return work(), True
        except PreprocessError as err:
            return self.refuse(idx, err), False
        except Exception:
            logger.exception("unexpected error on request %d", idx)
            self.context.set_response_status(500, HTTPStatus(500).phrase, idx)
            self.record("RejectedInputs", 1, self.dims("internal_error"), MetricTypes.COUNTER)
            return {"error": "internal_error", "message": "the server failed on this input; it is logged"}, False

    def answer(self, probabilities: list[float], score: float) -> dict:
        out = verdict.answer(probabilities, score, self.threshold)
        if out["verdict"] == "digit":
            self.record("DigitPredictions", 1, self.dims(str(out["digit"])), MetricTypes.COUNTER)
        else:
            self.record("NotADigit", 1, self.dims(), MetricTypes.COUNTER)
        return out

    def refuse(self, idx: int, err: PreprocessError) -> dict:
        # The HTTP reason phrase is the standard one, never our message: TorchServe 0.12 frames the phrase
        # by its length in characters but sends it as UTF-8, so a non-ASCII phrase ("image is 1×10000")
        # desynchronises the worker's socket and the frontend kills the worker. The message is in the body.
        self.context.set_response_status(err.status, HTTPStatus(err.status).phrase, idx)
        self.record("RejectedInputs", 1, self.dims(err.code), MetricTypes.COUNTER)
        return {"error": err.code, "message": err.message}

    def dims(self, *extra: str) -> list[str]:
        """Model name and version, then a counter's own dimensions (metrics.yaml)."""
        return [self.model_name, self.version, *extra]

    def record(self, name: str, value: float, dims: list[str], kind: MetricTypes = MetricTypes.GAUGE) -> None:
        """Update one of the metrics declared in metrics.yaml; metrics never fail a request."""
        try:
            self.context.metrics.get_metric(name, kind).add_or_update(value, dims)
        except Exception:  # a missing or mis-declared metric is logged, not fatal to predictions
            logger.warning("metric %s not recorded", name, exc_info=True)
