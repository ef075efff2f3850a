"""Shiquan: a knowledge graph and SPARQL endpoint for fiscal power division plans."""

from __future__ import annotations

import atexit
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import config, pool


def create_app(overrides: Mapping[str, Any] | None = None, progress=None) -> Flask:
    """The Flask app over a freshly loaded store; ``progress`` (a ``loading.Progress``) is told how loading goes.

    Raises BadInput and InconsistentGraph for bad data.
    """
    from . import web
    from .web import download, health, pages, sparql, validate

    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.from_object(config.Defaults)
    app.config.from_prefixed_env("SHIQUAN")  # SHIQUAN_QUERY_TIMEOUT_S=5
    app.config.update(overrides or {})
    app.config.update(config.normalise(app.config))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_BODY_BYTES"]  # a form's fields, 500 kB by default
    runtime = pool.Runtime(app.config, progress)
    app.extensions["shiquan"] = runtime
    atexit.register(runtime.close)
    for bp in (sparql.bp, download.bp, pages.bp, validate.bp, health.bp):
        app.register_blueprint(bp)
    web.register_errors(app)
    return app
