"""``results.json`` has a published JSON Schema, and what ``evaluate`` writes follows it.

The schema (``policylab/report/results.schema.json``, draft 2020-12, shipped in the package)
documents the meaning and unit of every field, for users who read results.json from R, Python
or Excel Power Query. These tests pin down that:

1. the schema is itself a valid draft 2020-12 schema, shipped in the package and pinned to the
   ``schema_version`` evaluate writes;
2. real output validates: the shipped example, and a tiny degenerate lab whose numbers are
   null where they cannot be computed (unbounded few-cluster intervals, nothing to pool,
   diagnostics not computed, suppressed cells);
3. a field added to results.json without documentation fails validation, while the documented
   open maps (``spec``, ``provenance.packages`` ...) take new keys;
4. every property is documented (a non-empty ``description``), every object says whether it
   takes unknown keys, and the value lists the schema documents are those of the code
   (estimators, outcomes, inference methods, indicator columns and units).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

import policylab
from policylab.report.results_schema import results_schema

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return results_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def example(example_run) -> dict[str, Any]:
    """The shipped example's results.json, as ``evaluate`` writes it (one run per session)."""
    out, _ = example_run
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def _errors(validator: jsonschema.Draft202012Validator, record: Any) -> list[str]:
    """Each distinct validation error as ``path: message`` (list indices as ``#``)."""
    seen: dict[str, None] = {}
    for err in validator.iter_errors(record):
        path = "/".join("#" if isinstance(p, int) else str(p) for p in err.absolute_path)
        seen.setdefault(f"{path or '(top level)'}: {err.message}", None)
    return list(seen)


def _subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object inside ``node`` with its JSON pointer."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from _subschemas(sub, f"{where}/{key}/{name}")
            elif key in ("items", "additionalProperties", "propertyNames") \
                    and isinstance(value, dict):
                yield from _subschemas(value, f"{where}/{key}")
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
                for i, sub in enumerate(value):
                    yield from _subschemas(sub, f"{where}/{key}/{i}")


