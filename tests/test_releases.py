"""Releases: a new version registered beside the running one, promoted and rolled back under steady
load through the gateway with no failed request, and a restart serving the version last promoted."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
import requests

from bengali_digit.catalog import MODEL_NAME, MODEL_VERSION, NUMBER_MODEL_NAME, WEIGHTS
from service.gateway import Gateway
from service.processes import free_port, wait_until
from service.releases import Registry, ReleaseError, deploy_to
from service.torchserve import API_KEYS, TorchServe
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit

PNG = png_bytes(render_digit(4, bengali_fonts()[-1]))
SWITCH_SECONDS = 10  # "answers switch version within seconds"


def test_registry_refuses_what_it_cannot_do(tmp_path):
    registry = Registry(tmp_path / "releases")
    for version, words in (("1", "MAJOR"), ("v1.1", "MAJOR"), (MODEL_VERSION, "exists")):
        with pytest.raises(ReleaseError, match=words):
            registry.add(version, WEIGHTS)
    with pytest.raises(ReleaseError, match="no weights"):
        registry.add("1.1", tmp_path / "missing.pt")
    with pytest.raises(ReleaseError, match="no release 2"):
        registry.promote("2.0")
    registry.add("1.1", WEIGHTS)
    with pytest.raises(ReleaseError, match="exists"):
        registry.add("1.1", WEIGHTS)
    assert registry.versions() == [MODEL_VERSION, "1.1"] and registry.default() == MODEL_VERSION
    registry.promote("1.1")
    assert Registry(tmp_path / "releases").default() == "1.1"  # kept on disk, not in the object


class Load(threading.Thread):
    """Predictions through the gateway, one after another, until stopped or `limit` requests."""

    def __init__(self, url: str, limit: int = 5000):
        super().__init__(daemon=True)
        self.url, self.limit = url, limit
        self.answers: list[tuple[float, int, str | None]] = []  # (time, status, model_version)
        self.halt = threading.Event()

    def run(self) -> None:
        with requests.Session() as session:
            while not self.halt.is_set() and len(self.answers) < self.limit:
                r = session.post(f"{self.url}/api/predict", data=PNG, headers={"Content-Type": "image/png"}, timeout=15)
                version = r.json().get("model_version") if r.ok else None
                self.answers.append((time.monotonic(), r.status_code, version))

    def serving(self, version: str) -> bool:
        return bool(self.answers) and self.answers[-1][2] == version

    def switch(self, version: str) -> float:
        """Seconds until answers come from `version`; every answer after that one does too."""
        waited = wait_until(lambda: self.serving(version), SWITCH_SECONDS, f"answers from {version}",
                            alive=self.is_alive)
        start = len(self.answers) - 1
        wait_until(lambda: len(self.answers) > start + 20, SWITCH_SECONDS, "more answers", alive=self.is_alive)
        assert {v for _, _, v in self.answers[start:]} == {version}
        return waited


def make_torchserve(tmp_path, store) -> TorchServe:
    return TorchServe(tmp_path / f"ts{len(list(tmp_path.glob('ts*')))}", model_store=store,
                      ports={key: free_port() for key in API_KEYS}, model_overrides={"minWorkers": 1})


def versions(server: TorchServe, name: str) -> tuple[set[str], str]:
    """The versions TorchServe has of a model, and its default (what a plain describe shows)."""
    every = requests.get(f"{server.management}/models/{name}/all", timeout=5).json()
    default = requests.get(f"{server.management}/models/{name}", timeout=5).json()
    return {m["modelVersion"] for m in every}, default[0]["modelVersion"]


def test_release_promote_and_roll_back_under_load_fail_no_request(model_store, tmp_path):
    store = shutil.copytree(model_store, tmp_path / "store")  # the release's archives land here
    registry = Registry(tmp_path / "releases")
    with make_torchserve(tmp_path, store) as ts, Gateway(tmp_path / "gw", ts.inference) as gw:
        gw.wait_ready("/readyz")
        load = Load(gw.url)
        load.start()
        try:
            wait_until(lambda: load.serving(MODEL_VERSION), SWITCH_SECONDS, "first answers", alive=load.is_alive)
            registry.add("1.1", WEIGHTS)
            deploy_to(ts, registry)  # registered beside 1.0, which stays the default
            for name in (MODEL_NAME, NUMBER_MODEL_NAME):
                assert versions(ts, name) == ({MODEL_VERSION, "1.1"}, MODEL_VERSION)
            assert load.serving(MODEL_VERSION)
            registry.promote("1.1")
            deploy_to(ts, registry)
            load.switch("1.1")
            registry.promote(MODEL_VERSION)  # the rollback
            deploy_to(ts, registry)
            load.switch(MODEL_VERSION)
        finally:
            load.halt.set()
            load.join(timeout=30)
        statuses = {status for _, status, _ in load.answers}
        assert statuses == {200}, [a for a in load.answers if a[1] != 200][:5]
        number = requests.post(f"{ts.inference}/predictions/{NUMBER_MODEL_NAME}/1.1", data=PNG, timeout=10)
        assert number.ok and number.json()["model_version"] == "1.1"

    registry.promote("1.1")  # promoted while stopped: the next start serves it
    shutil.rmtree(store)  # `make clean`: the archives are rebuilt from the registry's weights
    shutil.copytree(model_store, store)
    with make_torchserve(tmp_path, store) as ts:
        deploy_to(ts, registry)
        r = requests.post(f"{ts.inference}/predictions/{MODEL_NAME}", data=PNG, timeout=10)
        assert r.ok and r.json()["model_version"] == "1.1"
        assert versions(ts, NUMBER_MODEL_NAME) == ({MODEL_VERSION, "1.1"}, "1.1")
