"""The lab config: a TOML file read with ``tomllib`` and validated by pydantic models.

Paths inside the config are relative to the config file. Every model forbids unknown keys,
so a typo is reported with its dotted location (``regions.2.files.firms.colums``) instead of
being silently ignored.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import hashlib
import os
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .constants import COMMON_CODES, FEW_CLUSTERS
from .errors import ConfigError, os_error, os_reason
from .estimators import ESTIMATORS, METHOD_NAMES
from .schema import TABLES

Outcome = Literal["exporter", "log_exports", "exports_eur", "n_export_markets"]
OUTCOME_LABELS: dict[str, str] = {
    "exporter": "Export propensity (share of firms exporting, 0/1)",
    "log_exports": "log(1 + exports in EUR)",
    "exports_eur": "Exports, EUR",
    "n_export_markets": "Number of export markets",
}


#: The estimators a config may list: the registry's (:mod:`policylab.estimators`).
Method = Literal[METHOD_NAMES]  # type: ignore[valid-type]
#: One-line description of each estimator (the Methods, ``settings.method_labels``).
METHOD_LABELS: dict[str, str] = {name: ESTIMATORS[name].description for name in METHOD_NAMES}


#: What each outcome is computed from: a canonical column of the ``firms`` table.
OUTCOME_COLUMNS: dict[str, str] = {
    "exporter": "exports_eur",
    "log_exports": "exports_eur",
    "exports_eur": "exports_eur",
    "n_export_markets": "n_export_markets",
}

#: A config is a small text file; anything larger is not one.
MAX_CONFIG_BYTES = 10 * 1024 * 1024

_SAMPLE_DATE = _dt.datetime(2019, 5, 2, 13, 45, 30, tzinfo=_dt.timezone.utc)


def check_date_format(fmt: str) -> None:
    """Raise ValueError unless ``fmt`` is a strptime format that reads back a date with its year.

    A date is written with ``fmt`` and read back: an unknown directive (``%Q``), a stray
    ``%``, an ISO year without its week, or a format without the year fails.
    """
    try:
        back = _dt.datetime.strptime(_SAMPLE_DATE.strftime(fmt), fmt)
    except ValueError as exc:
        raise ValueError(f"date_format {fmt!r} is not a usable date format: {exc}; use strftime "
                         "directives such as %Y, %m, %d (e.g. '%d/%m/%Y')") from None
    if back.year != _SAMPLE_DATE.year:
        raise ValueError(f"date_format {fmt!r} does not hold the year; add %Y (or %y)")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class FileSpec(_Model):
    """How one input file is read and mapped into a canonical table.

    Reading settings left at ``"auto"`` are detected from the file and the detected value is
    recorded in the run's provenance: the CSV delimiter (sniffed), the encoding (a byte-order
    mark, else UTF-8, else the region's legacy code page: cp1250 in central Europe, cp1252
    elsewhere), and the decimal and thousands separators of money and count columns. A decimal
    separator is only detected when the numbers leave no doubt (``1234,5`` or ``1.234,56``);
    values such as ``1,234`` stop the run with a request to declare ``decimal``.
    """

    path: Path
    columns: dict[str, str] = Field(description="canonical column -> column name in the file")
    delimiter: str | None = Field(None, description="CSV delimiter; detected when omitted or 'auto'")
    decimal: Literal[".", ",", "auto"] = "auto"
    thousands: Literal["", ".", ",", " ", "'", "auto"] = Field(
        "auto", description="thousands separator of numbers; '' = none"
    )
    encoding: str = Field("auto", description="text encoding of a CSV file, e.g. 'utf-8', 'cp1250'")
    sheet: str | None = Field(None, description="Excel sheet name; the first sheet when omitted")
    header_row: Annotated[int, Field(ge=1)] = Field(1, description="1-based line of the header")
    scale: Annotated[float, Field(gt=0)] = Field(1.0, description="multiply money columns (1000 = file in thousands)")
    missing_values: list[str] = Field(
        default_factory=list, description="cell texts that mean 'unknown' (like a blank), e.g. ['n/a', '-']"
    )
    date_format: str = Field("%Y-%m-%d", description="strftime format of date columns")
    fiscal_year_start: Annotated[int, Field(ge=1, le=12)] | None = Field(
        None, description="first month of the file's fiscal year; the region's when omitted"
    )
    fiscal_year_label: Literal["start", "end"] | None = Field(
        None, description="whether a fiscal-year label names the year the fiscal year starts or ends in"
    )
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="category column -> {the file's label: canonical value}, e.g. "
                    "{responded = {tak = 'yes', nie = 'no'}}; labels match ignoring case and spaces",
    )

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str | None) -> str | None:
        if v == "auto":
            return None
        if v is not None and len(v) != 1:
            raise ValueError("delimiter must be a single character (or 'auto')")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        if v == "auto":
            return v
        try:
            info = codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown encoding {v!r}; use e.g. 'utf-8', 'latin-1', 'cp1250' or 'auto'") from None
        if not getattr(info, "_is_text_encoding", True):  # base64, zlib_codec, hex, rot13 ...
            raise ValueError(f"encoding {v!r} is not a text encoding (it transforms bytes or text, it does "
                             "not decode text); use e.g. 'utf-8', 'latin-1', 'cp1250' or 'auto'")
        return v

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, v: str) -> str:
        if "%" not in v:
            raise ValueError(f"date_format {v!r} has no strftime field such as %Y, %m, %d")
        check_date_format(v)
        return v

    @model_validator(mode="after")
    def _separators_differ(self) -> "FileSpec":
        if self.decimal not in ("auto",) and self.thousands not in ("auto", "") and self.decimal == self.thousands:
            raise ValueError(f"decimal and thousands separators are both {self.decimal!r}")
        return self


class RegionFiles(_Model):
    firms: FileSpec
    membership: FileSpec
    clusters: FileSpec | None = None
    cluster_finance: FileSpec | None = None
    orders: FileSpec | None = None
    survey: FileSpec | None = None
    partnerships: FileSpec | None = None
    practices: FileSpec | None = None

    @model_validator(mode="after")
    def _columns_known(self) -> "RegionFiles":
        for table_name in TABLES:
            spec = getattr(self, table_name)
            if spec is None:
                continue
            table = TABLES[table_name]
            unknown = sorted(set(spec.columns) - set(table.column_names))
            if unknown:
                raise ValueError(
                    f"{table_name}.columns: unknown canonical column(s) {unknown}; "
                    f"expected some of {list(table.column_names)}"
                )
            missing = [c for c in table.required_columns if c not in spec.columns]
            if missing:
                raise ValueError(f"{table_name}.columns: required canonical column(s) {missing} not mapped")
            for column, recode in spec.values.items():
                if column not in spec.columns or table.column(column).kind != "category":
                    cats = [c.name for c in table.columns if c.kind == "category" and c.name in spec.columns]
                    raise ValueError(f"{table_name}.values: {column!r} is not a mapped category column; "
                                     f"expected some of {cats}")
                choices = table.column(column).choices
                bad = sorted({v for v in recode.values() if v not in choices})
                if bad:
                    raise ValueError(f"{table_name}.values.{column}: {bad} not among {list(choices)}")
        return self


class Target(_Model):
    """A programme's milestone and target for one EU common indicator of a region (the
    values in its monitoring system: cumulative achievement by the end of the year)."""

    breakdown: str = "total"
    milestone: Annotated[float, Field(ge=0)] | None = None
    milestone_year: Annotated[int, Field(ge=1990, le=2100)] | None = None
    target: Annotated[float, Field(ge=0)] | None = None
    target_year: Annotated[int, Field(ge=1990, le=2100)] | None = None

    @model_validator(mode="after")
    def _years_given(self) -> "Target":
        if self.milestone is None and self.target is None:
            raise ValueError("give a milestone or a target (or both)")
        for what in ("milestone", "target"):
            if (getattr(self, what) is None) != (getattr(self, f"{what}_year") is None):
                raise ValueError(f"{what} and {what}_year go together")
        if self.milestone_year and self.target_year and self.milestone_year > self.target_year:
            raise ValueError("milestone_year is after target_year")
        return self


class Region(_Model):
    """One region of the lab: its identity, programme, currency and files.

    ``fiscal_year_start`` (1 = January) normalises the yearly rows of files whose year is a
    fiscal year: it is mapped to the calendar year holding most of its months (a fiscal year
    starting in July, six months each side, goes to the year it ends in). Unless it starts in
    January, ``fiscal_year_label`` must say whether a file's label 2019 names the fiscal year
    that starts or that ends in 2019. ``pseudonymise_key_env`` names an environment variable
    holding a secret key: firm IDs are then replaced by a keyed hash (HMAC-SHA256) of the ID.
    """

    key: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    name: str
    nuts2: Annotated[str, Field(pattern=r"^[A-Z]{2}[A-Z0-9]{1,3}$")]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    programme: str = ""
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    fx: dict[int, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="local currency units per EUR, by calendar year"
    )
    fiscal_year_start: Annotated[int, Field(ge=1, le=12)] = 1
    fiscal_year_label: Literal["start", "end"] | None = None
    pseudonymise_key_env: Annotated[str, Field(pattern=ENV_NAME)] | None = Field(
        None, description="environment variable with the key that pseudonymises firm IDs (the lab's when omitted)"
    )
    files: RegionFiles
    targets: dict[str, Target] = Field(
        default_factory=dict, description="EU common indicator code (RCO01, RCR02, ...) -> "
        "the programme's milestone and target for this region")

    @model_validator(mode="after")
    def _known_codes(self) -> "Region":
        unknown = sorted(set(self.targets) - set(COMMON_CODES))
        if unknown:
            raise ValueError(f"targets: unknown common indicator code(s) {', '.join(unknown)}; "
                             f"policylab computes {', '.join(COMMON_CODES)}")
        return self

    @model_validator(mode="after")
    def _fx_given(self) -> "Region":
        if self.currency != "EUR" and not self.fx:
            raise ValueError(f"currency {self.currency} needs yearly rates in 'fx' (units per EUR)")
        for name in TABLES:
            spec = getattr(self.files, name)
            if spec is None:
                continue
            start = spec.fiscal_year_start or self.fiscal_year_start
            label = spec.fiscal_year_label or self.fiscal_year_label
            if start != 1 and label is None:
                raise ValueError(
                    f"files.{name}: fiscal_year_start = {start} needs fiscal_year_label = 'start' or 'end' "
                    "(does a year label 2019 name the fiscal year starting or ending in 2019?)"
                )
        return self


class Estimation(_Model):
    """What is estimated for every region."""

    outcomes: list[Outcome] = Field(default_factory=lambda: ["exporter", "log_exports"], min_length=1)
    methods: list[Method] = Field(
        default_factory=lambda: ["callaway_santanna", "event_study"], min_length=1,
        description="estimators run for every region and outcome; the first gives the headline",
    )
    control_group: Literal["never_treated", "not_yet_treated"] = Field(
        "never_treated", description="comparison firms of the Callaway-Sant'Anna estimator"
    )
    leads: Annotated[int, Field(ge=1, le=10)] = 4
    lags: Annotated[int, Field(ge=0, le=15)] = 5
    cluster: Literal["consortium", "firm"] = "consortium"
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    few_cluster_threshold: Annotated[int, Field(ge=0)] = Field(
        FEW_CLUSTERS, description="below this many consortia holding members, a headline's interval and "
        "p-value come from the few-cluster method (wild cluster restricted bootstrap); 0 never")
    synthetic_did_below: Annotated[int, Field(ge=0)] = Field(
        0, description="a region with fewer member firms than this also gets synthetic DiD "
        "(which suits very few treated units) beside the configured methods; 0 never")
    margins: bool = Field(
        True, description="estimate the export margins (propensity, prior exporters' exports, "
        "destination countries, export value and its split between new and prior exporters; "
        "about 1.5 s for the example's six regions)")
    bootstrap_draws: Annotated[int, Field(ge=99, le=99_999)] = Field(
        999, description="draws of the few-cluster bootstrap to start from (more are added "
        "until bootstrap_mc_target is met)")
    bootstrap_mc_target: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.003, description="draws are added (same seed) until each interval bound's Monte Carlo "
        "standard error is at most this share of the interval's width, so that changing only "
        "the seed barely moves the bounds (benchmarks/SEED_STABILITY.md); 0: exactly "
        "bootstrap_draws")
    seed: Annotated[int, Field(ge=0)] = Field(0, description="seed of every bootstrap draw")

    @field_validator("methods")
    @classmethod
    def _distinct_methods(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each method may be listed once")
        return v


class Lab(_Model):
    name: str
    description: str = ""
    output_dir: Path = Path("reports")
    min_cell_firms: Annotated[int, Field(ge=1)] = 5
    dominance_share: Annotated[float, Field(gt=0, le=1)] = Field(0.85, description="suppress a sum one firm holds more than this share of")
    first_year: int | None = None
    last_year: int | None = None
    store_dir: Path | None = Field(
        None, description="folder of the canonical Parquet store; '<output folder>/store' when omitted"
    )
    data_root: Path = Field(
        Path("."), description="folder (relative to the config) that every input file must be under; "
        "the config's own folder when omitted"
    )
    pseudonymise_key_env: Annotated[str, Field(pattern=ENV_NAME)] | None = Field(
        None, description="environment variable with the key that pseudonymises firm IDs in every region"
    )
    engine: Literal["pandas", "duckdb", "spark"] = Field(
        "pandas", description="where Callaway-Sant'Anna's cells, clustered analytic standard "
        "errors and aggregations are computed: in memory (pandas), as SQL over the Parquet "
        "store out of core (duckdb, the 'scale' extra), or on Spark (the 'spark' extra; the "
        "last digits of its sums may vary between runs); the CLI's --engine overrides it")
    spark_master: str = Field("local[*]", description="the Spark master URL for engine = 'spark'")
    engine_memory_limit: Annotated[str, Field(pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$")] | None = Field(
        None, description="DuckDB's memory_limit for engine = 'duckdb' (e.g. '4GB'; it spills "
        "to disk beyond it); DuckDB's default (80% of RAM) when omitted")
    engine_threads: Annotated[int, Field(ge=0)] = Field(
        1, description="DuckDB's threads for engine = 'duckdb'. 1 (the default) keeps the outputs "
        "byte-identical from run to run; with more (0: all cores) DuckDB adds floating-point "
        "numbers in an order that varies between runs, so the last digits of results.json and "
        "the CSVs may differ (the report's rounded numbers do not)")

    @model_validator(mode="after")
    def _window(self) -> "Lab":
        if self.first_year is not None and self.last_year is not None and self.first_year > self.last_year:
            raise ValueError(f"first_year {self.first_year} is after last_year {self.last_year}")
        return self


class LabConfig(_Model):
    """A whole lab config. ``base_dir`` is the folder paths are resolved against."""

    lab: Lab
    estimation: Estimation = Estimation()
    regions: list[Region] = Field(min_length=1)
    base_dir: Path = Field(Path("."), exclude=True)
    sha256: str = Field("", exclude=True, description="hash of the config file's bytes")
    source: str = Field("<config>", exclude=True, description="where the config was read from")

    @model_validator(mode="after")
    def _unique_regions(self) -> "LabConfig":
        keys = [r.key for r in self.regions]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"region keys must be unique; repeated: {dupes}")
        return self

    def resolve(self, path: Path) -> Path:
        """An input or output path as given in the config, resolved against the config's folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.lab.output_dir)

    @property
    def data_root(self) -> Path:
        """The folder every input file must be under (``lab.data_root``, resolved)."""
        return self.resolve(self.lab.data_root)

    def regions_lacking(self, outcome: str, keys: list[str] | None = None) -> list[str]:
        """Keys of the regions (of ``keys``, or all) whose firms file does not map what ``outcome``
        is computed from (``n_export_markets`` needs ``firms.columns.n_export_markets``)."""
        column = OUTCOME_COLUMNS[outcome]
        return [r.key for r in self.regions
                if (keys is None or r.key in keys) and column not in r.files.firms.columns]

    def input_files(self) -> list[tuple[str, Path]]:
        """``(dotted location, path as written)`` of every input file of the config."""
        return [(f"regions.{i}.files.{name}.path", spec.path)
                for i, region in enumerate(self.regions) for name in TABLES
                if (spec := getattr(region.files, name)) is not None]

    def output_problems(self, out_dir: Path | None = None) -> list[str]:
        """Why the output folder (``out_dir``, else ``lab.output_dir``) or the store folder
        cannot be created or written, one line each; empty when both can."""
        what = "--out" if out_dir is not None else "lab.output_dir"
        out = Path(out_dir) if out_dir is not None else self.output_dir
        problems = [p for p in [output_folder_problem(out, what)] if p]
        if self.lab.store_dir is not None:
            problems += [p for p in [output_folder_problem(self.resolve(self.lab.store_dir), "lab.store_dir")] if p]
        elif not problems:
            problems += [p for p in [output_folder_problem(out / "store", "the store folder")] if p]
        return problems


