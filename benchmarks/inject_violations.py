"""Copy an N-Quads dataset with a few hundred assignments broken in the ways the rewritten SPARQL constraints catch.

    python benchmarks/inject_violations.py national3.nq broken3.nq [--sample sample.nq --plans 4]

Every ``--every``-th statement of a kind is changed (defaults give about a hundred of each on national3):

- an assignment's ``sq:level``, a payer that is a level, a payment share's ``sq:shareLevel``: the central level
  becomes the county level and any other level the central one (AssignmentShape-levelsAmongPlanLevels, through
  each branch of its UNION);
- an assignment's ``sq:sourceText``: text added that its plan does not hold (quoteInSource); the quote made
  language-tagged (``@zh``: REPLACE on a tagged literal, and an sh:datatype violation); or whitespace put into
  it (still found in the plan: no violation).

``--sample`` also writes the divisions, the matters and the graphs of the first ``--plans`` plans with a broken
statement of each kind, small enough for pySHACL (``shiquan validate --engine pyshacl``). Compare the reports with
``shiquan validate FILE --output json`` before and after a change to the engine.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

SQ = "https://w3id.org/shiquan/ontology#"
CENTRAL, COUNTY = f"<{SQ}CentralLevel>", f"<{SQ}CountyLevel>"
LEVEL_OBJECT = re.compile(rf"<{re.escape(SQ)}[A-Za-z]+Levels?>")
LITERAL = re.compile(r'^(<[^>]+> <[^>]+> )"((?:[^"\\]|\\.)*)"( <[^>]+> \.)$')
SHARED_GRAPHS = ("<https://w3id.org/shiquan/graph/divisions>", "<https://w3id.org/shiquan/graph/matters>")


def _other_level(line: str) -> str:
    """The statement with its level object swapped: central to county, any other level to central."""
    subject, predicate, rest = line.split(" ", 2)
    level = LEVEL_OBJECT.match(rest).group(0)
    return " ".join((subject, predicate, (COUNTY if level == CENTRAL else CENTRAL) + rest[len(level):]))


def _quote_break(line: str, kind: int) -> str:
    """The sourceText statement broken in the ``kind``-th way (0 foreign text, 1 @zh, 2 whitespace inside)."""
    match = LITERAL.match(line)
    head, text, tail = match.groups()
    if kind == 0:
        return f'{head}"{text}（此句不在原文）"{tail}'
    if kind == 1:
        return f'{head}"{text}"@zh{tail}'
    middle = len(text) // 2
    return f'{head}"{text[:middle]} \\n\\t {text[middle:]}"{tail}'


def _break(line: str, seen: Counter, every: int) -> tuple[str, str | None]:
    """The line, broken when it is the every-th of its kind; and the kind broken, if any."""
    parts = line.split(" ", 3)
    if len(parts) < 4:
        return line, None
    subject, predicate, obj = parts[:3]
    kind = None
    if "/assignment/" in subject and predicate in (f"<{SQ}level>", f"<{SQ}payer>") and LEVEL_OBJECT.fullmatch(obj):
        kind = predicate
    elif predicate == f"<{SQ}shareLevel>" and LEVEL_OBJECT.fullmatch(obj):
        kind = predicate
    elif predicate == f"<{SQ}sourceText>" and LITERAL.match(line):
        kind = predicate
    if kind is None:
        return line, None
    seen[kind] += 1
    if seen[kind] % every:
        return line, None
    if kind == f"<{SQ}sourceText>":
        way = (seen[kind] // every) % 3
        return _quote_break(line, way), f"sourceText {('foreign text', '@zh', 'whitespace')[way]}"
    return _other_level(line), kind.rsplit("#", 1)[1].rstrip(">")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--every", type=int, default=150)
    parser.add_argument("--sample")
    parser.add_argument("--plans", type=int, default=4)
    args = parser.parse_args()
    seen, broken, graphs = Counter(), Counter(), {}
    with open(args.source, encoding="utf-8") as source, open(args.target, "w", encoding="utf-8") as target:
        for line in source:
            new, kind = _break(line.rstrip("\n"), seen, args.every)
            target.write(new + "\n")
            if kind is not None:
                broken[kind] += 1
                of_kind = graphs.setdefault(kind, [])
                if len(of_kind) < args.plans and new.rsplit(" ", 2)[-2] not in of_kind:
                    of_kind.append(new.rsplit(" ", 2)[-2])
    for kind, count in sorted(broken.items()):
        print(f"{count:6d}  {kind}")
    if args.sample:
        kept = {graph for of_kind in graphs.values() for graph in of_kind} | set(SHARED_GRAPHS)
        with open(args.target, encoding="utf-8") as source, open(args.sample, "w", encoding="utf-8") as sample:
            sample.writelines(line for line in source if line.rsplit(" ", 2)[-2] in kept)
    return 0


if __name__ == "__main__":
    sys.exit(main())
