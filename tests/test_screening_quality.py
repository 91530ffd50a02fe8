"""Screening quality on the evaluation set: recall and precision at the default threshold.

`tests/fixtures/screening/eval/` holds a few hundred entities (public sanctioned and PEP
figures with the aliases real lists carry, fictional same-name targets and distractors)
and queries: name variants that must match (transliterations from Arabic, Cyrillic,
Chinese, Korean and Greek, word order, diacritics, typos, initials, aliases, legal forms)
and hard non-matches that must not (same name with a different birth date or country,
similar but different names, wrong schema or topic).

Recall: expected (query, entity) pairs found / expected pairs. Precision: returned
matches that are expected / returned matches. `evaluate()` computes both and the misses;
`bench/screening.py --quality` prints them too.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from arka.screening import Query, Screener, load_dataset

EVAL = Path(__file__).resolve().parent / "fixtures" / "screening" / "eval"
RECALL_FLOOR = 0.95
PRECISION_FLOOR = 0.9


def evaluate(threshold: Decimal = Decimal("0.8")) -> dict[str, Any]:
    """Run every evaluation query; return counts, recall, precision and the errors."""
    screener = Screener([load_dataset(EVAL / "entities.ftm.json")])
    queries = json.loads((EVAL / "queries.json").read_text(encoding="utf-8"))
    expected_pairs = found_pairs = returned = correct = 0
    misses: list[str] = []
    false_hits: list[str] = []
    for q in queries:
        query = Query(q["name"], schema=q["schema"], birth_date=q["birth_date"],
                      countries=tuple(q["countries"]), topics=tuple(q["topics"]),
                      threshold=threshold)
        result = screener.screen(query)
        ids = {m.entity_id: m.score for m in result.matches}
        expected = set(q["expected"])
        expected_pairs += len(expected)
        found_pairs += len(expected & ids.keys())
        returned += len(ids)
        correct += len(expected & ids.keys())
        for eid in sorted(expected - ids.keys()):
            misses.append(f"{q['name']!r} (dob={q['birth_date']}, {q['schema']}) -> {eid}")
        for eid in sorted(ids.keys() - expected):
            false_hits.append(f"{q['name']!r} (dob={q['birth_date']}, countries="
                              f"{q['countries']}) -> {eid} {ids[eid]}")
    recall = found_pairs / expected_pairs if expected_pairs else 1.0
    precision = correct / returned if returned else 1.0
    return {"queries": len(queries), "entities": len(screener), "expected": expected_pairs,
            "found": found_pairs, "returned": returned, "correct": correct,
            "recall": round(recall, 4), "precision": round(precision, 4),
            "misses": misses, "false_hits": false_hits}


def report(stats: dict[str, Any]) -> str:
    lines = [f"screening quality: {stats['queries']} queries over {stats['entities']} "
             f"entities at threshold 0.8: recall {stats['recall']:.4f} "
             f"({stats['found']}/{stats['expected']}), precision {stats['precision']:.4f} "
             f"({stats['correct']}/{stats['returned']})"]
    lines += [f"  missed: {m}" for m in stats["misses"]]
    lines += [f"  false hit: {m}" for m in stats["false_hits"]]
    return "\n".join(lines)


def test_recall_and_precision_floor() -> None:
    stats = evaluate()
    print(report(stats))
    assert stats["recall"] >= RECALL_FLOOR, report(stats)
    assert stats["precision"] >= PRECISION_FLOOR, report(stats)


def test_blocking_loses_no_match_against_exhaustive_scoring() -> None:
    """Differential check: the indexed screen equals scoring every listed name."""
    screener = Screener([load_dataset(EVAL / "entities.ftm.json")])
    for q in json.loads((EVAL / "queries.json").read_text(encoding="utf-8")):
        query = Query(q["name"], schema=q["schema"], birth_date=q["birth_date"],
                      countries=tuple(q["countries"]), topics=tuple(q["topics"]),
                      threshold=Decimal("0.7"))
        assert screener.screen(query).to_json() == \
            screener.screen_exhaustively(query).to_json(), q["name"]
