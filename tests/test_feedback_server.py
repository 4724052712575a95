"""Corrections through the real gateway process (gunicorn, its workers, its master migrating the
database before they start): kept across a restart, with the same client hash; and a gateway whose
database is unreachable starts, serves predictions from a real TorchServe and answers 503 for
corrections."""

from __future__ import annotations

import pytest
import requests

from feedback import settings
from feedback.store import Store
from service.gateway import Gateway
from service.processes import free_port
from synthetic.corrections import correction, drawing

pytestmark = pytest.mark.server


def send(gw: Gateway, body: dict) -> requests.Response:
    return requests.post(f"{gw.url}/api/feedback", json=body, timeout=30)


def test_corrections_survive_a_gateway_restart(tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"  # no TorchServe: corrections never need one
    ids = []
    for digit in (4, 9):
        with Gateway(tmp_path / f"gateway{digit}", nowhere, feedback_dir=tmp_path / "data") as gw:
            r = send(gw, correction(digit))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        assert "not migrated" not in gw.log.read_text()
    store = Store(settings.database_url(None, tmp_path / "data"))
    rows = [store.get(id) for id in ids]
    store.dispose()
    assert [(row.label, row.image) for row in rows] == [(4, drawing(4)), (9, drawing(9))]
    assert rows[0].client == rows[1].client  # the salt kept in the data folder: the same hash after a restart


def test_a_gateway_whose_database_is_down_still_predicts(torchserve, tmp_path):
    down = {"BDR_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/feedback"}
    with Gateway(tmp_path / "gateway", torchserve.inference, settings=down) as gw:
        gw.wait_ready("/readyz")
        r = send(gw, correction(3))
        assert r.status_code == 503 and r.json()["error"] == "feedback_unavailable", r.text
        assert int(r.headers["Retry-After"]) > 0
        predicted = requests.post(f"{gw.url}/api/predict", data=drawing(3), timeout=30,
                                  headers={"Content-Type": "image/png"})
        assert predicted.status_code == 200 and predicted.json()["verdict"] in ("digit", "not_a_digit")
    assert "not migrated, /api/feedback will answer 503" in gw.log.read_text()
