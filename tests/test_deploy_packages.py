"""What the images install: every package pinned by requirements.txt, and every module the gateway
and TorchServe's worker import held by the image's packages (and what those require): the gateway's
imports followed through our own code by modulefinder, the worker's tried for real in an interpreter
that refuses every other installed distribution."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from modulefinder import ModuleFinder
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bengali_digit.catalog import MODEL_NAME, ROOT
from tests.deploy_files import DOCKER, copy_sources


def package_names(listing: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in listing.read_text().splitlines())
    return [canonicalize_name(line) for line in lines if line]


def test_image_packages_are_pinned_by_requirements():
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+", (ROOT / "requirements.txt").read_text(), re.M)
    pinned = set(map(canonicalize_name, pins))
    for listing in ("torchserve-packages.txt", "gateway-packages.txt"):
        for name in package_names(DOCKER / listing):
            assert name in pinned, f"{listing}: {name} has no pin in requirements.txt, so `pip -c` would not fix it"
    # and the archive stage installs torch-model-archiver under the same constraint
    assert "torch-model-archiver" in pinned


def requirement_closure(names: list[str]) -> set[str]:
    """These distributions and everything they require on this platform (no extras), as installed here."""
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in out:
            continue
        out.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in map(Requirement, requires):
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return out


def imported_modules(paths: list[Path]) -> tuple[set[str], set[str]]:
    """The modules these files import, directly or through our own packages (a package's __init__
    runs on any import from it): (ours, found in the repository; the others' top-level names)."""
    finder = ModuleFinder(path=[str(ROOT)])  # only our code is read; the rest is listed as missing
    for path in paths:
        finder.run_script(str(path))
    ours = {name for name in finder.modules if name != "__main__" and name not in sys.builtin_module_names}
    return ours, {name.split(".")[0] for name in finder.any_missing()}


def test_gateway_image_holds_every_module_the_gateway_imports():
    ours, others = imported_modules(sorted((ROOT / "gateway").rglob("*.py")))
    local = {name.split(".")[0] for name in ours}
    assert {"gateway", "bengali_digit"} <= local  # the finder did follow the imports
    copied = {source.strip("/").split("/")[0] for source in copy_sources("gateway")}
    assert local <= copied, f"the gateway imports {local - copied}, which its image does not COPY"
    installed = requirement_closure(package_names(DOCKER / "gateway-packages.txt"))
    dists = metadata.packages_distributions()
    third_party = others - set(sys.stdlib_module_names) - {"__future__"}
    assert {"flask", "prometheus_client"} <= third_party
    missing = {top: dists.get(top) for top in third_party
               if not set(map(canonicalize_name, dists.get(top, [top]))) & installed}
    assert not missing, f"imported by the gateway but not installed in its image: {missing}"
    # and the image never grows the model's weight: no torch in the gateway
    assert "torch" not in third_party


# Run in a separate interpreter: refuse every module of an installed distribution the image would
# not hold, then run the code. Optional imports (torch.hub's tqdm) fall back as they would there.
ONLY_IMAGE_PACKAGES = r"""
import importlib.metadata, json, re, sys
allowed, code = set(json.loads(sys.argv[1])), sys.argv[2]
owners = importlib.metadata.packages_distributions()

class OnlyImagePackages:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [])}
        if dists and not dists & allowed:
            raise ModuleNotFoundError(f"No module named {top!r} (not in the image)", name=top)

sys.meta_path.insert(0, OnlyImagePackages())
exec(code)
"""


def test_torchserve_image_holds_every_module_the_worker_imports(model_store, tmp_path):
    """TorchServe's worker and our handler import, from the unpacked .mar as TorchServe lays it out,
    with only the image's packages: imports inside `ts` and torch are invisible to a reading of our code."""
    shutil.unpack_archive(model_store / f"{MODEL_NAME}.mar", tmp_path, format="zip")
    allowed = sorted(requirement_closure(package_names(DOCKER / "torchserve-packages.txt")))
    code = "import ts.model_service_worker, ts.torch_handler.base_handler, handler; print(handler.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # not the repository: the archive
    r = subprocess.run([sys.executable, "-c", ONLY_IMAGE_PACKAGES, json.dumps(allowed), code], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert Path(r.stdout.strip().splitlines()[-1]).parent == tmp_path
