"""Shared pieces of the cohort-based estimators (:func:`sun_abraham`, :func:`etwfe`).

* :func:`cohort_column` validates the first-treated-period column;
* :func:`staggered_sample` decides which firms are controls, which cohorts cannot be used
  (treated from their first observed period) and, without never-treated firms, which
  periods must go because the last-treated cohort serves as the control;
* :func:`aggregate` turns cell coefficients and their covariance into weighted averages
  (event time, cohort, overall) with delta-method covariances.

Everything works on full-length NumPy arrays and boolean row masks; the caller's frame is
never touched.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DesignError
from ._checks import constant_within, integer_valued, no_missing, numeric_column
from .results import CellEstimate, Estimate
from .vcov import make_estimate

ControlOption = Literal["never_treated", "last_treated", "auto"]
OVERALL_TERM = "att"


def cohort_term(g: int) -> str:
    """Term name of a cohort aggregate (``"cohort::2015"``)."""
    return f"cohort::{g}"


def check_choice(value: object, name: str, allowed: Sequence[str]) -> str:
    """``value`` must be one of ``allowed`` (ValueError naming the allowed set)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}"
        )
    return value


def cohort_column(data: pd.DataFrame, cohort: Hashable, unit_codes: np.ndarray) -> np.ndarray:
    """The cohort (first treated period; 0 = never) as float64, validated."""
    g = numeric_column(data, cohort, "cohort")
    no_missing(g, cohort, "cohort")
    integer_valued(g, cohort, "cohort")
    constant_within(g, unit_codes, cohort, "the period the firm is first treated; 0 = never")
    return g


@dataclass(frozen=True)
class StaggeredSample:
    """Which rows an estimator uses and what the reader must be told about the rest.

    ``keep`` is a full-length row mask. ``treated_cohort`` marks rows of firms whose cohort
    gets its own effects; ``control`` marks rows of the comparison firms (never treated in
    the sample window, or the last-treated cohort when ``last_cohort`` is set).
    """

    keep: np.ndarray
    treated_cohort: np.ndarray
    control: np.ndarray
    last_cohort: int | None
    notes: tuple[str, ...]


def _firms(n: int) -> str:
    return f"{n} firm{'s' if n != 1 else ''}"


