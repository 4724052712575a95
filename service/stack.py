"""`make serve` and `make stop`: TorchServe and the gateway as background processes on loopback,
their PIDs kept in .run/ so that `stop` stops exactly what `start` started.

    python -m service.stack start [--gateway-port 8000]
    python -m service.stack stop
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import requests

from feedback import settings as feedback_settings
from service.gateway import Gateway
from service.processes import stop_group
from service.releases import ReleaseError, deploy_to
from service.torchserve import ROOT, TorchServe

RUN_DIR = ROOT / ".run"


def pid_file(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def running(name: str) -> int | None:
    try:
        pid = int(pid_file(name).read_text())
        os.killpg(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def start(gateway_port: int) -> None:
    t0 = time.monotonic()
    RUN_DIR.mkdir(exist_ok=True)
    if running("torchserve") or running("gateway"):
        sys.exit("already running: `make stop` first")
    ts = TorchServe(RUN_DIR / "torchserve").start()
    pid_file("torchserve").write_text(str(ts.process.pid))
    try:
        waited = ts.wait_ready(timeout=180)
    except (TimeoutError, RuntimeError) as err:
        stop()
        sys.exit(f"TorchServe did not come up ({err}); see {ts.log}")
    try:
        deploy_to(ts)  # the releases kept in data/releases/, and the last one promoted as the default
    except (ReleaseError, requests.RequestException) as err:
        stop()
        sys.exit(f"TorchServe could not load the kept releases ({err}); see {ts.log}")
    print(f"TorchServe ready in {waited:.1f} s: inference {ts.inference}, management {ts.management}, "
          f"metrics {ts.metrics}/metrics (log {ts.log})")

    # corrections outlive `make stop` and `make clean`: data/ unless BDR_FEEDBACK_DIR says otherwise
    feedback_dir = feedback_settings.data_dir(os.environ.get("BDR_FEEDBACK_DIR"))
    gw = Gateway(RUN_DIR, ts.inference, port=gateway_port, feedback_dir=feedback_dir).start()
    pid_file("gateway").write_text(str(gw.process.pid))
    try:
        gw.wait_ready("/readyz", timeout=60)
    except (TimeoutError, RuntimeError) as err:
        stop()
        sys.exit(f"gateway did not come up ({err}); see {gw.log}")
    url = gw.url
    print(f"Bengali digit recognizer ready in {time.monotonic() - t0:.1f} s: open {url}/ (`make stop` stops it)")


def stop() -> None:
    for name in ("gateway", "torchserve"):
        pid = running(name)
        if pid:
            stop_group(pid)
            print(f"stopped {name} (pid {pid})")
        pid_file(name).unlink(missing_ok=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["start", "stop"])
    p.add_argument("--gateway-port", type=int, default=int(os.environ.get("GATEWAY_PORT", 8000)),
                   help="(default: $GATEWAY_PORT or 8000)")
    args = p.parse_args()
    start(args.gateway_port) if args.action == "start" else stop()


if __name__ == "__main__":
    main()
