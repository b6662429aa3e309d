"""``policylab compare OLD NEW``: which numbers changed between two runs' ``results.json``.

The two records are walked side by side. Objects are matched by key; lists of records are
matched by what identifies a record (``region`` + ``outcome`` + ``method`` for effects, ``term``
for estimates, ``region`` + ``indicator_id`` + ``level`` + ``cluster_id`` + ``group`` +
``period`` for indicator cells, ...), never by position, so a reordered or extended list does
not make every later entry look changed. Other lists are matched by position.

A number (int or float, not bool) *changed* when ``|old - new| > tolerance * max(1, |old|,
|new|)``: an absolute tolerance for numbers below 1 and a relative one above (the default 1e-9
absorbs floating-point noise between platforms, nothing more). A number that appeared (was
missing or null) or disappeared counts as changed too. Text that differs is listed separately
and does not count as a changed number; ``generated_at`` (the run's timestamp) is ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

__all__ = [
    "DEFAULT_TOLERANCE",
    "IGNORED_KEYS",
    "Change",
    "CompareError",
    "Comparison",
    "compare_results",
    "load_results",
]

DEFAULT_TOLERANCE = 1e-9
#: Top-level keys that differ between runs by design.
IGNORED_KEYS = ("generated_at",)

#: Fields that identify a record in a list, tried in order; the first set every record on both
#: sides has, and that is unique on each side, is used.
_RECORD_KEYS: tuple[tuple[str, ...], ...] = (
    ("region", "indicator_id", "level", "cluster_id", "group", "period"),
    ("region", "indicator_id", "group", "period"),
    ("region", "outcome", "method"),
    ("region", "variable", "group"),  # balance
    ("region", "outcome"),  # diagnostics
    ("M",),  # HonestDiD robust intervals
    ("outcome", "estimator"),
    ("region", "table"),
    ("cohort", "time", "event_time"),
    ("cohort", "event_time"),
    ("term",),
    ("key",),
    ("region",),
    ("id",),
    ("name",),
)


class CompareError(UserError):
    """An input that cannot be compared (missing, unreadable, not a results.json): a user
    error (exit 2)."""


@dataclass(frozen=True)
class Change:
    """One difference: where, and the old and new values (None when absent)."""

    path: str
    old: Any
    new: Any

    @property
    def abs_diff(self) -> float | None:
        if _is_number(self.old) and _is_number(self.new):
            return abs(float(self.new) - float(self.old))
        return None

    @property
    def rel_diff(self) -> float | None:
        d = self.abs_diff
        if d is None:
            return None
        scale = max(abs(float(self.old)), abs(float(self.new)))
        return d / scale if scale > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "old": _plain(self.old), "new": _plain(self.new),
                "abs_diff": self.abs_diff, "rel_diff": self.rel_diff}


@dataclass(frozen=True)
class Comparison:
    """The differences between two results records."""

    tolerance: float
    numbers_compared: int
    changed: tuple[Change, ...] = ()
    text_changed: tuple[Change, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def numbers_changed(self) -> bool:
        return bool(self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "tolerance": self.tolerance,
            "numbers_compared": self.numbers_compared,
            "numbers_changed": len(self.changed),
            "changed": [c.to_dict() for c in self.changed],
            "text_changed": [c.to_dict() for c in self.text_changed],
            "notes": list(self.notes),
        }

    def to_text(self, *, limit: int | None = None) -> str:
        """A human-readable listing (at most ``limit`` lines per list when given)."""
        lines = []
        if self.changed:
            lines.append(f"{len(self.changed)} of {self.numbers_compared} numbers changed "
                         f"beyond tolerance {self.tolerance:g}:")
            lines += [f"  {_line(c)}" for c in _head(self.changed, limit)]
            if limit is not None and len(self.changed) > limit:
                lines.append(f"  ... and {len(self.changed) - limit} more")
        else:
            lines.append(f"No number changed beyond tolerance {self.tolerance:g} "
                         f"({self.numbers_compared} compared).")
        if self.text_changed:
            lines.append(f"{len(self.text_changed)} text value(s) differ (not counted as changed "
                         "numbers):")
            lines += [f"  {_line(c)}" for c in _head(self.text_changed, limit)]
            if limit is not None and len(self.text_changed) > limit:
                lines.append(f"  ... and {len(self.text_changed) - limit} more")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _head(items: Sequence[Change], limit: int | None) -> Sequence[Change]:
    return items if limit is None else items[:limit]


def _line(c: Change) -> str:
    text = f"{c.path}: {_show(c.old)} -> {_show(c.new)}"
    if c.abs_diff is not None:
        text += f" (diff {float(c.new) - float(c.old):+.6g}, relative {c.rel_diff:.3g})"
    return text


def _show(v: Any) -> str:
    if v is _ABSENT:
        return "(absent)"
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


class _Absent:
    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "<absent>"


_ABSENT: Any = _Absent()


def _plain(v: Any) -> Any:
    return None if v is _ABSENT else v


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json``, or the one inside an output folder.

    Raises
    ------
    CompareError
        When the file is missing or unreadable, is not JSON, or is not a policylab results
        record (an object with ``schema_version``).
    """
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompareError(f"{file}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"{file}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CompareError(f"{file}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise CompareError(f"{file}: not a policylab results.json (no schema_version)")
    return data


def compare_results(old: dict[str, Any], new: dict[str, Any], *,
                    tolerance: float = DEFAULT_TOLERANCE) -> Comparison:
    """Compare two results records (as read by :func:`load_results`).

    Parameters
    ----------
    old, new : dict
        The records.
    tolerance : float
        A number changed when ``|old - new| > tolerance * max(1, |old|, |new|)``.

    Returns
    -------
    Comparison
        Changed numbers and differing texts, each in the order of the walk (the records'
        sorted keys), so the same inputs always list the same way.

    Raises
    ------
    CompareError
        When the two records have different schema versions.
    """
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0; got {tolerance!r}")
    if old.get("schema_version") != new.get("schema_version"):
        raise CompareError(f"cannot compare results of schema versions "
                           f"{old.get('schema_version')!r} and {new.get('schema_version')!r}")
    old = {k: v for k, v in old.items() if k not in IGNORED_KEYS}
    new = {k: v for k, v in new.items() if k not in IGNORED_KEYS}
    changed: list[Change] = []
    texts: list[Change] = []
    counter = [0]
    for path, a, b in _walk("", old, new):
        numeric = _is_number(a) or _is_number(b)
        if numeric:
            counter[0] += 1
            if _number_changed(a, b, tolerance):
                changed.append(Change(path, a, b))
        elif a != b:
            texts.append(Change(path, a, b))
    return Comparison(float(tolerance), counter[0], tuple(changed), tuple(texts))


def _number_changed(a: Any, b: Any, tol: float) -> bool:
    if not (_is_number(a) and _is_number(b)):
        return True  # appeared, disappeared, or became text/null
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):  # pragma: no cover - strict JSON has no NaN
        return not (math.isnan(fa) and math.isnan(fb))
    return abs(fa - fb) > tol * max(1.0, abs(fa), abs(fb))


def _walk(path: str, a: Any, b: Any) -> Iterator[tuple[str, Any, Any]]:
    """Leaves of ``a`` and ``b`` side by side; ``_ABSENT`` where one side has none."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _walk(f"{path}.{key}" if path else str(key), a.get(key, _ABSENT),
                             b.get(key, _ABSENT))
        return
    if isinstance(a, list) and isinstance(b, list):
        yield from _walk_list(path, a, b)
        return
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        # a structure on one side only (or a structure against a scalar): its leaves
        yield from _leaves(path, a, side="old")
        yield from _leaves(path, b, side="new")
        return
    yield path, a, b


def _leaves(path: str, value: Any, *, side: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _leaves(f"{path}.{key}" if path else str(key), value[key], side=side)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(f"{path}[{i}]", item, side=side)
    elif value is not _ABSENT:
        yield (path, value, _ABSENT) if side == "old" else (path, _ABSENT, value)


def _record_key(records: list[Any], fields: tuple[str, ...]) -> list[tuple] | None:
    if not records or not all(isinstance(r, dict) and all(f in r for f in fields)
                              for r in records):
        return None
    keys = [tuple(json.dumps(r[f], sort_keys=True) for f in fields) for r in records]
    return keys if len(set(keys)) == len(keys) else None


def _walk_list(path: str, a: list[Any], b: list[Any]) -> Iterator[tuple[str, Any, Any]]:
    for fields in _RECORD_KEYS:
        ka, kb = _record_key(a, fields), _record_key(b, fields)
        if (ka is not None or not a) and (kb is not None or not b) and (a or b):
            by_a = dict(zip(ka or [], a))
            by_b = dict(zip(kb or [], b))
            order = list(dict.fromkeys([*(ka or []), *(kb or [])]))
            for key in order:
                label = ",".join(f"{f}={json.loads(v)}" for f, v in zip(fields, key))
                yield from _walk(f"{path}[{label}]", by_a.get(key, _ABSENT),
                                 by_b.get(key, _ABSENT))
            return
    for i in range(max(len(a), len(b))):
        yield from _walk(f"{path}[{i}]", a[i] if i < len(a) else _ABSENT,
                         b[i] if i < len(b) else _ABSENT)
