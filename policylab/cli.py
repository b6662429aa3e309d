"""The ``policylab`` command: a thin typer shell over the Python API.

stdout carries results only; logs and progress go to stderr (and only when it is a terminal).
Exit codes: 0 success, 1 a bug in policylab, 2 the user's input or config is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ._version import __version__
from .errors import UsageError, UserError, escape_controls, os_error
from .estimators import METHOD_NAMES
from .units import effect_text, interval_text, outcome_unit

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USER_ERROR = 2
EXIT_NUMBERS_CHANGED = 1  # `compare`: some number changed beyond the tolerance (CI review)

app = typer.Typer(
    name="policylab",
    help="Policy laboratory for SME internationalisation programmes: monitor, evaluate, compare regions.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

stderr = Console(stderr=True, highlight=False)


class EngineChoice(str, Enum):
    pandas = "pandas"
    duckdb = "duckdb"
    spark = "spark"


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"policylab {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Policy laboratory for SME internationalisation programmes."""


def _say(line: str, console: Console | None = None) -> None:
    """Print one line of ours that quotes the user's text: control characters escaped, no markup."""
    (console or stderr).print(escape_controls(line), markup=False, highlight=False, soft_wrap=True)


def _echo(line: str) -> None:
    """``typer.echo`` of a line that quotes the user's text, control characters escaped."""
    typer.echo(escape_controls(line))


def _num(value: float) -> str:
    """A model-scale number at four decimals, with thousands separators (no 1.8e+05)."""
    return f"{value:,.4f}" if value == value else "n/a"


def _cell(value: object):
    """A table cell shown as written: never rich markup, control characters escaped."""
    from rich.text import Text

    return Text(escape_controls(str(value)))


@contextmanager
def _user_errors(os_action: str = "operating-system error") -> Iterator[None]:
    """Turn a user error into one line per problem on stderr and exit code 2 (never a traceback).

    An operating-system error that reaches here (ingestion and config loading map their own)
    is the environment's, not a bug: it is named with its path and the OS's reason, e.g.
    ``out/index.html: cannot be written: No space left on device`` (``os_action``).
    """
    try:
        yield
    except UserError as exc:
        for line in exc.lines:
            _say(f"error: {line}")
        raise typer.Exit(EXIT_USER_ERROR) from None
    except OSError as exc:
        _say(f"error: {os_error(exc, action=os_action)}")
        raise typer.Exit(EXIT_USER_ERROR) from None
    except MemoryError:  # the environment's limit, not a bug: say what to change
        _say("error: out of memory: the firm tables do not fit the memory this process may use; "
             "give it more, or keep them on disk with --engine duckdb (lab.engine = 'duckdb', "
             "the 'scale' extra; see the README's Engines)")
        raise typer.Exit(EXIT_USER_ERROR) from None


@contextmanager
def _progress(quiet: bool) -> Iterator:
    """A progress callback: on a terminal, one live line on stderr naming the stage (and the
    region, outcome and estimator) with the time spent so far; on a pipe or with ``--quiet``,
    nothing."""
    if quiet or not stderr.is_terminal:
        yield lambda msg: None
        return
    from rich.markup import escape
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=stderr, transient=True) as bar:
        task = bar.add_task("Starting", total=None)

        def show(msg: str) -> None:  # (region names are the user's text: no markup, no controls)
            bar.update(task, description=escape(escape_controls(msg)))
            bar.refresh()  # every stage is drawn, however quickly it passes

        yield show


def _before_loading(engine: str) -> None:
    """On an SQL engine, the allocator settings that count only if made before pyarrow and
    DuckDB load (:func:`policylab.allocators.before_loading`): the command imports them after."""
    if engine != "pandas":
        from .allocators import before_loading

        before_loading()


