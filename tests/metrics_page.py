"""One reading of a /metrics page (TorchServe's or the gateway's), in Prometheus' text format,
parsed by prometheus_client."""

from __future__ import annotations

import requests
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def counter_name(family: Metric, sample: Sample) -> str | None:
    """A counter's family name for its <family>_total samples: the parser gives them that name even
    where the page wrote no _total (TorchServe's counters), so either name finds them."""
    return family.name if family.type == "counter" and sample.name == f"{family.name}_total" else None


class MetricsPage:
    """`base_url`/metrics as it is now: its metric families by name, and sums over their samples."""

    def __init__(self, base_url: str) -> None:
        r = requests.get(f"{base_url}/metrics", timeout=5)
        assert r.status_code == 200, r.text[:300]
        self.families: dict[str, Metric] = {f.name: f for f in text_string_to_metric_families(r.text)}

    def samples(self, name: str, **labels: str) -> list[Sample]:
        """The samples named `name` that carry these labels (among others)."""
        return [sample for family in self.families.values() for sample in family.samples
                if name in (sample.name, counter_name(family, sample)) and labels.items() <= sample.labels.items()]

    def total(self, name: str, **labels: str) -> float:
        """The sum of those samples' values (0 while there are none yet)."""
        return sum(sample.value for sample in self.samples(name, **labels))
