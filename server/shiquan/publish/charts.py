"""What the charts show, as plain data the page's script draws with Apache ECharts (web/static/charts.js).

For a plan: its rulings per category and level, and who pays (each ruling once); for a comparison: per category,
the cells where the plans agree and the cells of each class of difference. Names are in the page's language;
counts come from the matrix and the comparison themselves, so a chart and its table never disagree.
"""

from __future__ import annotations

from collections import Counter

from shiquan.publish.compare import CLASS_WORDS, CLASSES, Comparison
from shiquan.publish.matrix import Matrix

TITLES = {
    "levels": {"zh": "各类别、各层级的划分数", "en": "Rulings per category and level"},
    "payers": {"zh": "由谁承担支出责任", "en": "Who pays"},
    "classes": {"zh": "各类别的一致与差异", "en": "Agreement and differences per category"},
}
RULINGS = {"zh": "项划分", "en": "rulings"}
CELLS = {"zh": "格", "en": "cells"}


def plan_charts(matrix: Matrix, lang: str) -> dict:
    """The two charts of a plan: rulings per category (bars) stacked by level, and rulings by payer (a pie)."""
    categories = [group.label for group in matrix.groups]
    series = []
    for index, column in enumerate(matrix.columns):
        counts = [sum(len(row.cells[index]) for row in group.rows) for group in matrix.groups]
        series.append({"name": column.text, "data": counts})
    payers: Counter = Counter()
    for group in matrix.groups:
        for row in group.rows:
            for cells in row.cells:
                payers.update(cell.payer for cell in cells)
    return {
        "levels": {"title": TITLES["levels"][lang], "unit": RULINGS[lang], "categories": categories, "series": series},
        "payers": {"title": TITLES["payers"][lang], "unit": RULINGS[lang],
                   "data": [{"name": name, "value": n} for name, n in payers.most_common()]},
    }


def compare_chart(found: Comparison, lang: str) -> dict:
    """The chart of a comparison: per category, the cells where every plan rules alike ("agree") and the cells of
    each class of difference (a cell with two classes counts in both, as in the table of counts)."""
    categories: list[str] = []
    agree: Counter = Counter()
    for row in found.rows:
        if row.category_label not in categories:
            categories.append(row.category_label)
        agree[row.category_label] += sum(1 for cell in row.cells if not cell.classes and all(cell.rulings))
    series = [{"name": CLASS_WORDS["same"][lang], "key": "same", "data": [agree[c] for c in categories]}]
    for key in CLASSES:
        series.append({"name": CLASS_WORDS[key][lang], "key": key,
                       "data": [found.counts.get(c, Counter())[key] for c in categories]})
    return {"classes": {"title": TITLES["classes"][lang], "unit": CELLS[lang], "categories": categories,
                        "series": series}}