@app.command()
def evaluate(
    config: Annotated[Path, typer.Argument(help="The lab config (TOML).")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder (overrides lab.output_dir).")] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="What to print on stdout: a summary or JSON results.")
    ] = OutputFormat.text,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    timestamp: Annotated[
        bool,
        typer.Option("--timestamp", help="Stamp the outputs with the time they were generated (once per "
                     "page, in its footer, and as 'generated_at' in results.json). Without it, the same "
                     "inputs give byte-identical outputs."),
    ] = False,
    engine: Annotated[Optional[EngineChoice], typer.Option(
        "--engine", help="pandas: every stage in memory; duckdb (out of core) or spark: the firm "
        "tables stay on disk and Callaway-Sant'Anna and the firm indicators run as SQL over the "
        "lab's Parquet store; overrides lab.engine.")] = None,
) -> None:
    """Ingest, compute indicators, estimate effects and write the comparative report."""
    from .config import load_config

    stamp = None
    with _user_errors("cannot be written"):
        cfg = load_config(config)
        _before_loading(engine.value if engine is not None else cfg.lab.engine)
        from .pipeline import evaluate as run_evaluate

        out_dir = out if out is not None else cfg.output_dir
        if problems := cfg.output_problems(out):
            raise UsageError(problems)
        if timestamp:
            from .report import now_timestamp

            stamp = now_timestamp()
        with _progress(quiet) as progress:
            result = run_evaluate(cfg, out_dir=out_dir, progress=progress, timestamp=stamp,
                                  engine=engine.value if engine is not None else None)
    if output_format is OutputFormat.json:
        from .report import results_json

        typer.echo(results_json(result, timestamp=stamp), nl=False)
        return
    if quiet:
        return
    _echo(f"Wrote {out_dir / 'index.html'}, {len(result.regions)} region page(s) in "
          f"{out_dir / 'regions'}, results.json, indicators.csv, indicators.xlsx")
    _print_answers(result)
    for note in result.warnings:
        _say(f"warning: {note}")


def _print_catalogue(explain: str | None) -> None:
    """The indicator registry: every indicator (``explain`` None) or one definition."""
    import pandas as pd
    from rich.table import Table

    from .did.core.checks import check_choice
    from .indicators import catalogue

    cat = catalogue()
    if explain is None:
        table = Table("id", "name", "unit", "levels", "status")
        for r in cat.itertuples(index=False):
            levels = ", ".join(r.levels) if isinstance(r.levels, list) else ""
            unit = r.unit if isinstance(r.unit, str) else ""
            table.add_row(*(_cell(c) for c in (r.id, r.name, unit, levels, r.status)))
        Console(highlight=False, width=160).print(table)
        return
    try:
        ind_id = check_choice(explain.upper(), "indicator", list(cat["id"]))
    except ValueError as exc:
        raise UsageError([str(exc)]) from None
    row = cat.loc[cat["id"] == ind_id].iloc[0]
    _echo(f"{row['id']} — {row['name']}")
    for key in ("unit", "levels", "numerator", "denominator", "needs", "eu_code", "cumulative",
                "partition", "notes", "status", "reason"):
        value = row.get(key)
        if isinstance(value, list):
            value = ", ".join(value)
        if value is None or value == "" or (not isinstance(value, str) and pd.isna(value)):
            continue
        _echo(f"  {key.replace('_', ' ')}: {value}")


def _print_answers(result) -> None:
    """The report's first screen as a table: each region's headline effect per outcome in its
    natural unit, with its 95% interval, verdict and marks; the lab-wide effect first."""
    from rich.table import Table

    from .report import headline_answers

    headline = result.settings.get("headline_estimator")
    answers = headline_answers(result, headline)
    if not answers:
        return
    table = Table("region", *(f"{a.title} ({a.unit})" for a in answers),
                  title=f"Effect of membership ({headline}; 95% interval)", title_justify="left")

    def cell(r):
        from rich.text import Text

        marks = "".join(f" [{m.text}]" for m in r.marks)
        first = f"{r.effect} [{r.interval}]" if r.interval else r.effect
        return Text("\n").join([_cell(first), _cell(r.verdict + marks)])

    if any(a.lab for a in answers):
        table.add_row("Across the lab", *(cell(a.lab) if a.lab else "not pooled" for a in answers))
    for i, r0 in enumerate(answers[0].rows):
        marks = "".join(f" [{m.text}]" for m in r0.region_marks)
        table.add_row(_cell(r0.region + marks), *(cell(a.rows[i]) for a in answers))
    Console(highlight=False, width=160).print(table)


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="The lab config (TOML).")],
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text table or JSON.")] = OutputFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
) -> None:
    """Check the config, every input file and the output folders; list all problems; exit 2 if any error."""
    from .config import load_config
    from .errors import Problem

    with _user_errors():
        cfg = load_config(config)
        _before_loading(cfg.lab.engine)
        from .ingest import check_inputs

        # a lab on an SQL engine may have firms files past memory: checked in chunks
        _, problems = check_inputs(cfg, stream=cfg.lab.engine != "pandas")
        problems = [*problems, *(Problem(str(config), line) for line in cfg.output_problems())]
    errors = [p for p in problems if p.severity == "error" or strict]
    n_err = len(errors)
    n_warn = len(problems) - n_err
    if output_format is OutputFormat.json:
        typer.echo(json.dumps({"schema_version": 1, "valid": not errors, "strict": strict,
                               "regions": len(cfg.regions), "errors": n_err, "warnings": n_warn,
                               "problems": [p.to_dict() for p in problems]}, indent=2, sort_keys=True))
    else:
        from rich.table import Table

        if problems:
            # _cell: cells such as "[b]" or "=cmd|..." are shown as written, never as markup, and
            # control characters (ESC, BEL, CR, bidi overrides) as escapes, never raw
            table = Table("severity", "file", "row", "column", "value", "problem", show_lines=False)
            for p in problems:
                cells = (p.severity, p.file, "" if p.row is None else str(p.row), p.column or "",
                         "" if p.value is None else p.value, p.message)
                table.add_row(*(_cell(c) for c in cells))
            Console(highlight=False, width=200).print(table)
        typer.echo(f"{len(cfg.regions)} region(s) checked: {n_err} error(s), {n_warn} warning(s)")
    if errors:
        raise typer.Exit(EXIT_USER_ERROR)


