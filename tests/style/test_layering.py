"""The import rules of docs/design.md, enforced: each layer imports only the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "firebox"
BASE = {"errors", "clock", "config", "outbound", "names", "aws_endpoints", "brokers"}
"""Shared leaf modules: importable by every layer except models and the in-sandbox bootstrap."""

ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "errors": set(),
    "clock": set(),
    "config": set(),
    "outbound": set(),
    "aws_endpoints": set(),
    "brokers": {"errors"},
    "expressions": {"errors"},
    "names": {"models", "errors"},
    "runtimes": set(),
    "store": {"models"} | BASE,
    "control": {"models", "store", "runtimes", "expressions"} | BASE,
    "dataplane": {"models", "store", "observability"} | BASE,
    "observability": {"models", "store"} | BASE,
    "asyncinvoke": {"models", "store", "dataplane", "observability", "expressions"} | BASE,
    "eventsources": {"models", "store", "dataplane", "observability", "expressions"} | BASE,
    "api": {"models", "control", "dataplane", "asyncinvoke", "eventsources", "observability", "expressions"} | BASE,
    "cli": {"config", "server"},
    "server": {
        "models",
        "store",
        "control",
        "dataplane",
        "asyncinvoke",
        "eventsources",
        "observability",
        "api",
        "runtimes",
        "expressions",
    }
    | BASE,
    "__main__": {"cli"},
    "__init__": set(),
}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        found.append((".".join(relative.parts).removesuffix(".__init__"), path))
    return found


def _imports(path: Path, module: str) -> set[str]:
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "firebox" or name.startswith("firebox.")}


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_respect_the_layers(module: str, path: Path) -> None:
    layer = _layer(module)
    assert layer in ALLOWED, f"{module}: layer {layer!r} is not in the layering table; add it to docs/design.md too"
    allowed = ALLOWED[layer] | {layer}
    bad = set()
    for name in _imports(path, module):
        target = _layer(name)
        if name == "firebox" or target == "__init__":
            continue  # the package itself: its __init__ holds only the version
        if target not in allowed and target != "__version__":
            bad.add(name)
    assert not bad, f"{module} ({layer}) may not import {sorted(bad)}"


def test_bootstrap_uses_the_standard_library_only() -> None:
    bootstrap = PACKAGE / "dataplane" / "bootstrap"
    for path in bootstrap.rglob("*.py") if bootstrap.exists() else []:
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        assert not _imports(path, module), f"{module} runs inside the sandbox and must not import firebox"
