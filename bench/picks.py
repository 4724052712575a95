"""What a run's data picks for each shipped setting, by rules that read bench/thresholds.py, and the
table that sets the picks beside what is shipped (docs/benchmarks.md, *What this run's data picks*)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.tables import at, ratio, table, unbatched
from bench.thresholds import BATCH_LATENCY_MS, GATEWAY_PROCESSES, TIE


def pick(rows: list[dict], rps: Callable[[dict], float | None], cost: Callable[[dict], Any],
         shipped: Callable[[dict], bool]) -> dict | None:
    """The shipped row if it is within TIE of the row with the most requests/s; otherwise, among
    the rows within TIE of the best, the one of least `cost`."""
    rows = [r for r in rows if rps(r) is not None]
    if not rows:
        return None
    best = max(rps(r) for r in rows)
    close = [r for r in rows if not best or TIE.met(1 - rps(r) / best)]
    return next((r for r in close if shipped(r)), None) or min(close, key=cost)


def picks(results: dict) -> dict[str, dict]:
    """For each setting: the picked row's values of that setting, and the rule that picked it."""
    probe, d = results["meta"]["plan"]["probe"], results["defaults"]

    def rps_at(cells: list[dict], c: int = probe) -> float | None:
        cell = at(cells, c)
        return cell["rps"] if cell and not cell["error_count"] else None

    # Capacity, as long as a lone user barely notices: a batch may wait for company, but the p50 at
    # c=1 may grow by no more than BATCH_LATENCY_MS over batch size 1's.
    base = unbatched(results)
    base_p50 = (at(base["cells"], 1) or {}).get("p50_ms") if base else None
    eligible = [r for r in results.get("batching", []) if base_p50 is not None and at(r["cells"], 1)
                and BATCH_LATENCY_MS.met(at(r["cells"], 1)["p50_ms"] - base_p50) and rps_at(r["cells"]) is not None]
    batch, size = ("batchSize", "maxBatchDelay"), ("workers", "threads")

    def fewest(r: dict) -> tuple[int, int]:
        return r["workers"] * r["threads"], r["workers"]

    # setting: rows, req/s, the setting's fields, the shipped values, cost, rule
    choices = {
        "batching": (eligible, lambda r: rps_at(r["cells"]), batch, (d["batchSize"], d["maxBatchDelay"]),
                     lambda r: (r["batchSize"], r["maxBatchDelay"]),
                     f"most req/s at c={probe} among those adding at most {BATCH_LATENCY_MS} to the unbatched "
                     f"p50 at c=1; within {TIE}, the shipped one, else the smallest batch"),
        "workers": (results.get("workers", []) + results.get("threads", []),
                    lambda r: r["rps"] if not r["error_count"] else None, size, (d["minWorkers"], d["torch_threads"]),
                    fewest, f"most req/s at c={probe}; within {TIE}, the shipped one, else the fewest threads, then "
                            "workers"),
        "gateway": ([r for r in results.get("gateway_sizes", []) if GATEWAY_PROCESSES.met(r["workers"])],
                    lambda r: ratio(rps_at(r["cells"]), r["direct"]["rps"]), size,
                    (d["gunicorn_workers"], d["gunicorn_threads"]), fewest,
                    f"highest gateway/direct ratio at c={probe} with {GATEWAY_PROCESSES} processes or more; within "
                    f"{TIE}, the shipped one, else the fewest threads in all, then processes"),
    }
    out = {}
    for key, (rows, rps, fields, shipped, cost, rule) in choices.items():
        row = pick(rows, rps, cost, lambda r, fields=fields, shipped=shipped: tuple(r[f] for f in fields) == shipped)
        if row:
            out[key] = {**{f: row[f] for f in fields}, "rule": rule}
    return out


def data_picks(results: dict) -> str:
    d, p = results["defaults"], picks(results)
    settings = (("batching", "batchSize / maxBatchDelay", "{batchSize} / {maxBatchDelay} ms",
                 {"batchSize": d["batchSize"], "maxBatchDelay": d["maxBatchDelay"]}),
                ("workers", "workers × torch threads", "{workers} × {threads}",
                 {"workers": d["minWorkers"], "threads": d["torch_threads"]}),
                ("gateway", "gunicorn workers × threads", "{workers} × {threads}",
                 {"workers": d["gunicorn_workers"], "threads": d["gunicorn_threads"]}))
    rows = [[name, form.format(**p[key]), form.format(**shipped), p[key]["rule"]]
            for key, name, form, shipped in settings if key in p]
    if not rows:
        return ""
    return "### What this run's data picks\n\n" + table(["setting", "picked", "shipped", "rule"], rows)
