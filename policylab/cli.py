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
from .errors import InputDataError, UserError

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USER_ERROR = 2

app = typer.Typer(
    name="policylab",
    help="Policy laboratory for SME internationalisation programmes: monitor, evaluate, compare regions.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

stderr = Console(stderr=True, highlight=False)


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


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a user error into one line on stderr and exit code 2 (never a traceback)."""
    try:
        yield
    except InputDataError as exc:
        for problem in exc.problems:
            stderr.print(f"error: {problem}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except UserError as exc:
        stderr.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None


def _progress(quiet: bool):
    if quiet or not stderr.is_terminal:
        return lambda msg: None
    return lambda msg: stderr.print(f"[dim]…[/dim] {msg}")


@app.command()
def evaluate(
    config: Annotated[Path, typer.Argument(help="The lab config (TOML).")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder (overrides lab.output_dir).")] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="What to print on stdout: a summary or JSON results.")
    ] = OutputFormat.text,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Ingest, compute indicators, estimate effects and write the comparative report."""
    from .config import load_config
    from .pipeline import evaluate as run_evaluate

    with _user_errors():
        cfg = load_config(config)
        out_dir = out if out is not None else cfg.output_dir
        result = run_evaluate(cfg, out_dir=out_dir, progress=_progress(quiet))
    if output_format is OutputFormat.json:
        from .report import results_json

        typer.echo(results_json(result), nl=False)
        return
    if quiet:
        return
    typer.echo(f"Wrote {out_dir / 'index.html'}, results.json, indicators.csv")
    eff = result.effects_tidy()
    for row in eff.itertuples():
        typer.echo(
            f"  {row.region:<22} {row.outcome:<12} {row.estimate:+.4f} "
            f"[{row.conf_low:+.4f}, {row.conf_high:+.4f}]  firms={row.n_firms} treated={row.n_treated} "
            f"clusters={row.n_clusters}"
        )
    for note in result.warnings:
        stderr.print(f"warning: {note}", markup=False, soft_wrap=True)


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="The lab config (TOML).")],
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text table or JSON.")] = OutputFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
) -> None:
    """Check the config and every input file; list all problems; exit 2 if any error."""
    from .config import load_config
    from .ingest import check_inputs

    with _user_errors():
        cfg = load_config(config)
        _, problems = check_inputs(cfg)
    errors = [p for p in problems if p.severity == "error" or strict]
    if output_format is OutputFormat.json:
        typer.echo(json.dumps({"schema_version": 1, "valid": not errors,
                               "problems": [p.to_dict() for p in problems]}, indent=2, sort_keys=True))
    else:
        from rich.table import Table

        if problems:
            table = Table("severity", "file", "row", "column", "value", "problem", show_lines=False)
            for p in problems:
                table.add_row(p.severity, p.file, "" if p.row is None else str(p.row), p.column or "",
                              "" if p.value is None else p.value, p.message)
            Console(highlight=False, width=200).print(table)
        n_err = len(errors)
        n_warn = len(problems) - n_err
        typer.echo(f"{len(cfg.regions)} region(s) checked: {n_err} error(s), {n_warn} warning(s)")
    if errors:
        raise typer.Exit(EXIT_USER_ERROR)


@app.command()
def example(
    directory: Annotated[Path, typer.Argument(help="Folder to write the synthetic example data and config into.")],
) -> None:
    """Write the synthetic example (six SIE regions) and a config to start from."""
    from .examples import write_example

    with _user_errors():
        if directory.exists() and not directory.is_dir():
            raise UserError(f"{directory}: exists and is not a folder")
        config_path = write_example(directory)
    typer.echo(f"Wrote the example data and {config_path}; run: policylab evaluate {config_path}")


def main() -> None:  # console-script entry point
    app()
