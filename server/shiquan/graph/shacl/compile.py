"""Compiling a shapes graph into checks: one set-based SPARQL query per constraint of every targeted shape."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pyoxigraph as ox
from rdflib import RDF, RDFS, SH, XSD, BNode, Graph, Literal, Node, URIRef

from shiquan.errors import BadInput
from shiquan.graph.shacl.compat import _memoised, _order, _rust_agrees, _string_form, _well_typed
from shiquan.graph.shacl.components import (
    ALLOWED_SEVERITIES, COMPILED, COMPONENTS, FUNCTIONS, NEUTRAL, NODE_KINDS, QUALIFIED, RANGES, SINGLE_VALUED,
    STRING_TYPES, SUBCLASS_STAR, TARGETS, VALUE_PARAMETERS, Check, Focus, _Raw, _Shape,
)
from shiquan.graph.shacl.messages import _Describer
from shiquan.graph.shacl.sparql_constraint import _SparqlConstraint
from shiquan.graph.shacl.store import Row, Term, _select, _sparql_term
from shiquan.terms import to_rdflib
from shiquan.vocab import curie


class _Compiler:
    """Turn a shapes graph into checks, raising BadInput for anything that is not compiled."""

    def __init__(self, shapes: Graph):
        self.graph = shapes
        self.describe = _Describer(shapes.namespace_manager, lambda n: list(shapes.predicates(n)),
                                   lambda n, p: list(shapes.objects(n, p)))
        self.functions: dict[ox.NamedNode, Callable[..., Term]] = {}
        self._function_keys: dict[tuple, ox.NamedNode] = {}
        self.checks: list[Check] = []
        self.instances: dict[Node, set[Term]] = {}  # class → its SHACL instances, filled by prepare()
        self.shapes = self._discover()

    # -- shapes -----------------------------------------------------------------------------

    def name(self, node: Node) -> str:
        """How messages name a shape: its CURIE, or a description of a blank-node shape."""
        return curie(str(node)) if isinstance(node, URIRef) else f"[{self.describe(node)}]"

    def refuse(self, shape: Node, what: Node, why: str = "") -> BadInput:
        return BadInput(f"shape {self.name(shape)} uses {curie(str(what))}, which the SPARQL validator "
                        f"does not compile{f' ({why})' if why else ''}")

    def _discover(self) -> dict[Node, _Shape]:
        """The shapes pySHACL finds: declared ones, targeted ones, and values of shape-expecting parameters."""
        g = self.graph
        declared_node = set(g.subjects(RDF.type, SH.NodeShape))
        declared_property = set(g.subjects(RDF.type, SH.PropertyShape))
        for node in declared_node & declared_property:
            raise BadInput(f"{self.name(node)} is declared both a node shape and a property shape")
        implied = {s for p in (*TARGETS, SH.property, SH.node) for s in g.subjects(p)}
        implied |= {o for p in (SH.property, SH.node, SH["not"], SH.qualifiedValueShape) for o in g.objects(None, p)}
        for p in (SH["and"], SH["or"], SH.xone):
            for head in g.objects(None, p):
                members = list(g.items(head))
                if not members:
                    raise BadInput(f"a value of {curie(str(p))} is not a non-empty list")
                implied.update(members)
        shapes: dict[Node, _Shape] = {}
        for node in declared_node | declared_property | implied:
            paths = list(g.objects(node, SH.path))
            if node in declared_node and paths:
                raise BadInput(f"node shape {self.name(node)} cannot have sh:path")
            if len(paths) > 1 or (node in declared_property and len(paths) != 1):
                raise BadInput(f"property shape {self.name(node)} must have exactly one sh:path")
            deactivated = list(g.objects(node, SH.deactivated))
            if len(deactivated) > 1 or (deactivated and not isinstance(deactivated[0], Literal)):
                raise BadInput(f"shape {self.name(node)} must have at most one literal sh:deactivated")
            severities = list(g.objects(node, SH.severity))
            shapes[node] = _Shape(
                node=node,
                path=paths[0] if paths else None,
                severity=severities[0] if severities else SH.Violation,
                messages=tuple(dict.fromkeys(g.objects(node, SH.message))),
                deactivated=bool(deactivated[0].value) if deactivated else False,
            )
        return shapes

    def other(self, node: Node, via: URIRef, owner: _Shape) -> _Shape:
        """The shape ``node`` that ``owner`` names with ``via``."""
        try:
            return self.shapes[node]
        except KeyError:
            raise BadInput(f"shape {self.name(owner.node)}: {curie(str(via))} names {node}, not a shape") from None

    def components(self, shape: _Shape) -> list[URIRef]:
        """The constraint components ``shape`` uses, each once; BadInput for one that is not compiled."""
        found: list[URIRef] = []
        for p in dict.fromkeys(self.graph.predicates(shape.node)):
            if p in COMPONENTS:
                component = COMPONENTS[p]
                if component not in COMPILED:
                    raise self.refuse(shape.node, component)
                if component not in found:
                    found.append(component)
            elif isinstance(p, URIRef) and p.startswith(str(SH)) and p not in NEUTRAL:
                raise self.refuse(shape.node, p, "not a SHACL Core or SHACL-SPARQL constraint or target")
        for component in self.graph.subjects(RDF.type, SH.ConstraintComponent):
            for parameter in self.graph.objects(component, SH.parameter):
                for p in self.graph.objects(parameter, SH.path):
                    if (shape.node, p, None) in self.graph:
                        raise self.refuse(shape.node, component, "a custom constraint component")
        return sorted(found, key=str)

    def parameter(self, shape: _Shape, parameter: URIRef) -> Node:
        """The single value of ``parameter`` on ``shape``."""
        values = list(self.graph.objects(shape.node, parameter))
        if len(values) != 1:
            raise BadInput(f"shape {self.name(shape.node)} must have exactly one {curie(str(parameter))}")
        return values[0]

    def term(self, node: Node, shape: _Shape) -> str:
        if not isinstance(node, (URIRef, Literal)):
            raise BadInput(f"shape {self.name(shape.node)}: a blank node where an IRI or literal is expected")
        return _sparql_term(node)

    # -- targets and shapes ---------------------------------------------------------------------

    def compile(self) -> list[Check]:
        """A check for every constraint of every shape that has targets, in a stable order.

        Every shape is looked at first, reached or not, so that one using what is not
        compiled is refused even where no target leads to it yet.
        """
        for shape in self.shapes.values():
            self.components(shape)
            for node in self.graph.objects(shape.node, SH.sparql):
                _SparqlConstraint(self, shape, node).query(lambda v: "")
        implicit = set(self.graph.subjects(RDFS.subClassOf, RDFS.Class)) | {RDFS.Class}
        for shape in sorted(self.shapes.values(), key=lambda s: str(s.node)):
            g, node = self.graph, shape.node
            patterns: list[Callable[[str], str]] = []
            for target in g.objects(node, SH.targetNode):
                patterns.append(lambda v, t=self.term(target, shape): f"VALUES {v} {{ {t} }}")
            classes = list(g.objects(node, SH.targetClass))
            if set(g.objects(node, RDF.type)) & implicit:
                classes.append(node)
            for cls in dict.fromkeys(classes):
                patterns.append(lambda v, c=self.term(cls, shape): f"{v} {SUBCLASS_STAR} {c} .")
            for p in g.objects(node, SH.targetSubjectsOf):
                patterns.append(lambda v, p=self.term(p, shape): f"{v} {p} [] .")
            for p in g.objects(node, SH.targetObjectsOf):
                patterns.append(lambda v, p=self.term(p, shape): f"[] {p} {v} .")
            if patterns and not shape.deactivated:
                self.shape(shape, self._target_focus(patterns))
        return self.checks

    @staticmethod
    def _target_focus(patterns: list[Callable[[str], str]]) -> Focus:
        def focus(v: str) -> str:
            body = patterns[0](v) if len(patterns) == 1 else " UNION ".join(f"{{ {p(v)} }}" for p in patterns)
            return f"{{ SELECT DISTINCT {v} WHERE {{ {body} }} }}"

        return focus

    def shape(self, shape: _Shape, focus: Focus) -> None:
        """Compile the constraints of ``shape`` for the focus nodes that ``focus`` binds."""
        if shape.deactivated:
            return
        for component in self.components(shape):
            if component in VALUE_PARAMETERS:
                for rule in self.rules(shape, component):
                    self._value_check(shape, component, rule, focus)
            elif component == SH.MinCountConstraintComponent:
                self._count_check(shape, SH.minCount, focus)
            elif component == SH.MaxCountConstraintComponent:
                self._count_check(shape, SH.maxCount, focus)
            elif component == QUALIFIED:
                self._qualified_checks(shape, focus)
            elif component == SH.SPARQLConstraintComponent:
                for node in self.graph.objects(shape.node, SH.sparql):
                    constraint = _SparqlConstraint(self, shape, node)
                    if not constraint.deactivated:
                        label = f"{self.name(node)} {curie(str(component))}"
                        self.checks.append(Check(label, constraint.query(focus), constraint.collect, Check.JOINS))
            elif component == SH.PropertyConstraintComponent:
                if shape.is_property:  # pySHACL checks a value once per focus node having it: duplicates
                    raise self.refuse(shape.node, component, "sh:property on a property shape")
                for node in self.graph.objects(shape.node, SH.property):
                    child = self.other(node, SH.property, shape)
                    if not child.is_property:
                        raise BadInput(f"shape {self.name(shape.node)}: sh:property names {self.name(node)}, "
                                       "which is not a property shape")
                    self.shape(child, focus)

    # -- paths ----------------------------------------------------------------------------------

    def path(self, shape: _Shape) -> str:
        """The SPARQL property path of the sh:path of ``shape``."""
        return self._path(shape, shape.path, False, 0)

    def _path(self, shape: _Shape, node: Node | None, inverse: bool, depth: int) -> str:
        g = self.graph
        if isinstance(node, URIRef):
            return f"^<{node}>" if inverse else f"<{node}>"
        if not isinstance(node, BNode) or depth > 10:
            raise BadInput(f"shape {self.name(shape.node)}: sh:path must be an IRI or a well-formed path")
        if (node, RDF.first, None) in g:
            steps = list(g.items(node))
            if len(steps) < 2:
                raise BadInput(f"shape {self.name(shape.node)}: a sequence path needs two steps or more")
            return "(" + "/".join(self._path(shape, s, inverse, depth + 1) for s in steps) + ")"
        for p, o in g.predicate_objects(node):
            if p == SH.inversePath:
                return self._path(shape, o, not inverse, depth + 1)
            if p == SH.alternativePath:
                options = list(g.items(o))
                if len(options) < 2:
                    raise BadInput(f"shape {self.name(shape.node)}: an alternative path needs two paths or more")
                return "(" + "|".join(self._path(shape, s, inverse, depth + 1) for s in options) + ")"
            suffix = {SH.zeroOrMorePath: "*", SH.oneOrMorePath: "+", SH.zeroOrOnePath: "?"}.get(p)
            if suffix:
                return f"({self._path(shape, o, inverse, depth + 1)}){suffix}"
        raise BadInput(f"shape {self.name(shape.node)}: unknown kind of sh:path")

    # -- value-node constraints -----------------------------------------------------------------

    def rules(self, shape: _Shape, component: URIRef) -> list[Node]:
        """The values of the component's parameter, each of which pySHACL checks (and reports) separately."""
        parameter = VALUE_PARAMETERS[component]
        values = sorted(dict.fromkeys(self.graph.objects(shape.node, parameter)), key=str)
        if parameter in SINGLE_VALUED and len(values) > 1:
            raise BadInput(f"shape {self.name(shape.node)} must have at most one {curie(str(parameter))}")
        if parameter in (*RANGES, SH.pattern) and not all(isinstance(v, Literal) for v in values):
            raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} must be a literal")
        return values

    def ok(self, shape: _Shape, component: URIRef, rule: Node, v: str, stack: tuple[Node, ...] = ()) -> str:
        """A SPARQL expression that is true when the node in variable ``v`` passes ``rule`` of ``component``."""
        if component == SH.ClassConstraintComponent:
            return f"{self._instance_test(rule, shape)}({v})"
        if component == SH.DatatypeConstraintComponent:
            return self._datatype_ok(shape, rule, v)
        if component == SH.NodeKindConstraintComponent:
            return NODE_KINDS[rule].format(v=v) if rule in NODE_KINDS else "false"
        parameter = VALUE_PARAMETERS[component]
        if parameter in RANGES:
            fn = self.function(("range", parameter, rule), self._range_function(parameter, rule))
            return f"IF(isLiteral({v}), {fn}({v}), false)"
        if parameter in (SH.minLength, SH.maxLength):
            if not (isinstance(rule, Literal) and isinstance(rule.value, int) and rule.value >= 0):
                raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} must be an integer >= 0")
            if parameter == SH.minLength and rule.value == 0:
                return "true"
            operator = ">=" if parameter == SH.minLength else "<="
            return f"(!isBlank({v}) && STRLEN({self._string(v)}) {operator} {rule.value})"
        if parameter == SH.pattern:
            return self._pattern_ok(shape, rule, v)
        if parameter == SH.languageIn:
            return self._language_ok(shape, rule, v)
        inner_stack = (*stack, shape.node)
        if parameter == SH["not"]:
            return f"!({self.conforms(self.other(rule, parameter, shape), v, inner_stack)})"
        if parameter == SH.node:
            inner = self.other(rule, parameter, shape)
            if inner.is_property:
                raise BadInput(f"shape {self.name(shape.node)}: sh:node names the property shape {self.name(rule)}")
            return self.no_results(inner, v, inner_stack)
        members = [self.other(m, parameter, shape) for m in dict.fromkeys(self.graph.items(rule))]
        if not members:
            raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} needs a non-empty list")
        tests = [self.conforms(m, v, inner_stack) for m in members]
        if parameter == SH["and"]:
            return "(" + " && ".join(tests) + ")"
        if parameter == SH["or"]:
            return "(" + " || ".join(tests) + ")"
        return "((" + " + ".join(f"IF({t}, 1, 0)" for t in tests) + ") = 1)"

    def no_results(self, shape: _Shape, v: str, stack: tuple[Node, ...]) -> str:
        """True when validating the node in ``v`` against ``shape`` gives no result (what sh:node asks)."""
        if shape.deactivated:
            return "true"
        if shape.node in stack:
            raise BadInput(f"shape {self.name(shape.node)} refers to itself; recursive shapes are not compiled")
        if shape.is_property:
            raise BadInput(f"shape {self.name(stack[-1])}: the property shape {self.name(shape.node)} inside "
                           "sh:node, sh:or, sh:and, sh:xone or sh:not is not compiled")
        tests = []
        for component in self.components(shape):
            if component == QUALIFIED:
                continue  # pySHACL ignores it on a node shape
            if component not in VALUE_PARAMETERS:
                raise self.refuse(shape.node, component, "inside sh:node, sh:or, sh:and, sh:xone or sh:not")
            tests += [self.ok(shape, component, rule, v, stack) for rule in self.rules(shape, component)]
        return "(" + " && ".join(tests) + ")" if tests else "true"

    def conforms(self, shape: _Shape, v: str, stack: tuple[Node, ...]) -> str:
        """True when the node in ``v`` conforms to ``shape`` as pySHACL decides inside sh:or, sh:not and kin.

        With allow_warnings a shape of severity Warning or Info always conforms there.
        """
        test = self.no_results(shape, v, stack)
        return "true" if shape.severity in ALLOWED_SEVERITIES else test

    def _instance_test(self, cls: Node, shape: _Shape) -> str:
        """A function telling whether a node is a SHACL instance of ``cls`` (rdf:type/rdfs:subClassOf*).

        The instances are found by one query in :meth:`prepare`: oxigraph evaluates a path
        inside EXISTS without the outer binding, once per row, which is quadratic.
        """
        self.term(cls, shape)
        members = self.instances.setdefault(cls, set())
        return self.function(("class", cls), lambda term: ox.Literal(term in members))

    def prepare(self, store: ox.Store) -> None:
        """Find the instances of the classes the checks test, before they run."""
        for cls, members in self.instances.items():
            members.clear()
            query = f"SELECT DISTINCT ?n WHERE {{ ?n {SUBCLASS_STAR} {_sparql_term(cls)} }}"
            members.update(row["n"] for row in _select(store, query))

    def _datatype_ok(self, shape: _Shape, datatype: Node, v: str) -> str:
        if datatype == RDFS.Literal:
            return f"isLiteral({v})"
        if datatype == RDFS.Datatype:  # rdflib gives plain and language-tagged literals no datatype
            return f"(isLiteral({v}) && DATATYPE({v}) NOT IN ({STRING_TYPES}))"
        if datatype == RDF.langString:
            return f"(isLiteral({v}) && LANG({v}) != \"\")"
        written = self.term(datatype, shape)
        if datatype == XSD.string:
            return f"(isLiteral({v}) && DATATYPE({v}) = {written})"

        def well_typed(term: Term) -> Term:
            value = to_rdflib(term)
            return ox.Literal(isinstance(value, Literal) and _well_typed(value, datatype))

        fn = self.function(("datatype", datatype), _memoised(well_typed))
        return f"IF(isLiteral({v}) && DATATYPE({v}) = {written}, {fn}({v}), false)"

    def _pattern_ok(self, shape: _Shape, rule: Literal, v: str) -> str:
        flag_values = list(self.graph.objects(shape.node, SH.flags))
        given = str(flag_values[0].value).lower() if flag_values and isinstance(flag_values[0], Literal) else ""
        flags = ("i" if "i" in given else "") + ("m" if "m" in given else "")  # the only flags pySHACL reads
        pattern = str(rule.value) if rule.value is not None and len(rule.value) > 1 else str(rule)
        try:
            regex = re.compile(pattern, (re.I if "i" in flags else 0) | (re.M if "m" in flags else 0))
        except re.error as exc:
            raise BadInput(f"shape {self.name(shape.node)}: sh:pattern {pattern!r} is not a regular expression: {exc}") \
                from exc

        def matches(term: Term) -> Term:
            value = to_rdflib(term)
            return ox.Literal(not isinstance(value, BNode) and regex.search(_string_form(value)) is not None)

        test = f"{self.function(('pattern', pattern, flags), _memoised(matches))}({v})"
        if _rust_agrees(pattern, flags):
            plain = f"((isIRI({v}) || DATATYPE({v}) IN ({STRING_TYPES})) && REGEX(STR({v}), \"^[ -~]*$\"))"
            test = f"IF({plain}, REGEX(STR({v}), {json.dumps(pattern)}, \"{flags}\"), {test})"
        return f"IF(isBlank({v}), false, {test})"

    def _language_ok(self, shape: _Shape, rule: Node, v: str) -> str:
        languages = []
        for item in self.graph.items(rule):
            if not (isinstance(item, Literal) and isinstance(item.value, str)):
                raise BadInput(f"shape {self.name(shape.node)}: sh:languageIn takes a list of strings")
            languages.append(str(item.value).lower())
        tagged = f"(isLiteral({v}) && LANG({v}) != \"\")"
        if "*" in languages:
            return tagged
        listed = ", ".join(json.dumps(lang) for lang in dict.fromkeys(languages)) or '""'
        return (f"({tagged} && (LCASE(LANG({v})) IN ({listed}) "
                f"|| LCASE(STRBEFORE(CONCAT(LANG({v}), \"-\"), \"-\")) IN ({listed})))")

    def _string(self, v: str) -> str:
        """The string pySHACL measures: rdflib's lexical form for literals not of a string type."""

        def lexical(term: Term) -> Term:
            return ox.Literal(_string_form(to_rdflib(term)))

        fn = self.function(("string",), _memoised(lexical))
        return f"IF(isLiteral({v}) && DATATYPE({v}) NOT IN ({STRING_TYPES}), {fn}({v}), STR({v}))"

    @staticmethod
    def _range_function(parameter: URIRef, bound: Literal) -> Callable[[Term], Term]:
        test = RANGES[parameter][1]
        cache: dict[tuple, Term] = {}

        def in_range(term: Term) -> Term:
            key = (term.value, term.datatype.value, term.language)
            if key not in cache:
                value = to_rdflib(term)
                try:
                    passed = isinstance(value.value, str) == isinstance(bound.value, str) and test(_order(value, bound))
                except (TypeError, NotImplementedError):
                    passed = False
                cache[key] = ox.Literal(passed)
            return cache[key]

        return in_range

    def function(self, key: tuple, fn: Callable[..., Term]) -> str:
        """Register ``fn`` as a SPARQL extension function once per ``key``; its IRI in angle brackets."""
        if key not in self._function_keys:
            self._function_keys[key] = ox.NamedNode(f"{FUNCTIONS}{len(self._function_keys)}")
            self.functions[self._function_keys[key]] = fn
        return str(self._function_keys[key])

    # -- checks ---------------------------------------------------------------------------------

    def _label(self, shape: _Shape, component: URIRef, rule: Node | None = None) -> str:
        note = f" {curie(str(rule))}" if isinstance(rule, URIRef) else ""
        return f"{self.name(shape.node)} {curie(str(component))}{note}"

    def _value_check(self, shape: _Shape, component: URIRef, rule: Node, focus: Focus) -> None:
        """The value nodes failing ``rule``: a result for each focus node and value."""
        v = "?value" if shape.is_property else "?this"
        if component == SH.ClassConstraintComponent:
            # Removing the class's instances (MINUS, a hash join) takes half the time of asking the membership
            # function of _instance_test once per value (0.12 s against 0.24 s of CPU for sq:level on national3),
            # and leaves the GIL to the other thread.
            fails = f"MINUS {{ {v} {SUBCLASS_STAR} {self.term(rule, shape)} }}"
        else:
            fails = f"FILTER (!({self.ok(shape, component, rule, v)}))"
        if shape.is_property:
            query = f"SELECT DISTINCT ?this ?value WHERE {{ {focus('?this')} ?this {self.path(shape)} ?value . {fails} }}"
        else:
            query = f"SELECT ?this WHERE {{ {focus('?this')} {fails} }}"
        node_shape = rule if component == SH.NodeConstraintComponent else None

        def collect(rows: list[Row]) -> list[_Raw]:
            return [_Raw(row["this"], shape, component, row["value"] if shape.is_property else row["this"],
                         shape.path, node_shape=node_shape) for row in rows]

        rank = Check.SIMPLE if component == SH.ClassConstraintComponent else Check.EXPRESSION
        self.checks.append(Check(self._label(shape, component, rule), query, collect, rank))

    def _count_check(self, shape: _Shape, parameter: URIRef, focus: Focus) -> None:
        component = COMPONENTS[parameter]
        count = self.parameter(shape, parameter)
        if not (isinstance(count, Literal) and count.datatype == XSD.integer and isinstance(count.value, int)
                and count.value >= 0):
            raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} must be an xsd:integer >= 0")
        if not shape.is_property:
            raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} belongs on a property shape")
        n, path, this = count.value, self.path(shape), focus("?this")
        if parameter == SH.minCount:
            if n == 0:
                return
            if n == 1:
                query = f"SELECT ?this WHERE {{ {this} FILTER NOT EXISTS {{ ?this {path} ?value }} }}"
            else:
                query = (f"SELECT ?this WHERE {{ {this} OPTIONAL {{ ?this {path} ?value }} }} "
                         f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})")
        elif n == 0:
            query = f"SELECT DISTINCT ?this WHERE {{ {this} ?this {path} ?value . }}"
        elif n == 1:
            query = (f"SELECT DISTINCT ?this WHERE {{ {this} ?this {path} ?value . ?this {path} ?other . "
                     f"FILTER (!sameTerm(?value, ?other)) }}")
        else:
            query = (f"SELECT ?this WHERE {{ {this} ?this {path} ?value . }} "
                     f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {n})")

        def collect(rows: list[Row]) -> list[_Raw]:
            return [_Raw(row["this"], shape, component, None, shape.path) for row in rows]

        self.checks.append(Check(self._label(shape, component), query, collect))

    def _qualified_checks(self, shape: _Shape, focus: Focus) -> None:
        g = self.graph
        if not shape.is_property:
            return  # pySHACL warns and ignores it on a node shape

        def count(parameter: URIRef) -> int | None:
            values = list(g.objects(shape.node, parameter))
            if len(values) > 1 or (values and not (isinstance(values[0], Literal) and isinstance(values[0].value, int))):
                raise BadInput(f"shape {self.name(shape.node)} must have at most one integer {curie(str(parameter))}")
            return values[0].value if values else None

        low, high = count(SH.qualifiedMinCount), count(SH.qualifiedMaxCount)
        if low is None and high is None:
            raise BadInput(f"shape {self.name(shape.node)}: sh:qualifiedValueShape needs a qualified count")
        disjoint = any(isinstance(d, Literal) and d.value is True for d in g.objects(shape.node, SH.qualifiedValueShapesDisjoint))
        path = self.path(shape)
        for node in dict.fromkeys(g.objects(shape.node, SH.qualifiedValueShape)):
            siblings: set[Node] = set()
            if disjoint:
                for parent in g.subjects(SH.property, shape.node):
                    for sibling in g.objects(parent, SH.property):
                        siblings.update(s for s in g.objects(sibling, SH.qualifiedValueShape) if s != node)
            test = self.conforms(self.other(node, SH.qualifiedValueShape, shape), "?value", (shape.node,))
            for sibling in sorted(siblings, key=str):
                other = self.other(sibling, SH.qualifiedValueShape, shape)
                test += f" && !({self.conforms(other, '?value', (shape.node,))})"
            bounds = ([f"COUNT(DISTINCT ?value) < {low}"] if low is not None else []) \
                + ([f"COUNT(DISTINCT ?value) > {high}"] if high is not None else [])
            query = (f"SELECT ?this (COUNT(DISTINCT ?value) AS ?n) WHERE {{ {focus('?this')} "
                     f"OPTIONAL {{ ?this {path} ?value . FILTER ({test}) }} }} GROUP BY ?this HAVING ({' || '.join(bounds)})")

            def collect(rows: list[Row]) -> list[_Raw]:
                raws = []
                for row in rows:
                    n = int(row["n"].value)
                    if high is not None and n > high:
                        raws.append(_Raw(row["this"], shape, SH.QualifiedMaxCountConstraintComponent, None, shape.path))
                    if low is not None and n < low:
                        raws.append(_Raw(row["this"], shape, SH.QualifiedMinCountConstraintComponent, None, shape.path))
                return raws

            self.checks.append(Check(self._label(shape, QUALIFIED, node), query, collect, Check.EXPRESSION))
