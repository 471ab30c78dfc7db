"""Imports go one way: pages -> ui -> core, and inside core from the command line down to the Scenario.

Each of core's subpackages is a layer; a module may import its own layer and the layers below it, never
one above; core never imports streamlit, ui or pages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
# Bottom to top. The base modules (the Scenario and its typed knobs, the one error type, the device) sit under
# everything.
LAYERS = ("base", "data", "nn", "metrics", "training", "labs", "figures", "talk", "cli")
BASE_MODULES = {"scenario", "knobs", "errors", "device"}
FORBIDDEN_IN_CORE = ("streamlit", "ui", "pages")


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name under core (``core.labs.adaptation`` -> ``labs``); None for ``core``
    itself and its ``__main__`` shim, which may import anything."""
    parts = module.split(".")
    if parts[0] != "core" or len(parts) == 1 or parts[1] == "__main__":
        return None
    return "base" if parts[1] in BASE_MODULES else parts[1]


def module_name(path: Path, root: Path = ROOT) -> str:
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in a file; ``from core.x import y`` counts ``core.x.y`` when y is a
    module, which the layer check does not need to tell apart (both lie in core.x's layer or below it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") if node.module == "core" else
                      (node.lineno, node.module) for alias in node.names]
    return found


def violations(root: Path = ROOT) -> list[str]:
    """Every import in core that points to a higher layer or out of the engine, as ``file:line: text``."""
    wrong = []
    for path in sorted((root / "core").rglob("*.py")):
        own = layer_of(module_name(path, root))
        for line, target in imported_modules(path):
            where = f"{path.relative_to(root)}:{line}"
            if target.split(".")[0] in FORBIDDEN_IN_CORE:
                wrong.append(f"{where}: core imports {target}")
            theirs = layer_of(target)
            if own is not None and theirs is not None and LAYERS.index(theirs) > LAYERS.index(own):
                wrong.append(f"{where}: {own} imports {target} ({theirs} is above it)")
    return wrong


def test_every_module_of_core_lies_in_a_known_layer():
    for path in (ROOT / "core").rglob("*.py"):
        layer = layer_of(module_name(path))
        assert layer is None or layer in LAYERS, f"{path}: put it in one of {LAYERS}"


def test_imports_in_core_go_down_the_layers_only_and_never_reach_streamlit():
    assert violations() == []


def test_the_check_sees_an_import_that_points_up(tmp_path):
    (tmp_path / "core" / "nn").mkdir(parents=True)
    (tmp_path / "core" / "nn" / "models.py").write_text("from core.labs.adaptation import run_adaptation\n"
                                                        "import streamlit as st\n")
    assert violations(tmp_path) == ["core/nn/models.py:1: nn imports core.labs.adaptation (labs is above it)",
                                    "core/nn/models.py:2: core imports streamlit"]


def test_pages_and_ui_never_reach_into_each_other_the_wrong_way():
    for path in sorted((ROOT / "ui").rglob("*.py")):
        for line, target in imported_modules(path):
            assert target.split(".")[0] != "pages", f"{path}:{line}: ui imports {target}"
