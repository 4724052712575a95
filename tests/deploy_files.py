"""The deployment files (docker/) and readers shared by the tests/test_deploy_*.py modules and
tests/test_monitoring.py: the Dockerfiles (read by dockerfile-parse), compose, the container's ports,
the dashboard's and alert rules' PromQL, and the metric names a query reads."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from dockerfile_parse import DockerfileParser

from bengali_digit.catalog import ROOT
from service.torchserve import read_properties

DOCKER = ROOT / "docker"
K8S = DOCKER / "k8s"
SCHEMAS = DOCKER / "schemas"
DOCKERFILES = {"torchserve": DOCKER / "torchserve.Dockerfile", "gateway": DOCKER / "gateway.Dockerfile"}
HTTP_APIS = ("inference_address", "management_address", "metrics_address")  # gRPC stays on loopback
GATEWAY_PORT = 8000


def tool(name: str) -> str | None:
    """A command from this venv (pip-installed tools) or else from PATH."""
    venv = Path(sys.executable).parent / name
    return str(venv) if venv.exists() else shutil.which(name)


# ---------------------------------------------------------------- Dockerfiles


def dockerfile(name: str) -> DockerfileParser:
    """The image's Dockerfile, parsed: `.structure`, and the final stage's `.envs` and `.cmd`."""
    return DockerfileParser(str(DOCKERFILES[name]))


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    return [(step["instruction"], step["value"]) for step in dockerfile(name).structure
            if step["instruction"] != "COMMENT"]


def final_stage(name: str) -> list[tuple[str, str]]:
    steps = instructions(name)
    last_from = max(i for i, (kw, _) in enumerate(steps) if kw == "FROM")
    return steps[last_from:]


def copy_sources(name: str) -> list[str]:
    """Paths that COPY takes from the build context (not from other stages)."""
    sources = []
    for keyword, args in instructions(name):
        if keyword != "COPY" or "--from=" in args:
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        sources += words[:-1]
    return sources


def user_id(name: str) -> int:
    """The numeric user the image runs as (its final stage's USER)."""
    return int(next(args for kw, args in final_stage(name) if kw == "USER").split(":")[0])


# ---------------------------------------------------------------- compose and the container's ports


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def container_ports() -> dict[str, int]:
    """TorchServe's ports inside its container: inference, management and metrics."""
    props = read_properties(DOCKER / "config.properties")
    return {key.removesuffix("_address"): urlsplit(props[key]).port for key in HTTP_APIS}


# ---------------------------------------------------------------- dashboard and alert rules


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
                "and", "or", "unless", "inf", "nan"}


def dashboard() -> dict:
    return json.loads((DOCKER / "grafana" / "dashboards" / "bengali-digit.json").read_text())


def dashboard_panels() -> list[dict]:
    return dashboard()["panels"]


def dashboard_queries() -> list[str]:
    return [t["expr"] for p in dashboard_panels() for t in p.get("targets", [])]


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((DOCKER / "prometheus" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alert_queries() -> list[str]:
    return [rule["expr"] for rule in alert_rules()]


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads: identifiers that are not functions, keywords,
    label names (inside {} or by/without/on/ignoring lists), durations or Grafana variables."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\$\w+", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)\b(\s*\()?", expr):
        if match.group(2) is None and match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names
