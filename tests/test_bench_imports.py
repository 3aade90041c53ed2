"""Every benchmark still imports: they are run by hand, so a rename elsewhere would otherwise break one silently
(bench/stability_train.py imported names bench/quick_style.py no longer had, unnoticed for a day)."""

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__"))
def test_benchmark_imports(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert module.__doc__, f"bench/{name}.py: its docstring says what it measures"
