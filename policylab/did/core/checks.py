"""Input validation at the public boundary of the DiD estimators.

Everything here reads the caller's DataFrame and returns fresh NumPy arrays; nothing writes
to it. Errors name the offending column and, where it helps, the values that were found, so
that the CLI can print them as one line (see :mod:`policylab.errors`).
"""

from __future__ import annotations

import difflib
import warnings

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import DesignError, UserError


class DiDInputError(UserError, ValueError):
    """A column is missing, of the wrong kind, or holds values the estimator cannot use.

    It is a :class:`ValueError` (what callers of a numerical function expect) and a
    :class:`~policylab.errors.UserError` (so the CLI reports it as a usage/data error).
    """


__all__ = ["DiDInputError", "DesignError"]

#: Term name of the single effect of ``did_2x2`` and ``twfe``.
ATT_TERM = "att"


def check_frame(data: object) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise DesignError("data has no rows")
    return data


def check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise TypeError(f"alpha must be a number in (0, 1), got {alpha!r}")
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return a


def check_int(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_columns(
    data: pd.DataFrame,
    roles: dict[str, Hashable | None],
    cluster: tuple[Hashable, ...] | None = None,
) -> None:
    """Every named column exists, and no column plays two roles.

    ``roles`` maps the argument name (``"outcome"``) to the column it names (or ``None``).
    Cluster columns only need to exist: clustering by ``unit`` or ``time`` is common.
    """
    available = list(data.columns)
    used: dict[Hashable, str] = {}
    for arg, col in [*roles.items(), *(("cluster", c) for c in cluster or ())]:
        if col is None:
            continue
        if col not in data.columns:
            shown = ", ".join(repr(c) for c in available[:40])
            more = f", ... ({len(available) - 40} more)" if len(available) > 40 else ""
            raise DiDInputError(
                f"column {col!r} (argument {arg}=) not found in data; "
                f"available columns: {shown}{more}"
            )
        if arg == "cluster":
            continue
        if col in used:
            raise DiDInputError(
                f"column {col!r} is given both as {used[col]}= and as {arg}=; "
                "each role needs its own column"
            )
        used[col] = arg


def normalise_cluster(cluster: object) -> tuple[Hashable, ...] | None:
    """``None``, one column name, or a list/tuple of one or two names -> tuple of names."""
    if cluster is None:
        return None
    if isinstance(cluster, (list, tuple)):
        names = tuple(cluster)
        if not 1 <= len(names) <= 2:
            raise ValueError(
                f"cluster must be one column name or a list of two (two-way clustering), "
                f"got {len(names)} names"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"cluster names the same column twice: {list(names)!r}")
        return names
    if isinstance(cluster, Hashable) and not isinstance(cluster, (pd.Series, np.ndarray)):
        return (cluster,)
    raise TypeError(
        f"cluster must be a column name or a list of two column names, got {type(cluster).__name__}"
    )


def numeric_column(data: pd.DataFrame, col: Hashable, arg: str) -> np.ndarray:
    """The column as float64 (missing -> NaN); ValueError if it is not numeric."""
    s = data[col]
    if isinstance(s, pd.DataFrame):
        raise DiDInputError(f"column {col!r} (argument {arg}=) is duplicated in data")
    if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
        example = s.dropna().iloc[0] if s.notna().any() else None
        raise DiDInputError(
            f"column {col!r} (argument {arg}=) must be numeric, but has dtype {s.dtype}"
            + (f" (e.g. {example!r})" if example is not None else "")
            + "; convert it, e.g. with pandas.to_numeric"
        )
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def no_missing(values: np.ndarray | pd.Series, col: Hashable, arg: str) -> None:
    missing = int(pd.isna(values).sum())
    if missing:
        raise DiDInputError(
            f"column {col!r} (argument {arg}=) has {missing} missing value"
            f"{'s' if missing > 1 else ''}; only the outcome may be missing "
            "(those rows are dropped)"
        )


def binary_column(data: pd.DataFrame, col: Hashable, arg: str) -> np.ndarray:
    """A 0/1 (or boolean) column without missing values, as float64."""
    x = numeric_column(data, col, arg)
    no_missing(x, col, arg)
    bad = (x != 0.0) & (x != 1.0)
    if bad.any():
        found = np.unique(x[bad])[:5]
        raise DiDInputError(
            f"column {col!r} (argument {arg}=) must be 0/1, but holds "
            f"{', '.join(f'{v:g}' for v in found)}"
        )
    return x


def integer_valued(x: np.ndarray, col: Hashable, arg: str) -> None:
    if not np.all(np.isfinite(x)) or not np.all(x == np.round(x)):
        raise DiDInputError(
            f"column {col!r} (argument {arg}=) must hold whole numbers (e.g. years)"
        )


def codes(data: pd.DataFrame, col: Hashable, arg: str) -> np.ndarray:
    """Integer codes of a label column (unit, cluster); missing labels are an error."""
    s = data[col]
    if isinstance(s, pd.DataFrame):
        raise DiDInputError(f"column {col!r} (argument {arg}=) is duplicated in data")
    no_missing(s.to_numpy(), col, arg)
    c, _ = pd.factorize(s, sort=False)
    return c.astype(np.intp, copy=False)


def recode(c: np.ndarray) -> tuple[np.ndarray, int]:
    """Contiguous codes 0..L-1 (after rows were dropped)."""
    inv, uniq = pd.factorize(c)
    return inv.astype(np.intp, copy=False), int(uniq.size)


@dataclass(frozen=True)
class OutcomeRows:
    """Which rows have an outcome, and what to tell the reader about those that do not."""

    keep: np.ndarray
    n_dropped: int

    def warning(self, outcome: Hashable) -> str | None:
        if not self.n_dropped:
            return None
        s = "s" if self.n_dropped > 1 else ""
        return f"dropped {self.n_dropped} row{s} with missing outcome {outcome!r}"


def outcome_rows(y: np.ndarray, outcome: Hashable) -> OutcomeRows:
    if np.isinf(y).any():
        raise DiDInputError(f"column {outcome!r} (argument outcome=) has infinite values")
    keep = ~np.isnan(y)
    n_dropped = int((~keep).sum())
    if not keep.any():
        raise DesignError(f"outcome {outcome!r} is missing in every row")
    return OutcomeRows(keep=keep, n_dropped=n_dropped)


def constant_within(values: np.ndarray, unit_codes: np.ndarray, col: Hashable, what: str) -> None:
    """Raise DesignError if ``values`` varies within a unit."""
    # Write each row's value at its unit; a unit varies iff one of its rows disagrees.
    first = np.empty(int(unit_codes.max()) + 1 if unit_codes.size else 0)
    first[unit_codes] = values
    varying = int(np.unique(unit_codes[first[unit_codes] != values]).size)
    if varying:
        raise DesignError(
            f"column {col!r} must be constant within each unit ({what}), "
            f"but it changes within {varying} unit{'s' if varying > 1 else ''}"
        )


def unique_unit_time(
    unit_codes: np.ndarray, time: np.ndarray, unit: Hashable, tcol: Hashable
) -> None:
    """A firm-year panel has one row per (unit, time)."""
    t_codes, t_levels = pd.factorize(time)
    key = unit_codes.astype(np.int64) * len(t_levels) + t_codes
    n_dup = int(pd.Series(key).duplicated().sum())
    if n_dup:
        raise DiDInputError(
            f"{n_dup} duplicated ({unit!r}, {tcol!r}) pair{'s' if n_dup > 1 else ''}: "
            "a panel needs one row per unit and period"
        )


def as_spec_value(v: object) -> object:
    """JSON-friendly representation of a column name (names may be non-strings)."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Sequence):
        return [as_spec_value(x) for x in v]
    return str(v)


@dataclass(frozen=True)
class PanelInputs:
    """Validated full-length arrays shared by the fixed-effects estimators."""

    y: np.ndarray
    outcome_rows: OutcomeRows
    unit_codes: np.ndarray
    time: np.ndarray
    cluster_names: tuple[Hashable, ...]
    cluster_codes: tuple[np.ndarray, ...]


def panel_inputs(
    data: pd.DataFrame,
    *,
    outcome: Hashable,
    unit: Hashable,
    time: Hashable,
    cluster: tuple[Hashable, ...] | None,
    whole_time: bool,
) -> PanelInputs:
    """Outcome, firm, period and cluster arrays of a firm-period panel (one row per pair)."""
    y = numeric_column(data, outcome, "outcome")
    rows = outcome_rows(y, outcome)
    unit_codes = codes(data, unit, "unit")
    t = numeric_column(data, time, "time")
    no_missing(t, time, "time")
    if whole_time:
        integer_valued(t, time, "time")
    elif not np.all(np.isfinite(t)):
        raise DiDInputError(f"column {time!r} (argument time=) has infinite values")
    unique_unit_time(unit_codes, t, unit, time)
    names: tuple[Hashable, ...] = cluster or ()
    cl = tuple(codes(data, c, "cluster") for c in names)
    return PanelInputs(
        y=y,
        outcome_rows=rows,
        unit_codes=unit_codes,
        time=t,
        cluster_names=names,
        cluster_codes=cl,
    )


def cluster_spec(cluster: tuple[Hashable, ...] | None) -> object:
    """The ``cluster`` entry of a result's ``spec``: None, one name, or a list of two."""
    if cluster is None:
        return None
    return as_spec_value(cluster[0]) if len(cluster) == 1 else as_spec_value(list(cluster))


def check_choice(value: object, name: str, allowed: Sequence[str]) -> str:
    """``value`` must be one of ``allowed``: TypeError for a non-string, ValueError naming the
    allowed set (and the closest one: "did you mean ...?") for an unknown string."""
    listed = ", ".join(repr(a) for a in allowed)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}; got {value!r}")
    if value not in allowed:
        close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{name} must be one of {listed}; got {value!r}{hint}")
    return value


def renamed_keyword(old: str, old_value: object, new: str, new_value: object) -> object:
    """``new_value``, or ``old_value`` with a DeprecationWarning when the caller still passes
    the keyword's old name (``B=`` for ``draws=``)."""
    if old_value is None:
        return new_value
    warnings.warn(f"{old}= is deprecated and will be removed; pass {new}= (same meaning)",
                  DeprecationWarning, stacklevel=3)
    return old_value
