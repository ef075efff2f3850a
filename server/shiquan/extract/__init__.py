"""Read a fiscal-power division plan (财政事权和支出责任划分改革方案) from its text into the Shiquan vocabulary.

``read_text`` decodes the bytes of a plan (UTF-8, else GB18030); ``extract`` turns the text into a
graph: the plan with its metadata and source text, the notice that issues it, its numbered
provisions, and one ``sq:Assignment`` per matter and level that its rulings state, each quoting
its sentence (whitespace removed). What the text leaves out can be supplied with ``overrides``;
matters, categories, fields, divisions, bodies and plans already in ``known`` are reused.

The reading is a set of rules for the genre, not a general parser; see ``extract`` for what it
understands. Every sentence of the main content that yields no assignment is reported in
``Extraction.uncovered`` with its line, so nothing is dropped silently.

The stages live in modules of their own, each importing only those above it in this list:
``text`` (decoding, paragraphs, numbered sections), ``rulings`` (levels and the rulings that
assign them), ``matters`` (matter phrases and slugs), ``metadata`` (文号, date, level pair,
jurisdiction, cited plans) and ``build`` (the graph, stage by stage).
"""

from shiquan.extract.build import extract
from shiquan.extract.result import Extraction
from shiquan.extract.matters import slug
from shiquan.extract.metadata import OVERRIDE_KEYS
from shiquan.extract.text import read_text

__all__ = ["Extraction", "OVERRIDE_KEYS", "extract", "read_text", "slug"]
