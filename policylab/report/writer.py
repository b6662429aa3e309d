"""Write the three report files, all or nothing.

Everything is rendered (and encoded) in memory first; only then is each file written to a
temporary file in the output folder and moved over the old one with ``os.replace``, which is
atomic on one file system. A failure while rendering therefore leaves the previous report
untouched, and a reader never sees a half-written file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..evaluation import EvaluationResult
from ._indicators import indicators_csv
from ._serialize import results_json
from .html import render_html

__all__ = ["REPORT_FILES", "write_report"]

#: Key in the returned mapping -> file name in the output folder.
REPORT_FILES = {"html": "index.html", "json": "results.json", "csv": "indicators.csv"}


def write_report(result: EvaluationResult, out_dir: Path) -> dict[str, Path]:
    """Write ``index.html``, ``results.json`` and ``indicators.csv`` into ``out_dir``.

    Parameters
    ----------
    result : EvaluationResult
        The evaluation to report on.
    out_dir : Path
        The output folder; created (with parents) if missing.

    Returns
    -------
    dict of str to Path
        ``{"html": .../index.html, "json": .../results.json, "csv": .../indicators.csv}``.
    """
    out_dir = Path(out_dir)
    contents = {
        "html": render_html(result).encode("utf-8"),
        "json": results_json(result).encode("utf-8"),
        "csv": indicators_csv(result).encode("utf-8"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    temps: dict[str, Path] = {}
    try:
        for key, data in contents.items():
            temps[key] = _write_temp(out_dir, REPORT_FILES[key], data)
        paths = {}
        for key, tmp in temps.items():
            final = out_dir / REPORT_FILES[key]
            os.replace(tmp, final)
            paths[key] = final
    finally:
        for tmp in temps.values():
            if tmp.exists():
                tmp.unlink()
    return paths


def _write_temp(folder: Path, name: str, data: bytes) -> Path:
    # O_EXCL: never reuse an existing file; mode 0o666 lets the umask decide, like open().
    while True:
        path = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        break
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
