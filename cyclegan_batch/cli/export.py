"""`cyclegan-batch export MODEL OUT`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cyclegan_batch.cli import app


class StorageDtype(StrEnum):
    float16 = "float16"
    float32 = "float32"


@app.command()
def export(
    model: Annotated[Path, typer.Argument(help="A generators.safetensors file.")],
    out: Annotated[Path, typer.Argument(help="Where to write the copy.")],
    dtype: Annotated[StorageDtype, typer.Option(help="Storage dtype of the weights.")] = StorageDtype.float16,
) -> None:
    """Copy a model file with its weights stored in another dtype (float16 halves the size; loading
    always returns float32).

    Example: `cyclegan-batch export results/demo/model/generators.safetensors demo.safetensors`
    """
    import torch

    from cyclegan_batch.modelfile import load_generators, save_generators

    loaded = load_generators(model)
    save_generators(out, loaded.a_to_b, loaded.b_to_a, loaded.info, dtype=getattr(torch, dtype.value))
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {dtype.value})")
