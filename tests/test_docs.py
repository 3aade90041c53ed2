"""The front door: a README that fits on a screen, whose links lead somewhere and whose CLI table names every verb.

The manual itself is checked by `mkdocs build --strict` (`make docs`, and `make test`'s lint step).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_readme_fits_on_a_screen():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail into docs/ (the manual)"


def test_readme_links_lead_to_files():
    text = README.read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert targets, "the README links into the manual"
    missing = [t for t in targets if not (ROOT / t.split("#")[0]).is_file()]
    assert not missing, missing


def test_readme_cli_table_names_every_verb():
    import typer.main

    from cyclegan_batch.cli import app

    root = typer.main.get_command(app)
    verbs = set(root.list_commands(root.context_class(root, info_name="cyclegan-batch")))
    table = re.findall(r"^\| `([a-z-]+)[ `]", README.read_text(encoding="utf-8"), re.MULTILINE)
    assert verbs <= set(table), f"verbs missing from README's CLI table: {sorted(verbs - set(table))}"
