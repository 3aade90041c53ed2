"""Docstrings, comments and the manual name modules that exist: a module file (`flow.py`, `video/flow.py`), a
dotted path inside the package (`cyclegan_batch.video.flow.Warp`, `media.images`), or a module by its old flat
name from before the move to packages (`report_read.read_run` for report/read.py) is checked against the tree."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cyclegan_batch"
# Files of other projects the package's comments speak of: the official pytorch-CycleGAN-and-pix2pix scripts.
EXTERNAL = {"test.py", "train.py", "models/networks.py"}
UNITS = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())

PY_FILE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[A-Za-z_]\w*\.py)\b")
# Rooted at a subpackage, only in backticks and for those whose names are not also config sections, CLI verbs
# or common variables (`train.settings` is a config key, `video.name` an attribute).
CODE_UNITS = sorted(set(UNITS) - {"cli", "demo", "prepare", "report", "train", "translate", "video"})
DOTTED = re.compile(r"(?<![\w.])(cyclegan_batch(?:\.[A-Za-z_]\w*)+)")
UNIT_DOTTED = re.compile(rf"`((?:{'|'.join(CODE_UNITS)})(?:\.[A-Za-z_]\w*)+)`")
FLAT = re.compile(rf"`(({'|'.join(UNITS)})_([a-z]\w*))[.`]")


def prose(path: Path) -> str:
    """The comments and string literals (docstrings among them) of a Python file; the whole text of others."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return text
    kinds = {tokenize.COMMENT, tokenize.STRING}
    return "\n".join(t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type in kinds)


def module_file(dotted: list[str]) -> tuple[Path, list[str]] | None:
    """The longest prefix of `dotted` that is a module of the package, and the names after it."""
    parts = dotted[1:] if dotted[0] == "cyclegan_batch" else dotted
    for n in range(len(parts), 0, -1):
        base = PACKAGE.joinpath(*parts[:n])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, parts[n:]
    return None


def defines(module: Path, name: str) -> bool:
    """`name` is a module, function, class or assigned name at the top level of `module` (or a submodule)."""
    if module.name == "__init__.py" and (module.parent / f"{name}.py").is_file():
        return True
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        targets = list(node.targets) if isinstance(node, ast.Assign) else []
        targets += [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
        if isinstance(node, ast.ImportFrom | ast.Import) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def file_exists(mention: str) -> bool:
    if mention in EXTERNAL:
        return True
    if "/" in mention:
        return (ROOT / mention).is_file() or (PACKAGE / mention).is_file()
    return any(PACKAGE.rglob(mention)) or (ROOT / mention).is_file()


def dangling(text: str) -> list[str]:
    """The names in `text` that do not resolve."""
    problems = [m for m in PY_FILE.findall(text) if not file_exists(m)]
    for mention in [*DOTTED.findall(text), *UNIT_DOTTED.findall(text)]:
        found = module_file(mention.split("."))
        if found is None or (found[1] and not defines(*found[0:1], found[1][0])):
            problems.append(mention)
    for mention, unit, stem in FLAT.findall(text):
        if (PACKAGE / unit / f"{stem}.py").is_file() or not (PACKAGE / unit).is_dir():
            problems.append(f"{mention} (the module is {unit}/{stem}.py)")
    return problems


def sources() -> list[Path]:
    files = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.j2"), *(ROOT / "workflow").rglob("*.smk"), ROOT / "Snakefile"]
    files += [*(ROOT / "docs").glob("*.md"), ROOT / "README.md", *(ROOT / "config").glob("*")]
    return sorted(f for f in files if "__pycache__" not in f.parts)


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_names_in_docstrings_and_comments_exist(path: Path) -> None:
    assert not dangling(prose(path))


def test_the_check_catches_names_that_lie() -> None:
    text = (
        "see report_page.py and `report_read.read_run`; `train_outputs.TrainingOutputs`; "
        "cyclegan_batch.video.flow.NoSuchThing and `media.nothing`; but video/flow.py, `media.images`, "
        "cyclegan_batch.video.flow.Warp and the official test.py are fine"
    )
    assert dangling(text) == [
        "report_page.py",
        "cyclegan_batch.video.flow.NoSuchThing",
        "media.nothing",
        "report_read (the module is report/read.py)",
        "train_outputs (the module is train/outputs.py)",
    ]
