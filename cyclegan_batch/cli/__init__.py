"""The `cyclegan-batch` command: one verb per stage, each in its own module under cli/.

The verbs parse options, call the library and print; they hold no logic of their own.
"""

from __future__ import annotations

import sys

import typer

from cyclegan_batch.errors import ExitCode, UserError

app = typer.Typer(
    name="cyclegan-batch",
    help="Learn an unpaired image-to-image mapping with CycleGAN and apply it to image folders and videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _register() -> None:
    """Import every verb module in this package; each adds its command(s) to `app` on import."""
    import importlib
    import pkgutil

    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if module != "common":
            importlib.import_module(f"{__name__}.{module}")


_register()


def main() -> None:
    """Console-script entry: user mistakes become one line on stderr and an exit code, never a traceback."""
    try:
        app()
    except UserError as e:
        print(f"cyclegan-batch: error: {e}", file=sys.stderr)
        sys.exit(int(e.code))
    except KeyboardInterrupt:
        print("cyclegan-batch: interrupted", file=sys.stderr)
        sys.exit(int(ExitCode.FATAL))
