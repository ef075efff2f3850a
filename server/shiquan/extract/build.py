"""The graph of a plan: ``extract`` runs the stages of one reading, each a method of ``_Extraction``.

The stages, in order: the frame (where the plan's own text begins and ends), the rulings, the
metadata, the plan (and the notice that issues it), the plans it cites, its provisions, the
assignments, the assignments carried by subordination, and the sentences left uncovered.
``Builder`` adds resources to the output graph, minting IRIs that clash neither with ``known``
nor with each other, and reusing what ``known`` already names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from rdflib import RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS

from shiquan.errors import BadInput
from shiquan.extract.matters import DEPARTMENTS, VERBS_BEFORE, Matters, Phrase, joined_pinyin, key, slug
from shiquan.extract.metadata import (
    CITATION,
    FLAGS,
    NOTICE_TITLE,
    PLAN_TITLE,
    body_slug,
    check_overrides,
    cited_plan,
    division_level,
    division_slug,
    document_number,
    field_in,
    jurisdiction_name,
    pair_in,
    parse_date,
    plan_slug_for,
    zero_number_reason,
)
from shiquan.extract.result import Decision, Extraction, Leftover, MatterDecision
from shiquan.extract.rulings import LEVEL_NAMES, RANK, Clause, clauses, covered_levels, note, pair_levels, rulings
from shiquan.extract.text import (
    CONTAINER_TITLE,
    DATE_LINE,
    SAFEGUARD_TITLE,
    SIGNATURE,
    TAIL,
    WS,
    Section,
    is_plain_line,
    marker,
    paragraphs,
    sections,
)
from shiquan.vocab import ID, PREFIXES, SEGMENT_RE, SQ, mint


_REFERRAL = re.compile(r"(?:按照?|参照|依照|根据)[^。；]{2,80}?(?:执行|办理)[。；]?$")


class Builder:
    """Adds resources to the output graph, minting IRIs that neither clash with ``known`` nor with each other."""

    def __init__(self, known: Graph):
        self.known = known
        self.graph = Graph()
        for prefix, ns in PREFIXES.items():
            self.graph.bind(prefix, ns)
        self.by_label: dict[tuple[URIRef, str], URIRef] = {}
        for kind in (SQ.MatterCategory, SQ.PolicyField, SQ.AdministrativeDivision, SQ.Body):
            for node in known.subjects(RDF.type, kind):
                for prop in (RDFS.label, SKOS.altLabel):
                    for label in known.objects(node, prop):
                        if isinstance(label, Literal) and label.language == "zh":
                            self.by_label.setdefault((kind, key(str(label))), node)
        self.plans_by_number = {
            str(num): plan
            for plan, num in known.subject_objects(SQ.documentNumber)
            if (plan, RDF.type, SQ.Plan) in known
        }

    def fresh(self, kind: str, base: str, *more: str) -> URIRef:
        """A minted IRI ``kind/base/…`` not yet used in ``known`` or the output (a number is added when it is)."""
        base = base or kind
        candidate, n = mint(kind, base, *more), 1
        while (candidate, None, None) in self.known or (candidate, None, None) in self.graph:
            n += 1
            candidate = mint(kind, f"{base}-{n}", *more)
        return candidate

    def named(
        self,
        kind: URIRef,
        type_slug: str,
        label: str,
        extra: Mapping[URIRef, Any] | None = None,
        iri_slug: str | None = None,
    ) -> URIRef:
        """The known or already minted resource of ``kind`` labelled ``label``, else a new one."""
        label_key = (kind, key(label))
        if label_key in self.by_label:
            return self.by_label[label_key]
        node = self.fresh(type_slug, iri_slug or (body_slug(label) if kind == SQ.Body else slug(label)))
        self.graph.add((node, RDF.type, kind))
        self.graph.add((node, RDFS.label, Literal(label, lang="zh")))
        for prop, value in (extra or {}).items():
            if value is not None:
                self.graph.add((node, prop, value))
        self.by_label[label_key] = node
        return node


def extract(text: str, *, known: Graph | None = None, overrides: Mapping[str, Any] | None = None) -> Extraction:
    """Read a division plan's text into a graph in the Shiquan vocabulary.

    Understood: numbering 一、/（一）/1./(1)/①; categories as heading lines or inline titles
    (（一）知识产权保护。…); rulings "[将]…，[按照隶属关系][分别]确认为X财政事权，由X承担支出
    责任" for exclusive powers, "确认为X与Y共同财政事权，由X与Y共同承担…" for shared ones with
    or without ratios (6:4, 分别承担60%、40%, X承担60%，Y承担40%), several rulings in one
    sentence, and level pairs such as 中央与地方, 省与市县, 省与市（州）县, 市与县区, 市与县（区）,
    市与区 and 省以下, with 市县 and 地方 read as level groups. Matters lose their level words
    (市级, 县区级以下, 全市 …) and a trailing 等/等事项, and reuse a matter of ``known`` whose zh
    label or altLabel matches. A ruling by subordination for one level is carried to the other
    level when that level's paragraph in the same section rules its own departments' matters
    (flagged with a skos:editorialNote).

    ``overrides`` supplies or replaces metadata: document_number, title, date (YYYY-MM-DD or
    2024年12月31日), issuer, jurisdiction (a name such as 海东市, or a division IRI), level_pair
    (such as 市与县区) and field (such as 知识产权).

    Nothing is invented: without a 文号 the plan has no sq:documentNumber, a note says it is unknown and
    its IRI is made from its jurisdiction, field and date (a hash of the text when these are missing);
    without a title it has no dcterms:title and a note says so. A ruling cut off before its payer is
    not read. Each is said in ``Extraction.notes``, naming the command-line flag that supplies it.

    Raises BadInput when the text states no ruling (it is not a plan of this genre), when no level
    pair is in the text, its rulings or ``overrides``, and for unknown or malformed overrides.
    """
    known = known if known is not None else Graph()
    given = check_overrides(overrides)
    return _Extraction(text, known, given).run()


class _Extraction:
    """One reading of a plan's text: the stages are the methods ``run`` calls in order, and each
    leaves what the later ones read as attributes."""

    def __init__(self, text: str, known: Graph, given: dict[str, Any]):
        self.text, self.known, self.given = text, known, given
        self.paras = paragraphs(text)
        self.builder = Builder(known)
        self.graph = self.builder.graph
        self.notes: list[tuple[int | None, str]] = []
        self.decisions: list[Decision] = []

    def run(self) -> Extraction:
        """Raises BadInput as ``extract`` says."""
        self.frame()
        self.find_rulings()
        self.metadata()
        self.describe_plan()
        self.cited_plans()
        self.provisions()
        self.assignments()
        self.subordination()
        return Extraction(self.graph, self.plan, self.leftovers(), self.notes, self.decisions)

    # ----------------------------------------------------------------------------------------
    # Where the plan's own text begins and ends
    # ----------------------------------------------------------------------------------------

    def frame(self) -> None:
        """Where the plan's own text begins: after its title line, else at its first numbered section;
        and where it ends: at the tail (抄送 …) or the date, above the signature."""
        paras = self.paras
        self.title_at = next((p.index for p in paras if PLAN_TITLE.match(p.canon) and "关于" not in p.canon), None)
        first_marker = next((p.index for p in paras if marker(p.canon)), None)
        if self.title_at is not None:
            body_start = self.title_at + 1
        else:
            body_start = first_marker if first_marker is not None else 0
        tail_at = next(
            (
                p.index
                for p in paras[body_start:]
                if p.index > body_start and (TAIL.match(p.canon) or DATE_LINE.match(p.canon))
            ),
            len(paras),
        )
        while (
            tail_at - 1 > body_start
            and is_plain_line(paras[tail_at - 1].canon, 30)
            and SIGNATURE.search(paras[tail_at - 1].canon)
        ):
            tail_at -= 1
        self.tail_at = tail_at
        body = paras[body_start:tail_at]
        body_first_marker = next((i for i, p in enumerate(body) if marker(p.canon)), len(body))
        self.front = paras[:body_start] + body[:body_first_marker]
        self.root = sections(body)

    def find_rulings(self) -> None:
        """The rulings, section by section. Raises BadInput when there is none."""
        self.clauses: list[Clause] = []
        self.cut: set[tuple[int, int]] = set()
        self.sentences: dict[int, tuple[Section | None, list[tuple[int, int]]]] = {}
        for section in self.root.walk():
            for para in section.paras:
                found, spans = clauses(para, section if section.kind else None)
                self.clauses += [c for c in found if not c.cut_off]
                self.cut |= {(para.index, c.sentence[0]) for c in found if c.cut_off}
                self.sentences[para.index] = (section, spans)
        if not self.clauses:
            raise BadInput(
                "no division rulings found: the text does not read as a 财政事权和支出责任划分 plan "
                "(no sentence such as '…，确认为市级财政事权，由市级承担支出责任。')"
            )

    # ----------------------------------------------------------------------------------------
    # Metadata
    # ----------------------------------------------------------------------------------------

    def metadata(self) -> None:
        """The plan's notice, 文号, title, level pair, issuer, date, jurisdiction, field and IRI.

        Raises BadInput when no level pair is in the text, its rulings or the options.
        """
        self.front_text = [p.canon for p in self.front]
        self.read_notice()
        self.read_number()
        self.read_title()
        self.read_pair()
        self.read_issuer()
        self.read_date()
        self.read_jurisdiction()
        field_name = self.given.get("field") or (field_in(self.title, self.jurisdiction_name) if self.title else None)
        self.field_name = field_name
        self.policy_field = self.builder.named(SQ.PolicyField, "field", field_name) if field_name else None
        self.mint_plan()

    def read_notice(self) -> None:
        """The notice's title: one line, else two lines that a break has parted."""
        self.notice_title = self.notice_issuer = self.notice_what = None
        front, front_text = self.front, self.front_text
        for width in (1, 2):
            for i in range(len(front) - width + 1):
                m = NOTICE_TITLE.match("".join(front_text[i : i + width]))
                if m:
                    self.notice_title = "".join(p.text for p in front[i : i + width])
                    self.notice_issuer, self.notice_what = m.group("issuer") or None, m.group("what").strip("《》")
                    break
            if self.notice_title:
                break

    def read_number(self) -> None:
        """The 文号 given or in the front matter; none (and a note why) when neither has a valid one."""
        docnum = None
        if "document_number" in self.given:
            docnum = document_number(str(self.given["document_number"]))
        for para in self.front if docnum is None else []:
            found = document_number(para.canon, cited=False)
            if found and found[3] == "0":
                self.notes.append((para.lines[0], f"{found[0]} is not a 文号: {zero_number_reason()}"))
            elif found:
                docnum = found
                break
        if docnum is None:
            self.number, self.prefix, self.year, self.num = None, "", "", ""
            self.notes.append((None, "no 文号 in the text: sq:documentNumber is left out and a note says it is "
                               f"unknown (give {FLAGS['document_number']} if the document has one)"))
            return
        self.number, self.prefix, self.year, self.num = docnum

    def read_title(self) -> None:
        title = self.given.get("title")
        if title is None:
            heading = self.paras[self.title_at].text if self.title_at is not None else None
            cited = next(
                (
                    m.group(1)
                    for p in self.front
                    for m in re.finditer(r"《([^》]+)》", p.canon)
                    if "印发" in p.canon and PLAN_TITLE.match(m.group(1)) and "关于" not in m.group(1)
                ),
                None,
            )
            title = heading or cited or self.notice_what
        self.title = WS.sub("", str(title)) if title else None
        if self.title is None:
            self.notes.append((None, "no title (a heading or 《…》 naming the plan) in the text: dcterms:title is "
                               f"left out and a note says so (give {FLAGS['title']})"))

    def read_pair(self) -> None:
        pair_text = (
            self.given.get("level_pair")
            or (pair_in(self.title) if self.title else None)
            or (pair_in(self.notice_title) if self.notice_title else None)
        )
        if pair_text is None:
            for canon in self.front_text:
                pair_text = pair_in(canon)
                if pair_text:
                    break
        if pair_text is not None:
            pair = pair_levels(str(pair_text))
        else:
            exclusive = []
            for clause in self.clauses:
                for level in clause.holders:
                    if level not in exclusive:
                        exclusive.append(level)
            if len(exclusive) != 2:
                raise BadInput(
                    f"no level pair (such as 市与县区) in the title or text; give {FLAGS['level_pair']}"
                )
            pair = sorted(exclusive, key=lambda lv: RANK[lv])
        self.pair_text = pair_text
        self.pair = sorted(pair, key=lambda lv: RANK[lv])

    def read_issuer(self) -> None:
        issuer_name = self.given.get("issuer") or self.notice_issuer
        if not issuer_name:
            for canon in self.front_text:
                m = re.match(r"^(.+?)文件$", canon)
                if m:
                    issuer_name = m.group(1)
                    break
        if not issuer_name:  # the signature above the date at the end
            tail = self.paras[self.tail_at :]
            issuer_name = next((p.text for p in tail if is_plain_line(p.canon, 30) and SIGNATURE.search(p.canon)), None)
        self.issuer_name = issuer_name

    def read_date(self) -> None:
        date = self.given.get("date")
        if date is None:
            for para in self.front + self.paras[self.tail_at :]:
                if DATE_LINE.match(para.canon):
                    date = parse_date(para.canon)
                    if date:
                        break
        self.date: dt.date | None = date

    def read_jurisdiction(self) -> None:
        """The division the plan applies to, and the plan's IRI, which begins with it.

        Raises BadInput when no plan IRI can be spelt from the document number.
        """
        self.jurisdiction_name: str | None = None
        self.jurisdiction: URIRef | None = None
        if "jurisdiction" in self.given:
            value = str(self.given["jurisdiction"])
            if value.startswith(str(ID)):
                self.jurisdiction = URIRef(value)
            else:
                self.jurisdiction_name = value
        else:
            self.jurisdiction_name = jurisdiction_name(self.title or "", self.issuer_name, self.prefix, self.pair)
        self.jurisdiction_slug = ""
        if self.jurisdiction is not None:
            self.jurisdiction_slug = str(self.jurisdiction).rsplit("/", 1)[-1]
        elif self.jurisdiction_name:
            self.jurisdiction_slug = division_slug(self.jurisdiction_name)
            self.jurisdiction = self.builder.named(
                SQ.AdministrativeDivision, "division", self.jurisdiction_name,
                {SQ.level: division_level(self.jurisdiction_name, self.pair[0])}, iri_slug=self.jurisdiction_slug,
            )

    def mint_plan(self) -> None:
        """The plan's IRI: its jurisdiction and 文号 in pinyin; without a 文号, its jurisdiction, field and
        date (haidong-zhishichanquan-2024-12-31), a hash of its title or text standing in for what is missing.

        Raises BadInput when no plan IRI can be spelt from the document number.
        """
        if self.number is not None:
            self.plan_slug = plan_slug_for(self.jurisdiction_slug, self.prefix, self.year, self.num)
        else:
            digest = hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:10]
            named = joined_pinyin(self.field_name) if self.field_name else None
            if named is None and self.title:
                named = hashlib.sha256(self.title.encode("utf-8")).hexdigest()[:8]
            dated = self.date.isoformat() if self.date else digest
            parts = [self.jurisdiction_slug, named, dated] if (self.jurisdiction_slug or named) else [digest]
            self.plan_slug = "-".join(part for part in parts if part)
        if not SEGMENT_RE.match(self.plan_slug):
            raise BadInput(f"cannot spell a plan IRI from the document number {self.number!r}")
        self.plan = mint("plan", self.plan_slug)

    # ----------------------------------------------------------------------------------------
    # The plan, its notice and the plans it cites
    # ----------------------------------------------------------------------------------------

    def describe_plan(self) -> None:
        graph, plan = self.graph, self.plan
        graph.add((plan, RDF.type, SQ.Plan))
        if self.title:
            graph.add((plan, DCTERMS.title, Literal(self.title, lang="zh")))
        if self.number:
            graph.add((plan, SQ.documentNumber, Literal(self.number)))
        self.note_unknowns()
        if self.date:
            graph.add((plan, DCTERMS.issued, Literal(self.date.isoformat(), datatype=XSD.date)))
        issuer_name = self.issuer_name
        self.issuer = self.builder.named(SQ.Body, "body", WS.sub("", issuer_name)) if issuer_name else None
        if self.issuer is not None:
            graph.add((plan, SQ.issuedBy, self.issuer))
        if self.jurisdiction is not None:
            graph.add((plan, SQ.jurisdiction, self.jurisdiction))
        for level in self.pair:
            graph.add((plan, SQ.dividesBetween, level))
        if self.pair_text:
            graph.add((plan, SQ.levelPair, Literal(str(self.pair_text), lang="zh")))
        if self.policy_field is not None:
            graph.add((plan, SQ.field, self.policy_field))
        self.source = mint("text", self.plan_slug)
        graph.add((plan, SQ.text, self.source))
        graph.add((self.source, RDF.type, SQ.SourceText))
        graph.add((self.source, DCTERMS.format, Literal("text/plain")))
        graph.add((self.source, DCTERMS.language, Literal("zh")))
        graph.add((self.source, SQ.content, Literal(self.text)))
        graph.add((plan, SQ.reviewed, Literal(False)))
        note(
            graph, plan,
            "Extracted from the plan's text by shiquan extract; not yet checked by hand.",
            "由 shiquan extract 从方案原文自动抽取，尚未经人工核对。",
        )
        if self.notice_title and self.number:
            self.describe_notice()

    def note_unknowns(self) -> None:
        """Notes, in both languages, on a 文号 or title that the text does not give."""
        if not self.number:
            note(
                self.graph, self.plan,
                "Document number (文号) unknown: the text as published gives none, so sq:documentNumber is left out. "
                f"The plan's IRI is made from what the text gives ({self.plan_slug}).",
                f"文号不详：所据原文未载明文号，故未记录 sq:documentNumber。本方案的 IRI 由原文所载信息生成（{self.plan_slug}）。",
            )
        if not self.title:
            note(
                self.graph, self.plan,
                "Title unknown: the text as published gives none, so dcterms:title is left out.",
                "标题不详：所据原文未载明标题，故未记录 dcterms:title。",
            )

    def describe_notice(self) -> None:
        graph = self.graph
        notice = mint("notice", self.plan_slug)
        graph.add((notice, RDF.type, SQ.Notice))
        graph.add((notice, DCTERMS.title, Literal(self.notice_title, lang="zh")))
        graph.add((notice, SQ.documentNumber, Literal(self.number)))
        graph.add((notice, SQ.transmits, self.plan))
        graph.add((notice, SQ.text, self.source))
        if self.date:
            graph.add((notice, DCTERMS.issued, Literal(self.date.isoformat(), datatype=XSD.date)))
        if self.issuer is not None:
            graph.add((notice, SQ.issuedBy, self.issuer))

    def cited_plans(self) -> None:
        """The plans it implements, as cited in its preamble: 《…》（X〔YYYY〕N号）."""
        for para in self.front:
            for m in CITATION.finditer(para.canon):
                cited_number = document_number(m.group("docnum"))
                if cited_number is None or cited_number[0] == self.number:
                    continue
                citing = self.number or self.title or self.plan_slug
                parent = cited_plan(self.builder, m.group("title"), cited_number, citing)
                if parent is not None:
                    self.graph.add((self.plan, SQ.basedOn, parent))

    # ----------------------------------------------------------------------------------------
    # Provisions and categories
    # ----------------------------------------------------------------------------------------

    def provisions(self) -> None:
        """Provisions: every numbered part without sub-parts, in the order of the text."""
        graph = self.graph
        self.main_parts = [
            s for s in self.root.children
            if any(c.section is not None and c.section.chain[0] is s for c in self.clauses)
        ]
        self.provision_of: dict[int, URIRef] = {}
        order = 0
        ruled = {id(c.section) for c in self.clauses if c.section is not None}
        self.categories: dict[int, URIRef | None] = {}
        for section in self.root.walk():
            if section.kind is None or (section.children and id(section) not in ruled):
                continue
            order += 1
            node = mint("provision", self.plan_slug, section.path)
            self.provision_of[id(section)] = node
            top = section.chain[0]
            is_safeguard = (
                top not in self.main_parts and top.title and SAFEGUARD_TITLE.search(top.title) and section is not top
            )
            graph.add((node, RDF.type, SQ.SafeguardMeasure if is_safeguard else SQ.Provision))
            graph.add((node, SQ.provisionOf, self.plan))
            graph.add((node, SQ.sectionNumber, Literal(section.section_number)))
            graph.add((node, SQ.order, Literal(order)))
            if section.title:
                graph.add((node, DCTERMS.title, Literal(section.title, lang="zh")))
            if id(section) in ruled:
                category = self.category(section)
                self.categories[id(section)] = category
                graph.add((node, SQ.category, category))
            elif section.paras:
                graph.add((node, DCTERMS.description, Literal("".join(p.text for p in section.paras), lang="zh")))

    def category(self, section: Section | None) -> URIRef:
        """The category of the matters ruled in ``section``: a known category its headings name, else its
        innermost heading that is not a container (主要内容 …), else 〈field〉领域事项 (or 未分类事项)."""
        builder = self.builder
        chain = section.chain if section is not None else []
        titled = [s.title for s in reversed(chain) if s.title]
        for title in titled:
            found = builder.by_label.get((SQ.MatterCategory, key(title)))
            if found is not None:
                return found
        for title in titled:
            if not CONTAINER_TITLE.search(title):
                return builder.named(SQ.MatterCategory, "category", title, {SQ.field: self.policy_field})
        label = f"{self.field_name}领域事项" if self.field_name else "未分类事项"
        node = builder.named(SQ.MatterCategory, "category", label, {SQ.field: self.policy_field})
        if (node, SKOS.editorialNote, None) not in builder.graph and (node, None, None) in builder.graph:
            note(
                builder.graph, node,
                "The plan names no category for these matters; the extractor grouped them under this heading.",
                "方案未为这些事项标明类别，由抽取程序归入此类。",
            )
        return node

    # ----------------------------------------------------------------------------------------
    # Assignments
    # ----------------------------------------------------------------------------------------

    def assignments(self) -> None:
        """One assignment per matter and level that a ruling states. Raises BadInput when no ruling names a
        matter that could be read."""
        self.matters = Matters(self.known, self.pair)
        self.assigned: dict[tuple[URIRef, URIRef], URIRef] = {}
        self.covered: set[tuple[int, int]] = set()
        self.clause_matters: list[list[tuple[URIRef, Phrase]]] = []
        self.minted: set[URIRef] = set()
        for clause in self.clauses:
            self.assign(clause)
        if not self.assigned:
            where = "; ".join(
                f"line {clause.para.lines[clause.sentence[0]]}: {clause.quote}" for clause in self.clauses[:3]
            )
            raise BadInput(f"division rulings found, but none names a matter that could be read ({where})")

    def assign(self, clause: Clause) -> None:
        """The assignments of one ruling, with notes on repeated rulings, unnamed payers and twice-named matters."""
        graph = self.graph
        phrases = self.matters.split(clause.matter_canon)
        # Items without level words of their own take those of the first item (市级A，B，…).
        first = phrases[0].prefix_levels if phrases else []
        list_level = first if len(first) == 1 else []
        decision = Decision(clause, clause.para.lines[clause.sentence[0]])
        self.decisions.append(decision)
        found, twins = self.read_matters(clause, phrases, decision)
        self.clause_matters.append(found)
        made: dict[URIRef, list[URIRef]] = {}
        allowed = covered_levels(self.pair)
        for node, phrase in found:
            stated = rulings(graph, clause, phrase.prefix_levels, list_level, allowed, self.plan_slug, node)
            for level, holder, payer in stated:
                assignment = self.add_assignment(clause, node, level, holder, payer, clause.quote)
                if assignment is None:
                    self.note_repeated(clause, self.assigned[(node, level)])
                    continue
                made.setdefault(node, []).append(assignment)
                decision.made.append(assignment)
                if not clause.payer_stated:
                    note(
                        graph, assignment,
                        "The plan names no payer for this ruling; by the principle that whoever holds the fiscal "
                        "power pays, the holder is recorded as payer.",
                        "方案未载明本项支出责任由谁承担；按“谁的财政事权谁承担支出责任”的原则，记为财政事权归属方。",
                    )
        for node, first_phrase, second in twins:
            for assignment in made.get(node, []):
                note(
                    graph, assignment,
                    f"The sentence names this matter twice ({first_phrase.printed} and {second.printed}); "
                    "it is one matter and one assignment.",
                    f"该句两次列出本事项（“{first_phrase.printed}”与“{second.printed}”），记为一个事项、一项划分。",
                )
        if made:
            self.covered.add((clause.para.index, clause.sentence[0]))

    def read_matters(
        self, clause: Clause, phrases: list[Phrase], decision: Decision
    ) -> tuple[list[tuple[URIRef, Phrase]], list[tuple[URIRef, Phrase, Phrase]]]:
        """The matter of each phrase, found or minted, and the phrases that name a matter already in the list;
        each decision is kept in ``decision``."""
        found: list[tuple[URIRef, Phrase]] = []
        twins: list[tuple[URIRef, Phrase, Phrase]] = []
        for phrase in phrases:
            node = self.matters.lookup(phrase)
            twin = next(((n, p) for n, p in found if n == node), None) if node is not None else None
            if twin is None:  # 开展X beside X in one list names X twice
                twin = next(((n, p) for n, p in found if any(phrase.label == v + p.label for v in VERBS_BEFORE)), None)
            if twin is not None:
                twins.append((twin[0], twin[1], phrase))
                self.note_wording(twin[0], phrase)
                decision.matters.append(MatterDecision(phrase.printed, phrase.label, twin[0], "twice", twin[1].printed))
                continue
            decision.matters.append(self.matter_decision(phrase, node, clause))
            node = decision.matters[-1].node
            self.note_wording(node, phrase)
            found.append((node, phrase))
        return found, twins

    def matter_decision(self, phrase: Phrase, node: URIRef | None, clause: Clause) -> MatterDecision:
        """Reuse the matter found, else mint one; a reuse after trimming a lead-in and a new matter like one
        already named are said in ``notes``."""
        line = clause.para.lines[clause.sentence[0]]
        if node is not None and node not in self.minted:
            if self.matters.trimmed(phrase):
                self.notes.append((line, f"lead-in {phrase.lead_in} trimmed: {phrase.label} is the known matter {node}"))
                return MatterDecision(phrase.printed, phrase.label, node, "trimmed", phrase.lead_in)
            return MatterDecision(phrase.printed, phrase.label, node, "reused")
        if node is not None:
            return MatterDecision(phrase.printed, phrase.label, node, "new", "minted for an earlier ruling of this plan")
        node = self.new_matter(phrase, clause.section)
        self.minted.add(node)
        near = self.matters.near(phrase.label)
        if not near:
            return MatterDecision(phrase.printed, phrase.label, node, "new")
        like = "; ".join(f"{label} ({iri})" for label, iri in near)
        self.notes.append((line, f"new matter {phrase.label} is a near match of {like}: check before adding"))
        return MatterDecision(phrase.printed, phrase.label, node, "near-match", like)

    def new_matter(self, phrase: Phrase, section: Section | None) -> URIRef:
        graph = self.graph
        node = self.builder.fresh("matter", slug(phrase.label) or "shixiang")
        graph.add((node, RDF.type, SQ.Matter))
        graph.add((node, RDFS.label, Literal(phrase.label, lang="zh")))
        category = self.categories.get(id(section)) if section is not None else None
        graph.add((node, SQ.category, category or self.category(section)))
        self.matters.index[key(phrase.label)] = node
        return node

    def note_wording(self, node: URIRef, phrase: Phrase) -> None:
        """Keep another wording of a matter minted here (开展X beside X) as its skos:altLabel."""
        graph = self.graph
        if (node, RDF.type, SQ.Matter) not in graph:
            return
        wording = phrase.label
        labels = {key(str(o)) for p in (RDFS.label, SKOS.altLabel) for o in graph.objects(node, p)}
        if key(wording) not in labels:
            graph.add((node, SKOS.altLabel, Literal(wording, lang="zh")))
            self.matters.index.setdefault(key(wording), node)

    def add_assignment(
        self, clause: Clause, matter: URIRef, level: URIRef, holder: URIRef, payer: URIRef, quote: str
    ) -> URIRef | None:
        """A new assignment of ``matter`` at ``level``; None when the plan already assigned it there."""
        if (matter, level) in self.assigned:
            return None
        graph = self.graph
        matter_slug = str(matter).rsplit("/", 1)[-1]
        if not SEGMENT_RE.match(matter_slug):
            matter_slug = slug(str(self.known.value(matter, RDFS.label) or "")) or "shixiang"
        node = mint("assignment", self.plan_slug, matter_slug, LEVEL_NAMES[level][0])
        graph.add((node, RDF.type, SQ.Assignment))
        graph.add((node, SQ.statedIn, self.plan))
        graph.add((node, SQ.matter, matter))
        graph.add((node, SQ.level, level))
        graph.add((node, SQ.fiscalPowerHolder, holder))
        graph.add((node, SQ.payer, payer))
        if clause.section is not None and id(clause.section) in self.provision_of:
            graph.add((node, SQ.provision, self.provision_of[id(clause.section)]))
        graph.add((node, SQ.sourceText, Literal(quote)))
        if clause.by_subordination:
            graph.add((node, SQ.bySubordination, Literal(True)))
        self.assigned[(matter, level)] = node
        return node

    def note_repeated(self, clause: Clause, earlier: URIRef) -> None:
        """Say on the first assignment of a matter at a level that a later sentence rules it again."""
        if (earlier, SQ.sourceText, Literal(clause.quote)) in self.graph:
            return
        line = clause.para.lines[clause.sentence[0]]
        note(
            self.graph, earlier,
            f"The plan rules this matter at this level again, in the sentence at line {line}: "
            f"{clause.quote} Only the first ruling is recorded.",
            f"方案在第{line}行再次就本事项在该层级作出划分：{clause.quote}此处仅记录首次划分。",
        )

    # ----------------------------------------------------------------------------------------
    # Subordination and coverage
    # ----------------------------------------------------------------------------------------

    def subordination(self) -> None:
        """A ruling by subordination for one level reaches the other level through that level's
        ruling on the matters of its own departments, in the same section."""
        allowed = covered_levels(self.pair)
        for clause, found in zip(self.clauses, self.clause_matters):
            if not clause.by_subordination or clause.shared or not found:
                continue
            ruled_levels = set(clause.holders)
            for other in self.clauses:
                if other.section is not clause.section or other.shared or other.respective or len(other.holders) != 1:
                    continue
                level = other.holders[0]
                if level in ruled_levels or level not in allowed or not DEPARTMENTS.search(other.matter_canon):
                    continue
                payer = other.payers[0] if len(other.payers) == 1 else level
                for node, _phrase in found:
                    added = self.add_assignment(other, node, level, level, payer, other.quote)
                    if added is None:
                        continue
                    self.graph.add((added, SQ.bySubordination, Literal(True)))
                    self.note_carried(added, clause, level)

    def note_carried(self, added: URIRef, clause: Clause, level: URIRef) -> None:
        """Explain, in both languages, an assignment carried to ``level`` by subordination."""
        first = "、".join(LEVEL_NAMES[lv][1] for lv in clause.holders)
        first_en = " and ".join(LEVEL_NAMES[lv][2] for lv in clause.holders)
        zh, en = LEVEL_NAMES[level][1], LEVEL_NAMES[level][2]
        note(
            self.graph, added,
            f"Interpretation: the plan rules this matter 按照隶属关系 (by subordination) only for the {first_en}; "
            f"the {en} paragraph of the same section rules that matters undertaken by {en} functional departments and "
            f"the institutions under them are {en} powers paid by the {en}. Read together by subordination, the {en} "
            f"instance of this matter is a {en} power. The quote is the {en} sentence.",
            f"解读：方案仅在{first}段落中将本事项“按照隶属关系”确认为{first}财政事权；同一条款的{zh}段落规定{zh}职能部门及所属机构"
            f"承担的事项为{zh}财政事权、由{zh}承担支出责任。按隶属关系合并理解，本事项在{zh}层级为{zh}财政事权。摘录为{zh}段落原句。",
        )

    def leftovers(self) -> list[Leftover]:
        """Coverage: every section and sentence of the main content that became no assignment, with why."""
        out: list[Leftover] = []
        root, covered = self.root, self.covered
        ruled = {id(s) for c in self.clauses if c.section is not None for s in c.section.chain}
        ruling_roots = [p.index for p in root.paras if any(c.para.index == p.index for c in self.clauses)]
        for section in [root, *self.main_parts]:
            for part in section.walk() if section.kind else [root]:
                if part.kind is not None and id(part) not in ruled:
                    out.append(Leftover(part.line, part.label + (part.title or ""), "section"))
                for para in part.paras:
                    if part.kind is None and not (ruling_roots and ruling_roots[0] <= para.index <= ruling_roots[-1]):
                        continue
                    for s, e in self.sentences.get(para.index, (None, []))[1]:
                        if (para.index, s) not in covered and para.text[s:e].strip("。；，"):
                            reason = self.reason(para.index, s, para.canon[s:e])
                            out.append(Leftover(para.lines[s], para.text[s:e], reason))
        out.sort(key=lambda left: (left.line, left.reason != "section"))
        return out

    def reason(self, para_index: int, start: int, sentence: str) -> str:
        """Why a sentence became no assignment: a key of ``REASONS``."""
        if (para_index, start) in self.cut or sentence[-1] not in "。！？；":
            return "cut-off"
        if _REFERRAL.search(sentence):
            return "referral"
        if any(c.para.index == para_index and c.sentence[0] == start for c in self.clauses):
            return "no-matter"
        return "not-understood"
