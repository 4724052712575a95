"""Prometheus metrics of the gateway itself, at GET /metrics.

Under gunicorn with several workers each worker counts on its own, so prometheus_client runs in
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set up by gunicorn.conf.py) and /metrics sums the
workers' files. Without that variable (one process) the app's own registry is served.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

bp = Blueprint("metrics", __name__)

# Predictions take milliseconds when all is well; the upper buckets catch the read timeout.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    duration: Histogram
    upstream_errors: Counter
    verdicts: Counter


def init_app(app: Flask) -> None:
    # A registry per app rather than prometheus_client's global one, so that two apps in one
    # process (tests, a reload) never collide over metric names.
    registry = CollectorRegistry()
    app.extensions["metrics"] = Metrics(
        registry=registry,
        requests=Counter("gateway_requests_total", "HTTP requests answered by the gateway",
                         ["endpoint", "status"], registry=registry),
        duration=Histogram("gateway_request_duration_seconds", "Time to answer a request",
                           ["endpoint"], buckets=BUCKETS, registry=registry),
        upstream_errors=Counter("gateway_upstream_errors_total", "Failed calls to TorchServe by reason",
                                ["reason"], registry=registry),
        verdicts=Counter("gateway_verdicts_total",
                         "Answered predictions by verdict (digit, not_a_digit) and the model version that answered",
                         ["verdict", "model_version"], registry=registry),
    )
    app.register_blueprint(bp)


def metrics() -> Metrics:
    return current_app.extensions["metrics"]


@bp.before_app_request
def start_timer() -> None:
    g.started = time.perf_counter()


@bp.after_app_request
def count(response: Response) -> Response:
    # the route's pattern, not the path, keeps the label set small whatever clients ask for
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    m = metrics()
    m.requests.labels(endpoint, str(response.status_code)).inc()
    m.duration.labels(endpoint).observe(time.perf_counter() - g.get("started", time.perf_counter()))
    return response


@bp.get("/metrics")
def export() -> Response:
    """Prometheus text format: the gateway's request, latency and upstream-error metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = metrics().registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
