"""TorchServe handler: a batch of requests -> one JSON answer each, for both models: a digit
(`bengali_digit`) or a whole number (`bengali_number`, `task: number` in its archive's config).

A thin adapter in the shape of TorchServe's BaseHandler: the payload formats, the preprocessing and
the network all come from the `bengali_digit` package, shipped inside the .mar, which training and
evaluation use too. A request that cannot be read gets its own 4xx JSON through
`context.set_response_status(..., idx)`; the rest of its batch is answered normally.
"""

from __future__ import annotations

import logging
import os
import time
from http import HTTPStatus
from pathlib import Path

import numpy as np
import torch
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

from bengali_digit import network, verdict
from bengali_digit.limits import PreprocessError
from bengali_digit.number import read_number
from bengali_digit.payload import image_bytes, request_body
from bengali_digit.preprocess import decode_image, prepare

logger = logging.getLogger(__name__)


def sent_image(row: dict):
    """The decoded image of one request of a batch, in any accepted payload form."""
    return decode_image(image_bytes(request_body(row)))


class BengaliDigitHandler(BaseHandler):
    def initialize(self, context) -> None:
        properties = context.system_properties
        self.manifest = context.manifest
        config = (getattr(context, "model_yaml_config", None) or {}).get("handler", {})
        # One thread per worker by default: workers are TorchServe's unit of parallelism, and
        # more threads than cores across workers makes every request slower.
        threads = int(os.environ.get("BDR_TORCH_THREADS", config.get("torch_threads", 1)))
        torch.set_num_threads(threads)
        self.device = torch.device("cpu")
        weights = Path(properties["model_dir"]) / self.manifest["model"]["serializedFile"]
        self.model, meta = network.load_with_meta(weights)
        # calibration travels with the weights; the refusal threshold is a serving setting
        self.temperature = float(meta.get("temperature", 1.0))
        self.score_method = meta.get("digit_score", "msp")
        self.task = config.get("task", "digit")
        self.threshold = verdict.threshold(config, in_numbers=self.task == "number")
        self.model_name = context.model_name
        self.initialized = True
        logger.info("loaded %s with %d torch threads; temperature %.4g, %s score, not-sure below %.4g",
                    weights.name, threads, self.temperature, self.score_method, self.threshold)

    def handle(self, data: list[dict], context) -> list[dict]:
        self.context = context
        for idx in range(len(data)):
            context.set_response_content_type(idx, "application/json")
            # lets operators (and the tests) see dynamic batching at work
            context.set_response_header(idx, "X-Batch-Size", str(len(data)))
        if self.task == "number":
            return self.handle_numbers(data)
        t0 = time.perf_counter()
        images: list[np.ndarray] = []
        slots: list[int] = []
        outputs: list[dict | None] = [None] * len(data)
        for idx, row in enumerate(data):
            image, outputs[idx] = self.attempt(idx, lambda row=row: prepare(sent_image(row)))
            if image is not None:
                images.append(image)
                slots.append(idx)
        t1 = time.perf_counter()
        if images:
            probabilities, _, scores = self.classify(np.stack(images))
            for idx, p, score in zip(slots, probabilities.tolist(), scores.tolist(), strict=True):
                outputs[idx] = self.answer(p, score)
        t2 = time.perf_counter()
        self.record("PreprocessTime", (t1 - t0) * 1000, [self.model_name])
        if images:
            self.record("InferenceTime", (t2 - t1) * 1000, [self.model_name], MetricTypes.GAUGE)
        return outputs

    def handle_numbers(self, data: list[dict]) -> list[dict]:
        """Each request is one number: its candidate digits go through the network together."""
        t0 = time.perf_counter()
        outputs = []
        for idx, row in enumerate(data):
            answer, error = self.attempt(idx, lambda row=row: read_number(sent_image(row), self.classify))
            if answer is not None:
                self.record("NumberPredictions", 1, [self.model_name], MetricTypes.COUNTER)
                self.record("NumberDigits", len(answer["digits"]), [self.model_name], MetricTypes.COUNTER)
            outputs.append(answer if error is None else error)
        self.record("HandlerTime", (time.perf_counter() - t0) * 1000, [self.model_name, "Model"])
        return outputs

    def classify(self, prepared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prepared images -> calibrated probabilities, is a digit, digit score (verdict.classify)."""
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(prepared)[:, None])
            return verdict.classify(logits, self.temperature, self.score_method, self.threshold)

    def attempt(self, idx: int, work) -> tuple[object, dict | None]:
        """(work(), None), or (None, the 4xx/500 JSON that request `idx` gets instead): a bad or
        failing input fails that request alone, never its whole batch (503) or its worker."""
        try:
            return work(), None
        except PreprocessError as err:
            return None, self.refuse(idx, err)
        except Exception:
            logger.exception("unexpected error on request %d", idx)
            self.context.set_response_status(500, HTTPStatus(500).phrase, idx)
            self.record("RejectedInputs", 1, [self.model_name, "internal_error"], MetricTypes.COUNTER)
            return None, {"error": "internal_error", "message": "the server failed on this input; it is logged"}

    def answer(self, probabilities: list[float], score: float) -> dict:
        out = verdict.answer(probabilities, score, self.threshold)
        if out["verdict"] == "digit":
            self.record("DigitPredictions", 1, [self.model_name, str(out["digit"])], MetricTypes.COUNTER)
        else:
            self.record("NotADigit", 1, [self.model_name], MetricTypes.COUNTER)
        return out

    def refuse(self, idx: int, err: PreprocessError) -> dict:
        # The HTTP reason phrase is the standard one, never our message: TorchServe 0.12 frames the phrase
        # by its length in characters but sends it as UTF-8, so a non-ASCII phrase ("image is 1×10000")
        # desynchronises the worker's socket and the frontend kills the worker. The message is in the body.
        self.context.set_response_status(err.status, HTTPStatus(err.status).phrase, idx)
        self.record("RejectedInputs", 1, [self.model_name, err.code], MetricTypes.COUNTER)
        return {"error": err.code, "message": err.message}

    def record(self, name: str, value: float, dims: list[str], kind: MetricTypes = MetricTypes.GAUGE) -> None:
        """Update one of the metrics declared in metrics.yaml; metrics never fail a request."""
        try:
            self.context.metrics.get_metric(name, kind).add_or_update(value, dims)
        except Exception:  # a missing or mis-declared metric is logged, not fatal to predictions
            logger.warning("metric %s not recorded", name, exc_info=True)
