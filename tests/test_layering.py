"""The package's layers hold: who may import whom, and no import cycles.

Imports are read from the source (every ``import`` statement, also inside functions and
``if TYPE_CHECKING:`` blocks), so a lazy or type-only import counts as a dependency.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "policylab"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _known(name: str) -> str | None:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in MODULES else None


def _imports(module: str, path: Path) -> set[str]:
    """The policylab modules ``module`` imports (``from pkg import sub`` counts as ``sub``)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix
                     for a in node.names]
        for name in names:
            if name.split(".")[0] == "policylab" and (dep := _known(name)) and dep != module:
                out.add(dep)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _reach(start: str) -> dict[str, str | None]:
    """Every module ``start`` depends on, directly or through others (with the module
    that brought it in, to print the chain)."""
    seen: dict[str, str | None] = {start: None}
    todo = deque([start])
    while todo:
        m = todo.popleft()
        for d in sorted(GRAPH[m]):
            if d not in seen:
                seen[d] = m
                todo.append(d)
    return seen


def _chain(seen: dict[str, str | None], end: str) -> str:
    out = [end]
    while seen[out[-1]] is not None:
        out.append(seen[out[-1]])  # type: ignore[arg-type]
    return " -> ".join(reversed(out))


def _inside(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


RULES = [
    # (layer, layers it may not depend on, not even through another module)
    ("policylab.did", ["policylab.ingest", "policylab.report", "policylab.cli"]),
    ("policylab.indicators", ["policylab.ingest", "policylab.report", "policylab.cli"]),
    ("policylab.ingest", ["policylab.did", "policylab.indicators", "policylab.report",
                          "policylab.cli"]),
    ("policylab.estimators", ["policylab.did", "policylab.report", "policylab.cli"]),
    ("policylab.config", ["policylab.did", "policylab.indicators", "policylab.report",
                          "policylab.cli"]),
    # inside did: kernels and result types < estimators < inference < diagnostics
    ("policylab.did.core", ["policylab.did.estimators", "policylab.did.inference",
                            "policylab.did.diagnostics"]),
    ("policylab.did.results", ["policylab.did.estimators", "policylab.did.inference",
                               "policylab.did.diagnostics"]),
    ("policylab.did.estimators", ["policylab.did.inference", "policylab.did.diagnostics"]),
    ("policylab.did.inference", ["policylab.did.diagnostics"]),
]


@pytest.mark.parametrize(("layer", "banned"), RULES, ids=[r[0] for r in RULES])
def test_layer_does_not_depend_on(layer: str, banned: list[str]) -> None:
    bad = []
    for module in sorted(m for m in GRAPH if _inside(m, layer)):
        seen = _reach(module)
        bad += [_chain(seen, d) for d in seen if any(_inside(d, b) for b in banned)]
    assert not bad, "\n".join(bad[:10])


def test_no_import_cycles() -> None:
    cycles = []
    for module in sorted(GRAPH):
        seen = _reach(module)
        back = [d for d in GRAPH if module in GRAPH[d] and d in seen]
        cycles += [f"{_chain(seen, d)} -> {module}" for d in back]
    assert not cycles, "\n".join(cycles[:10])


def test_the_checker_sees_imports() -> None:
    # guards the tests above against reading nothing
    assert "policylab.did.results" in GRAPH["policylab.region_results"]
    assert "policylab.schema" in GRAPH["policylab.ingest"]
    assert len(GRAPH) > 80
