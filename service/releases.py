"""Model releases through TorchServe's own versions: no restart, no dropped request.

    python -m service.releases release 1.1 [--weights runs/retrain/bengali_digit.pt]   # make release
    python -m service.releases promote 1.1                                             # make promote
    python -m service.releases list

A release archives the weights as version x.y of every model that uses them (bengali_digit and
bengali_number) and registers it beside the running versions; promoting makes it each model's
default, which TorchServe switches atomically; promoting the previous version is the rollback. The
committed weights are version catalog.MODEL_VERSION. The registry (data/releases/) keeps each
release's weights and which version is promoted, so `make serve` restores both after a restart, and
`make clean` (which empties model_store/) loses nothing: archives are rebuilt from the kept weights.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from bengali_digit.catalog import MODEL_NAME, MODEL_VERSION, NUMBER_MODEL_NAME, SERVICE_DATA, WEIGHTS
from handler.archive import build_archive, mar_name
from service.torchserve import TorchServe, read_properties

MODELS = (MODEL_NAME, NUMBER_MODEL_NAME)
VERSION = re.compile(r"\d+\.\d+")
# registering loads the archive and starts its workers before answering: seconds, not milliseconds
REGISTER_TIMEOUT = 180


class ReleaseError(Exception):
    """A release or promotion that cannot be done, in words for the person who asked."""


@dataclass
class Registry:
    """data/releases/: releases.json ({"default": version, "versions": {version: {...}}}) and each
    release's weights in a folder named by its version."""

    root: Path = SERVICE_DATA / "releases"

    @property
    def file(self) -> Path:
        return self.root / "releases.json"

    def read(self) -> dict:
        if not self.file.exists():
            return {"default": MODEL_VERSION, "versions": {}}
        return json.loads(self.file.read_text())

    def write(self, state: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.file)  # atomic: a crash never leaves half a registry

    def weights(self, version: str) -> Path:
        return WEIGHTS if version == MODEL_VERSION else self.root / version / WEIGHTS.name

    def versions(self) -> list[str]:
        return [MODEL_VERSION, *self.read()["versions"]]

    def default(self) -> str:
        return self.read()["default"]

    def add(self, version: str, weights: Path) -> None:
        if not VERSION.fullmatch(version):
            raise ReleaseError(f"version {version!r} is not of the form MAJOR.MINOR, e.g. 1.1")
        if version in self.versions():
            raise ReleaseError(f"version {version} exists already; releases are never overwritten")
        if not weights.is_file():
            raise ReleaseError(f"no weights at {weights}")
        (self.root / version).mkdir(parents=True)
        shutil.copy2(weights, self.weights(version))
        state = self.read()
        state["versions"][version] = {"released": datetime.now(UTC).isoformat(timespec="seconds"),
                                      "weights_from": str(weights)}
        self.write(state)

    def promote(self, version: str) -> None:
        if version not in self.versions():
            raise ReleaseError(f"no release {version}; releases: {', '.join(self.versions())}")
        self.write({**self.read(), "default": version})

    def archives(self, version: str, store: Path) -> list[Path]:
        """Both archives of `version` in `store`, built from the kept weights when missing."""
        paths = [store / mar_name(name, version) for name in MODELS]
        if not all(path.exists() for path in paths):
            paths = build_archive(store, self.weights(version), version)
        return paths


class Management:
    """The calls of TorchServe's management API that releases need (enable_model_api=true)."""

    def __init__(self, url: str, models: dict):
        self.url = url
        self.models = models  # config.properties' "models": each model's shipped worker and batch settings

    def registered(self, name: str) -> set[str]:
        r = requests.get(f"{self.url}/models/{name}/all", timeout=10)
        return {m["modelVersion"] for m in r.json()} if r.ok else set()

    def register(self, name: str, mar: Path) -> None:
        """One more version of `name`, with the workers and batching the committed version ships
        with; TorchServe keeps the default where it was (it does not move it to a new version)."""
        shipped = self.models[name][MODEL_VERSION]
        params = {"url": mar.name, "model_name": name, "initial_workers": shipped["minWorkers"],
                  "batch_size": shipped["batchSize"], "max_batch_delay": shipped["maxBatchDelay"],
                  "response_timeout": shipped["responseTimeout"], "synchronous": "true"}
        r = requests.post(f"{self.url}/models", params=params, timeout=REGISTER_TIMEOUT)
        if not r.ok:
            raise ReleaseError(f"TorchServe refused to register {mar.name}: {r.status_code} {r.text.strip()}")

    def set_default(self, name: str, version: str) -> None:
        r = requests.put(f"{self.url}/models/{name}/{version}/set-default", timeout=10)
        if not r.ok:
            raise ReleaseError(f"TorchServe refused {name} {version} as default: {r.status_code} {r.text.strip()}")


def deploy(registry: Registry, management: Management, store: Path) -> None:
    """Make a running TorchServe serve what the registry says: every release registered, the
    promoted one the default. Called after each release and promotion, and by `make serve`."""
    default = registry.default()
    for version in registry.versions():
        for name, mar in zip(MODELS, registry.archives(version, store), strict=True):
            if version not in management.registered(name):
                management.register(name, mar)
    for name in MODELS:
        management.set_default(name, default)


def deploy_to(server: TorchServe, registry: Registry | None = None) -> None:
    """`deploy` on a TorchServe we started."""
    deploy(registry or Registry(), Management(server.management, json.loads(server.props["models"])),
           server.model_store)


def running_torchserve() -> tuple[Management, Path] | None:
    """The management API and model store of the TorchServe `make serve` started, if it runs."""
    from service.stack import RUN_DIR, running  # the stack imports this module: import at call time

    if not running("torchserve"):
        return None
    props = read_properties(RUN_DIR / "torchserve" / "config.properties")
    return Management(props["management_address"], json.loads(props["models"])), Path(props["model_store"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    release = sub.add_parser("release", help="archive weights as a new version and register it beside the running one")
    release.add_argument("version", help="MAJOR.MINOR, new")
    release.add_argument("--weights", type=Path, default=WEIGHTS, help="(default: weights/bengali_digit.pt)")
    promote = sub.add_parser("promote", help="make a version every model's default (the previous one: a rollback)")
    promote.add_argument("version")
    sub.add_parser("list", help="the releases and which one is promoted")
    args = p.parse_args(argv)

    registry = Registry()
    try:
        if args.command == "release":
            registry.add(args.version, args.weights)
        elif args.command == "promote":
            registry.promote(args.version)
        target = running_torchserve()
        if target is not None and args.command != "list":
            deploy(registry, *target)
    except ReleaseError as err:
        sys.exit(f"error: {err}")
    for version in registry.versions():
        print(f"{'*' if version == registry.default() else ' '} {version}")
    if args.command != "list":
        print("TorchServe serves this now" if target else "TorchServe is not running: `make serve` serves this")


if __name__ == "__main__":
    main()