def _lexical_absolute(path: Path) -> str:
    return os.path.normpath(os.path.abspath(path))


def path_problems(cfg: LabConfig) -> list[tuple[str, str]]:
    """Input paths outside the data root: ``(dotted location, message)`` each.

    The check is on the path as written (``..`` folded, symbolic links not followed): a
    config may read only files under its own folder, or under ``lab.data_root`` when set.
    """
    root = _lexical_absolute(cfg.data_root)
    default = cfg.lab.data_root == Path(".")
    out = []
    for loc, path in cfg.input_files():
        full = _lexical_absolute(cfg.resolve(path))
        if os.path.commonpath([root, full]) == root:
            continue
        if default:
            msg = (f"'{path.as_posix()}' is outside the config's folder; input files must be under it "
                   "unless lab.data_root names a folder (relative to the config) that holds them, "
                   "e.g. data_root = \"..\"")
        else:
            msg = (f"'{path.as_posix()}' is outside lab.data_root ('{cfg.lab.data_root.as_posix()}'); "
                   "move the file under it or widen data_root")
        out.append((loc, msg))
    return out


def outcome_problems(cfg: LabConfig) -> list[tuple[str, str]]:
    """Outcomes some region cannot provide (their firms column is not mapped there)."""
    out = []
    for outcome in cfg.estimation.outcomes:
        lacking = cfg.regions_lacking(outcome)
        if lacking:
            column = OUTCOME_COLUMNS[outcome]
            out.append(("estimation.outcomes", (
                f"'{outcome}' needs firms column '{column}', which region(s) "
                f"{', '.join(repr(k) for k in lacking)} do not map; map it in their "
                f"[regions.files.firms.columns] or remove the outcome")))
    return out


