"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from labfiles import write_tiny_lab


EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "example.toml"


@pytest.fixture(scope="session")
def example_run(tmp_path_factory: pytest.TempPathFactory):
    """The shipped example evaluated once for the session: (output folder, EvaluationResult).
    Tests read it and must not write into it."""
    import policylab

    out = tmp_path_factory.mktemp("example-run")
    return out, policylab.evaluate(EXAMPLE_CONFIG, out_dir=out)


@pytest.fixture(scope="session")
def example_cli_run(tmp_path_factory: pytest.TempPathFactory):
    """``policylab evaluate configs/example.toml`` run once for the session through the command
    line (in this process): (output folder, the CLI's result: exit code, stdout, stderr). A
    second run of the example beside :func:`example_run`; tests must not write into it."""
    from typer.testing import CliRunner

    from policylab.cli import app

    out = tmp_path_factory.mktemp("example-cli-run")
    return out, CliRunner().invoke(app, ["evaluate", str(EXAMPLE_CONFIG), "--out", str(out)])


@pytest.fixture
def tiny_lab(tmp_path: Path) -> Path:
    """A tiny lab's files and config (one region, four firms, one consortium)."""
    return write_tiny_lab(tmp_path / "lab")
