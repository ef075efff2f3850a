"""What the extractor gives back: the plan's graph, the rulings beside their sentences with every decision made,
and what was left over, with why."""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph, URIRef

from shiquan.extract.rulings import Clause


# Why a part of the main content became no assignment.
REASONS = {
    "section": "a section of the main content with no ruling",
    "referral": "a referral (按照…执行): the matters are ruled elsewhere",
    "cut-off": "the sentence is cut off before its end (。): the text may be truncated",
    "no-matter": "a ruling, but no matter could be read before 确认为",
    "not-understood": "no ruling template understood (…，确认为X财政事权，由X承担支出责任。)",
}


@dataclass
class Leftover:
    """A section or sentence of the main content that became no assignment: its line, its text and why
    (a key of ``REASONS``)."""

    line: int
    text: str
    reason: str


@dataclass
class MatterDecision:
    """How one matter phrase of a ruling was read: ``status`` is reused, trimmed (reused once its lead-in
    was trimmed), new, near-match (new, but like a matter already named) or twice (named twice in the list)."""

    printed: str
    label: str
    node: URIRef
    status: str
    detail: str = ""


@dataclass
class Decision:
    """One ruling beside its sentence, with what the extractor decided: matters, levels, payers, shares."""

    clause: Clause
    line: int
    matters: list[MatterDecision] = field(default_factory=list)
    made: list[URIRef] = field(default_factory=list)


@dataclass
class Extraction:
    """What ``extract`` read from a plan.

    ``graph`` holds the plan in the project's vocabulary (instance IRIs minted by
    ``vocab.mint``, no blank nodes), without repeating what ``known`` already says;
    ``plan`` is the plan's IRI; ``leftovers`` lists each section and sentence of the main
    content that became no assignment, with why; ``notes`` says (line or None, message) what
    the text lacked and how it was read; ``decisions`` holds each ruling for review.
    """

    graph: Graph
    plan: URIRef
    leftovers: list[Leftover] = field(default_factory=list)
    notes: list[tuple[int | None, str]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    @property
    def uncovered(self) -> list[tuple[int, str]]:
        """(line, sentence) for each sentence of the main content that became no assignment."""
        return [(left.line, left.text) for left in self.leftovers if left.reason != "section"]
