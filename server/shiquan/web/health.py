"""/health: is the server loaded, are its workers up, and does its store (embedded or remote) answer."""

from __future__ import annotations

from flask import Blueprint, jsonify

from shiquan.web import runtime

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    rt = runtime()
    store = rt.store_status()
    ready = rt.pool.alive > 0 and store.get("reachable", True)
    body = {
        "status": "ok" if ready else "unavailable",
        "store": store,
        "triples": rt.triple_count,
        "graphs": len(rt.counts),
        "version": rt.version,
        "loadSeconds": round(rt.load_seconds, 3),
        "workers": {"configured": rt.pool.size, "alive": rt.pool.alive, "replaced": rt.pool.replaced, "recycled": rt.pool.recycled},
    }
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
