"""The report's pages: where each is written and how they link to each other.

The overview is ``index.html``; each region has a page ``regions/<nuts2>.html`` with a file
name that is safe on every file system (:func:`region_paths`). Every page carries the same
navigation bar (the overview, then the regions in the lab's order, the current page marked)
and a header that names the lab or the region.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..evaluation import EvaluationResult, RegionInfo
from ._labels import _slug

__all__ = ["INDEX_PATH", "REGIONS_DIR", "SiteLink", "page_header", "region_paths", "site_nav"]

#: The overview page, and the folder of the region pages (relative to the output folder).
INDEX_PATH = "index.html"
REGIONS_DIR = "regions"


@dataclass(frozen=True)
class SiteLink:
    """One link of the navigation bar: to the overview or a region page (relative href)."""

    title: str
    href: str
    current: bool


_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
# Windows reserves these device names whatever the extension; NUTS-like codes can spell them.
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                     *(f"LPT{i}" for i in range(10))}


def region_paths(regions: Sequence[RegionInfo]) -> dict[str, str]:
    """``regions/<nuts2>.html`` for each region key: safe, unique and stable file names.

    The NUTS-2 code is used as it is when it is a plain code (letters, digits, ``-``/``_``);
    anything else (or a device name Windows reserves, such as ``CON``) is replaced by a name
    made from the region key and a hash. Names are unique even on case-insensitive file
    systems: a second region with the same code gets its key appended.
    """
    used: set[str] = set()
    out: dict[str, str] = {}
    for info in regions:
        code = str(info.nuts2)
        if _SAFE_STEM.fullmatch(code) and code.upper() not in _WINDOWS_RESERVED:
            stem = code
        else:
            digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:8]
            stem = f"region-{_slug(info.key)[:20] or 'x'}-{digest}"
        candidate, n = stem, 2
        if candidate.lower() in used:
            candidate = f"{stem}-{_slug(info.key)[:20] or 'x'}"
        while candidate.lower() in used:
            candidate, n = f"{stem}-{n}", n + 1
        used.add(candidate.lower())
        out[info.key] = f"{REGIONS_DIR}/{candidate}.html"
    return out


def page_header(result: EvaluationResult, only: RegionInfo | None) -> tuple[str, str, str, str]:
    """The title, heading, kicker and meta line of the overview (``only`` None) or a region."""
    if only is None:
        title = f"{result.lab_name} · policylab report"
        heading, kicker = result.lab_name, "policylab · comparative report across regions"
        meta = result.lab_description
    else:
        title = f"{only.name} · {result.lab_name} · policylab report"
        heading, kicker = only.name, f"policylab · region report · {result.lab_name}"
        meta = " · ".join(p for p in (f"NUTS-2 {only.nuts2}", only.country, only.programme,
                                      f"local currency {only.currency}") if p)
    return title, heading, kicker, meta


def site_nav(result: EvaluationResult, paths: dict[str, str], root: str,
             only: RegionInfo | None) -> tuple[SiteLink, ...]:
    """The navigation bar of a page: the overview, then every region page."""
    return (SiteLink("Lab overview", root + INDEX_PATH, only is None),) + tuple(
        SiteLink(i.name, root + paths[i.key], only is not None and i.key == only.key)
        for i in result.regions)
