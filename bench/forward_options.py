"""The forward pass on CPU, one thread, the ways the field runs it: ms per batch at the served batch
sizes, canvas_val accuracy as served (calibrated verdict, refusals count as wrong), and how far each
moves the answers from the shipped eager model (docs/benchmarks.md, "Forward pass options").

    python -m bench.forward_options [--batch-sizes 1,2,4,8] [--compile]

ONNX Runtime is measured when `onnxruntime` is importable (it is not a dependency of the project);
torch.compile only with --compile (it needs a C++ compiler and takes tens of seconds to warm up).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bengali_digit import network, verdict
from bengali_digit.catalog import WEIGHTS
from training import data
from training.evaluate import Served, load_set

Forward = Callable[[torch.Tensor], torch.Tensor]


def onnx_runtime(model: torch.nn.Module, example: torch.Tensor) -> Forward | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = Path(tempfile.mkdtemp()) / "digit.onnx"
    torch.onnx.export(model.to(memory_format=torch.contiguous_format), example, str(path), input_names=["x"],
                      dynamic_axes={"x": {0: "batch"}}, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(None, {"x": x.numpy()})[0])


def static_int8(model: torch.nn.Module, calibration: torch.Tensor) -> Forward:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    prepared = prepare_fx(model.to(memory_format=torch.contiguous_format), get_default_qconfig_mapping("x86"),
                          example_inputs=(calibration[:8],))
    with torch.inference_mode():
        for i in range(0, len(calibration), 64):
            prepared(calibration[i : i + 64])
    return convert_fx(prepared)


def options(example: torch.Tensor, calibration: torch.Tensor, compile_too: bool) -> dict[str, Forward]:
    fresh = lambda: network.load(WEIGHTS)  # noqa: E731 - every option starts from its own copy
    out: dict[str, Forward] = {"eager, channels_last (shipped)": fresh(),
                               "eager, contiguous": fresh().to(memory_format=torch.contiguous_format)}
    with torch.inference_mode():
        out["TorchScript trace + freeze"] = torch.jit.optimize_for_inference(torch.jit.freeze(
            torch.jit.trace(fresh(), example)))
    if compile_too:
        for mode in ("default", "max-autotune-no-cudagraphs"):
            torch._dynamo.reset()  # each mode its own recompilations (one per batch size)
            compiled = torch.compile(fresh(), mode=mode, dynamic=False)
            t0 = time.perf_counter()
            with torch.inference_mode():
                compiled(example)
            print(f"torch.compile {mode}: first call {time.perf_counter() - t0:.1f} s")
            out[f"torch.compile ({mode})"] = compiled
    if (ort := onnx_runtime(fresh(), example)) is not None:
        out["ONNX Runtime"] = ort
    out["dynamic int8 (Linear)"] = torch.ao.quantization.quantize_dynamic(copy.deepcopy(fresh()), {torch.nn.Linear})
    out["static int8 (FX, x86)"] = static_int8(fresh(), calibration)
    return out


def ms_per_batch(forward: Forward, x: torch.Tensor, rounds: int = 7) -> float:
    calls = max(20, 200 // len(x))
    with torch.inference_mode():
        for _ in range(10):
            forward(x)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(calls):
                forward(x)
            times.append((time.perf_counter() - t0) / calls * 1e3)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-sizes", default="1,2,4,8")
    p.add_argument("--compile", action="store_true", help="also torch.compile (needs a C++ compiler)")
    args = p.parse_args()
    torch.set_num_threads(1)
    served = Served()
    x, y = load_set("canvas", data.DEFAULT_DATA_DIR)
    prepared, kept = data.prepare_all(x)
    inputs = torch.from_numpy(prepared[kept])[:, None]
    # static int8 is calibrated on training digits, never on the set it is scored on
    with np.load(data.DEFAULT_DATA_DIR / data.PACKED_FILE) as f:
        calibration = torch.from_numpy(data.prepare_all(f["isi_x"][:512])[0])[:, None]
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    reference = None
    print(f"{'option':44}" + "".join(f"{f'batch {b} ms':>12}" for b in sizes) + "   canvas   max |Δp|  argmax moved")
    for name, forward in options(inputs[:8], calibration, args.compile).items():
        times = [ms_per_batch(forward, inputs[100 : 100 + b].contiguous()) for b in sizes]
        with torch.inference_mode():
            logits = torch.cat([forward(inputs[i : i + 64]) for i in range(0, len(inputs), 64)])
        probs, _, scores = verdict.classify(logits, served.temperature, served.method, served.threshold)
        answered = np.zeros(len(y), bool)
        answered[kept] = scores >= served.threshold
        pred = np.full(len(y), -1)
        pred[kept] = probs.argmax(1)
        accuracy = float((np.where(answered, pred, -1) == y).mean())
        reference = probs if reference is None else reference
        moved = int((probs.argmax(1) != reference.argmax(1)).sum())
        print(f"{name:44}" + "".join(f"{t:12.3f}" for t in times)
              + f"  {accuracy:7.2%}  {np.abs(probs - reference).max():9.1e}  {moved:5d}", flush=True)


if __name__ == "__main__":
    main()
