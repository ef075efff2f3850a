"""Shared fixtures: project paths, settings, one loaded store per session, the Flask app."""

from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path

import pytest

from shiquan import config
from shiquan.graph import loading
from shiquan.web import server as http_server

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
QUERIES = ROOT / "queries"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SOURCE = DATA / "sources" / "haidong-dongzhengban-2024-96.txt"
HAIDONG_PLAN = "https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96"


def normalised(text: str) -> str:
    """The text with all whitespace removed: how quotes are compared with the source."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="session", autouse=True)
def _verdicts_kept_apart(tmp_path_factory):
    """Validation verdicts and dumps go to folders of this session, and no prepared store is kept (the app and the
    commands read SHIQUAN_VALIDATED_DIR, SHIQUAN_DUMPS_DIR and SHIQUAN_STORE_CACHE_DIR)."""
    import os

    names = ("SHIQUAN_VALIDATED_DIR", "SHIQUAN_DUMPS_DIR", "SHIQUAN_STORE_CACHE_DIR")
    before = {name: os.environ.get(name) for name in names}
    for name in names[:2]:
        os.environ[name] = str(tmp_path_factory.mktemp(name.lower()))
    os.environ["SHIQUAN_STORE_CACHE_DIR"] = ""  # no kept stores: each test prepares its data (test_store_cache turns it on)
    yield
    for name, value in before.items():
        if value is None:
            del os.environ[name]
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def settings(_verdicts_kept_apart) -> dict:
    return config.settings()


@pytest.fixture(scope="session")
def kg(settings):
    """The project's data, ontology and inferences in an embedded store, built once."""
    return loading.build_store(settings)


@contextlib.contextmanager
def app_with(**overrides):
    """A fresh app over the project's data, queries run in the request thread (WORKERS = 0) unless ``overrides``
    say otherwise; its runtime is closed on the way out."""
    from shiquan import create_app

    app = create_app({"WORKERS": 0, "TESTING": True, **overrides})
    try:
        yield app
    finally:
        app.extensions["shiquan"].close()


@contextlib.contextmanager
def browser_site(*, workers: int = 2, install_assets: bool = True, **overrides):
    """The app with real query workers, served by waitress on a free port of 127.0.0.1, for a headless browser;
    ``install_assets`` fetches the query page's editor and the charts first. Yields the base URL."""
    from shiquan.web import assets

    with app_with(WORKERS=workers, **overrides) as app:
        if install_assets:
            assets.install(app.config)
        with serving(app, threads=4) as url:
            yield url


@pytest.fixture(scope="module")
def app(request):
    """The app for a test module, with the module's ``APP_SETTINGS`` (a dict of overrides) when it has one."""
    with app_with(**getattr(request.module, "APP_SETTINGS", {})) as app:
        yield app


@pytest.fixture()
def client(app):
    return app.test_client()


@contextlib.contextmanager
def serving(app, threads: int = 8):
    """Serve ``app`` as `shiquan serve` does (web/server.py) on a free loopback port; yields the base URL.

    Stops in order: no new tasks, running ones finished, then every socket closed by the loop's own thread (through
    its trigger), which ends the loop.
    """
    server = http_server.create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True, name="test-waitress")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=10)

        def close_all() -> None:  # run by the loop itself, so that it never selects on a closed socket
            for channel in list(server._map.values()):
                channel.close()

        try:
            server.trigger.pull_trigger(close_all)
        except OSError:  # seen once in a full run: the trigger's descriptor was closed under us (not understood yet)
            close_all()
        thread.join(timeout=10)
