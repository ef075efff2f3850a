"""The one table of formats: RDF serialisations, SPARQL results formats and the two page formats.

Each format gives its short name (for a ``format`` parameter, ``--format`` or ``--output``; for RDF also the
rdflib parser and serializer name), file extension, media type, pyoxigraph format and its name in the W3C
formats namespace (``http://www.w3.org/ns/formats/``). Every other module reads formats from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

W3C_FORMATS = "http://www.w3.org/ns/formats/"


@dataclass(frozen=True)
class Format:
    """One serialisation.

    ``names`` are other short names for it; ``synonyms`` other media types that name this very format (read as it
    in uploads); ``accepted_as`` looser media types a client may ask for it with (``application/json`` for JSON-LD),
    used in negotiation only. ``extension`` is the one we write, ``other_extensions`` are read as it too.
    """

    name: str
    media_type: str
    extension: str
    w3c_name: str | None = None
    names: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    accepted_as: tuple[str, ...] = ()
    other_extensions: tuple[str, ...] = ()
    rdf_format: ox.RdfFormat | None = None
    results_format: ox.QueryResultsFormat | None = None
    quads: bool = False

    @property
    def rdflib(self) -> str:
        """The name rdflib parses and serialises this RDF format by."""
        return self.name

    @property
    def w3c_iri(self) -> str | None:
        return W3C_FORMATS + self.w3c_name if self.w3c_name else None

    @property
    def short_names(self) -> tuple[str, ...]:
        return (self.name, *self.names)

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The file suffixes read as this format, with their dot."""
        return (f".{self.extension}", *(f".{e}" for e in self.other_extensions))


# RDF. The names are rdflib's and the CLI's --format values.
TURTLE = Format(
    "turtle", "text/turtle", "ttl", "Turtle", names=("ttl", "n3"), synonyms=("application/x-turtle",),
    rdf_format=ox.RdfFormat.TURTLE,
)
N_TRIPLES = Format(
    "nt", "application/n-triples", "nt", "N-Triples", names=("ntriples", "n-triples"), accepted_as=("text/plain",),
    rdf_format=ox.RdfFormat.N_TRIPLES,
)
TRIG = Format("trig", "application/trig", "trig", "TriG", rdf_format=ox.RdfFormat.TRIG, quads=True)
N_QUADS = Format("nquads", "application/n-quads", "nq", "N-Quads", rdf_format=ox.RdfFormat.N_QUADS, quads=True)
JSON_LD = Format(
    "json-ld", "application/ld+json", "jsonld", "JSON-LD", names=("json", "jsonld"), accepted_as=("application/json",),
    other_extensions=("json",), rdf_format=ox.RdfFormat.JSON_LD, quads=True,
)
RDF_XML = Format(
    "xml", "application/rdf+xml", "rdf", "RDF_XML", names=("rdf", "rdfxml", "rdf+xml"),
    accepted_as=("application/xml", "text/xml"), other_extensions=("owl", "xml"), rdf_format=ox.RdfFormat.RDF_XML,
)

# SPARQL results.
RESULTS_JSON = Format(
    "json", "application/sparql-results+json", "srj", "SPARQL_Results_JSON", accepted_as=("application/json",),
    results_format=ox.QueryResultsFormat.JSON,
)
RESULTS_XML = Format(
    "xml", "application/sparql-results+xml", "srx", "SPARQL_Results_XML", accepted_as=("application/xml", "text/xml"),
    results_format=ox.QueryResultsFormat.XML,
)
RESULTS_CSV = Format("csv", "text/csv", "csv", "SPARQL_Results_CSV", results_format=ox.QueryResultsFormat.CSV)
RESULTS_TSV = Format(
    "tsv", "text/tab-separated-values", "tsv", "SPARQL_Results_TSV", results_format=ox.QueryResultsFormat.TSV
)

# Pages and reports.
HTML = Format("html", "text/html", "html")
JSON = Format("json", "application/json", "json")

# The RDF formats we read; the RDF formats of graph answers and descriptions, and the formats of other answers,
# each in order of preference (the first is the default).
RDF = (TURTLE, N_TRIPLES, TRIG, N_QUADS, JSON_LD, RDF_XML)
GRAPH_ANSWERS = (TURTLE, N_TRIPLES, RDF_XML, JSON_LD)
RESULTS = (RESULTS_JSON, RESULTS_XML, RESULTS_CSV, RESULTS_TSV)

RDF_NAMES = sorted(f.name for f in RDF)
RDF_BY_NAME = {f.name: f for f in RDF}
RDF_BY_SUFFIX = {suffix: f for f in RDF for suffix in f.suffixes}
RDF_BY_MEDIA_TYPE = {media: f for f in RDF for media in (f.media_type, *f.synonyms)}
BY_MEDIA_TYPE = {f.media_type: f for f in (*RDF, *RESULTS, HTML, JSON)}


def media_types(formats: tuple[Format, ...]) -> list[str]:
    """The media types of ``formats``, in their order."""
    return [f.media_type for f in formats]
