"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from labfiles import write_tiny_lab


@pytest.fixture
def tiny_lab(tmp_path: Path) -> Path:
    """A tiny lab's files and config (one region, four firms, one consortium)."""
    return write_tiny_lab(tmp_path / "lab")
