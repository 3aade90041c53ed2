"""`cyclegan-batch import G_A.pth [G_B.pth] OUT.safetensors`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from cyclegan_batch.cli import app
from cyclegan_batch.cli.common import Quiet, parse_domain_names, setup_logging
from cyclegan_batch.errors import ExitCode, UserError

log = logging.getLogger("cyclegan_batch")


@app.command("import")
def import_model(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="G_A.pth [G_B.pth] OUT.safetensors: official generator checkpoints (A -> B, then B -> A), "
            "or one .pth or folder as --model takes it, then the model file to write.",
            metavar="G_A.pth [G_B.pth] OUT",
            show_default=False,
        ),
    ],
    names: Annotated[
        str | None,
        typer.Option(help="Domain names, A first: horse,zebra. Default: from a folder named X2Y, else A,B."),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Convert official junyanz/pytorch-CycleGAN-and-pix2pix generator checkpoints, once, into this
    project's self-describing model file; the header records the domains, the architecture and the
    source files (name and sha256). A single latest_net_G.pth gives a one-direction model.

    Example: `cyclegan-batch import latest_net_G_A.pth latest_net_G_B.pth horse2zebra.safetensors --names horse,zebra`
    """
    from cyclegan_batch.models import official
    from cyclegan_batch.models.modelfile import direction_name, from_official, save_generators

    setup_logging(quiet)
    if len(paths) not in (2, 3):
        raise UserError("give G_A.pth [G_B.pth] OUT.safetensors: one or two checkpoints, then the file", ExitCode.USAGE)
    *sources, out = paths
    if out.suffix.lower() != ".safetensors":
        raise UserError(f"{out}: the output is a model file; name it OUT.safetensors", ExitCode.USAGE)
    domains = parse_domain_names(names) if names is not None else None
    if len(sources) == 2:
        checkpoint = official.read_files(
            dict(zip(("a_to_b", "b_to_a"), sources, strict=True)),
            domains or official.domains_from_folder(sources[0].resolve().parent),
        )
    else:
        if not official.is_official(sources[0]):
            raise UserError(f"{sources[0]} is not an official .pth checkpoint or a folder of them")
        checkpoint = official.read(sources[0], domains)
    model = from_official(checkpoint)
    save_generators(out, model.a_to_b, model.b_to_a, model.info)
    for prefix, file in checkpoint.files.items():
        log.info("%s: %s", direction_name(prefix, model.info.domains), file)
    typer.echo(f"wrote {out} ({', '.join(direction_name(p, model.info.domains) for p in model.info.directions)})")
