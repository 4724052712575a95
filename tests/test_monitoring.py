"""The monitoring path, proven: a real Prometheus (Debian's package) runs the project's scrape config
and alert rules with the targets moved to the session's TorchServe and gateway, and its query API
returns our counters after a few predictions; every dashboard query runs on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
import yaml

from bengali_digit.catalog import MODEL_NAME
from service.processes import ServerProcess, free_port, spawn, wait_until
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit
from synthetic.strokes import SCRIBBLES, draw
from tests.deploy_files import DOCKER, alert_rules, dashboard_queries, metric_names
from tests.metrics_page import MetricsPage

PROMETHEUS_CONFIG = DOCKER / "prometheus" / "prometheus.yml"
# Series that exist only after a server-side failure, which these tests do not cause.
ONLY_AFTER_FAILURES = {"Requests5XX", "gateway_upstream_errors_total"}


def local_config(targets: dict[str, str], tmp: Path) -> Path:
    """The project's prometheus.yml with each job's target replaced by a local address, jobs without
    one dropped, a 1 s scrape interval, and the rule files by absolute path."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(PROMETHEUS_CONFIG.parent / f) for f in config["rule_files"]]
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
            jobs.append(job)
    config["scrape_configs"] = jobs
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class Prometheus(ServerProcess):
    def __init__(self, config: Path, workdir: Path) -> None:
        self.config, self.workdir = config, workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "prometheus.log"
        self.process = None

    def start(self) -> Prometheus:
        self.process = spawn([shutil.which("prometheus"), f"--config.file={self.config}",
                              f"--storage.tsdb.path={self.workdir / 'data'}",
                              f"--web.listen-address=127.0.0.1:{self.port}"], self.log, cwd=self.workdir)
        return self

    def wait_started(self) -> float:
        return wait_until(lambda: requests.get(f"{self.url}/-/ready", timeout=2).ok, 30, "Prometheus",
                          alive=self.alive)

    def query(self, expr: str) -> list[dict]:
        r = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        assert r.status_code == 200, f"{expr}: {r.text}"
        return r.json()["data"]["result"]

    def value(self, expr: str) -> float:
        """A one-number query's value; 0 while the series does not exist yet."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    def target_health(self) -> dict[str, str]:
        targets = requests.get(f"{self.url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        return {target["labels"]["job"]: target["health"] for target in targets}

    def rule_health(self) -> list[str]:
        groups = requests.get(f"{self.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        return [rule["health"] for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def prometheus(torchserve, gateway, tmp_path_factory):
    if shutil.which("prometheus") is None:
        pytest.skip("the prometheus binary is missing: `sudo make system-deps` installs Debian's package")
    workdir = tmp_path_factory.mktemp("prometheus")
    targets = {"torchserve": torchserve.metrics.removeprefix("http://"), "gateway": gateway.url.removeprefix("http://")}
    server = Prometheus(local_config(targets, workdir), workdir)
    try:
        with server:
            yield server
    except BaseException:
        print(server.log.read_text(errors="replace")[-4000:])
        raise


def send_traffic(torchserve, gateway) -> None:
    """Three answers and a "not sure" through the gateway, and one refusal straight to TorchServe."""
    font = bengali_fonts()[-1]
    scribble = png_bytes(draw(SCRIBBLES["star"], 14))
    for image in [*(png_bytes(render_digit(digit, font)) for digit in (1, 5, 8)), scribble]:
        r = requests.post(f"{gateway.url}/api/predict", data=image, headers={"Content-Type": "image/png"}, timeout=30)
        assert r.status_code == 200, r.text
    # the gateway checks images itself, so a refusal counted by TorchServe has to go to TorchServe
    r = requests.post(f"{torchserve.inference}/predictions/{MODEL_NAME}", data=b"not an image", timeout=30)
    assert r.status_code == 415, r.text


def test_prometheus_scrapes_our_counters_from_torchserve(prometheus, torchserve, gateway):
    send_traffic(torchserve, gateway)
    # what TorchServe says now; Prometheus must catch up to at least that within a few scrapes
    page = MetricsPage(torchserve.metrics)
    want = {
        f'sum(DigitPredictions{{ModelName="{MODEL_NAME}"}})': page.total("DigitPredictions", ModelName=MODEL_NAME),
        f'sum(RejectedInputs{{ModelName="{MODEL_NAME}",Reason="not_an_image"}})':
            page.total("RejectedInputs", ModelName=MODEL_NAME, Reason="not_an_image"),
        f'sum(ts_inference_requests_total{{model_name="{MODEL_NAME}"}})':
            page.total("ts_inference_requests_total", model_name=MODEL_NAME),
    }
    assert all(v >= 1 for v in want.values()), want
    wait_until(lambda: all(prometheus.value(q) >= v for q, v in want.items()), 30, "our counters in Prometheus",
               alive=prometheus.alive)
    digits = {r["metric"]["Digit"] for r in prometheus.query("sum by (Digit) (DigitPredictions)")}
    assert digits and digits <= set("0123456789")
    wait_until(lambda: prometheus.target_health() == {"torchserve": "up", "gateway": "up"}, 15, "every target up",
               alive=prometheus.alive)


def test_prometheus_scrapes_the_gateway(prometheus, torchserve, gateway):
    answered = 'sum(gateway_requests_total{endpoint="/api/predict",status="200"})'
    before = prometheus.value(answered)
    send_traffic(torchserve, gateway)
    wait_until(lambda: prometheus.value(answered) >= before + 3, 30, "gateway_requests_total in Prometheus",
               alive=prometheus.alive)
    assert prometheus.query("gateway_request_duration_seconds_bucket")


def test_every_dashboard_query_runs_and_finds_data(prometheus, torchserve, gateway):
    send_traffic(torchserve, gateway)
    wanted = set().union(*map(metric_names, dashboard_queries())) - ONLY_AFTER_FAILURES
    wait_until(lambda: all(prometheus.query(f"count({m})") for m in wanted), 30, "every dashboard metric",
               alive=prometheus.alive)
    for expr in dashboard_queries():  # Grafana's variables, as Grafana would fill them in
        prometheus.query(expr.replace("$__rate_interval", "1m").replace("$__range", "1h"))


def test_alert_rules_load(prometheus):
    groups = requests.get(f"{prometheus.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules = {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}
    assert set(rules) == {rule["alert"] for rule in alert_rules()}
    # every rule evaluated without error (health turns from "unknown" to "ok" at its first evaluation)
    wait_until(lambda: set(prometheus.rule_health()) == {"ok"}, 15, "alert rules evaluated", alive=prometheus.alive)
