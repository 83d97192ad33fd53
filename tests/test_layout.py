"""The package's shape: stage subpackages whose imports follow the DAG in faceswap_core's docstring, small
modules that say what they are, and an import that works where `fcntl` is missing (Windows)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import faceswap_core

PKG = Path(faceswap_core.__file__).resolve().parent
STAGES = faceswap_core.STAGES


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str:
    """The stage a module belongs to: its subpackage, or 'ground' for the top-level helpers."""
    top = module.split(".")[0]
    if top in faceswap_core.GROUND:
        return "ground"
    if top not in STAGES:
        raise KeyError(f"{module}: not in a stage of faceswap_core.STAGES")
    return top


def imports(source: str, module: str, is_package: bool = False) -> set[str]:
    """The faceswap_core modules (dotted, without the prefix) that `source` imports, anywhere in it (lazy
    imports inside functions count too); `module` is where the source lives, for relative imports."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
            elif node.module and (node.module + ".").startswith("faceswap_core."):
                base = []
            else:
                continue
            mod = node.module or ""
            mod = mod[len("faceswap_core"):].lstrip(".") if not node.level else mod
            target = [*base, *(p for p in mod.split(".") if p)]
            for alias in node.names:  # `from pkg import module` names a module; `from module import x` does not
                sub = ".".join([*target, alias.name])
                found.add(sub if (PKG / Path(*sub.split("."))).with_suffix(".py").exists()
                          or (PKG / Path(*sub.split("."))).is_dir() else ".".join(target))
        elif isinstance(node, ast.Import):
            found |= {a.name[len("faceswap_core."):] for a in node.names if a.name.startswith("faceswap_core.")}
    return {m for m in found if m}


def wrong_imports(path: Path) -> list[str]:
    """The imports of one package file that its stage may not make."""
    me = _module_name(path)
    mine = stage_of(me)
    allowed = {mine, *STAGES[mine]}
    return sorted(m for m in imports(path.read_text(), me, path.name == "__init__.py")
                  if stage_of(m) not in allowed and m != "")


MODULE_FILES = sorted(p for p in PKG.rglob("*.py") if _module_name(p))


def test_the_stages_form_a_dag_that_the_docstring_draws():
    seen, order = set(), []

    def visit(stage, path=()):
        assert stage not in path, f"import cycle between stages: {' -> '.join([*path, stage])}"
        if stage in seen:
            return
        for dep in STAGES[stage]:
            assert dep in STAGES, f"{stage} points to {dep}, which is not a stage"
            visit(dep, (*path, stage))
        seen.add(stage)
        order.append(stage)

    for s in STAGES:
        visit(s)
    assert order[0] == "ground"
    for stage, deps in STAGES.items():  # the drawing lists every edge
        if stage != "ground":
            line = next(ln for ln in faceswap_core.__doc__.splitlines() if ln.strip().startswith(f"{stage} --"))
            drawn = line.split(">", 1)[1].replace(",", " ").split()
            assert set(drawn) == set(deps) or drawn == ["every", "stage"] and stage == "cli", (stage, drawn)


def test_every_module_lives_in_a_stage():
    subpackages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert subpackages == set(STAGES) - {"ground", "collect"}  # `ls faceswap_core` shows the stages
    tops = {p.stem for p in PKG.glob("*.py")} - {"__init__"}
    assert tops == set(faceswap_core.GROUND) | {"collect"}
    for p in MODULE_FILES:
        stage_of(_module_name(p))


@pytest.mark.parametrize("path", MODULE_FILES, ids=_module_name)
def test_imports_follow_the_stage_dag(path):
    wrong = wrong_imports(path)
    me = _module_name(path)
    assert not wrong, f"{me} ({stage_of(me)}) imports {wrong}: its stage may import only {STAGES[stage_of(me)]}"


def test_the_import_check_can_fail(tmp_path):
    """The parser sees relative, absolute and lazy imports, and the rule catches a stage reaching forward."""
    assert {"errors", "files", "media"} <= imports((PKG / "encode.py").read_text(), "encode")
    assert {"encode", "errors"} <= imports((PKG / "synth" / "clips.py").read_text(), "synth.clips")
    assert "training.checkpoint" in imports((PKG / "swapping" / "swap.py").read_text(), "swapping.swap")
    assert "training.train" in imports((PKG / "cli" / "commands.py").read_text(), "cli.commands")  # lazily
    # a face module that imports the trainer (a later stage), lazily and through a relative import
    bad = tmp_path / "faceswap_core" / "faces" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text('"""A bad module."""\n\n\ndef f():\n    from ..training import train\n    from .. import media\n')
    found = imports(bad.read_text(), "faces.bad")
    assert found == {"training.train", "media"}
    assert sorted(m for m in found if stage_of(m) not in {"faces", *STAGES["faces"]}) == ["training.train"]
    assert stage_of("files") == "ground" and stage_of("detection.nets") == "detection"


@pytest.mark.parametrize("path", MODULE_FILES, ids=_module_name)
def test_modules_are_small_and_say_what_they_are(path):
    text = path.read_text()
    lines = text.count("\n")
    assert lines <= 350, f"{path.name}: {lines} lines; split it by job"
    long = [i + 1 for i, ln in enumerate(text.splitlines()) if len(ln) > 110]
    assert not long, f"{path.name}: lines {long[:5]} are over 110 characters"
    doc = ast.get_docstring(ast.parse(text))
    assert doc and doc.splitlines()[0].strip(), f"{path.name}: first docstring line says what it is"


def test_the_package_imports_without_fcntl(tmp_path):
    """Windows has no fcntl: the package imports, and a folder's lock still refuses a second writer."""
    code = f"""
import sys
sys.modules["fcntl"] = None  # as on Windows: `import fcntl` raises ImportError
import faceswap_core.cli, faceswap_core.lab.tour
from faceswap_core import FaceswapError, files
assert files.fcntl is None
folder = {str(tmp_path)!r}
with files.lock(folder, "the model"):
    try:
        with files.lock(folder, "the model"):
            raise SystemExit("a second writer got the lock")
    except FaceswapError as e:
        assert "being written by pid" in str(e), e
with files.lock(folder):  # released: the next writer takes it
    pass
open(folder + "/.lock", "w").write("pid 999999999 (a run that was killed)")  # a dead writer's lock is stale
with files.lock(folder):
    pass
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
