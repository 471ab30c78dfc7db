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
# Bottom to top. The base modules (the Scenario and its typed knobs, the one error type, the device, the
# formatting of numbers and text, the work budget) sit under everything.
LAYERS = ("base", "data", "nn", "metrics", "training", "labs", "figures", "talk", "cli")
BASE_MODULES = {"scenario", "knobs", "errors", "device", "formatting", "budget"}
FORBIDDEN_IN_CORE = ("streamlit", "ui", "pages")
# The only modules of core/figures that the others may import.
SHARED_FIGURE_MODULES = ("core.figures", "core.figures.parts")


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


def modules_reached(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in a file, names resolved to modules where they are ones:
    ``from core.figures import images`` reaches ``core.figures.images``, ``from core.figures import BASE_LAYOUT``
    reaches ``core.figures``; relative imports are resolved against the file's package."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join((package[:len(package) - node.level + 1] if node.level else [])
                            + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = root.joinpath(*base.split("."), alias.name)
                is_module = candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file()
                found.append((node.lineno, f"{base}.{alias.name}" if is_module else base))
    return found


def figure_cross_imports(root: Path = ROOT) -> list[str]:
    """Every import by which one figure module reaches another, as ``file:line: text``: figure modules share
    only the conventions (``core.figures``) and the building blocks (``core.figures.parts``)."""
    wrong = []
    for path in sorted((root / "core" / "figures").rglob("*.py")):
        own = module_name(path, root)
        for line, target in dict.fromkeys(modules_reached(path, root)):  # once per line and module
            reached = ".".join(target.split(".")[:3])
            if reached.startswith("core.figures.") and reached not in SHARED_FIGURE_MODULES and reached != own:
                wrong.append(f"{path.relative_to(root)}:{line}: {own} imports {target}")
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


def test_figure_modules_never_import_each_other():
    assert figure_cross_imports() == []


def test_the_check_sees_one_figure_module_importing_another(tmp_path):
    (tmp_path / "core" / "figures").mkdir(parents=True)
    (tmp_path / "core" / "figures" / "__init__.py").write_text("import numpy as np\n")
    (tmp_path / "core" / "figures" / "parts.py").write_text("from core.figures import BASE_LAYOUT\n")
    for name in ("adaptation", "images", "bound"):
        (tmp_path / "core" / "figures" / f"{name}.py").write_text("")
    (tmp_path / "core" / "figures" / "sweeps.py").write_text("from core.figures.parts import band\n"
                                                             "from core.figures.adaptation import pale\n"
                                                             "from core.figures import images\n"
                                                             "from core.figures import BASE_LAYOUT\n"
                                                             "from .bound import bound_figure\n"
                                                             "from . import parts\n")
    assert figure_cross_imports(tmp_path) == [
        "core/figures/sweeps.py:2: core.figures.sweeps imports core.figures.adaptation",
        "core/figures/sweeps.py:3: core.figures.sweeps imports core.figures.images",
        "core/figures/sweeps.py:5: core.figures.sweeps imports core.figures.bound"]
