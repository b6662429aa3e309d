"""Ingestion: read each region's files, map them into the canonical tables, validate, store.

``ingest(config)`` is the only place that reads user data files. All problems of all regions
are collected in one pass; errors raise :class:`~policylab.errors.InputDataError` (exit 2),
warnings travel with the data to the report's data-quality section. ``check_inputs`` returns
the problems instead of raising (``policylab validate``).

With ``store=`` a folder, ingestion goes through the canonical store (:mod:`policylab.store`):
a region whose input files and mapping are unchanged is loaded from the store without being
read again, a changed region is re-read and replaces only its own partition, and nothing is
written unless every region is free of errors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..config import LabConfig, Region
from ..errors import InputDataError, Problem, os_error, os_reason
from ..schema import RegionInfo
from ..schema import TABLES, Table
from ..store import STORE_FORMAT, CanonicalStore, sha256_file
from .mapping import MONTHS, FiscalRule, Mapped, map_table
from .pseudonym import FIRM_ID_TABLES, key_check, key_from_env, pseudonym, pseudonymise
from .readers import ReadError, read_raw
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


def _ingest_region(cfg: LabConfig, region: Region, key: bytes | None,
                   hashes: Mapping[str, str | None] | None = None) -> tuple[RegionData | None, list[Problem]]:
    problems: list[Problem] = []
    mapped: dict[str, Mapped] = {}
    sources: list[SourceFile] = []
    conversions_by_file: list[tuple[str, str]] = []
    for name, table in TABLES.items():
        spec = getattr(region.files, name)
        if spec is None:
            continue
        path = cfg.resolve(spec.path)
        label = spec.path.as_posix()
        try:
            raw = read_raw(path, spec, label, country=region.country)
        except ReadError as exc:
            problems += exc.problems
            continue
        fiscal = FiscalRule(spec.fiscal_year_start or region.fiscal_year_start,
                            spec.fiscal_year_label or region.fiscal_year_label)
        m = map_table(raw, spec, table, fx=region.fx, currency=region.currency, fiscal=fiscal,
                      window=(cfg.lab.first_year, cfg.lab.last_year))
        found = list(m.problems)
        enc = str(raw.settings.get("encoding", ""))
        if "(detected: not UTF-8)" in enc:
            conversions_by_file.append((label, f"encoding:{enc.split(' ')[0]}"))
        conversions_by_file += [(label, c) for c in m.conversions]
        try:
            digest = (hashes or {}).get(name) or sha256_file(path)
        except OSError as exc:  # removed or made unreadable while being read
            problems.append(Problem(label, f"cannot be read: {os_reason(exc)}"))
            continue
        if key is not None and name in FIRM_ID_TABLES and "firm_id" in spec.columns:
            m.applied["pseudonymised"] = ["firm_id"]
        sources.append(SourceFile(region.key, name, label, digest, raw.rows_read, raw.blank_rows, _plain(m.applied)))
        if not (m.frame.empty and "_row" not in m.frame):  # else mapped columns are missing: reported
            found += check_table(m, table, cfg.lab.first_year, cfg.lab.last_year)
            mapped[name] = m
        problems += sorted(found, key=lambda p: p.row if p.row is not None else 0)  # in the order of the file
    if "firms" in mapped and "membership" in mapped:  # also beside row-level errors: one run lists all
        problems += check_links(mapped, region.nuts2)
    if any(p.severity == "error" for p in problems):
        return None, problems
    tables = {n: m.frame.drop(columns=["_row", *_private(TABLES[n])], errors="ignore")
              .reset_index(drop=True) for n, m in mapped.items()}
    key_env = _key_env(cfg, region)
    if key is not None:
        tables = pseudonymise(tables, key)
    conversions = _describe_conversions(conversions_by_file, key_env if key is not None else None)
    warnings = tuple(p for p in problems if p.severity == "warning")
    if key is not None:  # warnings reach the report: they must not quote a firm ID either
        id_cols = {(m.label, m.source_cols["firm_id"]) for n, m in mapped.items()
                   if n in FIRM_ID_TABLES and "firm_id" in m.source_cols}
        warnings = tuple(dataclasses.replace(w, value=pseudonym(key, w.value.strip()))
                         if (w.file, w.column) in id_cols and w.value is not None else w for w in warnings)
    quality = _plain({"rows_dropped": sum(s.rows_dropped for s in sources),
                      "missing_by_column": _missing_by_column(tables)})
    data = RegionData(region_info(region), tables, tuple(sources), tuple(conversions), warnings, quality)
    return data, problems


def _private(table: Table) -> list[str]:
    """Free-text columns: read and checked, then dropped (never stored or published)."""
    return [c.name for c in table.columns if c.private]


def _region_key(cfg: LabConfig, region: Region) -> bytes | None:
    env = _key_env(cfg, region)
    where = f"regions.{region.key}.pseudonymise_key_env" if region.pseudonymise_key_env else \
        f"lab.pseudonymise_key_env (region {region.key})"
    return key_from_env(env, where) if env else None


def check_inputs(cfg: LabConfig) -> tuple[LabData | None, list[Problem]]:
    """Read and validate every region; return the data (None if any error) and all problems."""
    keys = {r.key: _region_key(cfg, r) for r in cfg.regions}
    regions: list[RegionData] = []
    problems: list[Problem] = []
    for region in cfg.regions:
        data, found = _ingest_region(cfg, region, keys[region.key])
        problems += found
        if data is not None:
            regions.append(data)
    if any(p.severity == "error" for p in problems):
        return None, problems
    return LabData(tuple(regions), tuple(w for r in regions for w in r.warnings)), problems


def _manifest(data: RegionData, fp: str) -> dict[str, Any]:
    return {
        "fingerprint": fp,
        "policylab_version": __version__,
        "sources": [s.to_dict() for s in data.sources],
        "conversions": list(data.conversions),
        "warnings": [p.to_dict() for p in data.warnings],
        "quality": dict(data.quality),
    }


def _from_store(region: Region, tables: dict[str, pd.DataFrame], manifest: Mapping[str, Any]) -> RegionData:
    warnings = tuple(Problem(file=w["file"], message=w["message"], row=w.get("row"), column=w.get("column"),
                             value=w.get("value"), severity=w.get("severity", "warning"))
                     for w in manifest.get("warnings", []))
    sources = tuple(SourceFile.from_dict(s) for s in manifest.get("sources", []))
    return RegionData(region_info(region), tables, sources, tuple(manifest.get("conversions", [])), warnings,
                      dict(manifest.get("quality", {})))


def ingest(cfg: LabConfig, *, store: str | Path | None = None) -> LabData:
    """Read, map and validate every region's files; raise InputDataError listing every error.

    With ``store`` (a folder), regions whose inputs and mapping are unchanged since the last
    run are loaded from the canonical store instead of being read; the others are read and,
    once every region is free of errors, written to the store (only their own partitions).
    A run with errors leaves the store as it was.
    """
    if store is None:
        data, problems = check_inputs(cfg)
        if data is None:
            raise InputDataError([p for p in problems if p.severity == "error"])
        return data
    st = CanonicalStore(store)
    regions: list[RegionData] = []
    problems: list[Problem] = []
    to_write: list[tuple[RegionData, str]] = []
    for region in cfg.regions:
        key = _region_key(cfg, region)
        hashes = _hash_inputs(cfg, region)
        fp = fingerprint(cfg, region, hashes, key)
        stored = st.load(region.key, fp) if fp is not None else None
        if stored is not None:
            regions.append(_from_store(region, stored.tables, stored.manifest))
            continue
        data, found = _ingest_region(cfg, region, key, hashes)
        problems += found
        if data is not None:
            regions.append(data)
            if fp is not None:
                to_write.append((data, fp))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputDataError(errors)
    try:
        if to_write:
            st.write([(d.info.key, d.tables, _manifest(d, fp)) for d, fp in to_write])
        if set(st.regions()) - {r.key for r in cfg.regions}:
            st.prune({r.key for r in cfg.regions})
    except OSError as exc:  # the store's folder is a file, cannot be written, the disk is full ...
        raise os_error(exc, st.root, "the canonical store cannot be written") from None
    warnings = tuple(w for r in regions for w in r.warnings)
    return LabData(tuple(regions), warnings)


class _CallableModule(types.ModuleType):
    """``policylab.ingest`` is both this package and its main function: once the package has
    been imported (by ``evaluate``, say), Python binds the name ``policylab.ingest`` to the
    package, so the package itself calls :func:`ingest`."""

    def __call__(self, *args: Any, **kwargs: Any) -> LabData:
        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
