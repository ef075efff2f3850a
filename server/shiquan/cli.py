"""The ``shiquan`` command: a thin adapter over the core modules.

Exit codes: 0 success (or data conforms), 1 violations, 2 unusable input.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

import click
from rdflib import RDF

from shiquan import config
from shiquan.publish import docs
from shiquan.graph import loading
from shiquan.sparql import results, run
from shiquan.runtime import remote
from shiquan.graph import dataset, validation
from shiquan.publish import export
from shiquan.errors import BadInput, ShiquanError
from shiquan.vocab import SQ, mint


def _fail(exc: ShiquanError) -> None:
    click.echo(f"shiquan: {exc}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(package_name="shiquan")
def main() -> None:
    """Shiquan: a knowledge graph of fiscal power and expenditure responsibility division plans."""


PROGRESS = click.option("--progress/--no-progress", default=None, help="Show progress on standard error (default: on a terminal).")


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(loading.FORMAT_NAMES), help="RDF format of FILES (default: by extension).")
@click.option("--output", type=click.Choice(["text", "turtle", "json"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True, help="Language of messages and labels.")
@click.option("--engine", type=click.Choice(["sparql", "pyshacl"]), default="sparql", show_default=True,
              help="sparql: the shapes compiled to SPARQL on the embedded store (millions of triples); "
                   "pyshacl: pySHACL over owlrl's closure, the reference (thousands).")
@PROGRESS
def validate(files: tuple[Path, ...], fmt: str | None, output: str, lang: str, engine: str, progress: bool | None) -> None:
    """Validate FILES (default: the project's data) against the SHACL shapes, after OWL RL inference.

    Both engines give the same results (tests/test_shacl.py checks it).
    Exit 0 when the data conforms (warnings allowed), 1 on violations, 2 on unusable input.
    """
    bar = _bar(progress)
    try:
        report = validation.validate(config.settings(), paths=[str(f) for f in files], engine=engine, fmt=fmt, progress=bar)
    except ShiquanError as exc:
        _fail(exc)
    finally:
        if bar is not None:
            bar.close()
    if output == "turtle":
        click.echo(report.turtle(), nl=False)
    elif output == "json":
        click.echo(json.dumps(report.to_json(lang), ensure_ascii=False, indent=2))
    else:
        click.echo(report.text(lang), nl=False)
    sys.exit(0 if report.conforms else 1)


def _bar(enabled: bool | None):
    from shiquan import progress

    return progress.bar(enabled)


QUERY_OUTPUTS = ["table", "json", "csv", "tsv", "xml", "turtle", "ntriples", "jsonld", "rdfxml"]


@main.command(name="query")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option("--output", type=click.Choice(QUERY_OUTPUTS), default="table", show_default=True)
@click.option("--data", "data_paths", multiple=True, type=click.Path(path_type=Path), help="Data files or folders (default: the project's data).")
def query_command(source, output: str, data_paths: tuple[Path, ...]) -> None:
    """Run the SPARQL query in SOURCE (a .rq file, or - for standard input) over the graph."""
    text = source.read()
    overrides = {"DATA_PATHS": [str(p) for p in data_paths]} if data_paths else None
    try:
        kg = loading.build_store(config.settings(overrides))
        if output == "table":
            click.echo(results.table(run.run(kg.store, text)))
            return
        _, body = run.respond(kg.store, text, fmt=output)
    except ShiquanError as exc:
        _fail(exc)
    sys.stdout.buffer.write(body)
    sys.stdout.flush()


@main.command()
@click.option("--host", help=f"Address to bind (default {config.Defaults.HOST}). Env: SHIQUAN_HOST.")
@click.option("--port", type=click.IntRange(0, 65535), help=f"Port (default {config.Defaults.PORT}). Env: SHIQUAN_PORT.")
@click.option("--data", "data_paths", multiple=True, type=click.Path(path_type=Path), help="Data files or folders to serve (repeatable; default: the project's data). Env: SHIQUAN_DATA_PATHS.")
@click.option("--store", "store", metavar="DIR|URL", help="Folder for an on-disk store (rebuilt at start; default: the store is held in memory, shared by the workers), or the URL of a remote SPARQL endpoint to serve instead (see `shiquan load`). Env: SHIQUAN_STORE_PATH, SHIQUAN_STORE_URL.")
@click.option("--workers", type=click.IntRange(1, 64), help=f"Query worker processes (default {config.Defaults.WORKERS}). Env: SHIQUAN_WORKERS.")
@click.option("--threads", type=click.IntRange(1, 256), help=f"HTTP threads (default {config.Defaults.THREADS}). Env: SHIQUAN_THREADS.")
@click.option("--no-validate", is_flag=True, help="Load data even when it violates the shapes.")
@click.option("--no-store-cache", is_flag=True, help="Neither reopen nor keep the prepared store on disk (default: kept in ~/.cache/shiquan/stores, reopened at once when the data has not changed). Env: SHIQUAN_STORE_CACHE_DIR (\"\" for none).")
@click.option("--service-allowlist", "allowlist", multiple=True, metavar="URL", help="An endpoint queries may call with SERVICE (repeatable). Env: SHIQUAN_SERVICE_ALLOWLIST, space-separated.")
@click.option("--pid-file", type=click.Path(path_type=Path, dir_okay=False), help="Write the server's process id here (for `shiquan reload --pid-file`); removed when it stops.")
@PROGRESS
def serve(
    host: str | None,
    port: int | None,
    data_paths: tuple[Path, ...],
    store: str | None,
    workers: int | None,
    threads: int | None,
    no_validate: bool,
    no_store_cache: bool,
    allowlist: tuple[str, ...],
    pid_file: Path | None,
    progress: bool | None,
) -> None:
    """Serve the SPARQL endpoint, query page and linked-data pages with waitress.

    SIGHUP (or `shiquan reload`) makes it load its data folders again beside the served dataset and switch to them
    once they conform to the shapes, without a restart.
    """
    import logging
    import time

    from shiquan.runtime import runtime as shiquan_runtime

    started = time.perf_counter()
    overrides = _serve_overrides(host, port, data_paths, store, workers, threads, no_validate, no_store_cache, allowlist)
    try:
        early = config.settings(overrides)
    except ShiquanError as exc:
        _fail(exc)
    # The keeper's process starts before the web layer (Flask) is imported, and the query page's assets are
    # installed while the data loads: both were on the way to ready (national17: about 1 s and 1.1 s).
    shiquan_runtime.start_early(early)
    installing = _install_assets(early)

    from shiquan.web import server as http_server
    from shiquan import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bar = _bar(progress)
    try:
        app = create_app(overrides, bar)
    except ShiquanError as exc:
        _fail(exc)
    finally:
        if bar is not None:
            bar.close()
    installing.join()
    runtime = app.extensions["shiquan"]
    settings = app.config
    server = http_server.create_server(app)  # waitress with the connection, body and answer limits
    where = f" of {runtime.remote.url}" if runtime.remote else ""
    click.echo(
        f"shiquan: serving {runtime.triple_count} triples in {len(runtime.counts)} graphs{where}, "
        f"ready in {time.perf_counter() - started:.1f} s (load {runtime.load_seconds:.1f} s), "
        f"{settings['WORKERS']} workers; SPARQL endpoint at http://{settings['HOST']}:{settings['PORT']}/sparql",
        err=True,
    )
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, lambda signum, frame: runtime.reload_in_background())
    if pid_file is not None:
        pid_file.write_text(f"{os.getpid()}\n", encoding="ascii")
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
        runtime.close()
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)


def _serve_overrides(host, port, data_paths, store, workers, threads, no_validate, no_store_cache,
                     allowlist) -> dict:
    """`shiquan serve`'s options as overrides of the settings (defaults, then SHIQUAN_* in the environment), which
    config.settings reads once."""
    overrides = {key: value for key, value in (("WORKERS", workers), ("HOST", host), ("PORT", port),
                                               ("THREADS", threads)) if value is not None}
    if no_validate:
        overrides["VALIDATE_ON_LOAD"] = False
    if no_store_cache:
        overrides["STORE_CACHE_DIR"] = ""
    if data_paths:
        overrides["DATA_PATHS"] = [str(p) for p in data_paths]
    if store:
        overrides["STORE_URL" if remote.is_url(store) else "STORE_PATH"] = store
    if allowlist:
        overrides["SERVICE_ALLOWLIST"] = list(allowlist)
    return overrides


def _install_assets(settings) -> threading.Thread:
    """Install the query page's assets (:func:`assets.install`) on a thread of its own, started here; when they
    cannot be, say that the page will use a plain form."""
    from shiquan.web import assets

    def install() -> None:
        try:
            assets.install(settings)
        except ShiquanError as exc:
            click.echo(f"shiquan: the query page will use a plain form: {exc}", err=True)

    thread = threading.Thread(target=install, daemon=True, name="shiquan-assets")
    thread.start()
    return thread


@main.command(name="reload")
@click.option("--port", type=click.IntRange(1, 65535), help=f"Port of the `shiquan serve` on this machine (default {config.Defaults.PORT}). Env: SHIQUAN_PORT.")
@click.option("--pid-file", type=click.Path(path_type=Path, dir_okay=False), help="The pid file of `shiquan serve --pid-file` (default: the process listening on the port).")
@click.option("--timeout", type=click.FloatRange(1), default=1800.0, show_default=True, help="Seconds to wait for the outcome.")
def reload_command(port: int | None, pid_file: Path | None, timeout: float) -> None:
    """Make a running `shiquan serve` load its data folders again and switch to them without a restart, as SIGHUP
    does; prints the outcome from its /health. Exit 0: switched; 1: refused (the old data is still served, the
    reasons are printed); 2: the server cannot be asked or cannot reload (an on-disk or remote store)."""
    from shiquan.runtime import reloading

    port = port or int(config.settings()["PORT"])
    base = f"http://127.0.0.1:{port}"
    try:
        pid = reloading.pid_from_file(pid_file) if pid_file is not None else reloading.pid_on_port(port)
        number = reloading.ask(pid, base)
        click.echo(f"shiquan: asked process {pid} to reload; waiting for its outcome at {base}/health", err=True)
        last = reloading.outcome(base, number, timeout)
    except ShiquanError as exc:
        _fail(exc)
    if last["status"] != "switched":
        click.echo(f"shiquan: reload refused; still serving version {last.get('version')}:", err=True)
        for reason in last.get("reasons", []):
            click.echo(f"  {reason}", err=True)
        sys.exit(1)
    click.echo(f"shiquan: reloaded: serving version {last['version']} (was {last['previousVersion']}), prepared in "
               f"{last['prepareSeconds']:.1f} s", err=True)


@main.command(name="load")
@click.option("--store", "url", required=True, metavar="URL", help="SPARQL 1.1 Update endpoint of the store, credentials in the URL when it needs them (http://user:password@host/sparql-auth).")
@click.option("--data", "data_paths", multiple=True, type=click.Path(path_type=Path), help="Data files or folders (repeatable; default: the project's data).")
@click.option("--no-validate", is_flag=True, help="Load data even when it violates the shapes.")
@PROGRESS
def load_command(url: str, data_paths: tuple[Path, ...], no_validate: bool, progress: bool | None) -> None:
    """Replace the ontology, data and OWL RL inferences in a remote SPARQL store, one named graph each."""
    overrides = {"DATA_PATHS": [str(p) for p in data_paths]} if data_paths else None
    settings = config.settings(overrides)
    bar = _bar(progress)
    try:
        kg = dataset.prepare(settings, progress=bar, validate=not no_validate)
        graphs = export.assembled(settings, kg).ntriples
        remote.replace_graphs(url, graphs)
    except ShiquanError as exc:
        _fail(exc)
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"shiquan: loaded {kg.triple_count} triples in {len(graphs)} graphs into {remote.Endpoint.parse(url).url}", err=True)


def _stop(signum, frame) -> None:
    """SIGTERM stops the server like Ctrl-C, so the temporary store is removed."""
    raise SystemExit(0)


@main.command(name="assets")
def assets_command() -> None:
    """Fetch the query page's YASGUI build and the charts' ECharts build (pinned, integrity-checked) from the npm
    registry."""
    from shiquan.web import assets

    settings = config.settings()
    try:
        assets.install(settings)
    except ShiquanError as exc:
        _fail(exc)
    for package in assets.PACKAGES:
        click.echo(f"{package['name']} {package['version']} in {assets.assets_dir(settings, package)}")


def plan_options(command):
    """The options that supply what a plan's text leaves out, shared by ``extract`` and ``add``."""
    for option in reversed([
        click.option("--document-number", help="文号, when the text lacks it (e.g. 东政办〔2024〕96号; 〔〕 ﹝﹞ [] （） () 【】 are read)."),
        click.option("--title", help="The plan's title, when the text lacks it."),
        click.option("--date", help="Issue date, YYYY-MM-DD or 2024年12月31日."),
        click.option("--issuer", help="Issuing body, e.g. 海东市人民政府办公室."),
        click.option("--jurisdiction", help="Division the plan applies to, e.g. 海东市 (or a division IRI)."),
        click.option("--level-pair", help="Levels divided between, e.g. 市与县区, 省与市县, 中央与地方."),
        click.option("--field", help="Policy field, e.g. 知识产权."),
    ]):
        command = option(command)
    return command


def _report_extraction(plan_text: Path, result) -> bool:
    """Print what the text lacked, the near matches and every left-over section and sentence (FILE:LINE, why)
    on standard error; True when something was left over."""
    from shiquan.extract.result import REASONS

    assignments = len(set(result.graph.subjects(RDF.type, SQ.Assignment)))
    click.echo(f"shiquan: {plan_text}: {assignments} assignments of {result.plan}", err=True)
    for line, message in result.notes:
        click.echo(f"{plan_text}:{line}: {message}" if line else f"{plan_text}: {message}", err=True)
    for left in result.leftovers:
        click.echo(f"{plan_text}:{left.line}: no assignment ({REASONS[left.reason]}): {left.text}", err=True)
    return bool(result.leftovers)


def _write_review(review_path: Path, plan_text: Path, result, known) -> None:
    """Write the review as HTML or Markdown, by the file's suffix. Raises BadInput for another suffix."""
    from shiquan.extract import review

    if review_path.suffix not in (".html", ".htm", ".md"):
        raise BadInput(f"--review {review_path}: give a .html or .md file")
    render = review.markdown if review_path.suffix == ".md" else review.html
    review_path.write_text(render(result, plan_text.name, known), encoding="utf-8")


@main.command(name="extract")
@click.argument("plan_texts", nargs=-1, required=True, type=click.Path(path_type=Path, exists=False))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Turtle file to write (default: standard output); with several texts, a folder, one PLAN.ttl per text.")
@click.option("--strict", is_flag=True, help="Exit 1 when a section or sentence of the main content became no assignment.")
@click.option("--review", "review_path", type=click.Path(path_type=Path), help="Write FILE.html or FILE.md showing each ruling beside its sentence with every decision (one text only).")
@plan_options
@click.option("--data", "data_paths", multiple=True, type=click.Path(path_type=Path), help="Graph of existing matters and plans to reuse (default: the project's data).")
@PROGRESS
def extract_command(plan_texts: tuple[Path, ...], output: Path | None, strict: bool, review_path: Path | None,
                    data_paths: tuple[Path, ...], progress: bool | None, **overrides) -> None:
    """Read plan texts (UTF-8 or GB18030) and write each as a graph in the Shiquan vocabulary.

    Prints on standard error what the text lacked (a 文号, a title) and every section and sentence of the
    main content that became no assignment, as FILE:LINE with why (a referral, a sentence cut off, a
    template not understood). With several texts, each is extracted on its own (the options apply to all
    of them) into the folder given with -o, and a text that cannot be read as a plan does not stop the others.
    Exit 0, 1 with --strict when anything is left over, 2 when a text cannot be read as a plan.
    """
    from shiquan import extract

    if len(plan_texts) > 1 and (output is None or output.is_file()):
        _fail(BadInput("with several plan texts, give -o a folder to write one PLAN.ttl per text"))
    if len(plan_texts) > 1 and review_path is not None:
        _fail(BadInput("--review takes one plan text"))
    settings = config.settings({"DATA_PATHS": [str(p) for p in data_paths]} if data_paths else None)
    try:
        known = loading.union(loading.read_paths(settings["DATA_PATHS"]).values())
    except ShiquanError as exc:
        _fail(exc)
    given = {k: v for k, v in overrides.items() if v}
    bar = _bar(progress) if len(plan_texts) > 1 else None
    failed = leftover = False
    for done, plan_text in enumerate(plan_texts):
        if bar is not None:
            bar("extracting plans", done, len(plan_texts))
        try:
            try:
                raw = plan_text.read_bytes()
            except OSError as exc:
                raise loading.unreadable(plan_text, exc) from exc
            result = extract.extract(extract.read_text(raw), known=known, overrides=given)
            if review_path is not None:
                _write_review(review_path, plan_text, result, known)
        except ShiquanError as exc:
            named = str(exc) if str(plan_text) in str(exc) or str(exc).startswith("--") else f"{plan_text}: {exc}"
            click.echo(f"shiquan: {named}", err=True)
            failed = True
            continue
        turtle = result.graph.serialize(format="turtle")
        if output is None:
            click.echo(turtle, nl=False)
        else:
            target = output / (plan_text.name.split(".")[0] + ".ttl") if len(plan_texts) > 1 else output
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(turtle, encoding="utf-8")
        leftover = _report_extraction(plan_text, result) or leftover
    if bar is not None:
        bar("extracting plans", len(plan_texts), len(plan_texts))
        bar.close()
    if failed:
        sys.exit(2)
    if strict and leftover:
        sys.exit(1)


@main.command(name="add")
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Data folder to add the plan to (default: the project's data folder).")
@click.option("--replace", is_flag=True, help="Overwrite the plan when it is already in the data folder.")
@click.option("--strict", is_flag=True, help="Refuse a text with a section or sentence of the main content left over.")
@plan_options
def add_command(plan_file: Path, data_dir: Path | None, replace: bool, strict: bool, **overrides) -> None:
    """Add a plan (its text, extracted, or PLAN.ttl) to the data folder as SLUG.ttl, once it validates.

    The plan is validated with every file of the folder, so that the matters it reuses resolve. Exit 0
    when added, 1 when it violates the shapes (the report on standard error) or, with --strict, when
    something was left over; 2 when the file cannot be read as a plan or the plan is already in the
    folder (give --replace).
    """
    from shiquan.extract import adding

    settings = config.settings()
    folder = data_dir or Path(settings["DATA_PATHS"][0])
    given = {k: v for k, v in overrides.items() if v}
    try:
        candidate = adding.prepare(plan_file, folder, given, replace=replace)
        if candidate.extraction is not None and _report_extraction(plan_file, candidate.extraction) and strict:
            click.echo(f"shiquan: {plan_file}: not added: sections or sentences were left over (--strict)", err=True)
            sys.exit(1)
        report = adding.check(candidate, folder, settings)
    except ShiquanError as exc:
        named = str(exc) if str(plan_file) in str(exc) or str(exc).startswith("--") else f"{plan_file}: {exc}"
        click.echo(f"shiquan: {named}", err=True)
        sys.exit(2)
    if not report.conforms:
        click.echo(report.text(), err=True)
        click.echo(f"shiquan: {plan_file}: not added: the plan and the data violate the shapes", err=True)
        sys.exit(1)
    if report.results:
        click.echo(report.text(), err=True)
    target = adding.write(candidate)
    click.echo(f"shiquan: added {candidate.plan} as {target}", err=True)


@main.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["nquads", "trig", "turtle", "jsonld"]), default="nquads", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File to write (default: standard output).")
@click.option("--data", "data_paths", multiple=True, type=click.Path(path_type=Path), help="Data files or folders (default: the project's data).")
def export_command(fmt: str, output: Path | None, data_paths: tuple[Path, ...]) -> None:
    """Write the whole dataset (ontology, data, inferences) as N-Quads, TriG, Turtle (union) or JSON-LD."""
    overrides = {"DATA_PATHS": [str(p) for p in data_paths]} if data_paths else None
    try:
        found = export.dump_file(config.settings(overrides), fmt)
    except ShiquanError as exc:
        _fail(exc)
    with found.path.open("rb") as source:  # copied, not read whole: national17's N-Quads are 1.3 GB
        if output is None:
            shutil.copyfileobj(source, click.get_binary_stream("stdout"), 1 << 20)
        else:
            with output.open("wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)


@main.command(name="docs")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File to write (default: standard output).")
def docs_command(output: Path | None) -> None:
    """Write the ontology's reference documentation (Markdown), generated from its annotations."""
    try:
        text = docs.markdown(loading.read_ontology(config.settings()))
    except ShiquanError as exc:
        _fail(exc)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@main.command(name="matrix")
@click.argument("plan_slug")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of the labels.")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV (as the plan page's download) instead of a table.")
@click.option("--data", "data_paths", multiple=True, type=click.Path(path_type=Path), help="Data files or folders (default: the project's data).")
def matrix_command(plan_slug: str, lang: str, as_csv: bool, data_paths: tuple[Path, ...]) -> None:
    """Print the responsibility matrix of the plan PLAN_SLUG (e.g. haidong-dongzhengban-2024-96).

    Exit 0, 2 when the plan is not in the graph or the data cannot be read.
    """
    from shiquan.publish import matrix

    overrides = {"DATA_PATHS": [str(p) for p in data_paths]} if data_paths else None
    try:
        try:
            iri = str(mint("plan", plan_slug))
        except ValueError as exc:
            raise BadInput(f"no plan {plan_slug!r}: {exc}") from None
        kg = loading.build_store(config.settings(overrides))
        found = matrix.plan_matrix(lambda text: run.run(kg.store, text), iri, lang)
    except ShiquanError as exc:
        _fail(exc)
    if as_csv:
        sys.stdout.buffer.write(matrix.matrix_csv(found, lang))
        sys.stdout.flush()
    else:
        click.echo(matrix.matrix_table(found, lang))


def _select(data_paths: tuple[Path, ...]):
    """A SELECT runner over a store of ``data_paths`` (default: the project's data), through sparql.run."""
    overrides = {"DATA_PATHS": [str(p) for p in data_paths]} if data_paths else None
    kg = loading.build_store(config.settings(overrides))
    return lambda text: run.run(kg.store, text)


DATA_OPTION = click.option("--data", "data_paths", multiple=True, type=click.Path(path_type=Path),
                           help="Data files or folders (default: the project's data).")


@main.command(name="plans")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of the labels.")
@DATA_OPTION
def plans_command(lang: str, data_paths: tuple[Path, ...]) -> None:
    """List every plan: 文号, title, jurisdiction, level pair, date, rulings, parent and status (with why).

    Exit 0, 2 when the data cannot be read.
    """
    from shiquan.publish import plans

    try:
        found = plans.index(_select(data_paths), lang)
    except ShiquanError as exc:
        _fail(exc)
    variables = ["slug", "文号" if lang == "zh" else "number", "title", "jurisdiction", "levels", "issued", "rulings",
                 "parent", "status"]
    rows = [
        (e.slug, e.number, e.title, e.jurisdiction.label if e.jurisdiction else "", e.level_pair, e.issued,
         str(e.rulings), e.parent_number, e.status_text + (f": {e.reason}" if e.reason else ""))
        for e in found
    ]
    click.echo(results.table(results.Answer("solutions", variables, [tuple(_literal(v) for v in row) for row in rows])))


def _literal(text: str):
    import pyoxigraph

    return pyoxigraph.Literal(text)


@main.command(name="rulings")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of the labels and column names.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True, help="CSV (UTF-8 with a byte order mark, as Excel opens it) or an XLSX workbook.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="File to write (default: standard output; xlsx needs it).")
@DATA_OPTION
def rulings_command(lang: str, fmt: str, output: Path | None, data_paths: tuple[Path, ...]) -> None:
    """Write the table of every ruling of the graph: plan, 文号, section, category, matter, level in the plan's words,
    holder, payer, each share as a number, by subordination, interpretation, quote, assignment IRI.

    The same table as GET /download/rulings.csv or .xlsx (?lang=): copied from the file a server published for this
    data in DUMPS_DIR when there is one, else built here from the data.

    Exit 0, 2 for --format xlsx without -o, an unknown option value, or data that cannot be read.
    """
    from shiquan.publish import tables

    if fmt == "xlsx" and output is None:
        click.echo("shiquan: --format xlsx needs -o FILE", err=True)
        sys.exit(2)
    overrides = {"DATA_PATHS": [str(p) for p in data_paths]} if data_paths else None
    try:
        if output is None:
            tables.rulings_table(config.settings(overrides), lang, fmt, sys.stdout.buffer)
            sys.stdout.flush()
            return
        with output.open("wb") as out:
            tables.rulings_table(config.settings(overrides), lang, fmt, out)
    except (ShiquanError, OSError) as exc:
        if output is not None:
            output.unlink(missing_ok=True)  # no half-written table left behind
        if isinstance(exc, ShiquanError):
            _fail(exc)
        click.echo(f"shiquan: cannot write {output}: {exc.strerror}", err=True)
        sys.exit(2)


@main.command(name="compare")
@click.argument("slugs", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "xlsx"]), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File to write (default: standard output; xlsx needs it).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of the labels.")
@DATA_OPTION
def compare_command(slugs: tuple[str, ...], fmt: str, output: Path | None, lang: str, data_paths: tuple[Path, ...]) -> None:
    """Compare the plans SLUGS (two or more): matters aligned at each level, each difference classified.

    Exit 0, 2 for fewer than two plans, an unknown plan, --format xlsx without -o, or unreadable data.
    """
    from shiquan.publish import compare, tables

    if fmt == "xlsx" and output is None:
        click.echo("shiquan: --format xlsx needs -o FILE", err=True)
        sys.exit(2)
    try:
        found = compare.compare(_select(data_paths), list(slugs), lang)
    except ShiquanError as exc:
        _fail(exc)
    for entry in found.left_out:
        click.echo(f"{entry.number or entry.slug}: {entry.reason}", err=True)
    if not found.compared:
        return
    header, lines = compare.table_lines(found, lang)
    if fmt == "csv":
        data = tables.csv_bytes(header, lines)
    elif fmt == "xlsx":
        data = tables.xlsx_bytes([("compare", header, lines)])
    else:
        counts = ", ".join(f"{compare.CLASS_WORDS[k][lang]} {found.totals[k]}" for k in compare.CLASSES)
        rows = [tuple(_literal(tables._text(v)[:60]) for v in line) for line in lines]
        data = (counts + "\n\n" + results.table(results.Answer("solutions", header, rows)) + "\n").encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


if __name__ == "__main__":
    main()
