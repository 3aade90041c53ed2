"""`cyclegan-batch info MODEL`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cyclegan_batch.cli import app


@app.command()
def info(
    model: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL",
            help="A generators.safetensors, an official .pth checkpoint (or its folder), or `bundled` (the demo "
            "model in the package).",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the header as JSON.")] = False,
) -> None:
    """Show what a model file holds: architecture, domains, directions, training size and progress, and
    for imported models where the weights came from.

    Example: `cyclegan-batch info results/demo/model/generators.safetensors`
    """
    from cyclegan_batch.models.modelfile import direction_name, read_info

    meta = read_info(model)
    fields = {
        "domains": " -> ".join(meta.domains),
        "directions": ", ".join(direction_name(p, meta.domains) for p in meta.directions),
        "generator": meta.spec.to_dict(),
        "crop_size": meta.crop_size,
        "load_size": meta.load_size,
        "epoch": meta.epoch,
        "step": meta.step,
        "written_by": f"cyclegan-batch {meta.version}",
        **dict(sorted(meta.extra.items())),  # the header's own order is not stable between reads
    }
    if as_json:
        typer.echo(json.dumps(fields, indent=2))
        return
    for key, value in fields.items():
        typer.echo(f"{key:>19}: {value}")
