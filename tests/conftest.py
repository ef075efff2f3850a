"""Shared fixtures: project paths, settings, one loaded store per session, the Flask app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
