"""The package's shape: imports run one way (the order in faceswap_core's docstring), small modules."""

import ast
from pathlib import Path

import pytest

import faceswap_core

PKG = Path(faceswap_core.__file__).resolve().parent
ORDER = faceswap_core.MODULES


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The package modules a file imports, anywhere in it (lazy imports inside functions count too)."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            elif node.module and node.module.startswith("faceswap_core"):
                base, node_module = [], node.module[len("faceswap_core"):].lstrip(".")
                found |= {node_module} if node_module else set()
                if node_module:
                    continue
            else:
                continue
            mod = ".".join([*base, *(node.module.split(".") if node.level and node.module else [])])
            if node.module and node.level:
                found.add(mod)
            else:  # from . import a, b  /  from faceswap_core import a
                found |= {".".join([*base, a.name]) for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name[len("faceswap_core."):] for a in node.names if a.name.startswith("faceswap_core.")}
    return {m for m in found if m in ORDER}


MODULE_FILES = sorted(p for p in PKG.rglob("*.py") if _module_name(p))


def test_every_module_has_a_place_in_the_order():
    assert {_module_name(p) for p in MODULE_FILES} == set(ORDER)
    for name in ORDER:  # the docstring shows the same order
        assert name.split(".")[-1] in faceswap_core.__doc__


@pytest.mark.parametrize("path", MODULE_FILES, ids=_module_name)
def test_imports_run_one_way(path):
    me = ORDER.index(_module_name(path))
    wrong = sorted(m for m in _imports(path) if ORDER.index(m) >= me)
    assert not wrong, f"{_module_name(path)} imports {wrong}, which come after it in faceswap_core.MODULES"


def test_the_import_check_can_fail(tmp_path):
    """The parser sees relative, absolute and lazy imports (else the test above would pass vacuously)."""
    f = PKG / "media.py"
    assert {"errors", "workspace"} <= _imports(f)
    assert {"errors", "media"} <= _imports(PKG / "synth" / "clips.py")
    assert "checkpoint" in _imports(PKG / "swap.py")
    assert "train" in _imports(PKG / "cli.py")  # imported lazily inside a function


@pytest.mark.parametrize("path", MODULE_FILES, ids=_module_name)
def test_modules_are_small_and_say_what_they_are(path):
    lines = path.read_text().count("\n")
    assert lines <= 360, f"{path.name}: {lines} lines; split it by job"
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and doc.splitlines()[0].strip(), f"{path.name}: first docstring line says what it is"
