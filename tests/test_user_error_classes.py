"""Every error a user can meet derives from UserError (the CLI's exit 2, one line each)."""

from __future__ import annotations

import ast
from pathlib import Path

from policylab.errors import UserError

PACKAGE = Path(__file__).resolve().parents[1] / "policylab"


def test_every_error_class_of_the_package_is_a_user_error():
    import importlib

    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
                module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                found.append(getattr(importlib.import_module(module), node.name))
    assert len(found) >= 8
    assert [c.__name__ for c in found if not issubclass(c, UserError)] == []
