"""Ingestion: read each region's files, map them into the canonical tables, validate.

``ingest(config)`` is the only place that reads user data files. All problems of all regions
are collected in one pass; errors raise :class:`~policylab.errors.InputDataError` (exit 2),
warnings travel with the data to the report's data-quality section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import LabConfig, Region
from ..errors import InputDataError, Problem
from ..evaluation import RegionInfo
from ..schema import TABLES
from ..store import sha256_file
from .mapping import map_table
from .readers import ReadError, read_raw
from .validate import check_links, check_table

__all__ = ["LabData", "RegionData", "SourceFile", "ingest", "check_inputs"]


@dataclass(frozen=True)
class SourceFile:
    region: str
    table: str
    path: str  # as written in the config
    sha256: str
    rows_read: int


@dataclass(frozen=True)
class RegionData:
    """One region's canonical tables (money in EUR) and what ingestion did to get them."""

    info: RegionInfo
    tables: dict[str, pd.DataFrame]
    sources: tuple[SourceFile, ...]
    conversions: tuple[str, ...]
    warnings: tuple[Problem, ...] = ()

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


@dataclass(frozen=True)
class LabData:
    regions: tuple[RegionData, ...]
    warnings: tuple[Problem, ...] = field(default=())


def region_info(region: Region) -> RegionInfo:
    return RegionInfo(key=region.key, name=region.name, nuts2=region.nuts2, country=region.country,
                      programme=region.programme, currency=region.currency)


def _describe_conversions(applied: list[tuple[str, str]]) -> list[str]:
    """One readable line per kind of conversion, naming the files it was applied to."""
    lines = []
    for kind in sorted({c for _, c in applied}):
        files = ", ".join(dict.fromkeys(Path(f).name for f, c in applied if c == kind))
        what, arg = kind.split(":", 1)
        if what == "scale":
            lines.append(f"money multiplied by {arg} in {files}")
        else:
            lines.append(f"{arg} converted to EUR at the config's yearly rates (units per EUR) in {files}")
    return lines


def _ingest_region(cfg: LabConfig, region: Region) -> tuple[RegionData | None, list[Problem]]:
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    sources: list[SourceFile] = []
    conversions_by_file: list[tuple[str, str]] = []
    for name, table in TABLES.items():
        spec = getattr(region.files, name)
        if spec is None:
            continue
        path = cfg.resolve(spec.path)
        label = spec.path.as_posix()
        try:
            raw = read_raw(path, spec, label)
        except ReadError as exc:
            problems.append(exc.problem)
            continue
        labels[name] = raw.label
        sources.append(SourceFile(region.key, name, label, sha256_file(path), len(raw.frame)))
        mapped = map_table(raw, spec, table, fx=region.fx, currency=region.currency)
        problems += mapped.problems
        conversions_by_file += [(label, c) for c in mapped.conversions]
        if mapped.frame.empty and mapped.problems:
            continue
        problems += check_table(mapped.frame, table, raw.label, spec.columns, cfg.lab.first_year, cfg.lab.last_year)
        tables[name] = mapped.frame
    if "firms" in tables and "membership" in tables and not any(p.severity == "error" for p in problems):
        src = {n: getattr(region.files, n).columns for n in tables}
        problems += check_links(tables, labels, src)
    if any(p.severity == "error" for p in problems):
        return None, problems
    clean = {n: t.drop(columns="_row").reset_index(drop=True) for n, t in tables.items()}
    conversions = _describe_conversions(conversions_by_file)
    warnings = tuple(p for p in problems if p.severity == "warning")
    return RegionData(region_info(region), clean, tuple(sources), tuple(conversions), warnings), problems


def check_inputs(cfg: LabConfig) -> tuple[LabData | None, list[Problem]]:
    """Read and validate every region; return the data (None if any error) and all problems."""
    regions: list[RegionData] = []
    problems: list[Problem] = []
    for region in cfg.regions:
        data, found = _ingest_region(cfg, region)
        problems += found
        if data is not None:
            regions.append(data)
    if any(p.severity == "error" for p in problems):
        return None, problems
    warnings = tuple(p for p in problems if p.severity == "warning")
    return LabData(tuple(regions), warnings), problems


def ingest(cfg: LabConfig) -> LabData:
    """Read, map and validate every region's files; raise InputDataError listing every error."""
    data, problems = check_inputs(cfg)
    if data is None:
        raise InputDataError([p for p in problems if p.severity == "error"])
    return data
