"""Shiquan: a knowledge graph and SPARQL endpoint for fiscal power division plans.

Importing the package loads nothing else: the app factory lives in :mod:`shiquan.web.app`,
and ``create_app`` here imports it on first call, so core modules never pull in Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create_app(overrides: Mapping[str, Any] | None = None, progress=None):
    """The Flask app over a freshly prepared dataset; see :func:`shiquan.web.app.create_app`."""
    from shiquan.web.app import create_app as factory

    return factory(overrides, progress)
