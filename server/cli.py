"""The ``shiquan`` command: a thin adapter over the core modules.

Exit codes: 0 success (or data conforms), 1 violations, 2 unusable input.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click
from rdflib import SH

from . import config, docs, loading, query, validation
from .errors import ShiquanError
from .vocab import PREFIXES

SEVERITY = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}


def _fail(exc: ShiquanError) -> None:
    click.echo(f"shiquan: {exc}", err=True)
    sys.exit(2)


def _short(node) -> str:
    if node is None:
        return ""
    text = str(node)
    for prefix, ns in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if text.startswith(ns):
            return f"{prefix}:{text[len(ns):]}"
    if text.startswith("https://w3id.org/shiquan/id/"):
        return "<" + text[len("https://w3id.org/shiquan/id/") :] + ">"
    return text if not text.startswith("http") else f"<{text}>"


def _report_text(report: validation.Report, lang: str) -> str:
    counts = Counter(SEVERITY.get(result.severity, "Result") for result in report.results)
    if not report.results:
        return "Conforms: no violations." if lang != "zh" else "符合约束：没有违规。"
    summary = ", ".join(f"{n} {kind.lower()}{'s' if n != 1 else ''}" for kind, n in sorted(counts.items()))
    head = ("Conforms" if report.conforms else "Does not conform") + f": {summary}."
    lines = [head, ""]
    for r in report.results:
        lines.append(f"[{SEVERITY.get(r.severity, r.severity)}] {_short(r.source_shape)}")
        label = r.focus_label(lang)
        lines.append(f"  focus:   {_short(r.focus_node)}" + (f"  {label}" if label else ""))
        if r.path is not None:
            lines.append(f"  path:    {_short(r.path)}")
        if r.value is not None:
            value_label = r.value_label(lang)
            lines.append(f"  value:   {_short(r.value)}" + (f"  {value_label}" if value_label else ""))
        lines.append(f"  message: {r.message(lang)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _report_json(report: validation.Report, lang: str) -> str:
    def node(term):
        return None if term is None else str(term)

    doc = {
        "conforms": report.conforms,
        "violations": len(report.violations),
        "results": [
            {
                "severity": SEVERITY.get(r.severity, str(r.severity)),
                "sourceShape": node(r.source_shape),
                "focusNode": node(r.focus_node),
                "focusLabel": r.focus_label(lang),
                "path": node(r.path),
                "value": node(r.value),
                "valueLabel": r.value_label(lang),
                "message": r.message(lang),
                "messages": {m.language or "": str(m) for m in r.messages},
            }
            for r in report.results
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


@click.group()
@click.version_option(package_name="shiquan")
def main() -> None:
    """Shiquan: a knowledge graph of fiscal power and expenditure responsibility division plans."""


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(loading.FORMAT_NAMES), help="RDF format of FILES (default: by extension).")
@click.option("--output", type=click.Choice(["text", "turtle", "json"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True, help="Language of messages and labels.")
def validate(files: tuple[Path, ...], fmt: str | None, output: str, lang: str) -> None:
    """Validate FILES (default: the project's data) against the SHACL shapes, after OWL RL inference.

    Exit 0 when the data conforms (warnings allowed), 1 on violations, 2 on unusable input.
    """
    settings = config.settings()
    try:
        report = validation.validate_paths([str(f) for f in files], settings, fmt)
    except ShiquanError as exc:
        _fail(exc)
    if output == "turtle":
        for prefix, ns in PREFIXES.items():
            report.graph.bind(prefix, ns)
        click.echo(report.graph.serialize(format="turtle"), nl=False)
    elif output == "json":
        click.echo(_report_json(report, lang), nl=False)
    else:
        click.echo(_report_text(report, lang), nl=False)
    sys.exit(0 if report.conforms else 1)


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
        answer = query.run(kg.store, text)
    except ShiquanError as exc:
        _fail(exc)
    if output == "table":
        click.echo(query.table(answer))
        return
    media_type = query.FORMAT_ALIASES[output]
    if media_type not in answer.media_types:
        click.echo(f"shiquan: --output {output} cannot carry a {answer.kind} answer", err=True)
        sys.exit(2)
    sys.stdout.buffer.write(query.serialize(answer, media_type))
    sys.stdout.flush()


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


if __name__ == "__main__":
    main()
