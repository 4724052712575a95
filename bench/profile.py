"""Where a request's time goes inside TorchServe: its own latency counters (time queued for a worker
vs time in the backend) and py-spy samples of each worker, sorted into the handler's stages."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import psutil
import requests

from bengali_digit import network, png, preprocess
from bengali_digit.catalog import ROOT
from gateway import api, metrics, security
from handler.handler import BengaliDigitHandler

Stages = tuple[tuple[str, tuple[str, ...]], ...]  # (stage, markers): a sample is the first stage it has a marker of


def called(*functions: Callable) -> tuple[str, ...]:
    """The frames of these functions of ours as py-spy's raw format names them, "qualname (file:line)".
    Taken from the functions themselves, so that a rename breaks this import, not the profile."""
    return tuple(f"{fn.__qualname__} (" for fn in functions)


def inside(*modules: ModuleType) -> tuple[str, ...]:
    """Any frame in these modules of ours: their files as py-spy names them, relative to the folder on
    sys.path that holds them (the repository, or in a worker the archive's root, which holds the package)."""
    return tuple(Path(m.__file__).resolve().relative_to(ROOT).as_posix() for m in modules)


# Specific stages come before the code that calls them. Our own code is named through the objects
# above; other frames by the path of their package, as py-spy shortens it (torch/nn/, urllib3/, ...).
# BengaliDigitHandler.handle is TorchServe's BaseHandler.handle unless the handler overrides it: the
# name py-spy shows either way. The handler's own preprocess step (headers, timing) counts as
# preprocessing; the rest of its steps (softmax, answers, metrics) as postprocessing.
WORKER_STAGES: Stages = (
    ("PNG decode", (*called(preprocess.decode_image, preprocess.decode_pixels), *inside(png))),
    ("preprocess (crop, scale, centre)",
     called(preprocess.prepare, preprocess.to_gray, preprocess.luminance, preprocess.ink_map,
            preprocess.normalize_digit, preprocess.normalize_levels, BengaliDigitHandler.preprocess)),
    ("forward", (*inside(network), "torch/nn/")),
    ("postprocess (softmax, answer)", called(BengaliDigitHandler.answer, BengaliDigitHandler.handle)),
    ("TorchServe protocol (read request, write answer)", ("ts/protocol/otf_message_handler.py",)),
    ("TorchServe service + metrics", ("ts/service.py", "ts/metrics/", "ts/context.py")),
)
GATEWAY_STAGES: Stages = (
    ("logging (gunicorn; the access log is off by default)", ("gunicorn/glogging.py", "logging/__init__.py")),
    ("gateway metrics (prometheus_client)", ("prometheus_client/", *inside(metrics))),
    ("image header check (Pillow)", called(api.check_image)),
    ("security headers", inside(security)),
    ("call TorchServe (urllib3, http.client)", ("urllib3/", "http/client.py")),
    ("Flask + werkzeug (routing, request, JSON response)", ("flask/", "werkzeug/", "json/")),
    ("gunicorn (parse HTTP, write the response)", ("gunicorn/",)),
)
# Leaf frames where a thread blocks: py-spy cannot always tell that a thread in a syscall sleeps
# (and --nonblocking makes it guess), so waits are recognised by where they happen. A TorchServe
# worker blocks in the protocol's socket read until the frontend sends the next batch. A nested
# function's frame carries its enclosing function's name (urllib3's do_poll).
WAITS = ("_retrieve_buffer (", "SocketIO.readinto (", "EpollSelector.select (",
         "poll_wait_for_socket.<locals>.do_poll (", "Queue.get (", "_worker (concurrent/futures/thread.py",
         "Condition.wait (")
IDLE = "waiting (for the next request, or for TorchServe's answer)"
COUNTERS = ("ts_inference_requests_total", "ts_inference_latency_microseconds", "ts_queue_latency_microseconds")


def ts_counters(metrics_url: str) -> dict[str, float]:
    """TorchServe's cumulative request, latency and queue counters, summed over their labels."""
    text = requests.get(f"{metrics_url}/metrics", timeout=5).text
    out = dict.fromkeys(COUNTERS, 0.0)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in out:
            out[name] += float(line.rsplit(" ", 1)[1])
    return out


def ts_split(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean ms per request between two readings: queued (waiting for a worker) and backend (batch
    fill, the worker's round trip and the handler), as TorchServe's frontend timed them."""
    n = after["ts_inference_requests_total"] - before["ts_inference_requests_total"]
    if n <= 0:
        return {}
    total = (after["ts_inference_latency_microseconds"] - before["ts_inference_latency_microseconds"]) / n / 1e3
    queued = (after["ts_queue_latency_microseconds"] - before["ts_queue_latency_microseconds"]) / n / 1e3
    return {"requests": int(n), "frontend_total_ms": round(total, 3), "queued_ms": round(queued, 3),
            "backend_ms": round(total - queued, 3)}


def start_pyspy(pid: int, seconds: float, out: Path, gil: bool = False, rate: int = 200) -> subprocess.Popen:
    """Sample one process for `seconds` without ever pausing it (--nonblocking), so the load it serves
    is hardly disturbed. By default every thread, waits included (shares of wall time); with `gil`
    only threads running Python (shares of its Python CPU: many threads that mostly wait would
    otherwise drown the work in waits that py-spy cannot always tell from work)."""
    pyspy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen([str(pyspy), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
                             "--rate", str(rate), "--format", "raw", "--nonblocking", "--output", str(out),
                             "--gil" if gil else "--idle"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def sampled(targets: list[psutil.Process], table: Stages, gil: bool, seconds: float, work: Path,
            measure: Callable[[], dict]) -> tuple[dict, dict[str, float], list[str]]:
    """Run `measure` (one cell) while py-spy samples each of `targets` for `seconds`; the cell, the
    share of samples per stage of `table`, and whatever went wrong with py-spy (it needs ptrace)."""
    files = [work / f"py-spy-{p.pid}.txt" for p in targets]
    spies = [start_pyspy(p.pid, seconds, f, gil) for p, f in zip(targets, files, strict=True)]
    cell = measure()
    errors = []
    for spy in spies:
        try:
            if spy.wait(timeout=seconds + 30) != 0:
                errors.append(f"py-spy exited {spy.returncode}")
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
            errors.append("py-spy did not finish")
    return cell, stages(files, table, busy_only=gil), errors


def stage_of(stack: str, table: Stages = WORKER_STAGES) -> str:
    """A stack is the raw format's "frame;frame;...", a frame "function (file:line)"."""
    if stack.rsplit(";", 1)[-1].startswith(WAITS):
        return IDLE
    for stage, markers in table:
        if any(m in stack for m in markers):
            return stage
    return "other"


def stages(raw_files: list[Path], table: Stages = WORKER_STAGES, busy_only: bool = False) -> dict[str, float]:
    """Share of samples (all processes together) per stage, largest first: of all samples (wall
    time, waits included), or with `busy_only` of those not waiting (where the CPU goes)."""
    counts: Counter = Counter()
    for path in raw_files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if stack and n.isdigit():
                counts[stage_of(stack, table)] += int(n)
    if busy_only:
        counts.pop(IDLE, None)
    total = sum(counts.values())
    return {stage: round(n / total, 4) for stage, n in counts.most_common()} if total else {}