def output_folder_problem(path: Path, what: str) -> str | None:
    """Why ``path`` cannot be used as an output folder (created when missing, then written),
    or None. Nothing is created: the folder, or its nearest existing parent, is looked at."""
    path = Path(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        return f"{path}: {what} cannot be used: {os_reason(exc)}"
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            return f"{path}: {what} names an existing file; expected a folder (it is created when missing)"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{path}: {what} cannot be written: permission denied"
        return None
    for parent in path.parents:
        try:
            st = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            return f"{path}: {what} cannot be created: {parent}: {os_reason(exc)}"
        if not stat.S_ISDIR(st.st_mode):
            return f"{path}: {what} cannot be created: {parent} is a file, not a folder"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"{path}: {what} cannot be created in {parent}: permission denied"
        return None
    return None


def _format_location(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_config(text: str, *, source: str = "<config>", base_dir: Path = Path("."),
                 sha256: str | None = None) -> LabConfig:
    """Validate config text; raise :class:`ConfigError` naming every problem by dotted location.

    Beyond each value's own rules, the config as a whole is checked: every outcome can be
    computed in every region, and every input path stays under ``lab.data_root`` (the
    config's folder by default). ``sha256`` is the hash of the file's bytes (of ``text``
    when omitted).
    """
    digest = sha256 if sha256 is not None else hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        cfg = LabConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling)"
            lines.append(f"{source}: {_format_location(err['loc'])}: {msg}")
        raise ConfigError(lines) from None
    cfg = cfg.model_copy(update={"base_dir": base_dir, "sha256": digest, "source": source})
    found = outcome_problems(cfg) + path_problems(cfg)
    if found:
        raise ConfigError([f"{source}: {loc}: {msg}" for loc, msg in found])
    return cfg


def load_config(path: str | Path) -> LabConfig:
    """Read and validate a lab config file (UTF-8; a byte-order mark is allowed and ignored)."""
    path = Path(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"{path}: is a folder, expected a .toml config file")
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path}: is not a regular file (a named pipe, device or socket); "
                              "expected a .toml config file")
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: is {st.st_size / 1024**2:.0f} MB; a config is a small TOML text file "
                              f"(at most {MAX_CONFIG_BYTES // 1024**2} MB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise os_error(exc, path, "config file cannot be read", ConfigError) from None
    try:
        text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; a config must be a UTF-8 TOML file") from None
    return parse_config(text, source=str(path), base_dir=path.parent, sha256=hashlib.sha256(data).hexdigest())
