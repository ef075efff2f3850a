"""`shiquan rulings`: the table of every ruling on the command line, the same as /download/rulings.* over HTTP;
copied from the file a server published for the data's version when there is one (STYLE §4: exit 2 on bad input).

The data are the project's plans and the hand-written test plans (tests/fixtures/compare/test-plans.ttl): 52
Haidong rulings from its source text, 5 of test plan 1 and 2 of test plan 2.
"""

from __future__ import annotations

import io
import urllib.request

import openpyxl
import pytest
from click.testing import CliRunner

from shiquan import config
from shiquan.graph import loading
from shiquan.publish import tables
from shiquan.sparql import run
from shiquan.cli import main

from .conftest import DATA, FIXTURES, app_with, serving

DATA_PATHS = [str(DATA), str(FIXTURES / "compare" / "test-plans.ttl")]
DATA_OPTIONS = [option for path in DATA_PATHS for option in ("--data", path)]
RULINGS = 52 + 5 + 2


@pytest.fixture(scope="module")
def site():
    """A server that builds the table live (no keeper, so nothing is published): its base URL."""
    with app_with(DATA_PATHS=DATA_PATHS) as app, serving(app, threads=4) as url:
        yield url


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def cells(data: bytes) -> list[tuple]:
    return [tuple(r) for r in openpyxl.load_workbook(io.BytesIO(data), read_only=True)["rulings"].iter_rows(values_only=True)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_csv_on_standard_output_is_the_http_download(site, lang, tmp_path):
    result = CliRunner().invoke(main, ["rulings", "--lang", lang, *DATA_OPTIONS],
                                env={"SHIQUAN_DUMPS_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == download(f"{site}/download/rulings.csv?lang={lang}")
    assert result.stdout_bytes.count(b"\r\n") == 1 + RULINGS


def test_the_xlsx_written_to_a_file_has_the_http_downloads_cells(site, tmp_path):
    target = tmp_path / "rulings.xlsx"
    result = CliRunner().invoke(main, ["rulings", "--format", "xlsx", "--lang", "en", "-o", str(target), *DATA_OPTIONS],
                                env={"SHIQUAN_DUMPS_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.stderr
    found = cells(target.read_bytes())
    assert len(found) == 1 + RULINGS and found == cells(download(f"{site}/download/rulings.xlsx?lang=en"))


def test_a_published_table_is_copied_not_built_again(tmp_path):
    settings = config.settings({"DATA_PATHS": DATA_PATHS, "DUMPS_DIR": str(tmp_path)})
    kg = loading.build_store(settings)
    tables.publish_rulings(lambda text: run.run(kg.store, text), settings, kg.version)
    published = tables.published_rulings(settings, kg.version, "zh", "csv")
    marked = published.path.read_bytes().replace("专利奖励".encode(), "MARKED!!!!!!".encode(), 1)  # same size
    published.path.write_bytes(marked)
    result = CliRunner().invoke(main, ["rulings", *DATA_OPTIONS], env={"SHIQUAN_DUMPS_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == marked


@pytest.mark.parametrize("arguments, message", [
    (["--format", "pdf"], "'pdf' is not one of 'csv', 'xlsx'"),
    (["--lang", "fr"], "'fr' is not one of 'zh', 'en'"),
    (["--format", "xlsx"], "--format xlsx needs -o FILE"),
    (["--data", "/nonexistent/plans.ttl"], "/nonexistent/plans.ttl"),
])
def test_a_bad_option_exits_2_with_a_message(arguments, message):
    result = CliRunner().invoke(main, ["rulings", *arguments])
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout_bytes == b""
