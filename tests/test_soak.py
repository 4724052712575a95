"""The soak of `make soak` (bench/soak.py) in its short form, against the session's TorchServe and
gateway: a few hundred mixed good and bad requests at concurrency 16, every one answered as it
should be, no 5xx, no process replaced, memory level."""

from __future__ import annotations

from bench.soak import passed, soak, summary

MEMORY_BOUND_MIB = 64  # growth of any one process's own memory (USS) over the short soak: generous


def test_short_soak(torchserve, gateway):
    report = soak(gateway.url, {"torchserve": torchserve.process.pid, "gateway": gateway.process.pid},
                  n=800, concurrency=16, warmup=200, parts=2, limit=120)
    print("\n" + summary(report))
    assert passed(report), summary(report)  # every request answered, no 5xx, nothing unexpected
    assert len(report["memory_before"]) >= 6  # launcher, frontend, 2 workers, gunicorn master and workers
    assert max(report["uss_growth_mib"].values()) < MEMORY_BOUND_MIB, report["uss_growth_mib"]
