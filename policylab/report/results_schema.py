"""The JSON Schema of ``results.json``: ``results.schema.json`` beside this module.

The schema (draft 2020-12) documents every field ``policylab evaluate`` writes to
``results.json``, with its meaning and unit, and is shipped in the package so that a user of
the file (R, Python, Excel Power Query) can validate it or read the units from it.
``tests/report/test_results_schema.py`` checks real output against it, so a field added to
the output without documentation fails the test suite.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["results_schema"]

_SCHEMA_FILE = "results.schema.json"


def results_schema() -> dict[str, Any]:
    """The JSON Schema of ``results.json`` (a fresh dict on every call).

    Examples
    --------
    >>> schema = results_schema()
    >>> schema["$schema"], schema["properties"]["schema_version"]["const"]
    ('https://json-schema.org/draft/2020-12/schema', 1)
    """
    text = resources.files(__package__).joinpath(_SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)
