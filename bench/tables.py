"""The measurement tables of benchmarks.md, in markdown, from a run's results (benchmarks.json), and
the helpers every part of the report reads cells with."""

from __future__ import annotations

import math


def at(cells: list[dict], concurrency: int) -> dict | None:
    return next((c for c in cells if c["concurrency"] == concurrency), None)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def geomean(values: list[float | None]) -> float | None:
    if not values or any(v is None or v <= 0 for v in values):
        return None
    return math.prod(values) ** (1 / len(values))


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def f1(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def pct(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f} %"


def cpu_groups(cell: dict) -> dict[str, float]:
    """CPU ms per request by component: TorchServe's Java frontend, its workers, the gateway, the client."""
    groups = {"frontend": 0.0, "workers": 0.0, "gateway": 0.0, "load generator": 0.0}
    for name, ms in cell.get("cpu_ms_per_request", {}).items():
        key = ("workers" if name.startswith("worker") else "gateway" if name.startswith("gunicorn")
               else "load generator" if name == "load generator" else "frontend")
        groups[key] += ms
    return groups


def unbatched(results: dict) -> dict | None:
    """The batching row of batch size 1."""
    return next((b for b in results.get("batching", []) if b["batchSize"] == 1), None)


def inprocess_table(results: dict) -> str:
    two = results.get("in_process_two_processes", {})
    rows = []
    for bs, v in results["in_process"].items():
        t = two.get(bs)
        rows.append([bs, f1(v["images_per_s"]), f"{v['ms_per_batch']:.2f}", f"{v['ms_per_batch'] / int(bs):.2f}",
                     f1(t and t["images_per_s"]), " + ".join(f1(p["images_per_s"]) for p in t["per_process"]) if t
                     else "–", pct(t and t["overlap"])])
    return (f"### In-process limit (the handler called directly, {results['defaults']['torch_threads']} torch "
            "thread: in one process, and in two at once, both cores, their measured windows begun together)\n\n"
            + table(["batch", "images/s, one process", "ms per batch", "ms per image", "images/s, two processes",
                     "each", "windows overlapping"], rows))


def sweep(results: dict) -> str:
    rows = []
    for d in results["direct"]:
        g = at(results["gateway"], d["concurrency"]) or {}
        rows.append([d["concurrency"], f1(d["rps"]), f1(d["p50_ms"]), f1(d["p95_ms"]), f1(d["p99_ms"]),
                     d["error_count"], f1(g.get("rps")), f1(g.get("p50_ms")), f1(g.get("p95_ms")),
                     f1(g.get("p99_ms")), g.get("error_count", "–"), pct(ratio(g.get("rps"), d["rps"])),
                     f1(g["p50_ms"] - d["p50_ms"]) if g else "–"])
    text = ("### TorchServe direct vs through the gateway (shipped settings)\n\n"
            + table(["c", "direct req/s", "p50", "p95", "p99 ms", "err", "gateway req/s", "p50", "p95", "p99 ms",
                     "err", "gw/direct", "Δp50 ms"], rows))
    return text + "\n\n" + cpu_table([(path, cell) for path in ("direct", "gateway") for cell in results[path]])


def cpu_table(cells: list[tuple[str, dict]]) -> str:
    """CPU ms per answered request by process, for (path, cell) pairs."""
    rows = []
    for path, cell in cells:
        g = cpu_groups(cell)
        rows.append([path, cell["concurrency"], *(f"{g[k]:.2f}" for k in g), f"{sum(g.values()):.2f}"])
    return ("CPU milliseconds per answered request, by process (from each process's CPU time over the "
            "measured window; 2 cores give 2000 ms per second in all):\n\n"
            + table(["path", "c", "TorchServe frontend (Java)", "TorchServe workers", "gateway (gunicorn)",
                     "load generator", "total"], rows))


def beside_digits(results: dict, key: str, what: str, check: str) -> tuple[list[list], str]:
    """Rows of results[key] (cells by path, as the digits') beside the digit cells at the same path
    and concurrency: req/s, p50, p99, errors, the share of answers passing the sanity `check`, and
    the digits' figures; then the CPU table of those cells."""
    rows, cells = [], []
    for path, group in results[key].items():
        for cell in group:
            digit = at(results[path], cell["concurrency"]) or {}
            rows.append([path, cell["concurrency"], f1(cell["rps"]), f1(cell["p50_ms"]), f1(cell["p99_ms"]),
                         cell["error_count"], pct(cell["correct"], 1), f1(digit.get("rps")), f1(digit.get("p50_ms")),
                         f1(digit.get("p99_ms")), pct(ratio(cell["rps"], digit.get("rps")))])
            cells.append((path, cell))
    header = ["path", "c", f"{what} req/s", "p50", "p99 ms", "err", check, "digit req/s", "p50", "p99 ms",
              f"{what}/digit"]
    return table(header, rows), cpu_table(cells)


def number_table(results: dict) -> str:
    """bengali_number beside bengali_digit at the same concurrencies, in the same TorchServe."""
    digits = results["meta"]["plan"].get("number_digits", "")
    return beside_table(
        results, "number", "number", "read right",
        f"Numbers: `bengali_number` on {digits}-digit numbers beside `bengali_digit` (shipped settings)",
        "Each number is read by running the network on every candidate split of its ink (see the model card), "
        "so one request is many forward passes. \"Read right\" is the share of answers that equal the drawn "
        "number, a sanity check: the numbers are composed from both halves of canvas_val (spaced, tight and "
        "touching in turn), NumtaDB's coarse redrawings among them, every other one sent as the page sends it "
        "(the cut PNG and its strokes, as JSON); the model card has the accuracy.")


def not_sure_table(results: dict) -> str:
    """Drawings of no digit beside the digits, to the same model at the same concurrencies."""
    return beside_table(
        results, "not_sure", "no-digit", "refused",
        "Not-sure answers: no-digit drawings beside digits (`bengali_digit`, shipped settings)",
        "The bodies are drawings of no digit, made the way the digits' are: in turn a scribble (zigzag, "
        "hatching, grid, star, spiral, asterisk; `synthetic/strokes.py`), shrunk and moved about with pens "
        "of several widths, and a capital of another script (Latin, Greek, Cyrillic; rings left out). "
        "\"Refused\" is the share of answers with the verdict `not_a_digit`, a sanity check: a few letters "
        "pass as digits (the model card names such look-alikes).")


def beside_table(results: dict, key: str, noun: str, right: str, title: str, prose: str) -> str:
    """A section for other bodies measured beside the digits: its rows, then its CPU per process."""
    if not results.get(key):
        return ""
    rows, cpu = beside_digits(results, key, noun, right)
    return f"### {title}\n\n{prose}\n\n{rows}\n\n{cpu}"


def batching_table(results: dict) -> str:
    if not results.get("batching"):
        return ""
    concurrencies = results["meta"]["plan"]["batching_concurrencies"]
    probe = results["meta"]["plan"]["probe"]
    base = unbatched(results)
    base_rps = (at(base["cells"], probe) or {}).get("rps") if base else None
    rows = []
    for b in results["batching"]:
        row = [b["batchSize"], b["maxBatchDelay"]]
        for c in concurrencies:
            cell = at(b["cells"], c)
            row += [f"{f1(cell['rps'])} / {f1(cell['p50_ms'])} / {f1(cell['p99_ms'])}" if cell else "–"]
        cell = at(b["cells"], probe) or {}
        sizes = cell.get("batch_sizes", {})
        mean = sum(int(k) * n for k, n in sizes.items()) / max(1, sum(sizes.values()))
        g = geomean([(at(b["cells"], c) or {}).get("rps") for c in concurrencies])
        row += [f"{mean:.1f}", f"{ratio(cell.get('rps'), base_rps):.2f}×" if base_rps and cell else "–", f1(g)]
        rows.append(row)
    header = ["batchSize", "maxBatchDelay ms", *(f"c={c}: req/s / p50 / p99 ms" for c in concurrencies),
              f"mean batch at c={probe}", f"vs batch 1 at c={probe}", "req/s, geometric mean over c"]
    return "### Batching (shipped workers, a TorchServe per row)\n\n" + table(header, rows)


def workers_table(results: dict) -> str:
    rows = results.get("workers", []) + results.get("threads", [])
    if not rows:
        return ""
    probe = results["meta"]["plan"]["probe"]
    base = rows[0]["rps"]
    out = [[r["workers"], r["threads"], f1(r["rps"]), f1(r["p50_ms"]), f1(r["p99_ms"]), r["error_count"],
            f"{r['rps'] / base:.2f}×", f"{cpu_groups(r)['workers']:.2f}", f"{cpu_groups(r)['frontend']:.2f}"]
           for r in rows]
    return (f"### Workers and torch threads (direct, c={probe}, shipped batching)\n\n"
            + table(["workers", "torch threads each", "req/s", "p50", "p99 ms", "err", "vs first row",
                     "worker CPU ms/req", "frontend CPU ms/req"], out))


def gateway_table(results: dict) -> str:
    sizes = results.get("gateway_sizes", [])
    if not sizes:
        return ""
    probe = results["meta"]["plan"]["probe"]
    rows = []
    for s in sizes:
        one, hi = at(s["cells"], 1) or {}, at(s["cells"], probe) or {}
        rows.append([s["workers"], s["threads"], f1(one.get("p50_ms")), f1(hi.get("rps")), f1(hi.get("p99_ms")),
                     hi.get("error_count", "–"), f1(s["direct"]["rps"]), pct(ratio(hi.get("rps"), s["direct"]["rps"])),
                     f"{cpu_groups(hi)['gateway']:.2f}" if hi else "–"])
    return ("### Gateway sizes (gunicorn gthread workers × threads; direct measured right after each)\n\n"
            + table(["workers", "threads", "p50 at c=1 ms", f"req/s at c={probe}", "p99 ms", "err",
                     "direct req/s", "gw/direct", "gateway CPU ms/req"], rows))


def memory_table(results: dict) -> str:
    mem = results["memory"]
    names = list(dict.fromkeys([*mem["idle"], *mem["load"]]))
    rows = [[n, f1(mem["idle"].get(n)), f1(mem["load"].get(n))] for n in names if n != "load generator"]
    total = [sum(v for k, v in mem[s].items() if k != "load generator") for s in ("idle", "load")]
    rows.append(["**total**", f1(total[0]), f1(total[1])])
    return ("### Memory, PSS in MiB (shipped settings; under load = the peak over the direct and gateway sweeps)\n\n"
            + table(["process", "idle", "under load"], rows))


def startup(results: dict) -> str:
    s = results["startup"]
    return ("### Start-up (the steps of `make serve`, archive already built)\n\n"
            + table(["from launching TorchServe to", "seconds"],
                    [["model ready (a worker READY, /ping healthy: where `make serve` starts the gateway)",
                      s["model_ready_s"]],
                     ["drawing page answered by the gateway", s["page_ready_s"]],
                     ["gateway /readyz (a prediction through it)", s["gateway_ready_s"]]]))


def where_time_goes(results: dict) -> str:
    prof = results.get("profile")
    if not prof:
        return ""
    c = prof["concurrency"]
    plain = at(results["direct"], c) or prof["cell"]
    split = plain.get("torchserve_ms", {})
    rows = [["client: mean / p50 / p99", f"{f1(plain['mean_ms'])} / {f1(plain['p50_ms'])} / {f1(plain['p99_ms'])}"]]
    if split:
        rows += [["TorchServe frontend, request in → answer out (mean)", f1(split["frontend_total_ms"])],
                 ["… of which queued, waiting for a free worker", f1(split["queued_ms"])],
                 ["… of which backend: batch fill (≤ maxBatchDelay) + worker round trip + handler",
                  f1(split["backend_ms"])],
                 ["outside TorchServe's timers: HTTP, sockets, the client's event loop (mean)",
                  f1(plain["mean_ms"] - split["frontend_total_ms"])]]
    tail = plain.get("tail", {})
    if tail.get("slowest_1pct"):
        slow, every = tail["slowest_1pct"], tail["all"]
        big = max(every["sides_px"], key=int)
        rows += [["slowest 1 %: mean batch size (all requests)", f"{slow['mean_batch']} ({every['mean_batch']})"],
                 [f"slowest 1 %: share of {big} px canvases (all requests)",
                  f"{pct(slow['sides_px'].get(big, 0))} ({pct(every['sides_px'][big])})"]]
    text = (f"### Where the time goes at c={c} (direct, shipped settings)\n\n"
            + table(["measure", "value (ms unless stated)"], rows)
            + f"\n\nWorker wall time by stage, py-spy samples of every worker over {prof['cell']['seconds']} s"
            f"{pyspy_note(prof)}:\n\n" + stage_table(prof["worker_stages"], "share of samples")
            + "\n\nCPU ms per request at this load: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cpu_groups(plain).items()))
    gw = prof.get("gateway")
    if gw and gw["stages"]:
        text += (f"\n\nWhat the gateway spends its Python time on, through the gateway at c={gw['concurrency']}: "
                 f"py-spy samples of the gunicorn workers holding the GIL{pyspy_note(gw)}; {f1(gw['cell']['rps'])} "
                 f"req/s while sampled, gateway CPU {cpu_groups(gw['cell'])['gateway']:.2f} ms per request (Python "
                 "and the system calls it makes):\n\n" + stage_table(gw["stages"], "share of Python samples"))
    return text


def pyspy_note(profiled: dict) -> str:
    return f" (py-spy: {'; '.join(profiled['errors'])})" if profiled["errors"] else ""


def stage_table(shares: dict[str, float], column: str) -> str:
    return table(["stage", column], [[stage, pct(share)] for stage, share in shares.items()])