def staggered_sample(
    g: np.ndarray,
    time: np.ndarray,
    unit_codes: np.ndarray,
    rows: np.ndarray,
    *,
    control: ControlOption,
    drop_never_with_last: bool,
) -> StaggeredSample:
    """Split the firms into treated cohorts and controls.

    Parameters
    ----------
    g, time, unit_codes : ndarray
        Full-length cohort, period and firm codes.
    rows : ndarray of bool
        Rows available (e.g. those with an outcome).
    control : {"never_treated", "last_treated", "auto"}
        ``"never_treated"``: firms with cohort 0 (or a cohort after the last observed
        period) are the controls; an error if there are none. ``"last_treated"``: the cohort
        treated last is the control and every period from its first treated period on is
        dropped (Sun and Abraham 2021, Section 4). ``"auto"``: never-treated if any, else
        last-treated (R ``etwfe``'s default).
    drop_never_with_last : bool
        With the last-treated control, leave the never-treated firms out (Sun-Abraham's
        single control cohort) instead of keeping them as additional controls.

    Notes
    -----
    A cohort whose first treated period is at or before its first observed period has no
    pre-treatment observation ("always treated"); its firms are dropped, as ``fixest``'s
    ``sunab`` does, and the count is reported.
    """
    notes: list[str] = []
    keep = rows.copy()
    t_avail = time[keep]
    t_max = float(t_avail.max())
    never = (g == 0) | (g > t_max)
    late = keep & (g > t_max)
    if late.any():
        n_late = int(np.unique(unit_codes[late]).size)
        notes.append(
            f"{_firms(n_late)} first treated after the last observed period "
            f"({int(t_max)}) are never treated within the sample and serve as controls"
        )

    # Always treated: the cohort is at or before the first period its firms are observed.
    treated_rows = keep & ~never
    if treated_rows.any():
        codes, levels = pd.factorize(g[treated_rows])
        first_seen = np.full(levels.size, np.inf)
        np.minimum.at(first_seen, codes, time[treated_rows])
        always_levels = np.asarray(levels)[np.asarray(levels) <= first_seen]
        if always_levels.size:
            always = keep & np.isin(g, always_levels)
            n_units = int(np.unique(unit_codes[always]).size)
            shown = ", ".join(str(int(c)) for c in np.sort(always_levels))
            notes.append(
                f"dropped {_firms(n_units)} of cohort{'s' if always_levels.size > 1 else ''} "
                f"{shown}: treated from their first observed period (always treated), "
                "so they have no pre-treatment period to compare with"
            )
            keep &= ~always

    treated = keep & ~never
    if not treated.any():
        raise DesignError("no firm is ever treated within the sample: nothing to estimate")
    has_never = bool(np.any(keep & never))
    if control == "auto":
        control = "never_treated" if has_never else "last_treated"

    last: int | None = None
    if control == "never_treated":
        if not has_never:
            raise DesignError(
                "no never-treated firms (cohort 0) in the sample: use "
                "control='last_treated' to compare with the cohort treated last"
            )
        ctrl = keep & never
    else:
        last = int(g[treated].max())
        if drop_never_with_last and has_never:
            n_never = int(np.unique(unit_codes[keep & never]).size)
            notes.append(
                f"control='last_treated': the {_firms(n_never)} never treated are left out; "
                f"the cohort first treated in {last} is the only comparison group"
            )
            keep &= ~never
        dropped_periods = keep & (time >= last)
        if dropped_periods.any():
            notes.append(
                f"the last-treated cohort ({last}) is the comparison group, so "
                f"{int(dropped_periods.sum())} observations from {last} on were dropped "
                "(no untreated comparison remains there)"
            )
        keep &= time < last
        if not keep.any():
            raise DesignError("no observations remain before the last cohort is treated")
        ctrl = keep & ((g == last) | never)
    treated_cohort = keep & ~ctrl
    if not np.any(treated_cohort & (time >= g)):
        raise DesignError(
            "no treated observation remains (every treated firm-period falls outside the "
            "window where a comparison group exists)"
        )
    return StaggeredSample(
        keep=keep,
        treated_cohort=treated_cohort,
        control=ctrl,
        last_cohort=last,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class Cells:
    """Cohort-by-period cells that carry their own coefficient."""

    cohort: np.ndarray  # int, per cell
    event_time: np.ndarray  # int, per cell
    time: tuple[int | None, ...]  # calendar period, None for a bin spanning several
    n_obs: np.ndarray  # observations per cell (aggregation weights)


def weight_matrix(
    cells: Cells, groups: np.ndarray, select: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of aggregation weights: for each distinct value of ``groups`` among the
    ``select``-ed cells, the cells' observation shares within that value.

    Returns the sorted group values and the (n_groups x n_cells) weight matrix.
    """
    values = np.unique(groups[select])
    w = np.zeros((values.size, groups.size))
    for i, v in enumerate(values):
        m = select & (groups == v)
        w[i, m] = cells.n_obs[m] / cells.n_obs[m].sum()
    return values, w


def overall_weights(cells: Cells) -> np.ndarray:
    """Observation shares of the post-treatment cells (event time >= 0)."""
    post = cells.event_time >= 0
    w = np.where(post, cells.n_obs, 0.0).astype(np.float64)
    return w / w.sum()


def estimates_from(
    names: Sequence[str],
    values: np.ndarray,
    vcov: np.ndarray,
    *,
    df: float,
    alpha: float,
    event_times: Sequence[int | None] | None = None,
) -> tuple[Estimate, ...]:
    """One :class:`Estimate` per value with the diagonal of ``vcov`` as variance."""
    ets = event_times if event_times is not None else [None] * len(names)
    return tuple(
        make_estimate(n, float(v), float(vcov[i, i]), df=df, alpha=alpha, event_time=e)
        for i, (n, v, e) in enumerate(zip(names, values, ets, strict=True))
    )


def cell_estimates(
    cells: Cells, values: np.ndarray, vcov: np.ndarray, *, df: float, alpha: float
) -> tuple[CellEstimate, ...]:
    out = []
    for j in range(values.size):
        e = make_estimate("cell", float(values[j]), float(vcov[j, j]), df=df, alpha=alpha)
        out.append(
            CellEstimate(
                cohort=int(cells.cohort[j]),
                event_time=int(cells.event_time[j]),
                time=cells.time[j],
                estimate=e.estimate,
                std_error=e.std_error,
                conf_low=e.conf_low,
                conf_high=e.conf_high,
                p_value=e.p_value,
                n_obs=int(cells.n_obs[j]),
            )
        )
    return tuple(out)


def event_names(event_times: np.ndarray) -> list[str]:
    from .dynamic_twfe import event_term

    return [event_term(int(e)) for e in event_times]
