"""Extraction of generated plan texts, as published on government sites: time per plan and what was left over.

    python benchmarks/extract.py [--plans 100] [--seed 1] [--matters 12]

Each text is a city plan of an obviously fictitious city (测试市0001 …, year 2099): half carry a 文号 in
one of the bracket forms sites use (〔〕 ﹝﹞ [] （） () 【】), the others none; each cites a parent plan in
﹝﹞ brackets, has one referral section (按照…执行) and, one text in four, a last section cut short. The
matters come from the project's register, so that they are reused. Progress goes to standard error; the
figures are printed one ``key: value`` line each. Exit status 0.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from rdflib import RDF, RDFS

from shiquan import config, progress
from shiquan.extract import extract
from shiquan.graph import loading
from shiquan.vocab import SQ

BRACKETS = ["〔〕", "﹝﹞", "[]", "（）", "()", "【】"]


def plan_text(index: int, matters: list[str], rng: random.Random) -> str:
    """One generated plan text: city and county rulings on the given matters, a referral, perhaps cut short."""
    city = f"测试市{index:04d}"
    lines = []
    if index % 2 == 0:
        left, right = BRACKETS[index % len(BRACKETS)]
        lines.append(f"测政办{left}2099{right}{index + 1}号")
    lines += [f"{city}知识产权领域市与县区财政事权和支出责任划分改革方案", "2099年3月14日",
              f"为贯彻落实《测试省知识产权领域省与市县财政事权和支出责任划分改革方案》（测政办发﹝2099﹞{index + 1}号）精神，制定本方案。",
              "一、主要内容"]
    for number, matter in enumerate(matters, 1):
        lines.append(f"（{'一二三四五六七八九十'[(number - 1) % 10]}）第{number}类")
        lines.append(f"市级{matter}，确认为市级财政事权，由市级承担支出责任。")
        lines.append(f"县区级{matter}，确认为县区财政事权，由县区承担支出责任。")
    lines += ["（十）其他事项", f"其他相关事项，按照{city}有关领域改革方案执行。"]
    if rng.random() < 0.25:
        lines += ["（十一）末项", f"县区级{matters[0]}补充，确认为县区财政事权，由县区承"]
    return "\n\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--matters", type=int, default=9)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    known = loading.union(loading.read_paths(config.settings()["DATA_PATHS"]).values())
    register = sorted(str(o) for s in known.subjects(RDF.type, SQ.Matter) for o in known.objects(s, RDFS.label)
                      if getattr(o, "language", None) == "zh")
    bar = progress.bar(True)
    seconds, assignments, leftovers, unnumbered = [], 0, 0, 0
    for index in range(args.plans):
        bar("extracting plans", index, args.plans)
        text = plan_text(index, rng.sample(register, min(args.matters, len(register))), rng)
        started = time.perf_counter()
        result = extract(text, known=known)
        seconds.append(time.perf_counter() - started)
        assignments += len(set(result.graph.subjects(RDF.type, SQ.Assignment)))
        leftovers += len(result.leftovers)
        unnumbered += result.graph.value(result.plan, SQ.documentNumber) is None
    bar("extracting plans", args.plans, args.plans)
    bar.close()
    ordered = sorted(seconds)
    print(f"plans: {args.plans}")
    print(f"plans without 文号: {unnumbered}")
    print(f"assignments: {assignments}")
    print(f"leftovers reported: {leftovers}")
    print(f"seconds total: {sum(seconds):.2f}")
    print(f"ms per plan, median: {statistics.median(seconds) * 1000:.1f}")
    print(f"ms per plan, p95: {ordered[int(0.95 * (len(ordered) - 1))] * 1000:.1f}")
    print(f"plans per second: {args.plans / sum(seconds):.1f}")


if __name__ == "__main__":
    main()
