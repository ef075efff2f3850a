"""Shared fixtures: project paths, settings, one loaded store per session, the Flask app."""

from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path

import pytest
import waitress

from server import config, loading

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
QUERIES = ROOT / "queries"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SOURCE = DATA / "sources" / "haidong-dongzhengban-2024-96.txt"
HAIDONG_PLAN = "https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96"


def normalised(text: str) -> str:
    """The text with all whitespace removed: how quotes are compared with the source."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="session")
def settings() -> dict:
    return config.settings()


@pytest.fixture(scope="session")
def kg(settings):
    """The project's data, ontology and inferences in an embedded store, built once."""
    return loading.build_store(settings)


@contextlib.contextmanager
def serving(app, threads: int = 8):
    """Serve ``app`` with waitress (as `shiquan serve` does) on a free loopback port; yields the base URL.

    Stops in order: no new tasks, running ones finished, then every socket closed, which ends the loop.
    """
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True, name="test-waitress")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=10)
        for channel in list(server._map.values()):
            channel.close()
        thread.join(timeout=10)
