"""/health: is the server loaded, are its workers up, and does its store (embedded or remote) answer."""

from __future__ import annotations

from flask import Blueprint, jsonify

from shiquan.web import runtime

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    body = runtime().status()
    response = jsonify(body)
    response.status_code = 200 if body["status"] == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response