#: ``--method`` choices: the estimator registry's (:mod:`policylab.estimators`).
MethodChoice = Enum("MethodChoice", {name: name for name in METHOD_NAMES}, type=str)


class OutcomeChoice(str, Enum):
    exporter = "exporter"
    log_exports = "log_exports"
    exports_eur = "exports_eur"
    n_export_markets = "n_export_markets"


@app.command()
def estimate(
    config: Annotated[Path, typer.Argument(help="The lab config (TOML).")],
    method: Annotated[MethodChoice, typer.Option("--method", "-m", help="The estimator.")] = MethodChoice("callaway_santanna"),
    outcome: Annotated[OutcomeChoice, typer.Option("--outcome", "-o", help="The outcome.")] = OutcomeChoice.exporter,
    region: Annotated[Optional[list[str]], typer.Option("--region", "-r", help="Region key(s); all when omitted.")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="A table or JSON.")] = OutputFormat.text,
    engine: Annotated[Optional[EngineChoice], typer.Option(
        "--engine", help="Where Callaway-Sant'Anna runs: in memory (pandas), or as SQL over the "
        "lab's Parquet store (duckdb, out of core; spark); overrides lab.engine.")] = None,
) -> None:
    """Run one estimator for one outcome in every (or the chosen) region; print its estimates."""
    from .config import load_config

    with _user_errors():
        cfg = load_config(config)
        _before_loading(engine.value if engine is not None else cfg.lab.engine)
        from .pipeline import estimate as run_estimate

        effects = run_estimate(cfg, method=method.value, outcome=outcome.value, regions=region,
                               engine=engine.value if engine is not None else None)
    if output_format is OutputFormat.json:
        from .report import to_jsonable

        payload = to_jsonable({"schema_version": 1, "results": [e.to_dict() for e in effects]})
        typer.echo(json.dumps(payload, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False))
        return
    from rich.table import Table

    console = Console(highlight=False, width=160)
    for eff in effects:
        res = eff.result
        table = Table(title=_cell(f"{eff.region} · {eff.outcome} · {res.method}"), title_justify="left")
        ci = "95% CI" if abs(res.alpha - 0.05) < 1e-12 else "CI"
        unit = outcome_unit(eff.outcome).unit
        for col in ("term", "estimate", "std. error", ci, "p-value", f"effect, {unit}",
                    f"{ci}, {unit}"):
            table.add_column(col, justify="left" if col == "term" else "right")
        for e in (*res.estimates, res.headline):  # model scale, then the report's units
            table.add_row(e.term, _num(e.estimate), _num(e.std_error),
                          f"[{_num(e.conf_low)}, {_num(e.conf_high)}]", f"{e.p_value:.3f}",
                          effect_text(eff.outcome, e.estimate),
                          interval_text(eff.outcome, e.conf_low, e.conf_high))
        console.print(table)
        _say(f"firms {res.n_units}, treated {res.n_treated}, clusters {res.n_clusters}; {res.vcov_type}", console)
        methods = (eff.inference or {}).get("inference") or {}
        if (eff.inference or {}).get("used") and methods:
            _say("headline: " + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in methods.items()), console)
        for w in res.warnings:
            _say(f"note: {w}", console)


@app.command()
def example(
    directory: Annotated[Path, typer.Argument(help="Folder to write the synthetic example data and config into.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite the example's files if DIR already holds "
                                        "them (a config you edited, say).")] = False,
) -> None:
    """Write the synthetic example (six SIE regions) and a config to start from.

    Stops (exit 2) when DIR already holds a file of the example, unless --force.
    """
    from .config import output_folder_problem
    from .examples import write_example

    with _user_errors("cannot be written"):
        if problem := output_folder_problem(directory, "the example's folder"):
            raise UserError(problem)
        config_path = write_example(directory, force=force)
    _echo(f"Wrote the example data and {config_path}; run: policylab evaluate {config_path}")


class IndicatorFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def indicators(
    config: Annotated[Optional[Path], typer.Argument(help="The lab config (TOML).")] = None,
    output_format: Annotated[
        IndicatorFormat, typer.Option("--format", help="A table, indicators.csv's CSV, or JSON.")
    ] = IndicatorFormat.table,
    indicator: Annotated[
        Optional[list[str]], typer.Option("--indicator", "-i", help="Only this indicator id (repeatable).")
    ] = None,
    region: Annotated[
        Optional[list[str]],
        typer.Option("--region", "-r", help="Only this region key or name, or 'lab' (repeatable)."),
    ] = None,
    list_all: Annotated[
        bool, typer.Option("--list", help="List every indicator of the registry (no config needed).")
    ] = False,
    explain: Annotated[
        Optional[str], typer.Option("--explain", help="Print one indicator's definition, e.g. I07.")
    ] = None,
    engine: Annotated[Optional[EngineChoice], typer.Option(
        "--engine", help="pandas: in memory; duckdb (out of core) or spark: the firms files are "
        "streamed into the lab's Parquet store and the firm indicators computed as SQL over it; "
        "overrides lab.engine.")] = None,
) -> None:
    """Monitoring indicators of every region, after disclosure control (no estimation: I19 needs
    `policylab evaluate`); or the registry's definitions (--list, --explain ID)."""
    if list_all or explain:
        with _user_errors():
            _print_catalogue(explain)
        return
    if config is None:
        _say("error: give a config (or --list / --explain ID)")
        raise typer.Exit(2)

    from .config import load_config

    with _user_errors():
        cfg = load_config(config)
        _before_loading(engine.value if engine is not None else cfg.lab.engine)
        from .pipeline import monitoring

        result = monitoring(cfg, indicators=indicator, regions=region,
                            engine=engine.value if engine is not None else None)
    from .report import indicators_csv, to_jsonable

    if output_format is IndicatorFormat.csv:
        typer.echo(indicators_csv(result), nl=False)
        return
    if output_format is IndicatorFormat.json:
        typer.echo(json.dumps(to_jsonable(result.to_dict()), indent=2, sort_keys=True,
                              ensure_ascii=False, allow_nan=False))
        return
    import pandas as pd
    from rich.table import Table

    rows = result.indicators

    out = Table("region", "indicator", "level", "cluster", "group", "period", "value", "unit", "n_firms",
                "flag / note")
    for r in rows.itertuples(index=False):
        value = "" if pd.isna(r.value) else f"{r.value:,.6g}"
        n = "" if pd.isna(r.n_firms) else str(int(r.n_firms))
        out.add_row(*(_cell(c) for c in (
            r.region, r.indicator_id, r.level, r.cluster_id, r.group, r.period, value, r.unit, n,
            r.note if r.flag == "not_available" else (r.flag or r.note))))
    Console(highlight=False, width=200).print(out)
    n_supp = int((rows["flag"] == "suppressed").sum())
    typer.echo(f"{len(rows)} cell(s), {n_supp} suppressed (min_cell_firms = {cfg.lab.min_cell_firms}, "
               f"dominance_share = {cfg.lab.dominance_share})")


@app.command()
def compare(
    old: Annotated[Path, typer.Argument(help="The earlier run: its results.json or its output folder.")],
    new: Annotated[Path, typer.Argument(help="The later run: its results.json or its output folder.")],
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=0.0, help="A number changed when |old - new| > tolerance * "
                     "max(1, |old|, |new|): absolute below 1, relative above."),
    ] = 1e-9,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="A text listing or JSON.")] = OutputFormat.text,
) -> None:
    """List the numbers that changed between two runs' results (exit 1 if any did, for CI review).

    Records are matched by what identifies them (region, outcome, method, indicator cell ...),
    not by position. Differing text is listed but does not count; 'generated_at' is ignored.
    Exit codes: 0 no number changed, 1 some did, 2 an input cannot be read.
    """
    from .report.compare import CompareError, compare_results, load_results

    try:
        comparison = compare_results(load_results(old), load_results(new), tolerance=tolerance)
    except (CompareError, ValueError) as exc:
        _say(f"error: {exc}")
        raise typer.Exit(EXIT_USER_ERROR) from None
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(comparison.to_dict(), indent=2, sort_keys=True, ensure_ascii=False,
                              allow_nan=False))
    else:
        typer.echo(comparison.to_text(), nl=False)
    if comparison.numbers_changed:
        raise typer.Exit(EXIT_NUMBERS_CHANGED)


def main() -> None:  # console-script entry point
    app()
