"""The folder tree is the architecture: few top-level modules, imports one way between the stages, and the
names the workflow imports stay free of torch."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "cyclegan_batch"

# Floors, top down: a subpackage imports only from floors below its own (never a sibling on its floor).
FLOORS = (
    {"__main__"},
    {"cli"},
    {"translate", "train", "prepare", "report", "demo"},
    {"video", "realism"},
    {"models"},  # above media: a model file's defaults are the paper's image sizes (media.images)
    {"media"},
    {"device", "util"},
)
SHARED = {"__init__", "errors", "runfolder", "metrics"}  # usable by every floor; they import only each other
FLOOR_OF = {unit: level for level, units in enumerate(FLOORS) for unit in units}


def unit_of(module: str) -> str | None:
    """The subpackage or top-level module of cyclegan_batch that `module` belongs to; None outside the package."""
    parts = module.split(".")
    if parts[0] != "cyclegan_batch":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def is_unit(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (function-level imports too); `from pkg import name` counts as
    pkg.name, so that `from cyclegan_batch import runfolder` is an import of runfolder."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cyclegan_batch":  # a module of the package, or a name of its __init__
                names = (f"cyclegan_batch.{a.name}" if is_unit(a.name) else node.module for a in node.names)
                found.update(names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; spell the package path")
    return found


def unit_edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> the files where it happens, for imports across units."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        source = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for module in imports_of(path):
            target = unit_of(module)
            if target is not None and target != source:
                edges.setdefault((source, target), []).append(str(rel))
    return edges


def layering_violations(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    problems = []
    for (source, target), files in sorted(edges.items()):
        if target in SHARED:
            continue
        if source in SHARED or FLOOR_OF[target] <= FLOOR_OF[source]:
            problems.append(f"{source} -> {target} ({', '.join(files)})")
    return problems


def cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    found, state = [], {}  # state: 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_at_most_six_top_level_modules() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 6, modules


def test_every_unit_has_a_floor() -> None:
    units = {p.stem for p in PACKAGE.glob("*.py")} | {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert units <= set(FLOOR_OF) | SHARED, units - set(FLOOR_OF) - SHARED


def test_imports_run_one_way_between_subpackages() -> None:
    edges = unit_edges()
    assert not cycles(edges)
    assert not layering_violations(edges)


def test_the_checks_catch_a_wrong_import() -> None:
    """A stage importing the CLI, or the engine's floor importing a pipeline, is caught (the checks can fail)."""
    edges = unit_edges() | {("video", "translate"): ["video/x.py"], ("translate", "video"): ["translate/verb.py"]}
    assert cycles(edges)
    assert layering_violations(edges) == ["video -> translate (video/x.py)"]
    assert layering_violations({("runfolder", "media"): ["runfolder.py"]}) == ["runfolder -> media (runfolder.py)"]


def workflow_imports() -> list[str]:
    """The Snakefile's and its rules' imports from the package (every snakemake process runs them)."""
    rules = [REPO / "Snakefile", *sorted((REPO / "workflow").rglob("*.smk"))]
    pattern = re.compile(r"^\s*(from cyclegan_batch\S* import .+)$", re.MULTILINE)
    return [line for path in rules for line in pattern.findall(path.read_text())]


def test_the_modules_the_workflow_imports_load_without_torch() -> None:
    """Each snakemake process, each cluster job's included, parses the workflow: torch's import would add 1.3 CPU s
    to every one of them, and OpenCV's 0.1 s."""
    imports = workflow_imports()
    assert any("cyclegan_batch.train.config" in line for line in imports)  # found: the check sees the rules
    code = f"import sys; {'; '.join(imports)}; print(sorted(m for m in ('torch', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
