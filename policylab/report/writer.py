"""Write the report files, all or nothing.

The files: ``index.html`` (the comparative overview), ``regions/<nuts2>.html`` (one page per
region), ``results.json`` and ``indicators.csv``. Everything is rendered (and encoded) in
memory first; only then is each file written to a temporary file next to its destination and
moved over the old one with ``os.replace``, which is atomic on one file system. A failure while
rendering or writing the temporary files therefore leaves the previous report untouched, and a
reader never sees a half-written file. Region pages of an earlier run whose region is no longer
in the lab are removed afterwards (only files policylab wrote: they carry its generator tag).
"""

from __future__ import annotations

import datetime as _dt
import os
import secrets
from pathlib import Path

from ..evaluation import EvaluationResult
from ._indicators import indicators_csv
from ._serialize import results_json
from .build import INDEX_PATH, REGIONS_DIR, build_report
from .html import render_pages

__all__ = ["REPORT_FILES", "now_timestamp", "write_report"]

#: Key in the returned mapping -> file name in the output folder (plus one
#: ``regions/<nuts2>.html`` per region, keyed ``"region:<key>"``).
REPORT_FILES = {"html": INDEX_PATH, "json": "results.json", "csv": "indicators.csv"}

_GENERATOR_TAG = b'<meta name="generator" content="policylab '


def now_timestamp() -> str:
    """The current time as ISO 8601 UTC to the second (``2026-11-27T09:30:00Z``).

    ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention), when set, is used instead of
    the clock.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and epoch.strip().isdigit():
        moment = _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC)
    else:
        moment = _dt.datetime.now(tz=_dt.UTC)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_report(result: EvaluationResult, out_dir: Path, *,
                 timestamp: str | None = None) -> dict[str, Path]:
    """Write the overview page, one page per region, ``results.json`` and ``indicators.csv``.

    Parameters
    ----------
    result : EvaluationResult
        The evaluation to report on.
    out_dir : Path
        The output folder; created (with parents) if missing.
    timestamp : str, optional
        When the report was generated: shown once in each page's footer and written to
        ``results.json`` as ``generated_at``. None (the default) writes neither, so the same
        result always gives the same bytes.

    Returns
    -------
    dict of str to Path
        ``{"html": .../index.html, "json": .../results.json, "csv": .../indicators.csv,
        "region:<key>": .../regions/<nuts2>.html, ...}``.
    """
    out_dir = Path(out_dir)
    model = build_report(result, timestamp=timestamp)
    pages = render_pages(model)
    contents: dict[str, tuple[str, bytes]] = {
        "html": (INDEX_PATH, pages[INDEX_PATH].encode("utf-8")),
        "json": (REPORT_FILES["json"], results_json(result, timestamp=timestamp).encode("utf-8")),
        "csv": (REPORT_FILES["csv"], indicators_csv(result).encode("utf-8")),
    }
    for page in model.region_pages:
        contents[f"region:{page.region}"] = (page.path, pages[page.path].encode("utf-8"))
    for rel, _ in contents.values():
        _check_relative(rel)
    out_dir.mkdir(parents=True, exist_ok=True)
    if model.region_pages:
        (out_dir / REGIONS_DIR).mkdir(exist_ok=True)
    temps: dict[str, Path] = {}
    try:
        for key, (rel, data) in contents.items():
            temps[key] = _write_temp(out_dir / rel, data)
        paths = {}
        for key, tmp in temps.items():
            final = out_dir / contents[key][0]
            os.replace(tmp, final)
            paths[key] = final
    finally:
        for tmp in temps.values():
            if tmp.exists():
                tmp.unlink()
    _remove_stale_pages(out_dir / REGIONS_DIR, {p.path.split("/")[-1] for p in model.region_pages})
    return paths


def _check_relative(rel: str) -> None:
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in rel:
        raise ValueError(f"unsafe report file name {rel!r}")  # pragma: no cover - defensive


def _remove_stale_pages(folder: Path, keep: set[str]) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.html")):
        if path.name in keep or not path.is_file():
            continue
        try:
            with path.open("rb") as fh:
                head = fh.read(2048)
        except OSError:  # pragma: no cover - unreadable: not ours to delete
            continue
        if _GENERATOR_TAG in head:
            path.unlink(missing_ok=True)


def _write_temp(final: Path, data: bytes) -> Path:
    # O_EXCL: never reuse an existing file; mode 0o666 lets the umask decide, like open().
    while True:
        path = final.parent / f".{final.name}.{secrets.token_hex(6)}.tmp"
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
