"""Probes for an orchestrator: /healthz says the gateway process answers, /readyz that the models
behind it (digits and numbers) answer too (so traffic should be sent here)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from gateway.upstream import client

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The gateway process is up; says nothing about TorchServe."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """200 when both of TorchServe's models answer a prediction, else 503 with the reason and Retry-After."""
    reason = client().ready()
    if reason is None:
        return {"status": "ready"}
    response = jsonify(status="not_ready", reason=reason)
    response.headers["Retry-After"] = str(current_app.config["RETRY_AFTER"])
    return response, 503
