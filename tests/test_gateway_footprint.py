"""What the gateway process loads: its app built and every route exercised in a process of its own,
and never numpy or torch (the gateway's image installs neither)."""

from __future__ import annotations

import json
import subprocess
import sys

from bengali_digit.catalog import ROOT
from service.processes import free_port
from synthetic.digit_images import bengali_fonts, png_bytes, render_digit

GATEWAY_IMPORTS = """
import base64, json, sys
from feedback.migrate import upgrade
from gateway import create_app
upgrade(f"sqlite:///{sys.argv[3]}/feedback.sqlite3")  # what gunicorn's master does before the workers start
app = create_app({"TORCHSERVE_URL": sys.argv[1], "CONNECT_TIMEOUT": 0.5, "FEEDBACK_DIR": sys.argv[3]})
client = app.test_client()
png = bytes.fromhex(sys.argv[2])
statuses = [client.get("/").status_code,
            client.post("/api/predict", data=png, content_type="image/png").status_code,
            client.post("/api/number", data=png, content_type="image/png").status_code,
            client.post("/api/predict", data=b"junk", content_type="image/png").status_code,
            client.post("/api/feedback", json={"image": base64.b64encode(png).decode(), "label": 3}).status_code,
            client.get("/metrics").status_code]
print(json.dumps({"statuses": statuses, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_the_gateway_imports_neither_torch_nor_numpy(tmp_path):
    """In a process of its own: the app built, its page served, a digit and a number forwarded (to a
    TorchServe that is not there: 503), junk refused (415), a correction kept in a database migrated as
    gunicorn's master migrates it (201), metrics read; and never numpy or torch."""
    png = png_bytes(render_digit(3, bengali_fonts()[-1], 150, (140, 140), 3))
    args = [f"http://127.0.0.1:{free_port()}", png.hex(), str(tmp_path)]
    r = subprocess.run([sys.executable, "-c", GATEWAY_IMPORTS, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["statuses"] == [200, 503, 503, 415, 201, 200]
    assert "flask" in out["loaded"] and "PIL" in out["loaded"]
    assert not {"numpy", "torch"} & set(out["loaded"])
