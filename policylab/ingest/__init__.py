"""Ingestion: read each region's files, map them into the canonical tables, validate, store.

``ingest(config)`` is the only place that reads user data files. All problems of all regions
are collected in one pass; errors raise :class:`~policylab.errors.InputDataError` (exit 2),
warnings travel with the data to the report's data-quality section. ``check_inputs`` returns
the problems instead of raising (``policylab validate``).

With ``store=`` a folder, ingestion goes through the canonical store (:mod:`policylab.store`):
a region whose input files and mapping are unchanged is loaded from the store without being
read again, a changed region is re-read and replaces only its own partition, and nothing is
written unless every region is free of errors.

With ``stream=True`` (issue 14: a firms table larger than memory), each region's firms file is
read in chunks and appended to the store's part file (:mod:`policylab.ingest.stream`); the
regions returned hold the member firms' rows only (``RegionData.firms_on_disk``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import types
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..allocators import lean_allocators
from ..config import LabConfig, Region
from ..errors import InputDataError, Problem, os_error, os_reason
from ..schema import TABLES, RegionInfo, Table
from ..store import STORE_FORMAT, CanonicalStore, StagedPart, discard_staged, sha256_file
from .mapping import MONTHS, FiscalRule, Mapped, map_table
from .pseudonym import FIRM_ID_TABLES, key_check, key_from_env, pseudonym, pseudonymise
from .readers import ReadError, read_raw
from .stream import STREAM_ROWS, Fallback, Streamed, stream_table
from .validate import check_links, check_table

__all__ = ["LabData", "RegionData", "SourceFile", "check_inputs", "ingest"]


@dataclass(frozen=True)
class SourceFile:
    """One input file: its content hash, how many rows it had and how it was mapped."""

    region: str
    table: str
    path: str  # as written in the config
    sha256: str
    rows_read: int  # records below the header, blank ones included
    rows_dropped: int = 0  # blank records, skipped
    mapping: Mapping[str, Any] = field(default_factory=dict)  # the mapping applied (provenance)

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "table": self.table, "path": self.path, "sha256": self.sha256,
                "rows": self.rows_read, "rows_dropped": self.rows_dropped, "mapping": dict(self.mapping)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceFile:
        return cls(d["region"], d["table"], d["path"], d["sha256"], int(d["rows"]), int(d.get("rows_dropped", 0)),
                   dict(d.get("mapping", {})))


@dataclass(frozen=True)
class RegionData:
    """One region's canonical tables (money in EUR) and what ingestion did to get them.

    ``quality`` holds the counts computed while reading: ``rows_dropped`` (blank rows skipped
    in all files) and ``missing_by_column`` (blank cells per canonical column, per table).
    """

    info: RegionInfo
    tables: dict[str, pd.DataFrame]
    sources: tuple[SourceFile, ...]
    conversions: tuple[str, ...]
    warnings: tuple[Problem, ...] = ()
    quality: Mapping[str, Any] = field(default_factory=dict)
    #: True when ``tables["firms"]`` holds only the firm-years of the region's member firms (those
    #: in its membership table): the whole firms table, the never-member comparison pool
    #: included, is in the canonical store only (``ingest(..., stream=True)``; its part file is
    #: ``CanonicalStore(store).part_path("firms", key)``).
    firms_on_disk: bool = False

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    def quality_summary(self) -> dict[str, Any]:
        """The data-quality counts computed in ingestion, as columns of the report's table."""
        missing = self.quality.get("missing_by_column", {}).get("firms", {})
        order = [c for c in TABLES["firms"].column_names if c in missing]  # canonical order
        return {
            "rows_dropped": int(self.quality.get("rows_dropped", 0)),
            "missing_by_column": "; ".join(f"{c} {missing[c]}" for c in order) or "none",
        }


@dataclass(frozen=True)
class LabData:
    regions: tuple[RegionData, ...]
    warnings: tuple[Problem, ...] = field(default=())


def region_info(region: Region) -> RegionInfo:
    return RegionInfo(key=region.key, name=region.name, nuts2=region.nuts2, country=region.country,
                      programme=region.programme, currency=region.currency)


