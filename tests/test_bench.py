"""`make bench` on a tiny load (`--smoke`): the script runs end to end against real processes and
writes well-formed results. Correctness only: nothing here looks at how fast anything was."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from types import CodeType

import pytest

from bench import profile, report
from bench.canvas import canvas_pngs, number_pngs
from bengali_digit.catalog import ROOT

OUR_PACKAGES = ("bengali_digit", "handler", "gateway", "service", "synthetic", "training", "bench")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    # a process of its own: the in-process limit sets torch's thread count for the whole process
    run = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--out-dir", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads((out / "benchmarks.json").read_text()), out


def test_canvas_pngs_are_varied_real_pngs():
    bodies = canvas_pngs(12)
    assert len({png for _, png in bodies}) == 12
    assert len({digit for digit, _ in bodies}) > 3
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for _, png in bodies)


def test_number_pngs_are_four_digit_numbers():
    bodies = number_pngs(6, 4)
    assert len({png for _, png in bodies}) == 6
    assert all(len(label) == 4 and label.isdigit() for label, _ in bodies)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for _, png in bodies)


def function_names(ours: bool) -> set[str]:
    """The qualified names of the functions and methods of every module loaded now, nested functions
    included: of our packages' modules only, or of all of them."""
    names: set[str] = set()

    def add(code: CodeType) -> None:
        names.add(code.co_qualname)
        for const in code.co_consts:
            if isinstance(const, CodeType):
                add(const)

    with warnings.catch_warnings():  # some libraries warn when a deprecated attribute is looked at
        warnings.simplefilter("ignore")
        for module in list(sys.modules.values()):
            file = getattr(module, "__file__", None) or ""
            if ours and not (file.startswith(str(ROOT)) and Path(file).relative_to(ROOT).parts[0] in OUR_PACKAGES):
                continue
            for obj in list(vars(module).values()):
                for f in list(vars(obj).values()) if inspect.isclass(obj) else [obj]:
                    if inspect.isfunction(f):
                        add(f.__code__)
    return names


def test_every_stage_marker_names_something_that_exists():
    """A marker is a function's frame as py-spy names it, "qualname (" and maybe the start of its file,
    or a file or folder on sys.path. (The TorchServe worker's protocol and urllib3, where two of the
    waits are, are imported here: the bench itself never loads them.)"""
    for module in ("ts.protocol.otf_message_handler", "urllib3.util.wait"):
        importlib.import_module(module)
    functions, places = function_names(ours=False), [ROOT, *(Path(p) for p in sys.path if p)]
    markers = [m for _, ms in profile.WORKER_STAGES + profile.GATEWAY_STAGES for m in ms] + list(profile.WAITS)
    for marker in markers:
        name, called, file = marker.partition(" (")
        if called:
            assert name in functions, marker
        if file or not called:
            assert any((place / (file or name)).exists() for place in places), marker


def test_our_code_is_named_by_its_objects_never_by_a_string():
    """bench/profile.py names our functions and modules through the imported objects, so that a rename
    breaks its import instead of silently moving samples to "other"."""
    ours = function_names(ours=True)
    for node in ast.walk(ast.parse((ROOT / "bench" / "profile.py").read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not node.value.startswith(tuple(f"{p}/" for p in OUR_PACKAGES)), node.value
            assert not (node.value.endswith(" (") and node.value.removesuffix(" (") in ours), node.value


@pytest.mark.server
def test_pyspy_names_our_frames_the_way_the_stages_expect(tmp_path):
    """A real py-spy recording of our preprocessing falls into its stages (the raw format and the
    names derived from the functions agree)."""
    script = tmp_path / "work.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from bench.canvas import canvas_pngs
        from bengali_digit.preprocess import decode_image, prepare
        bodies = [png for _, png in canvas_pngs(4)]
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            for png in bodies:
                prepare(decode_image(png))
    """))
    raw = tmp_path / "raw.txt"
    spy = subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--rate", "200",
                          "--output", str(raw), "--", sys.executable, str(script)],
                         capture_output=True, text=True, timeout=120)
    if spy.returncode != 0 or not raw.exists():
        pytest.skip(f"py-spy cannot sample here: {spy.stderr[-300:]}")
    shares = profile.stages([raw])
    assert shares.get("PNG decode", 0) > 0.05 and shares.get("preprocess (crop, scale, centre)", 0) > 0.05, shares


@pytest.mark.server
def test_number_cells_beside_the_digit_cells(smoke):
    results, out = smoke
    for path in ("direct", "gateway"):
        cells = results["number"][path]
        assert [c["concurrency"] for c in cells] == results["meta"]["plan"]["number_concurrencies"]
        for cell in cells:
            # every answer a number's (a 200 without "number" is counted as an error)
            assert cell["requests"] > 0 and cell["error_count"] == 0, cell
            assert 0.0 < cell["correct"] <= 1.0  # some numbers are read right: the bodies are numbers
    assert "| path | c | number req/s" in (out / "benchmarks.md").read_text()


@pytest.mark.server
def test_every_cell_answered_without_errors(smoke):
    results, _ = smoke
    cells = results["direct"] + results["gateway"] + [results["profile"]["cell"]]
    assert [c["concurrency"] for c in results["direct"]] == results["meta"]["plan"]["concurrencies"]
    for cell in cells:
        assert cell["requests"] > 0 and cell["error_count"] == 0, cell
        assert cell["p50_ms"] <= cell["p95_ms"] <= cell["p99_ms"] <= cell["max_ms"]
        assert cell["correct"] > 0.5  # the answers name the drawn digits (a sanity check of the bodies)
        cpu = cell["cpu_ms_per_request"]
        assert cpu["frontend"] > 0 and any(ms > 0 for name, ms in cpu.items() if name.startswith("worker"))
    assert sum(int(k) * n for k, n in results["direct"][0]["batch_sizes"].items()) >= results["direct"][0]["requests"]
    assert results["direct"][0]["torchserve_ms"]["requests"] > 0


@pytest.mark.server
def test_limits_memory_and_startup_are_recorded(smoke):
    results, _ = smoke
    assert {"1", str(results["defaults"]["batchSize"])} <= set(results["in_process"])
    assert all(v["images_per_s"] > 0 for v in results["in_process"].values())
    for state in ("idle", "load"):
        names = results["memory"][state]
        assert {"frontend", "worker 1", "gunicorn master", "gunicorn worker 1"} <= names.keys()
        assert all(mib > 0 for mib in names.values())
    s = results["startup"]
    assert 0 < s["model_ready_s"] <= s["page_ready_s"] <= s["gateway_ready_s"]


@pytest.mark.server
def test_report_files_are_written_and_regenerated_in_place(smoke):
    results, out = smoke
    md = (out / "benchmarks.md").read_text()
    assert report.BEGIN in md and report.END in md and "| c | direct req/s" in md
    assert (out / "benchmarks.png").read_bytes().startswith(b"\x89PNG")
    # hand-written text outside the markers survives a regeneration
    (out / "benchmarks.md").write_text("# Benchmarks\n\nanalysis\n\n" + md[md.index(report.BEGIN):] + "\nafter\n")
    report.write(results, out)
    again = (out / "benchmarks.md").read_text()
    assert again.startswith("# Benchmarks\n\nanalysis\n\n") and again.endswith("\nafter\n")
    assert again.count(report.BEGIN) == 1
