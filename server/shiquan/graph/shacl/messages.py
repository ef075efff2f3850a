"""Messages as pySHACL writes them: terms written as its ``stringify_node`` does, and its own message text
for a Core result of a shape without sh:message."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rdflib import OWL, RDF, SH, BNode, Graph, Literal, Node, URIRef
from rdflib.namespace import NamespaceManager

from shiquan.graph.shacl.components import RANGES, VALUE_PARAMETERS, _Raw
from shiquan.terms import to_rdflib


class _Describer:
    """Write terms as pySHACL's ``stringify_node`` does, for a graph given by its look-ups."""

    def __init__(self, namespaces: NamespaceManager, predicates: Callable[[Node], list[Node]],
                 objects: Callable[[Node, Node], list[Node]]):
        self.namespaces = namespaces
        self.namespaces.bind("sh", SH, override=False, replace=False)
        self.predicates, self.objects = predicates, objects

    def __call__(self, node: Node, depth: int = 0) -> str:
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, BNode):
            return self._blank(node, depth + 1)
        if isinstance(node, URIRef):
            try:
                return node.n3(namespace_manager=self.namespaces)
            except Exception:  # rdflib refuses to write some IRIs; pySHACL then writes them bare
                return str(node)
        return str(node)

    def _literal(self, node: Literal) -> str:
        value = None if node.value is None else str(node.value)
        lexical = str(node)
        if value is not None and value.find(" object at 0x") > 0:
            value = value[: value.find(" object at 0x")]
        text = f'"{lexical}" = {value}' if value is not None and value != lexical else f'"{lexical}"'
        if node.language:
            text += f", lang={node.language}"
        if node.datatype:
            text += f", datatype={self(node.datatype)}"
        return f"Literal({text})"

    def _blank(self, node: BNode, depth: int) -> str:
        if depth >= 12:
            return "<http://recursion.too.deep>"
        predicates = self.predicates(node)
        if not predicates:
            return "[ ]"
        if RDF.first in predicates:
            return "( {} )".format(" ".join(self(item, depth) for item in self.items(node)))
        parts: dict[str, str] = {}
        for p in predicates:
            texts = sorted("<self>" if p == OWL.sameAs and o == node else self(o, depth) for o in self.objects(node, p))
            if texts:
                parts[p.n3(namespace_manager=self.namespaces)] = ", ".join(texts)
        return "[ {} ]".format(" ; ".join(f"{p} {o}" for p, o in sorted(parts.items())))

    def items(self, node: Node) -> Iterator[Node]:
        """The members of the RDF list starting at ``node``."""
        seen = set()
        while node != RDF.nil and node not in seen:
            seen.add(node)
            yield from self.objects(node, RDF.first)[:1]
            rest = self.objects(node, RDF.rest)
            if not rest:
                return
            node = rest[0]


def _default_messages(shapes: Graph, sg: _Describer, data: _Describer, raw: _Raw) -> list[Literal]:
    """pySHACL's own message for a Core result of a shape without sh:message.

    ``sg`` writes terms of the shapes graph, ``data`` terms of the data.
    """
    text = _DefaultMessage(shapes, sg, data, raw).text()
    return [] if text is None else [Literal(text)]


