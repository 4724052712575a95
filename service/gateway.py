"""One gateway process (gunicorn serving `gateway:create_app()`) on a loopback port, in front of
the TorchServe inference API at `torchserve_url`; for `make serve` and the tests alike."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests

from service.processes import ServerProcess, free_port, spawn, wait_until
from service.torchserve import ROOT


@dataclass
class Gateway(ServerProcess):
    workdir: Path
    torchserve_url: str
    port: int = field(default_factory=free_port)
    settings: dict[str, str] = field(default_factory=dict)  # BDR_* or GATEWAY_* environment variables
    # Where corrections are kept (BDR_FEEDBACK_DIR): `make serve` names data/; a test's gateway
    # keeps them in its own folder, never in the developer's.
    feedback_dir: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "gateway.log"

    def start(self) -> Gateway:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.process = spawn(
            [str(gunicorn), "-c", str(ROOT / "gateway" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{self.port}",
             "gateway:create_app()"],
            self.log, env={"BDR_TORCHSERVE_URL": self.torchserve_url,
                           "BDR_FEEDBACK_DIR": str(self.feedback_dir or self.workdir / "feedback"), **self.settings},
            cwd=ROOT,
        )
        return self

    def wait_ready(self, path: str = "/readyz", timeout: float = 60) -> float:
        """Seconds until `path` answers 200: /healthz for the process, /readyz for the model too."""
        return wait_until(lambda: requests.get(self.url + path, timeout=5).ok, timeout, f"gateway {path}",
                          alive=self.alive)

    def wait_started(self) -> float:
        return self.wait_ready("/healthz")  # the process serves; the model may still be loading
