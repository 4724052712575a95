"""One TorchServe instance from our config.properties, on the addresses it names or on others.

Each instance gets its own temp dir: TorchServe keeps a pid file and its workers' unix sockets there
(named by worker port, the same in every instance) and refuses to start a second instance that shares
it; and it writes logs under the working directory unless told otherwise.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bengali_digit.catalog import ROOT
from service.processes import ServerProcess, spawn, wait_until

# Every setting that makes TorchServe listen: give each instance its own values, or two instances clash
# (gRPC listens on 7070/7071 unless told otherwise, even when nobody uses it).
API_KEYS = ("inference_address", "management_address", "metrics_address", "grpc_inference_port",
            "grpc_management_port")


def read_properties(path: Path) -> dict[str, str]:
    """Java .properties with backslash line continuations, as TorchServe reads them."""
    text = re.sub(r"\\\n\s*", "", path.read_text())
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def write_properties(props: dict[str, str], path: Path) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))


@dataclass
class TorchServe(ServerProcess):
    workdir: Path
    model_store: Path = ROOT / "model_store"
    config: Path = ROOT / "config.properties"
    ports: dict[str, int] | None = None  # e.g. {"inference_address": 18080, ...}; None keeps the config's
    overrides: dict[str, str] = field(default_factory=dict)  # config.properties keys
    model_overrides: dict = field(default_factory=dict)  # e.g. {"minWorkers": 1, "maxBatchDelay": 50}
    env: dict[str, str] = field(default_factory=dict)  # for the frontend and its workers, e.g. BDR_TORCH_THREADS
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        props = read_properties(self.config)
        for key, port in (self.ports or {}).items():
            props[key] = f"http://127.0.0.1:{port}" if key.endswith("_address") else str(port)
        props["model_store"] = str(self.model_store.resolve())
        props["metrics_config"] = str((self.config.parent / props.get("metrics_config", "metrics.yaml")).resolve())
        props.update(self.overrides)
        if self.model_overrides:
            models = json.loads(props["models"])
            for versions in models.values():
                for version in versions.values():
                    version.update(self.model_overrides)
            props["models"] = json.dumps(models)
        self.props = props

    def url(self, api: str) -> str:
        return self.props[f"{api}_address"]

    @property
    def inference(self) -> str:
        return self.url("inference")

    @property
    def management(self) -> str:
        return self.url("management")

    @property
    def metrics(self) -> str:
        return self.url("metrics")

    @property
    def log(self) -> Path:
        return self.workdir / "torchserve.log"

    def start(self) -> TorchServe:
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.properties"
        write_properties(self.props, config)
        launcher = Path(sys.executable).parent / "torchserve"
        self.process = spawn(
            [str(launcher), "--start", "--foreground", "--ncs", "--ts-config", str(config),
             "--model-store", str(self.model_store.resolve())],
            self.log,
            # TEMP moves the frontend's java.io.tmpdir, where the worker sockets (.ts.sock.<port>) live;
            # TMPDIR moves the launcher's pid file
            env={"TEMP": str(self.workdir / "tmp"), "TMPDIR": str(self.workdir / "tmp"),
                 "LOG_LOCATION": str(self.workdir / "logs"), "METRICS_LOCATION": str(self.workdir / "logs"),
                 **self.env},
            cwd=self.workdir,
        )
        return self

    def ready(self) -> bool:
        """Every model answers: at least one worker READY each, and /ping healthy."""
        if requests.get(f"{self.inference}/ping", timeout=2).status_code != 200:
            return False
        for name in json.loads(self.props["models"]):
            r = requests.get(f"{self.management}/models/{name}", timeout=2)
            if not (r.ok and any(w["status"] == "READY" for w in r.json()[0]["workers"])):
                return False
        return True

    def wait_ready(self, timeout: float = 120) -> float:
        return wait_until(self.ready, timeout, "TorchServe", alive=self.alive)

    def wait_started(self) -> float:
        return self.wait_ready()
