"""The monitoring files, read without running them (tests/test_monitoring.py runs a real
Prometheus): promtool on the Prometheus config and its rules, the dashboard's and alerts' queries
reading only metrics something exposes, the panels operators watch, and the gateway's metric names."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from bengali_digit.catalog import ROOT
from tests.deploy_files import DOCKER, alert_queries, dashboard_panels, dashboard_queries, metric_names

# The gateway's metrics, by agreement with gateway/metrics.py (test_gateway_metrics_are_the_ones_we_monitor).
GATEWAY_METRICS = {"gateway_requests_total", "gateway_request_duration_seconds", "gateway_upstream_errors_total",
                   "gateway_verdicts_total"}


def test_prometheus_config_passes_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool missing: `make system-deps` installs Debian's prometheus package")
    # promtool checks the rule files a config names, too
    r = subprocess.run([promtool, "check", "config", str(DOCKER / "prometheus" / "prometheus.yml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_gateway_metrics_are_the_ones_we_monitor():
    source = "\n".join(p.read_text() for p in (ROOT / "gateway").rglob("*.py"))
    names = set(re.findall(r"(?:Counter|Histogram|Gauge|Summary)\(\s*\"([a-z_:]+)\"", source))
    # prometheus_client appends _total to counters only when it is missing: names are as written
    assert names == GATEWAY_METRICS, names


def declared_metrics() -> set[str]:
    """Every series name our processes can expose: metrics.yaml (TorchServe's and the handler's),
    the gateway's (with a histogram's _bucket/_sum/_count) and Prometheus' own `up`."""
    spec = yaml.safe_load((ROOT / "metrics.yaml").read_text())
    names = {m["name"] for group in ("ts_metrics", "model_metrics") for kind in spec[group].values() for m in kind}
    histogram = "gateway_request_duration_seconds"
    return names | GATEWAY_METRICS | {f"{histogram}_{s}" for s in ("bucket", "sum", "count")} | {"up"}


def test_promql_metric_extraction():
    expr = ('histogram_quantile(0.95, sum by (le, endpoint) (rate(gateway_request_duration_seconds_bucket'
            '{endpoint=~"/api/.*"}[$__rate_interval]))) / on (instance) count(up{job="x"}) > 0.5')
    assert metric_names(expr) == {"gateway_request_duration_seconds_bucket", "up"}


def test_dashboard_and_alerts_query_only_metrics_we_expose():
    used = set().union(*map(metric_names, dashboard_queries() + alert_queries()))
    unknown = used - declared_metrics()
    assert not unknown, f"queried but exposed by nobody: {unknown}"
    # the list: request rate, latency, errors, predictions per digit, rejections per reason, workers
    for needed in ("gateway_requests_total", "ts_inference_requests_total", "gateway_request_duration_seconds_bucket",
                   "ts_inference_latency_microseconds", "Requests5XX", "gateway_upstream_errors_total",
                   "DigitPredictions", "RejectedInputs", "WorkerLoadTime"):
        assert needed in used, needed


def test_dashboard_has_the_panels_operators_watch():
    panels = dashboard_panels()
    titles = [p["title"] for p in panels if p["type"] != "row"]
    for wanted in ("Request rate", "Errors", "Gateway latency", "TorchServe latency", "Predictions per digit",
                   "Rejected inputs per reason", "Workers"):
        assert wanted in titles, wanted
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for p in panels:  # panels stay inside Grafana's 24-column grid
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, p["title"]
    by_digit = next(p for p in panels if p["title"] == "Predictions per digit")
    assert "by (Digit)" in by_digit["targets"][0]["expr"]
    assert any("NotADigit" in t["expr"] for t in by_digit["targets"])  # "not sure" answers beside the digits
    by_reason = next(p for p in panels if p["title"] == "Rejected inputs per reason")
    assert "by (Reason)" in by_reason["targets"][0]["expr"]
