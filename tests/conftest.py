"""Shared fixtures: a real TorchServe process on free loopback ports with a temporary model store,
built once per test session from the committed weights and stopped by PID at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handler.archive import build_archive
from service.processes import free_port
from service.torchserve import API_KEYS, TorchServe
from training.data import DEFAULT_DATA_DIR

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BDR_DATA_DIR", DEFAULT_DATA_DIR))


def needs_shared_data(name: str) -> Path:
    """The path of a file in ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (CI has ../shared/data; set BDR_DATA_DIR to point elsewhere)")
    return path


@pytest.fixture(scope="session")
def model_store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("model_store")
    build_archive(store)
    return store


@pytest.fixture(scope="session")
def torchserve(model_store, tmp_path_factory):
    server = TorchServe(tmp_path_factory.mktemp("torchserve"), model_store=model_store,
                        ports={key: free_port() for key in API_KEYS})
    with server:
        yield server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of TorchServe's log to every failing test that used it."""
    outcome = yield
    report = outcome.get_result()
    server = item.funcargs.get("torchserve") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(server, TorchServe) and server.log.exists():
        report.sections.append(("TorchServe log (tail)", server.log.read_text(errors="replace")[-6000:]))
