"""`cyclegan-batch export MODEL OUT`: a smaller model file, one generator as ONNX, or a pointwise one as a .cube LUT."""

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
    model: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL",
            help="A generators.safetensors, an official .pth checkpoint (or its folder), or `bundled` (the demo "
            "model in the package).",
        ),
    ],
    out: Annotated[
        Path,
        typer.Argument(
            metavar="OUT", help="Where to write: OUT.safetensors (a model file), OUT.onnx or OUT.cube (a 3D LUT)."
        ),
    ],
    dtype: Annotated[
        StorageDtype, typer.Option(help="Storage dtype of the weights (model files; ONNX is float32).")
    ] = StorageDtype.float16,
    direction: Annotated[
        str,
        typer.Option(help="ONNX and .cube: which generator, AtoB, BtoA or the domain names (photo2painting)."),
    ] = "AtoB",
    lut_size: Annotated[
        int, typer.Option(help="A .cube LUT's points per axis (33 is usual; 65 for finer, 4.6x larger files).")
    ] = 33,
) -> None:
    """Copy a model file with its weights stored in another dtype (float16 halves the size; loading
    always returns float32), or write one generator as ONNX when OUT ends in .onnx (dynamic batch,
    height and width; the domains and value range are in its metadata; needs the `onnx` extra), or a
    pointwise generator (the `grade` preset) as a .cube 3D LUT when OUT ends in .cube, for DaVinci
    Resolve, Premiere, OBS or ffmpeg's lut3d filter: input and output are full-range RGB in the model's
    own encoding (sRGB-encoded values, as in its training images), as the file's header says. A spatial
    model cannot be a LUT and is refused.

    Examples: `cyclegan-batch export results/demo/model/generators.safetensors demo.safetensors`,
    `cyclegan-batch export checkpoints/horse2zebra_pretrained/latest_net_G.pth horse2zebra.onnx`,
    `cyclegan-batch export results/demo/model/best.safetensors look.cube` (then `ffmpeg -i in.mp4 -vf
    lut3d=look.cube out.mp4`)
    """
    import torch

    from cyclegan_batch.models.engine import resolve_direction
    from cyclegan_batch.models.modelfile import load_generators, save_generators

    loaded = load_generators(model)
    if out.suffix.lower() == ".cube":
        from cyclegan_batch.models.lut import export_cube

        export_cube(loaded, out, resolve_direction(direction, loaded.info.domains), lut_size)
        typer.echo(f"wrote {out} ({lut_size}^3 LUT, full-range sRGB-encoded RGB in and out)")
        return
    if out.suffix.lower() == ".onnx":
        from cyclegan_batch.models.onnx_export import export_onnx

        a_to_b = resolve_direction(direction, loaded.info.domains)
        export_onnx(loaded, out, "a_to_b" if a_to_b else "b_to_a")
        typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, ONNX opset 17, float32)")
        return
    save_generators(out, loaded.a_to_b, loaded.b_to_a, loaded.info, dtype=getattr(torch, dtype.value))
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {dtype.value})")
