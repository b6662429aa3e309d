"""``results.json``: the evaluation result as deterministic, strict JSON.

The record itself is :meth:`EvaluationResult.to_json_dict`; this module only makes it
serialisable without surprises: NaN, NA and infinities become ``null`` (JSON has no NaN),
numpy scalars and arrays become Python numbers and lists, paths become POSIX strings, and
mapping keys become strings so that ``sort_keys`` never compares an int with a str. Floats
are written by ``json`` with ``float.__repr__``, the shortest string that round-trips.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from ..evaluation import EvaluationResult

__all__ = ["results_json", "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Return ``obj`` as plain JSON types (dict, list, str, int, float, bool, None).

    Non-finite floats become ``None``. Sets are sorted so their order is stable. Anything
    without an obvious JSON form raises ``TypeError`` naming its type, rather than being
    written as an unpredictable ``repr``.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Mapping):
        return {_key(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        items = [to_jsonable(v) for v in obj]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, pd.DataFrame):
        frame = obj.astype(object).where(obj.notna(), None)
        return [to_jsonable(r) for r in frame.to_dict(orient="records")]
    raise TypeError(f"cannot write a value of type {type(obj).__name__} to results.json")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (bool, np.bool_)) or key is None:
        return json.dumps(to_jsonable(key))
    if isinstance(key, (int, np.integer, float, np.floating)):
        return json.dumps(to_jsonable(key))
    if isinstance(key, PurePath):
        return key.as_posix()
    raise TypeError(f"cannot use a key of type {type(key).__name__} in results.json")


def results_json(result: EvaluationResult, *, timestamp: str | None = None) -> str:
    """The result as JSON text: sorted keys, two-space indent, no NaN, trailing newline.

    Parameters
    ----------
    result : EvaluationResult
        The evaluation to serialise.
    timestamp : str, optional
        Written as ``generated_at`` when given; without it the text has no time in it.

    Returns
    -------
    str
        Strict JSON (``allow_nan=False``); missing or non-finite numbers are ``null``, and so
        is the value of every suppressed indicator cell. The same result always gives the same
        text.
    """
    from ._agreement import disagreements

    record = to_jsonable(result.to_json_dict())
    record["agreement"] = [d.to_dict() for d in disagreements(result)]
    for row in record.get("indicators") or []:
        if isinstance(row, dict) and row.get("flag") == "suppressed":
            row["value"] = None  # disclosure control, even if an upstream stage left a number
    if timestamp is not None:
        record["generated_at"] = str(timestamp)
    text = json.dumps(record, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False)
    return text + "\n"
