"""TorchServe handler: a batch of requests -> one JSON answer each.

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

from bengali_digit import DIGITS, network
from bengali_digit.payload import image_bytes, request_body
from bengali_digit.preprocess import PreprocessError, decode_image, prepare

logger = logging.getLogger(__name__)


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
        self.model = network.load(weights)
        self.model_name = context.model_name
        self.initialized = True
        logger.info("loaded %s with %d torch threads", weights.name, threads)

    def handle(self, data: list[dict], context) -> list[dict]:
        self.context = context
        t0 = time.perf_counter()
        images: list[np.ndarray] = []
        slots: list[int] = []
        outputs: list[dict | None] = [None] * len(data)
        for idx, row in enumerate(data):
            context.set_response_content_type(idx, "application/json")
            # lets operators (and the tests) see dynamic batching at work
            context.set_response_header(idx, "X-Batch-Size", str(len(data)))
            try:
                images.append(prepare(decode_image(image_bytes(request_body(row)))))
                slots.append(idx)
            except PreprocessError as err:
                outputs[idx] = self.refuse(idx, err)
            except Exception:  # a bug on one input fails that request alone, not its whole batch (503)
                logger.exception("unexpected error preparing request %d", idx)
                context.set_response_status(500, HTTPStatus(500).phrase, idx)
                self.record("RejectedInputs", 1, [self.model_name, "internal_error"], MetricTypes.COUNTER)
                outputs[idx] = {"error": "internal_error", "message": "the server failed on this input; it is logged"}
        t1 = time.perf_counter()
        if images:
            with torch.inference_mode():
                probabilities = torch.softmax(self.model(torch.from_numpy(np.stack(images))[:, None]), dim=1)
            for idx, p in zip(slots, probabilities.tolist(), strict=True):
                outputs[idx] = self.answer(p)
        t2 = time.perf_counter()
        self.record("PreprocessTime", (t1 - t0) * 1000, [self.model_name])
        if images:
            self.record("InferenceTime", (t2 - t1) * 1000, [self.model_name], MetricTypes.GAUGE)
        return outputs

    def answer(self, probabilities: list[float]) -> dict:
        digit = int(np.argmax(probabilities))
        self.record("DigitPredictions", 1, [self.model_name, str(digit)], MetricTypes.COUNTER)
        return {
            "digit": digit,
            "bengali": DIGITS[digit],
            "confidence": round(probabilities[digit], 6),
            "probabilities": [round(p, 6) for p in probabilities],
        }

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
