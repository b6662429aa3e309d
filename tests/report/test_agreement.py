"""Estimator agreement: where two estimators' headline intervals do not overlap, the report
says so (with what it means) and results.json lists the pair."""

from __future__ import annotations

import dataclasses
import json

from policylab.report import build_report, results_json
from policylab.report._agreement import MEANING, disagreements


def _shifted(result, region: str, method: str, outcome: str, by: float):
    """``result`` with one headline estimate and interval moved by ``by``."""
    effects = []
    for e in result.effects:
        if (e.region, e.result.method, e.outcome) == (region, method, outcome):
            h = e.result.headline
            moved = dataclasses.replace(h, estimate=h.estimate + by, conf_low=h.conf_low + by,
                                        conf_high=h.conf_high + by)
            e = dataclasses.replace(e, result=dataclasses.replace(e.result, headline=moved))
        effects.append(e)
    return dataclasses.replace(result, effects=tuple(effects))


def test_estimators_whose_intervals_overlap_agree(result):
    assert disagreements(result) == ()
    assert json.loads(results_json(result))["agreement"] == []


def test_a_disagreement_is_named_with_its_meaning_in_the_report_and_the_json(result):
    moved = _shifted(result, "cantabria", "event_study", "exporter", 1.0)
    found = disagreements(moved)
    assert [(d.region, d.outcome) for d in found] == [("Cantabria", "exporter")]
    d = found[0]
    assert {d.first, d.second} == {result.settings["method_labels"]["callaway_santanna"],
                                   result.settings["method_labels"]["event_study"]}
    page = build_report(moved, region_pages=False).pages[0]
    exporter = next(o for o in page.impacts if o.outcome == "exporter")
    text = " ".join(exporter.lab_sentences)
    assert "disagree beyond their intervals (Cantabria:" in text and MEANING in text
    assert json.loads(results_json(moved))["agreement"] == [d.to_dict()]
