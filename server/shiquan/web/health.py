"""/health: is the server loaded, are its workers up, and does its store (embedded or remote) answer.

200 with "status": "ok", or "degraded" with its "reasons" when requests wait for a busy pool (query or validation);
503 "unavailable" with its reasons when no request can be served (the store process stopped, no worker running, the
remote store silent).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from shiquan.web import runtime

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    body = runtime().status()
    response = jsonify(body)
    response.status_code = 503 if body["status"] == "unavailable" else 200
    response.headers["Cache-Control"] = "no-store"
    return response
