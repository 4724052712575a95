"""`make bench` on a tiny load (`--smoke`): the script runs end to end against real processes and
writes well-formed results. Correctness only: nothing here looks at how fast anything was."""

from __future__ import annotations

import ast
import base64
import importlib
import inspect
import io
import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from types import CodeType

import pytest
from PIL import Image

from bench import canvas, profile, report
from bench.canvas import canvas_pngs, no_digit_pngs, number_bodies
from bench.load import what_is_right
from bench.thresholds import LIMIT_BATCH
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


def test_number_bodies_are_four_digit_numbers():
    bodies = number_bodies(6, 4)
    assert len({body for _, body in bodies}) == 6
    assert all(len(label) == 4 and label.isdigit() for label, _ in bodies)
    pngs = [body for _, body in bodies if body.startswith(b"\x89PNG\r\n\x1a\n")]
    if not canvas.drawings():
        assert len(pngs) == len(bodies)  # font digits: no strokes to send
        return
    # with the shared strokes, every other one as the page sends it: the cut PNG and its strokes
    assert len(pngs) == 3
    for _, body in bodies[::2]:
        sent = json.loads(body)
        png = base64.b64decode(sent["image"].removeprefix("data:image/png;base64,"))
        width, height = Image.open(io.BytesIO(png)).size
        points = [p for stroke in sent["strokes"] for p in stroke]
        assert all(0 <= x < width and 0 <= y < height for x, y in points)


def test_no_digit_pngs_are_scribbles_and_letters_in_turn():
    bodies = no_digit_pngs(8)
    assert len({png for _, png in bodies}) == 8 and all(label is None for label, _ in bodies)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for _, png in bodies)
    assert len({int.from_bytes(png[16:20], "big") for _, png in bodies}) > 1  # sides vary, as the digits' do


def test_what_is_right_for_each_kind_of_body():
    assert what_is_right(3) == ("digit", 3)
    assert what_is_right("0123") == ("number", "0123")
    assert what_is_right(None) == ("verdict", "not_a_digit")


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
def test_not_sure_cells_refuse_drawings_of_no_digit(smoke):
    results, out = smoke
    plan = results["meta"]["plan"]
    for path in ("direct", "gateway"):
        cells = results["not_sure"][path]
        assert [c["concurrency"] for c in cells] == plan["not_sure_concurrencies"]
        for cell in cells:
            # every answer a 200 with a verdict (a 200 without one is counted as an error)
            assert cell["requests"] > 0 and cell["error_count"] == 0, cell
            assert cell["correct"] > 0.8, cell  # the share answered "not_a_digit"
            assert cell["cpu_ms_per_request"]["frontend"] > 0
    md = (out / "benchmarks.md").read_text()
    assert "### Not-sure answers" in md and "| path | c | no-digit req/s" in md


@pytest.mark.server
def test_paired_rounds_are_kept_one_by_one(smoke):
    results, _ = smoke
    plan = results["meta"]["plan"]
    for c in ("1", str(plan["probe"])):
        pair = results["paired"][c]
        assert len(pair["rounds"]) == plan["paired_rounds"] > 1
        for one in pair["rounds"]:
            assert one["direct"]["requests"] > 0 and one["gateway"]["requests"] > 0, one
        # the pooled figures are the rounds' together
        assert pair["direct"]["requests"] == sum(one["direct"]["requests"] for one in pair["rounds"])


@pytest.mark.server
def test_the_limit_and_direct_are_measured_in_alternating_rounds(smoke):
    results, _ = smoke
    rounds = results["limit_rounds"]
    assert len(rounds) == results["meta"]["plan"]["paired_rounds"] > 1
    assert all(r["limit_images_per_s"] > 0 and r["direct_rps"] > 0 and r["direct_errors"] == 0 for r in rounds)


@pytest.mark.server
def test_two_process_limit_runs_both_processes_at_once(smoke):
    results, _ = smoke
    two = results["in_process_two_processes"]
    assert set(two) == set(results["in_process"]) and str(LIMIT_BATCH) in two
    for v in two.values():
        each = [p["images_per_s"] for p in v["per_process"]]
        assert len(each) == 2 and all(x > 0 for x in each), v
        assert v["images_per_s"] == pytest.approx(sum(each))
        assert 0.5 < v["overlap"] <= 1.0, v  # the measured windows were begun together


@pytest.mark.server
def test_acceptance_states_every_criterion_and_old_runs_still_render(smoke, tmp_path):
    results, _ = smoke
    plan = results["meta"]["plan"]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in report.acceptance(results).splitlines()
            if line.startswith("| ")}
    limit = next(r for k, r in rows.items() if "in two processes at once" in k)
    assert limit[1].count(" / ") == 1 and " %" in limit[1] and limit[3].strip(" |") in ("yes", "**no**")
    assert limit[1].split("; rounds ")[1].count("%") == plan["paired_rounds"], limit
    p99 = next(r for k, r in rows.items() if k.startswith("p99 at c=8"))
    assert p99[2] == "aim ≤ 25 ms" and p99[3].strip(" |") in ("aim met", "aim missed")
    each = next(r for k, r in rows.items() if k.startswith("gateway / direct"))
    assert each[1].split("; rounds ")[1].split(";")[0].count("%") == plan["paired_rounds"], each
    # a run from before these were measured: the rows say so instead of failing
    old = json.loads(json.dumps(results))
    for key in ("in_process_two_processes", "limit_rounds", "not_sure"):
        del old[key]
    for pair in old["paired"].values():
        del pair["rounds"]
    old["direct"] = [c for c in old["direct"] if c["concurrency"] != 8]
    (tmp_path / "benchmarks.md").write_text("# Benchmarks\n")
    report.write(old, tmp_path)
    table = report.acceptance(old)
    # measured and met of the two-process limit's and the p99's rows; met of the rounds' row
    assert table.count("not measured") == 5, table
    assert "Not-sure answers" not in (tmp_path / "benchmarks.md").read_text()


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