def _defs(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return schema["$defs"][name]


# --- 1. the schema itself ----------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema_shipped_in_the_package(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_2020_12
    assert "://" not in schema.get("$id", "")  # no id, or a relative one
    assert schema["title"].strip() and len(schema["description"]) > 500  # says how to read it
    from importlib import resources

    assert resources.files("policylab.report").joinpath("results.schema.json").is_file()


def test_the_schema_is_pinned_to_the_schema_version_evaluate_writes(schema, example):
    from policylab.evaluation import SCHEMA_VERSION

    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert example["schema_version"] == SCHEMA_VERSION


# --- 2. real output validates ------------------------------------------------------------


def test_the_example_results_json_validates(validator, example):
    assert _errors(validator, example)[:20] == []
    # the example exercises the main shapes: effects of both estimators, pooled effects,
    # diagnostics and suppressed indicator cells
    assert {e["method"] for e in example["effects"]} == {"callaway_santanna", "event_study"}
    assert example["synthesis"]["pooled"] and example["diagnostics"] and example["balance"]
    assert any(c["flag"] == "suppressed" and c["value"] is None for c in example["indicators"])


def test_a_tiny_degenerate_lab_validates_with_nulls_where_nothing_could_be_computed(
        tiny_lab, tmp_path, validator):
    out = tmp_path / "out"
    policylab.evaluate(tiny_lab, out_dir=out)
    record = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert _errors(validator, record)[:20] == []
    # the nullable branches are really exercised: one treated consortium gives unbounded
    # few-cluster intervals, one region gives nothing to pool, and the diagnostics that need
    # more data are null with a note
    assert any(e["headline"]["conf_low"] is None for e in record["effects"])
    assert all(p["estimate"] is None for p in record["synthesis"]["pooled"])
    assert any(d["pretrend"] is None and d["notes"] for d in record["diagnostics"])
    assert any(c["flag"] == "suppressed" and c["n_firms"] is None for c in record["indicators"])
    assert any(b["flag"] == "suppressed" and b["mean"] is None for b in record["balance"])


# --- 3. undocumented fields fail, open maps stay open ------------------------------------

UNDOCUMENTED = "undocumented_field"


def _sample(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with each top-level list cut to its first rows (the rows themselves shared):
    real output, validated in a fraction of the time."""
    return {key: value[:20] if isinstance(value, list) else value for key, value in record.items()}


@pytest.mark.parametrize(("where", "target"), [
    ((), lambda r: r),
    (("effects", 0), lambda r: r["effects"][0]),
    (("effects", 0, "headline"), lambda r: r["effects"][0]["headline"]),
    (("indicators", 0), lambda r: r["indicators"][0]),
], ids=["top level", "an effect row", "an effect's headline", "an indicator cell"])
def test_a_field_added_without_documentation_fails_validation(validator, example, where, target):
    record = _sample(example)
    assert _errors(validator, record) == []
    row = target(record)
    row[UNDOCUMENTED] = 0.5
    try:
        errors = list(validator.iter_errors(record))
    finally:
        del row[UNDOCUMENTED]
    assert [(tuple(e.absolute_path), e.validator) for e in errors] == [
        (where, "additionalProperties")]
    assert UNDOCUMENTED in errors[0].message


def test_open_maps_take_new_keys(validator, example):
    """Estimator arguments and package versions are records whose keys may grow."""
    record = _sample(example)
    spec, packages = record["effects"][0]["spec"], record["provenance"]["packages"]
    spec["new_estimator_option"] = [1, "two"]
    packages["some-new-dependency"] = "1.0"
    try:
        assert _errors(validator, record) == []
    finally:
        del spec["new_estimator_option"], packages["some-new-dependency"]


# --- 4. everything is documented, and documented as the code has it ---------------------


def test_every_property_has_a_description(schema):
    undocumented = []
    for where, node in _subschemas(schema):
        for name, sub in {**node.get("properties", {}), **node.get("$defs", {})}.items():
            if not str(sub.get("description", "")).strip():
                undocumented.append(f"{where}/{name}")
    assert undocumented == []
    assert sum(len(n.get("properties", {})) for _, n in _subschemas(schema)) > 200


def test_every_object_says_whether_it_takes_unknown_keys(schema):
    """Fixed records reject unknown keys (so new fields must be documented); open maps say so."""
    silent = [where for where, node in _subschemas(schema)
              if node.get("type") == "object" and "additionalProperties" not in node]
    assert silent == []


def test_the_documented_value_lists_are_those_of_the_code(schema):
    from policylab.balance import BALANCE_COLUMNS, VARIABLES
    from policylab.config import OUTCOME_LABELS
    from policylab.did.inference.few_clusters import METHOD_TEXT
    from policylab.estimators import METHOD_NAMES
    from policylab.schema import INDICATOR_COLUMNS, TABLES

    effect = _defs(schema, "effect")["properties"]
    assert effect["method"]["enum"] == list(METHOD_NAMES)
    assert effect["outcome"]["enum"] == list(OUTCOME_LABELS)
    inference = _defs(schema, "headline_inference")["properties"]["method"]["enum"]
    assert inference == list(METHOD_TEXT)
    cell = _defs(schema, "indicator_cell")["properties"]
    assert list(cell) == INDICATOR_COLUMNS
    balance = _defs(schema, "balance_row")["properties"]
    assert list(balance) == BALANCE_COLUMNS
    assert balance["variable"]["enum"] == list(VARIABLES)
    assert _defs(schema, "input_file")["properties"]["table"]["enum"] == list(TABLES)


def test_every_registered_indicator_has_a_documented_id_and_unit(schema):
    from policylab.indicators import REGISTRY

    cell = _defs(schema, "indicator_cell")["properties"]
    assert {ind.unit for ind in REGISTRY.values()} <= set(cell["unit"]["enum"])
    assert [i for i in REGISTRY if not re.fullmatch(cell["indicator_id"]["pattern"], i)] == []
