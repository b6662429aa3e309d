"""The README's "Python API" snippet runs as written.

Every ```python block under the README's "## Python API" heading is run, in order, as one
script in a fresh interpreter (a new user pastes it into a new session) with the repository
root as working directory, as the README says. The test fails if the section loses its code or
the code raises; it runs the whole lab once (``evaluate(cfg, write=False)``), hence ``slow``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def section(text: str, heading: str) -> str:
    """The text under the level-2 ``heading``, up to the next level-2 heading."""
    m = re.search(rf"^## {re.escape(heading)}[ \t]*\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if m is None:
        raise AssertionError(f"README.md has no '## {heading}' section")
    return m.group(1)


def python_blocks(text: str) -> list[str]:
    """The bodies of the fenced ```python blocks of ``text``, in order."""
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, re.S | re.M)


def test_python_api_section_has_code():
    blocks = python_blocks(section(README.read_text(encoding="utf-8"), "Python API"))
    assert blocks, "no ```python block under '## Python API'"
    code = "\n".join(blocks)
    for name in ("policylab.evaluate(", "policylab.att_gt(", "policylab.firm_panel("):
        assert name in code
    compile(code, "README.md", "exec")  # at least valid Python


def test_extraction_finds_only_the_section():
    text = ("# t\n\n## Other\n\n```python\nraise SystemExit(1)\n```\n\n## Python API\n\nprose\n\n"
            "```python\nx = 1\n```\n\n```bash\nls\n```\n\n```python\ny = x + 1\n```\n\n## Layout\n")
    assert python_blocks(section(text, "Python API")) == ["x = 1\n", "y = x + 1\n"]


@pytest.mark.slow
def test_python_api_snippet_runs_as_written():
    code = "\n".join(python_blocks(section(README.read_text(encoding="utf-8"), "Python API")))
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"README snippet failed:\n{proc.stderr[-4000:]}"
    assert "Traceback" not in proc.stderr
