"""The retraining gate: which figures a new model must hold, the decision, and the before/after table.
Pure: figures in, verdict and text out (training/retrain.py measures them)."""

from __future__ import annotations

# Each a share where higher is better; a candidate may lose at most the tolerance on every one.
GATED = {
    "numta-20pct": "NumtaDB held-out 20 %, read right",
    "isi-10pct": "ISI held-out 10 %, read right",
    "canvas-isi": "canvas_val ISI half, read right",
    "canvas-numta": "canvas_val NumtaDB half, read right",
    "nondigits": "held-out non-digits, refused",
}
CORRECTIONS = "corrections"  # the users' corrections, read right: must rise
LABELS = GATED | {CORRECTIONS: "corrections, read right"}
ACCEPTED, REFUSED = 0, 3  # exit statuses, so that scripts can tell a refusal from a crash (1) or misuse (2)


def change_pp(before: dict, after: dict) -> float:
    return 100 * (after["value"] - before["value"])


def failures(before: dict[str, dict], after: dict[str, dict], tolerance_pp: float) -> list[str]:
    """Why the candidate must not ship, one line each; empty when it may. `before` and `after` map
    a figure's name to {"n", "value"}; figures outside GATED and CORRECTIONS are for information."""
    out = []
    for name, label in GATED.items():
        fall = -change_pp(before[name], after[name])
        if fall > tolerance_pp + 1e-9:  # 1e-9: a fall of exactly the tolerance is allowed
            out.append(f"{label} fell {fall:.2f} pp (more than {tolerance_pp:.2f})")
    b, a = before[CORRECTIONS]["value"], after[CORRECTIONS]["value"]
    if not a > b:
        out.append(f"corrections are not read better ({b:.2%} before, {a:.2%} after)")
    return out


def table(before: dict[str, dict], after: dict[str, dict], tolerance_pp: float) -> str:
    """Every figure before and after, gated ones first, with what the gate says of each."""
    lines = [f"{'figure':<44} {'n':>6} {'before':>8} {'after':>8} {'change':>10}  gate"]
    for name in [*GATED, CORRECTIONS, *(k for k in before if k not in LABELS)]:
        b, a = before[name], after[name]
        change = change_pp(b, a)
        if name in GATED:
            gate = "ok" if change >= -tolerance_pp - 1e-9 else f"FALLS more than {tolerance_pp:.2f} pp"
        elif name == CORRECTIONS:
            gate = "ok (rises)" if a["value"] > b["value"] else "DOES NOT RISE"
        else:
            gate = "(not gated)"
        lines.append(f"{LABELS.get(name, name):<44} {b['n']:>6} {b['value']:>8.2%} {a['value']:>8.2%} "
                     f"{change:>+7.2f} pp  {gate}")
    return "\n".join(lines)