def _describe_conversions(applied: list[tuple[str, str]], key_env: str | None) -> list[str]:
    """One readable line per kind of conversion, naming the files it was applied to."""
    lines = []
    for kind in sorted({c for _, c in applied}):
        files = ", ".join(dict.fromkeys(Path(f).name for f, c in applied if c == kind))
        what, arg = kind.split(":", 1)
        if what == "scale":
            lines.append(f"money multiplied by {arg} in {files}")
        elif what == "fx":
            lines.append(f"{arg} converted to EUR at the config's yearly rates (units per EUR) in {files}")
        elif what == "fiscal":
            month = int(arg)
            goes = "the year it starts in" if month <= 6 else "the year it ends in"
            lines.append(f"fiscal years starting in {MONTHS[month - 1]} mapped to the calendar year holding "
                         f"most of their months ({goes}) in {files}")
        elif what == "detected":
            lines.append(f"{arg} detected in {files}")
        elif what == "encoding":
            lines.append(f"read as {arg} (not UTF-8) in {files}")
    if key_env:
        lines.append(f"firm IDs pseudonymised (keyed HMAC-SHA256; key from environment variable {key_env})")
    return lines


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` as it reads back from JSON (string keys), so a fresh run and a stored one agree."""
    return json.loads(json.dumps(record, sort_keys=True, default=str))


def _key_env(cfg: LabConfig, region: Region) -> str | None:
    return region.pseudonymise_key_env or cfg.lab.pseudonymise_key_env


def _missing_by_column(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, frame in tables.items():
        counts = {c: int(n) for c, n in frame.isna().sum().items() if n}
        if counts:
            out[name] = counts
    return out


def _hash_inputs(cfg: LabConfig, region: Region) -> dict[str, str | None]:
    """Content hash of each of the region's input files (None when it cannot be read)."""
    hashes: dict[str, str | None] = {}
    for name in TABLES:
        spec = getattr(region.files, name)
        if spec is None:
            continue
        path = cfg.resolve(spec.path)
        try:
            hashes[name] = sha256_file(path) if path.is_file() else None
        except OSError:
            hashes[name] = None
    return hashes


def fingerprint(cfg: LabConfig, region: Region, hashes: Mapping[str, str | None], key: bytes | None) -> str | None:
    """What a region's canonical tables are a function of; None if an input cannot be hashed."""
    if any(h is None for h in hashes.values()):
        return None
    record = {
        "store_format": STORE_FORMAT,
        "policylab": __version__,
        "region": region.model_dump(mode="json"),
        "window": [cfg.lab.first_year, cfg.lab.last_year],
        "inputs": dict(sorted(hashes.items())),
        "key_check": key_check(key) if key is not None else None,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StreamOptions:
    """How ``ingest(stream=True)`` reads the firms table: in chunks of ``rows`` records, appended to
    ``store``'s part file (None: read and checked only, as ``policylab validate`` does)."""

    rows: int = STREAM_ROWS
    store: CanonicalStore | None = None


def _ingest_region(cfg: LabConfig, region: Region, key: bytes | None,
                   hashes: Mapping[str, str | None] | None = None) -> tuple[RegionData | None, list[Problem]]:
    data, problems, _ = _read_region(cfg, region, key, hashes)
    return data, problems


def _read_region(cfg: LabConfig, region: Region, key: bytes | None, hashes: Mapping[str, str | None] | None = None,
                 stream: StreamOptions | None = None) \
        -> tuple[RegionData | None, list[Problem], dict[str, pd.DataFrame | StagedPart]]:
    """A region's data (None if any error), its problems, and its tables for the store.

    With ``stream``, the firms file is read in chunks (:mod:`policylab.ingest.stream`): the
    region's ``tables["firms"]`` holds only the member firms' rows and the store gets the staged
    part file instead (``firms_on_disk``). The other tables are read whole first (the firms
    chunks are checked against the firm IDs they name).
    """
    problems_by: dict[str, list[Problem]] = {}
    mapped: dict[str, Mapped] = {}
    sources: dict[str, SourceFile] = {}
    conversions_by: dict[str, list[tuple[str, str]]] = {}
    streamed: Streamed | None = None
    names = [n for n in TABLES if getattr(region.files, n) is not None]
    if stream is not None and "firms" in names:  # the firms file last: the others name its firms
        names = [n for n in names if n != "firms"] + ["firms"]
    for name in names:
        table = TABLES[name]
        spec = getattr(region.files, name)
        path = cfg.resolve(spec.path)
        label = spec.path.as_posix()
        fiscal = FiscalRule(spec.fiscal_year_start or region.fiscal_year_start,
                            spec.fiscal_year_label or region.fiscal_year_label)
        if stream is not None and name == "firms":
            failed = any(p.severity == "error" for found in problems_by.values() for p in found)
            streamed = _stream_firms(cfg, region, key, stream, spec, table, path, label, fiscal, mapped,
                                     write=not failed)
            if streamed is not None:
                found, source, conv = _streamed_file(region, name, spec, label, path, hashes, key, streamed)
                problems_by[name] = found
                if source is not None:
                    sources[name] = source
                    conversions_by[name] = conv
                if streamed.links is not None:
                    mapped[name] = streamed.links
                continue
        try:
            raw = read_raw(path, spec, label, country=region.country)
        except ReadError as exc:
            problems_by[name] = list(exc.problems)
            continue
        m = map_table(raw, spec, table, fx=region.fx, currency=region.currency, fiscal=fiscal,
                      window=(cfg.lab.first_year, cfg.lab.last_year))
        found = list(m.problems)
        conv: list[tuple[str, str]] = []
        enc = str(raw.settings.get("encoding", ""))
        if "(detected: not UTF-8)" in enc:
            conv.append((label, f"encoding:{enc.split(' ')[0]}"))
        conv += [(label, c) for c in m.conversions]
        try:
            digest = (hashes or {}).get(name) or sha256_file(path)
        except OSError as exc:  # removed or made unreadable while being read
            problems_by[name] = [Problem(label, f"cannot be read: {os_reason(exc)}")]
            continue
        conversions_by[name] = conv
        if key is not None and name in FIRM_ID_TABLES and "firm_id" in spec.columns:
            m.applied["pseudonymised"] = ["firm_id"]
        sources[name] = SourceFile(region.key, name, label, digest, raw.rows_read, raw.blank_rows, _plain(m.applied))
        if not (m.frame.empty and "_row" not in m.frame):  # else mapped columns are missing: reported
            found += check_table(m, table, cfg.lab.first_year, cfg.lab.last_year)
            mapped[name] = m
        problems_by[name] = sorted(found, key=lambda p: p.row if p.row is not None else 0)  # in the order of the file
    order = [n for n in TABLES if n in names]  # problems, sources and conversions in the tables' order
    problems = [p for n in order for p in problems_by.get(n, [])]
    if "firms" in mapped and "membership" in mapped:  # also beside row-level errors: one run lists all
        problems += check_links(mapped, region.nuts2)
    if any(p.severity == "error" for p in problems):
        if streamed is not None and streamed.staged is not None:
            discard_staged(streamed.staged)
        return None, problems, {}
    on_disk = stream is not None and "firms" in mapped
    tables = {n: mapped[n].frame.drop(columns=["_row", *_private(TABLES[n])], errors="ignore")
              .reset_index(drop=True) for n in order if n in mapped and not (n == "firms" and streamed is not None)}
    key_env = _key_env(cfg, region)
    if key is not None:
        tables = pseudonymise(tables, key)
    missing = _missing_by_column(tables)
    stored: dict[str, pd.DataFrame | StagedPart] = dict(tables)
    if streamed is not None and "firms" in mapped:
        if streamed.missing:
            missing["firms"] = dict(streamed.missing)
        if streamed.staged is not None:
            stored["firms"] = streamed.staged
        elif stream is not None and stream.store is not None:  # never: no error, so the part was staged
            raise AssertionError("the streamed firms part was not staged")
        tables["firms"] = streamed.members
    elif on_disk:  # read whole (an Excel workbook, ...): kept whole for the store, members in memory
        tables["firms"] = _members_only(tables["firms"], tables.get("membership"))
    tables = {n: tables[n] for n in order if n in tables}
    stored = {n: stored[n] for n in order if n in stored}
    missing = {n: missing[n] for n in order if n in missing}
    conversions = _describe_conversions([c for n in order for c in conversions_by.get(n, [])],
                                        key_env if key is not None else None)
    warnings = tuple(p for p in problems if p.severity == "warning")
    if key is not None:  # warnings reach the report: they must not quote a firm ID either
        id_cols = {(m.label, m.source_cols["firm_id"]) for n, m in mapped.items()
                   if n in FIRM_ID_TABLES and "firm_id" in m.source_cols}
        warnings = tuple(dataclasses.replace(w, value=pseudonym(key, w.value.strip()))
                         if (w.file, w.column) in id_cols and w.value is not None else w for w in warnings)
    quality = _plain({"rows_dropped": sum(s.rows_dropped for s in (sources[n] for n in order if n in sources)),
                      "missing_by_column": missing})
    data = RegionData(region_info(region), tables, tuple(sources[n] for n in order if n in sources),
                      tuple(conversions), warnings, quality, firms_on_disk=on_disk)
    return data, problems, stored


def _stream_firms(cfg: LabConfig, region: Region, key: bytes | None, stream: StreamOptions, spec: Any,
                  table: Table, path: Path, label: str, fiscal: FiscalRule, mapped: dict[str, Mapped], *,
                  write: bool) -> Streamed | None:
    """The firms file read in chunks (written to the store's part file unless ``write`` is false:
    another file of the region has an error); None when it must be read whole (see stream.py)."""
    members = mapped["membership"].frame["firm_id"] if "membership" in mapped else pd.Series([], dtype="string")
    linked = [mapped[n].frame["firm_id"] for n in ("membership", "orders", "survey")
              if n in mapped and "firm_id" in mapped[n].frame]
    writer = stream.store.part_writer("firms", region.key) if stream.store is not None and write else None
    try:
        return stream_table(path, spec, table, label, country=region.country, fx=region.fx,
                            currency=region.currency, fiscal=fiscal, window=(cfg.lab.first_year, cfg.lab.last_year),
                            key=key, members=members,
                            linked=pd.concat(linked, ignore_index=True) if linked else pd.Series([], dtype="string"),
                            private=_private(table), writer=writer, rows=stream.rows)
    except Fallback:
        if writer is not None:
            writer.abort()
        return None


def _streamed_file(region: Region, name: str, spec: Any, label: str, path: Path,
                   hashes: Mapping[str, str | None] | None, key: bytes | None,
                   s: Streamed) -> tuple[list[Problem], SourceFile | None, list[tuple[str, str]]]:
    """The problems, source record and conversions of a streamed file, as for one read whole."""
    if s.read_error:
        return list(s.problems), None, []
    conv: list[tuple[str, str]] = []
    enc = str(s.settings.get("encoding", ""))
    if "(detected: not UTF-8)" in enc:
        conv.append((label, f"encoding:{enc.split(' ')[0]}"))
    conv += [(label, c) for c in s.conversions]
    try:
        digest = (hashes or {}).get(name) or sha256_file(path)
    except OSError as exc:
        return [Problem(label, f"cannot be read: {os_reason(exc)}")], None, []
    applied = dict(s.applied)
    if key is not None and "firm_id" in spec.columns:
        applied["pseudonymised"] = ["firm_id"]
    source = SourceFile(region.key, name, label, digest, s.rows_read, s.blank_rows, _plain(applied))
    return sorted(s.problems, key=lambda p: p.row if p.row is not None else 0), source, conv


def _members_only(firms: pd.DataFrame, membership: pd.DataFrame | None) -> pd.DataFrame:
    """The firm-years of the firms in ``membership``."""
    ids = membership["firm_id"].dropna() if membership is not None and "firm_id" in membership else []
    return firms[firms["firm_id"].isin(ids).to_numpy(dtype=bool)].reset_index(drop=True)


def _private(table: Table) -> list[str]:
    """Free-text columns: read and checked, then dropped (never stored or published)."""
    return [c.name for c in table.columns if c.private]


def _region_key(cfg: LabConfig, region: Region) -> bytes | None:
    env = _key_env(cfg, region)
    where = f"regions.{region.key}.pseudonymise_key_env" if region.pseudonymise_key_env else \
        f"lab.pseudonymise_key_env (region {region.key})"
    return key_from_env(env, where) if env else None


def check_inputs(cfg: LabConfig, *, stream: bool = False,
                 stream_rows: int = STREAM_ROWS) -> tuple[LabData | None, list[Problem]]:
    """Read and validate every region; return the data (None if any error) and all problems.

    With ``stream``, each firms file is read and checked in chunks of ``stream_rows`` records
    (nothing is written; the regions' ``tables["firms"]`` hold the member firms' rows only).
    """
    keys = {r.key: _region_key(cfg, r) for r in cfg.regions}
    regions: list[RegionData] = []
    problems: list[Problem] = []
    options = _stream_options(stream, stream_rows, None)
    with lean_allocators() if stream else nullcontext():
        for region in cfg.regions:
            data, found, _ = _read_region(cfg, region, keys[region.key], stream=options)
            problems += found
            if data is not None:
                regions.append(data)
    if any(p.severity == "error" for p in problems):
        return None, problems
    return LabData(tuple(regions), tuple(w for r in regions for w in r.warnings)), problems


def _stream_options(stream: bool, rows: int, store: CanonicalStore | None) -> StreamOptions | None:
    if not stream:
        return None
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"stream_rows must be a whole number of at least 1, not {rows!r}")
    return StreamOptions(rows, store)


def _manifest(data: RegionData, fp: str) -> dict[str, Any]:
    return {
        "fingerprint": fp,
        "policylab_version": __version__,
        "sources": [s.to_dict() for s in data.sources],
        "conversions": list(data.conversions),
        "warnings": [p.to_dict() for p in data.warnings],
        "quality": dict(data.quality),
    }


def _from_store(region: Region, tables: dict[str, pd.DataFrame], manifest: Mapping[str, Any],
                firms_on_disk: bool = False) -> RegionData:
    warnings = tuple(Problem(file=w["file"], message=w["message"], row=w.get("row"), column=w.get("column"),
                             value=w.get("value"), severity=w.get("severity", "warning"))
                     for w in manifest.get("warnings", []))
    sources = tuple(SourceFile.from_dict(s) for s in manifest.get("sources", []))
    return RegionData(region_info(region), tables, sources, tuple(manifest.get("conversions", [])), warnings,
                      dict(manifest.get("quality", {})), firms_on_disk=firms_on_disk and "firms" in tables)


def ingest(cfg: LabConfig, *, store: str | Path | None = None, stream: bool = False,
           stream_rows: int = STREAM_ROWS) -> LabData:
    """Read, map and validate every region's files; raise InputDataError listing every error.

    With ``store`` (a folder), regions whose inputs and mapping are unchanged since the last
    run are loaded from the canonical store instead of being read; the others are read and,
    once every region is free of errors, written to the store (only their own partitions).
    A run with errors leaves the store as it was.

    With ``stream`` (a store is needed), each region's firms file is read in chunks of
    ``stream_rows`` records and written to the store's part file chunk by chunk, so a firms
    table larger than memory can be ingested (:mod:`policylab.ingest.stream`); the store is the
    same as without ``stream``. The regions returned then hold in ``tables["firms"]`` only the
    firm-years of their member firms (``RegionData.firms_on_disk``): the rest of the comparison
    pool stays in the store, and a region loaded from the store reads only those rows too.
    """
    if store is None:
        if stream:
            raise ValueError("ingest(stream=True) writes the firms table to the canonical store: pass store=")
        data, problems = check_inputs(cfg)
        if data is None:
            raise InputDataError([p for p in problems if p.severity == "error"])
        return data
    st = CanonicalStore(store)
    options = _stream_options(stream, stream_rows, st)
    regions: list[RegionData] = []
    problems: list[Problem] = []
    to_write: list[tuple[RegionData, str, dict[str, pd.DataFrame | StagedPart]]] = []
    staged: list[StagedPart] = []
    try:
        for region in cfg.regions:
            key = _region_key(cfg, region)
            hashes = _hash_inputs(cfg, region)
            fp = fingerprint(cfg, region, hashes, key)
            if fp is not None:
                stored = st.load_members(region.key, fp) if stream else st.load(region.key, fp)
            else:
                stored = None
            if stored is not None:
                regions.append(_from_store(region, stored.tables, stored.manifest, firms_on_disk=stream))
                continue
            data, found, tables = _read_region(cfg, region, key, hashes, options)
            staged += [t for t in tables.values() if isinstance(t, StagedPart)]
            problems += found
            if data is not None:
                regions.append(data)
                if fp is not None:
                    to_write.append((data, fp, tables))
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise InputDataError(errors)
        try:
            if to_write and stream:
                st.write_staged([(d.info.key, tables, _manifest(d, fp)) for d, fp, tables in to_write])
            elif to_write:
                st.write([(d.info.key, d.tables, _manifest(d, fp)) for d, fp, _ in to_write])
            staged = []
            if set(st.regions()) - {r.key for r in cfg.regions}:
                st.prune({r.key for r in cfg.regions})
        except OSError as exc:  # the store's folder is a file, cannot be written, the disk is full ...
            raise os_error(exc, st.root, "the canonical store cannot be written") from None
    finally:
        for part in staged:  # not written (an error, an interruption): the store stays as it was
            discard_staged(part)
    warnings = tuple(w for r in regions for w in r.warnings)
    return LabData(tuple(regions), warnings)


class _CallableModule(types.ModuleType):
    """``policylab.ingest`` is both this package and its main function: once the package has
    been imported (by ``evaluate``, say), Python binds the name ``policylab.ingest`` to the
    package, so the package itself calls :func:`ingest`."""

    def __call__(self, *args: Any, **kwargs: Any) -> LabData:
        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
