"""Build the TorchServe archives `bengali_digit.mar` and `bengali_number.mar` from the committed weights.

    python -m handler.archive [--export-path model_store] [--weights weights/bengali_digit.pt] [--version 1.0]

The `bengali_digit` package travels inside each archive, so the worker imports the very modules
that training and evaluation use. TorchServe puts the archive's root on the worker's sys.path.
The two archives differ only in the `task` their handler configuration names: one handler, one
package, the same weights.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bengali_digit.catalog import MODEL_CONFIG, MODEL_NAME, MODEL_VERSION, NUMBER_MODEL_NAME, ROOT, WEIGHTS

TASKS = {MODEL_NAME: "digit", NUMBER_MODEL_NAME: "number"}  # model name -> handler task


def mar_name(name: str, version: str = MODEL_VERSION) -> str:
    """The committed version is `bengali_digit.mar`; a release is `bengali_digit-1.1.mar`."""
    return f"{name}.mar" if version == MODEL_VERSION else f"{name}-{version}.mar"


def build_archive(export_path: Path, weights: Path = WEIGHTS, version: str = MODEL_VERSION) -> list[Path]:
    """Both archives of `weights` as `version` into `export_path`; returns their paths."""
    export_path.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(MODEL_CONFIG.read_text())
    out = []
    for name, task in TASKS.items():
        with tempfile.TemporaryDirectory() as staging:
            # the archiver copies a directory's contents, so stage the package inside one
            shutil.copytree(ROOT / "bengali_digit", Path(staging) / "package" / "bengali_digit",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            model_config = Path(staging) / "model-config.yaml"
            model_config.write_text(yaml.safe_dump({**config, "handler": {**config["handler"], "task": task}}))
            subprocess.run(
                [str(Path(sys.executable).parent / "torch-model-archiver"),
                 "--model-name", name, "--version", version,
                 "--serialized-file", str(weights),
                 "--handler", str(ROOT / "handler" / "handler.py"),
                 "--extra-files", str(Path(staging) / "package"),
                 "--config-file", str(model_config),
                 "--export-path", staging, "--force"],
                check=True,
            )
            # the archiver names the file after the model; versions of one model need their own names
            out.append(Path(shutil.move(Path(staging) / f"{name}.mar", export_path / mar_name(name, version))))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--export-path", type=Path, default=ROOT / "model_store", help="(default: model_store)")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help="(default: weights/bengali_digit.pt)")
    p.add_argument("--version", default=MODEL_VERSION, help=f"what answers name (default: {MODEL_VERSION})")
    args = p.parse_args()
    for path in build_archive(args.export_path, args.weights, args.version):
        print(path)


if __name__ == "__main__":
    main()
