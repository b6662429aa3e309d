"""User-facing errors and typed warnings.

A :class:`UserError` is something the user can fix (a bad config, an unreadable file, a value
of the wrong kind). The CLI prints ``str(error)`` as one line and exits with code 2; it never
shows a traceback for these. Anything else escaping the API is a bug in policylab (exit 1).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class UserError(Exception):
    """Base class of every error caused by the user's input or configuration."""

    exit_code = 2

    @property
    def lines(self) -> list[str]:
        """The problems, one line each (the CLI prints one ``error:`` line per item)."""
        return [str(self)]


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


class _Lines(UserError):
    """A user error carrying one or more problems, one line each (``str()`` joins them with
    newlines; the CLI prints one ``error:`` line per problem)."""

    def __init__(self, problems: str | Iterable[str]):
        self.problems = [problems] if isinstance(problems, str) else [str(p) for p in problems]
        super().__init__("\n".join(self.problems))

    @property
    def lines(self) -> list[str]:
        return list(self.problems)


class ConfigError(_Lines):
    """The lab config is missing, unreadable or invalid. Carries every problem found."""


class UsageError(_Lines):
    """The command asks for something the lab does not have (an unknown region, indicator or
    an outcome a region cannot provide)."""


class InputDataError(UserError):
    """One or more input files cannot be used. Carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid input"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(first + suffix)

    @property
    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


def os_reason(exc: OSError) -> str:
    """The operating system's reason for ``exc`` in words (``strerror``), e.g. 'Permission denied'."""
    if exc.strerror:
        return exc.strerror
    if exc.errno is not None:
        return errno.errorcode.get(exc.errno, f"error {exc.errno}")
    return str(exc) or type(exc).__name__


def os_error(exc: OSError, path: str | Path | None = None, action: str = "cannot be read",
             error: type[UserError] = UserError) -> UserError:
    """An operating-system error as a user error: one line naming the path and the OS's reason.

    ``path`` names the file when the error itself does not (``exc.filename``).
    """
    where = exc.filename if exc.filename is not None else path
    where = where.decode("utf-8", "replace") if isinstance(where, bytes) else where
    reason = os_reason(exc)
    return error(f"{where}: {action}: {reason}" if where is not None else f"{action}: {reason}")


#: Characters never echoed raw on a terminal: C0 and C1 controls, DEL, the bidirectional
#: embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the line and paragraph
#: separators (U+2028, U+2029). A cell holding ``ESC[31m`` must not recolour the terminal.
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ESCAPES = {
    c: _NAMED.get(chr(c), f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")
    for c in [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A),
              0x2028, 0x2029]
}


def escape_controls(text: str) -> str:
    """``text`` safe to print on a terminal: control and bidi characters as escapes (``\\x1b``,
    ``\\u202e``); everything else unchanged."""
    return text.translate(_ESCAPES)


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
