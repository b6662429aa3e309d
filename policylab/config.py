"""The lab config: a TOML file read with ``tomllib`` and validated by pydantic models.

Paths inside the config are relative to the config file. Every model forbids unknown keys,
so a typo is reported with its dotted location (``regions.2.files.firms.colums``) instead of
being silently ignored.
"""

from __future__ import annotations

import codecs
import hashlib
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .schema import TABLES

Outcome = Literal["exporter", "log_exports", "exports_eur", "n_export_markets"]
OUTCOME_LABELS: dict[str, str] = {
    "exporter": "Export propensity (share of firms exporting, 0/1)",
    "log_exports": "log(1 + exports in EUR)",
    "exports_eur": "Exports, EUR",
    "n_export_markets": "Number of export markets",
}


Method = Literal["callaway_santanna", "event_study", "sun_abraham", "etwfe", "etwfe_poisson", "twfe"]
METHOD_LABELS: dict[str, str] = {
    "callaway_santanna": "Callaway-Sant'Anna (doubly robust; simple aggregation)",
    "event_study": "Event study (TWFE with never-member controls)",
    "sun_abraham": "Sun-Abraham interaction-weighted event study",
    "etwfe": "Extended TWFE (Wooldridge, linear)",
    "etwfe_poisson": "Extended TWFE (Wooldridge, Poisson; effect in levels)",
    "twfe": "Static two-way fixed effects (biased under staggered, dynamic effects)",
}


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
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown encoding {v!r}; use e.g. 'utf-8', 'latin-1', 'cp1250' or 'auto'") from None
        return v

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, v: str) -> str:
        if "%" not in v:
            raise ValueError(f"date_format {v!r} has no strftime field such as %Y, %m, %d")
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
        30, description="below this many consortia holding members, a headline's interval and "
        "p-value come from the few-cluster method (wild cluster restricted bootstrap); 0 never")
    bootstrap_draws: Annotated[int, Field(ge=99, le=99_999)] = Field(
        999, description="draws of the few-cluster bootstrap")
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
    pseudonymise_key_env: Annotated[str, Field(pattern=ENV_NAME)] | None = Field(
        None, description="environment variable with the key that pseudonymises firm IDs in every region"
    )

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


def _format_location(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_config(text: str, *, source: str = "<config>", base_dir: Path = Path(".")) -> LabConfig:
    """Validate config text; raise :class:`ConfigError` naming every bad key by dotted location."""
    try:
        raw = tomllib.loads(text)
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
        raise ConfigError("; ".join(lines)) from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return cfg.model_copy(update={"base_dir": base_dir, "sha256": digest})


def load_config(path: str | Path) -> LabConfig:
    """Read and validate a lab config file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a .toml config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; a config must be a UTF-8 TOML file") from None
    return parse_config(text, source=str(path), base_dir=path.parent)
