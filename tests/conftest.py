"""Shared fixtures: a real TorchServe process on free loopback ports with a temporary model store,
built once per test session from the committed weights and stopped by PID at the end; the gateway
in front of it; Chromium with the app open on a desktop and on a phone (tests/drawing_page.py).

Two tiers: a test that starts real processes (TorchServe, the gateway, a browser, a subprocess
that serves) is marked `server`, either by using a fixture of SERVER_FIXTURES or by its module's
own `pytestmark`; `make test-fast` runs the rest, in-process, `make test` both."""

from __future__ import annotations

from pathlib import Path

import pytest

from handler.archive import build_archive
from service.gateway import Gateway
from service.processes import free_port
from service.torchserve import API_KEYS, TorchServe
from synthetic.digit_images import MissingFont
from tests.drawing_page import DESKTOP, PHONE, chromium, open_tab
from training.data import DEFAULT_DATA_DIR

SHARED_DATA = DEFAULT_DATA_DIR  # ../shared/data, or $BDR_DATA_DIR


# fixtures that start (or build for) real processes; pytest lists a test's fixtures transitively
SERVER_FIXTURES = {"model_store", "torchserve", "gateway", "make_torchserve", "own_torchserve", "own_gateway",
                   "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


class Module(pytest.Module):
    """A test module that renders its inputs from a font this host lacks is skipped, with the reason
    (what to install), instead of failing to import."""

    def _getobj(self):
        try:
            return super()._getobj()
        except MissingFont as err:
            pytest.skip(str(err), allow_module_level=True)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.name.startswith("test_"):
        return Module.from_parent(parent, path=module_path)
    return None


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
    for name in ("own_torchserve", "gateway", "own_gateway"):
        other = item.funcargs.get(name) if hasattr(item, "funcargs") else None
        if report.failed and isinstance(other, (TorchServe, Gateway)) and other.log.exists():
            report.sections.append((f"{name} log (tail)", other.log.read_text(errors="replace")[-6000:]))


@pytest.fixture(scope="session")
def gateway(torchserve, tmp_path_factory):
    """The gateway under gunicorn on a free loopback port, in front of the session's TorchServe."""
    with Gateway(tmp_path_factory.mktemp("gateway"), torchserve.inference) as server:
        server.wait_ready("/readyz")
        yield server


@pytest.fixture
def make_torchserve(model_store, tmp_path):
    """Start TorchServes of the test's own, ready, on free ports (`make_torchserve(**model_overrides)`,
    one worker unless told otherwise); all stopped by PID at the end."""
    servers: list[TorchServe] = []

    def make(**model_overrides) -> TorchServe:
        server = TorchServe(tmp_path / f"torchserve{len(servers)}", model_store=model_store,
                            ports={key: free_port() for key in API_KEYS},
                            model_overrides={"minWorkers": 1, "maxWorkers": 1, **model_overrides})
        servers.append(server)
        server.start()
        server.wait_ready()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def own_torchserve(make_torchserve):
    """A TorchServe for one test alone, for tests that stop it: the session's must stay up."""
    return make_torchserve()


@pytest.fixture
def own_gateway(own_torchserve, tmp_path):
    """A gateway in front of `own_torchserve`."""
    with Gateway(tmp_path / "gateway", own_torchserve.inference) as server:
        server.wait_ready("/readyz")
        yield server


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, one for each test module that drives the page (tests/drawing_page.py)."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def desktop(browser, gateway):
    """The app on a 1280×800 screen with a mouse, in front of the session's gateway."""
    with open_tab(browser, gateway.url, DESKTOP) as tab:
        yield tab


@pytest.fixture
def phone(browser, gateway):
    """The app on a 360×740 touch screen at three device pixels a CSS pixel."""
    with open_tab(browser, gateway.url, PHONE) as tab:
        yield tab
