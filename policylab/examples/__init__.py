"""The seeded synthetic example: six SIE partner regions, fictional firms, planted effects.

The example is what ``policylab example DIR`` writes and what ``data/example/`` holds. It is a
*synthetic* world built to exercise every stage of the tool: each region's files come in that
region's own layout (language of the column names, CSV delimiter, decimal comma, encoding,
Excel title lines, Parquet, money in thousands, local currency), so ingestion and the config's
column maps are exercised for real. Regenerate the committed copy with
``python -m policylab.examples``.

Where each concern lives:

- :mod:`.spec`: years, canonical tables, money conventions, FX rates; the spec types
  :class:`Effects`, :class:`FileLayout`, :class:`RegionSpec`;
- :mod:`.regions`: the six regions (:data:`REGIONS`): size, planted effects, file layouts;
- :mod:`.generate`: :func:`generate`, one region at a time from seeded random streams, built
  from :mod:`.firms` (firm panel, potential outcomes, truth), :mod:`.clusters` (clusters,
  membership, accounts), :mod:`.orders` (export orders) and :mod:`.names` (fictional names);
- the laboratory's other half, drawn afterwards from streams of its own and read from the
  tables above (which it leaves unchanged): :mod:`.panel` (the SME panel, ``survey``),
  :mod:`.links` (the region x region pattern, ``partnerships`` and ``orders.partner_region``)
  and :mod:`.practices` (the practice-transfer log);
- :mod:`.lab`: the results, :class:`ExampleLab` and :class:`RegionExample`;
- :mod:`.summaries`: checks of the tables used by the texts and the tests
  (:func:`baseline_exporter_share`, :func:`cluster_survival`, ...);
- :mod:`.writers`: each region's files in its local format, :func:`write_example_data`,
  :func:`write_example`, :func:`example_files` and :func:`main` (``python -m``);
- :mod:`.texts`: the ``TRUTH.md`` and ``README.md`` written next to the data;
- :mod:`.config_text`: the example's lab config, :func:`example_config_text`.
"""

from __future__ import annotations

from ..workbook import XLSX_TIMESTAMP
from .config_text import example_config_text
from .generate import generate
from .lab import ExampleLab, RegionExample
from .regions import REGIONS
from .spec import (
    CANONICAL,
    DEFAULT_SEED,
    EU,
    FIRST_YEAR,
    FX,
    INTEGERS,
    LAST_YEAR,
    MONEY,
    NON_EU,
    SEED_YEARS,
    SURVIVAL_HORIZON,
    TABLE_ORDER,
    TRUTH_COLUMNS,
    TRUTH_OUTCOMES,
    YEARS,
    Effects,
    FileLayout,
    OtherHalf,
    RegionSpec,
)
from .summaries import (
    barrier_means,
    baseline_exporter_share,
    cluster_survival,
    cross_regional_orders,
    effect_by_event_time,
    pre_join_growth_gap,
    private_texts,
    response_rate,
    retention_split,
    stay_by_satisfaction,
    top_barrier,
)
from .writers import example_files, main, write_example, write_example_data

__all__ = [
    # the example's specification
    "CANONICAL",
    "DEFAULT_SEED",
    "EU",
    "FIRST_YEAR",
    "FX",
    "INTEGERS",
    "LAST_YEAR",
    "MONEY",
    "NON_EU",
    "REGIONS",
    "SEED_YEARS",
    "SURVIVAL_HORIZON",
    "TABLE_ORDER",
    "TRUTH_COLUMNS",
    "TRUTH_OUTCOMES",
    "XLSX_TIMESTAMP",
    "YEARS",
    "Effects",
    "FileLayout",
    "OtherHalf",
    "RegionSpec",
    # the generator and its results
    "ExampleLab",
    "RegionExample",
    "generate",
    # summaries of the generated tables
    "baseline_exporter_share",
    "cluster_survival",
    "effect_by_event_time",
    "pre_join_growth_gap",
    "barrier_means",
    "cross_regional_orders",
    "private_texts",
    "response_rate",
    "retention_split",
    "stay_by_satisfaction",
    "top_barrier",
    # writing the example
    "example_config_text",
    "example_files",
    "main",
    "write_example",
    "write_example_data",
]
