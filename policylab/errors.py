"""User-facing errors and typed warnings.

A :class:`UserError` is something the user can fix (a bad config, an unreadable file, a value
of the wrong kind). The CLI prints ``str(error)`` as one line and exits with code 2; it never
shows a traceback for these. Anything else escaping the API is a bug in policylab (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass


class UserError(Exception):
    """Base class of every error caused by the user's input or configuration."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One precise problem in an input: where it is and what was expected.

    ``row`` is the line number as the user sees it in the file (1 = first line, header
    included); ``None`` when the problem concerns the whole file or column.
    """

    file: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        got = f" (got {self.value!r})" if self.value is not None else ""
        return f"{', '.join(where)}: {self.message}{got}"

    def to_dict(self) -> dict:
        return {
            "severity": self.severity,
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


class ConfigError(UserError):
    """The lab config is missing, unreadable or invalid."""


class InputDataError(UserError):
    """One or more input files cannot be used. Carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid input"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(first + suffix)


class DesignError(UserError):
    """The data cannot identify the requested effect (e.g. no comparison firms)."""


class PolicylabWarning(UserWarning):
    """Base class of statistical and data caveats raised by policylab."""


class FewClustersWarning(PolicylabWarning):
    """Cluster-robust inference rests on few clusters; intervals may be too narrow."""


class DataQualityWarning(PolicylabWarning):
    """A recoverable data issue (e.g. exports larger than turnover)."""


class SeparationWarning(PolicylabWarning):
    """Poisson: observations whose outcome is zero in a whole fixed-effect group (or treated
    cell) were dropped, because their coefficients are not finite (ppmlhdfe's separation)."""


class ConvergenceWarning(PolicylabWarning):
    """An iterative estimator stopped before meeting its convergence criterion."""
