"""Turn a CustomResourceDefinition into the JSON schemas our tests validate manifests against, offline.

    python docker/schemas/from_crd.py CRD.yaml [CRD.yaml ...] --out docker/schemas/kserve

kubernetes-validate ships schemas for Kubernetes' own kinds only; KServe's InferenceService and
ServingRuntime are described by the `openAPIV3Schema` inside KServe's CRDs. This writes one
`<kind>-<group prefix>-<version>.json.gz` per served version (kubernetes-validate's naming), with
two changes that make it a strict offline check:
- descriptions dropped (the InferenceService schema shrinks from 1.6 MB to 0.6 MB, 22 kB gzipped);
- `additionalProperties: false` on every object that lists its properties and does not preserve
  unknown fields, so that a misspelt key fails here as it fails `kubectl apply` (strict field
  validation) instead of being pruned silently by the API server.

The committed files come from KServe v0.20.0 (commit 1fb781055dd1567164358233e1125142ca6ef1fe),
`config/crd/full/serving.kserve.io_inferenceservices.yaml` and `..._servingruntimes.yaml`.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

import yaml


def strict(node: Any) -> Any:
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items() if key != "description"}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def schemas(crd: dict) -> dict[str, dict]:
    """File name -> schema, one per served version of the CRD."""
    kind = crd["spec"]["names"]["kind"].lower()
    group = crd["spec"]["group"].split(".")[0]
    return {f"{kind}-{group}-{version['name']}.json.gz": strict(version["schema"]["openAPIV3Schema"])
            for version in crd["spec"]["versions"] if version.get("served", True)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("crds", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "kserve",
                   help="(default: docker/schemas/kserve)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.crds:
        for name, schema in schemas(yaml.safe_load(path.read_text())).items():
            text = json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()
            # mtime=0: the same CRD gives byte-identical files, so a regeneration shows no spurious diff
            (args.out / name).write_bytes(gzip.compress(text, mtime=0))
            print(args.out / name)


if __name__ == "__main__":
    main()
