"""MkDocs hook: the CLI reference, rendered from the typer app itself so it cannot drift from `--help`.

A page holding the line `<!-- cli-reference -->` gets, in its place, one section per verb (and per
`video` subcommand): its usage line, its help text, and a table of its arguments and options with the
same text and defaults `cyclegan-batch VERB --help` prints. Every command of the app is rendered: those
not named in ORDER follow it in name order, so a new verb appears without touching this file.
Importing the app needs no GPU and no network (the verbs import torch only when they run).
"""

from __future__ import annotations

import re

MARKER = "<!-- cli-reference -->"
PROG = "cyclegan-batch"
# A user's path through the verbs: the demo, then the stages, then the tools around model files.
ORDER = ["demo", "prepare", "train", "translate", "video", "report", "score", "demo-score", "info", "export", "import"]


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())


def render() -> str:
    import typer.main

    from cyclegan_batch.cli import app

    root = typer.main.get_command(app)  # typer's own click (typer._click), so duck-typed below
    ctx = root.context_class(root, info_name=PROG)
    names = root.list_commands(ctx)
    ordered = [n for n in ORDER if n in names] + sorted(n for n in names if n not in ORDER)
    parts = [f"`{PROG}`: {_help_text(root)} Every command also takes `--help`, which prints what its section shows."]
    for name in ordered:
        parts += _command(root.get_command(ctx, name), [name], ctx)
    return "\n\n".join(parts) + "\n"


def _command(cmd, path: list[str], parent) -> list[str]:
    ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent)
    title = " ".join(path)
    if hasattr(cmd, "list_commands"):  # a group: `video split|join`
        out = [f"## {title}", _help_text(cmd)]
        for name in cmd.list_commands(ctx):
            out += _command(cmd.get_command(ctx, name), [*path, name], ctx)
        return out
    params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False) and p.name != "help"]
    usage = " ".join([PROG, *path, "[OPTIONS]", *(_argument_name(p) for p in params if _is_argument(p))])
    heading = "##" if len(path) == 1 else "###"
    return [f"{heading} {title}", f"```\n{usage}\n```", _help_text(cmd), _table(params, ctx)]


def _is_argument(param) -> bool:
    return param.param_type_name == "argument"


def _argument_name(param) -> str:
    return param.metavar or param.name.upper()


def _help_text(cmd) -> str:
    return (cmd.help or "").strip()


def _table(params: list, ctx) -> str:
    rows = ["| argument or option | meaning |", "|---|---|"]
    for param in params:
        record = param.get_help_record(ctx)
        if record is None:
            continue
        name, text = record
        shown = param.metavar or param.name
        if _is_argument(param) and name.startswith(shown):  # `out <path>` as the usage line spells it: `OUT <path>`
            name = _argument_name(param) + name[len(shown) :]
        rows.append(f"| `{name}` | {_cell(text)} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    """Help text as one table cell: pipes escaped; `<` escaped outside code spans, so it is not read as HTML."""
    pieces = re.split(r"(`[^`]*`)", " ".join(text.split()))
    return "".join(p if p.startswith("`") else p.replace("<", "&lt;") for p in pieces).replace("|", "\\|")
