"""Build the TorchServe archive `bengali_digit.mar` from the committed weights.

    python -m handler.archive [--export-path model_store] [--weights weights/bengali_digit.pt]

The `bengali_digit` package travels inside the archive, so the worker imports the very modules
that training and evaluation use. TorchServe puts the archive's root on the worker's sys.path.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_NAME = "bengali_digit"
MODEL_VERSION = "1.0"
DEFAULT_WEIGHTS = ROOT / "weights" / "bengali_digit.pt"
MODEL_CONFIG = ROOT / "handler" / "model-config.yaml"


def build_archive(export_path: Path, weights: Path = DEFAULT_WEIGHTS) -> Path:
    export_path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        # the archiver copies a directory's contents, so stage the package inside one
        shutil.copytree(ROOT / "bengali_digit", Path(staging) / "bengali_digit",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        subprocess.run(
            [str(Path(sys.executable).parent / "torch-model-archiver"),
             "--model-name", MODEL_NAME, "--version", MODEL_VERSION,
             "--serialized-file", str(weights),
             "--handler", str(ROOT / "handler" / "handler.py"),
             "--extra-files", staging,
             "--config-file", str(MODEL_CONFIG),
             "--export-path", str(export_path), "--force"],
            check=True,
        )
    return export_path / f"{MODEL_NAME}.mar"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--export-path", type=Path, default=ROOT / "model_store", help="(default: model_store)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="(default: weights/bengali_digit.pt)")
    args = p.parse_args()
    print(build_archive(args.export_path, args.weights))


if __name__ == "__main__":
    main()
