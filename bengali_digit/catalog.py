"""The facts every part of the project names, each written once: the models TorchServe serves, the
weights they are built from, and the fixed split of the training data into rows that train and rows
that only ever validate. Change one here and training, evaluation, serving and the tests follow.

Plain Python: the gateway reads the model names from here, and never imports numpy or torch.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository (inside an archive: the worker's model dir)

MODEL_NAME = "bengali_digit"  # POST /predictions/bengali_digit: one digit
NUMBER_MODEL_NAME = "bengali_number"  # POST /predictions/bengali_number: a whole number
MODEL_VERSION = "1.0"  # the committed weights; later releases (service/releases.py) count up from it
WEIGHTS = ROOT / "weights" / "bengali_digit.pt"  # the committed weights both archives are built from
MODEL_CONFIG = ROOT / "handler" / "model-config.yaml"  # the handler's own settings, shipped in each archive

# What the service keeps across `make stop`, `make serve` and `make clean`: users' corrections and
# model releases. Never committed.
SERVICE_DATA = ROOT / "data"

# Held out of training, in every run and every report: a fixed share of each collection, chosen by
# a seeded permutation (training.data.split). canvas_val.npz's rows (redrawn from these
# collections) are held out as well.
SPLIT_SEED = 0
HELD_OUT = {"numta": 0.2, "isi": 0.1}  # collection -> share that only validates

