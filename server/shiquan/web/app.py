"""The app factory: settings, the runtime that holds the dataset, the blueprints and the one error body."""

from __future__ import annotations

import atexit
from collections.abc import Mapping
from typing import Any

from flask import Flask

from shiquan import config
from shiquan.runtime.runtime import Runtime
from shiquan.web import PublicBase, download, health, pages, register_errors, research, sparql, validate


def create_app(overrides: Mapping[str, Any] | None = None, progress=None) -> Flask:
    """The Flask app over a freshly loaded store; ``progress`` (a ``loading.Progress``) is told how loading goes.

    Settings are read as the command line reads them (:func:`config.settings`): defaults, then ``SHIQUAN_*``
    from the environment, then ``overrides``. Raises BadInput and InconsistentGraph for bad data.
    """
    app = Flask(__name__)
    app.config.update(config.settings(overrides))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_BODY_BYTES"]  # a form's fields, 500 kB by default
    runtime = Runtime(app.config, progress)
    app.extensions["shiquan"] = runtime
    atexit.register(runtime.close)
    for bp in (sparql.bp, download.bp, pages.bp, research.bp, validate.bp, health.bp):
        app.register_blueprint(bp)
    register_errors(app)
    app.wsgi_app = PublicBase(app)  # absolute URLs from PUBLIC_BASE_URL, never the Host header
    app.wsgi_app = sparql.AnswerCache(app, app.wsgi_app)  # the same query again: its answer, without a worker
    return app