class _DefaultMessage:
    """pySHACL's message text for one result, by the component that failed."""

    def __init__(self, shapes: Graph, sg: _Describer, data: _Describer, raw: _Raw):
        self.graph, self.sg, self.data, self.raw = shapes, sg, data, raw

    def values(self, parameter: URIRef) -> list[Node]:
        return list(dict.fromkeys(self.graph.objects(self.raw.shape.node, parameter)))

    def value_text(self) -> str:
        return self.data(to_rdflib(self.raw.value))

    def lists(self, parameter: URIRef) -> str:
        heads, g, sg = self.values(parameter), self.graph, self.sg
        if len(heads) < 2:
            return " , ".join(sg(m) for m in g.items(heads[0]))
        return " and ".join("({})".format(" , ".join(sg(m) for m in g.items(h))) for h in heads)

    def several(self, one: str, many: str, parameter: URIRef, separator: str = ", ") -> str:
        found = self.values(parameter)
        if len(found) < 2:
            return one.format(self.sg(found[0]))
        return many.format(separator.join(self.sg(f) for f in found))

    def text(self) -> str | None:
        """The message, or None for a component pySHACL gives no text of its own here."""
        return self.value_node_text() or self.shape_text()

    def value_node_text(self) -> str | None:
        """The text of the counts and of the components that judge one value node by a parameter."""
        component, sg, values = self.raw.component, self.sg, self.values
        if component in (SH.MinCountConstraintComponent, SH.MaxCountConstraintComponent):
            parameter = SH.minCount if component == SH.MinCountConstraintComponent else SH.maxCount
            word = "Less" if parameter == SH.minCount else "More"
            return (f"{word} than {values(parameter)[0].value} values on "
                    f"{self.data(to_rdflib(self.raw.focus))}->{sg(self.raw.path)}")
        if component == SH.ClassConstraintComponent:
            return self.several("Value does not have class {}", "Value class is not in classes ({})", SH["class"])
        if component == SH.DatatypeConstraintComponent:
            return f"Value is not Literal with datatype {sg(values(SH.datatype)[0])}"
        if component == SH.NodeKindConstraintComponent:
            return f"Value is not of Node Kind {sg(values(SH.nodeKind)[0])}"
        if VALUE_PARAMETERS.get(component) in RANGES:
            symbol = RANGES[VALUE_PARAMETERS[component]][0]
            return self.several(f"Value is not {symbol} {{}}", f"Value is not {symbol} in ({{}})",
                                VALUE_PARAMETERS[component])
        if component == SH.MinLengthConstraintComponent:
            return f"String length not >= {self.data(values(SH.minLength)[0])}"
        if component == SH.MaxLengthConstraintComponent:
            return f"String length not <= {self.data(values(SH.maxLength)[0])}"
        if component == SH.PatternConstraintComponent:
            patterns = [str(p.value) for p in values(SH.pattern)]
            return (f"Value does not match pattern '{patterns[0]}'" if len(patterns) < 2
                    else "Value does not match every pattern in ('{}')".format("', '".join(patterns)))
        if component == SH.LanguageInConstraintComponent:
            return f"String language is not in {sg(values(SH.languageIn)[0])}"
        return None

    def shape_text(self) -> str | None:
        """The text of the components that test the value against other shapes."""
        component, sg = self.raw.component, self.sg
        if component == SH.NotConstraintComponent:
            return self.several(f"Node {self.value_text()} must not conform to shape {{}}",
                                f"Node {self.value_text()} must not conform to any shapes in {{}}", SH["not"], " , ")
        if component == SH.AndConstraintComponent:
            return f"Node {self.value_text()} must conform to all shapes in {self.lists(SH['and'])}"
        if component == SH.OrConstraintComponent:
            return f"Node {self.value_text()} must conform to one or more shapes in {self.lists(SH['or'])}"
        if component == SH.XoneConstraintComponent:
            return f"Node {self.value_text()} must conform to exactly one shape in {self.lists(SH.xone)}"
        if component == SH.NodeConstraintComponent:
            found = self.values(SH.node)
            text = (f"Value does not conform to Shape {sg(found[0])}." if len(found) < 2
                    else "Value must conform to every Shape in ('{}').".format("', '".join(sg(s) for s in found)))
            return text + " See details for more information."
        if component in (SH.QualifiedMinCountConstraintComponent, SH.QualifiedMaxCountConstraintComponent):
            shapes = self.values(SH.qualifiedValueShape)
            low, high = self.values(SH.qualifiedMinCount), self.values(SH.qualifiedMaxCount)
            counts = (f" MinCount {low[0].value}" if low else "") + (f" MaxCount {high[0].value}" if high else "")
            names = ",".join(sg(s) for s in shapes)
            return (f"Focus node does not conform to shapes{counts}: ({names})" if len(shapes) > 1
                    else f"Focus node does not conform to shape{counts}: {names}")
        return None
