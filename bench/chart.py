"""benchmarks.png: throughput and latency against concurrency (direct and through the gateway, the
in-process limit as lines), and every configuration's requests/s at the probe side by side."""

from __future__ import annotations

from pathlib import Path

from bench.tables import at
from bench.thresholds import LIMIT_BATCH


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    probe = results["meta"]["plan"]["probe"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.8))
    for name, cells, style in (("direct", results["direct"], "o-"), ("gateway", results["gateway"], "s-")):
        cs = [c["concurrency"] for c in cells]
        ax1.plot(cs, [c["rps"] for c in cells], style, label=f"TorchServe {name}" if name == "direct" else name)
        ax2.plot(cs, [c["p50_ms"] for c in cells], style, label=f"{name} p50")
        ax2.plot(cs, [c["p99_ms"] for c in cells], style, alpha=0.5, label=f"{name} p99")
    for bs, v in results["in_process"].items():
        ax1.axhline(v["images_per_s"], ls="--", lw=1, color="grey" if bs == "1" else "black",
                    label=f"in-process, batch {bs}")
    two = results.get("in_process_two_processes", {}).get(str(LIMIT_BATCH))
    if two:
        ax1.axhline(two["images_per_s"], ls=":", lw=1.5, color="tab:red",
                    label=f"in-process, two processes, batch {LIMIT_BATCH}")
    concurrencies = results["meta"]["plan"]["concurrencies"]
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(concurrencies, [str(c) for c in concurrencies])
        ax.set_xlabel("concurrent clients")
        ax.legend(fontsize=8)
    ax1.set_ylabel("requests/s")
    ax1.set_title("Throughput")
    ax2.set_yscale("log")
    ax2.set_ylabel("latency, ms")
    ax2.set_title("Latency")
    labels, values, colours = [], [], []
    for b in results.get("batching", []):
        cell = at(b["cells"], probe)
        labels.append(f"batch {b['batchSize']}, {b['maxBatchDelay']} ms")
        values.append(cell["rps"] if cell else 0)
        colours.append("tab:blue")
    for r in results.get("workers", []) + results.get("threads", []):
        labels.append(f"{r['workers']} worker × {r['threads']} thr")
        values.append(r["rps"])
        colours.append("tab:green")
    for s in results.get("gateway_sizes", []):
        cell = at(s["cells"], probe)
        labels.append(f"gateway {s['workers']}×{s['threads']}")
        values.append(cell["rps"] if cell else 0)
        colours.append("tab:orange")
    ax3.barh(labels, values, color=colours)
    ax3.invert_yaxis()
    ax3.set_xlabel(f"requests/s at c={probe}")
    ax3.set_title("Configurations (same run)")
    ax3.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
