"""`cyclegan-batch prepare RAW_A RAW_B OUT`."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cyclegan_batch.cli import app
from cyclegan_batch.cli.common import Quiet, setup_logging
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.media.formats import PREPARED_IMAGE_FORMATS
from cyclegan_batch.media.images import DEFAULT_MAX_PIXELS, PAPER_CROP_SIZE, PAPER_LOAD_SIZE
from cyclegan_batch.prepare.run import Settings
from cyclegan_batch.runfolder import SPLITS
from cyclegan_batch.util.progress import show_progress

if TYPE_CHECKING:
    from cyclegan_batch.prepare.run import Outcome

log = logging.getLogger("cyclegan_batch")


def _raw_folder(domain: str) -> typer.models.ArgumentInfo:
    return typer.Argument(
        exists=True,
        file_okay=False,
        metavar=f"RAW_{domain}",
        help=f"Raw images of domain {domain}, searched recursively.",
    )


Format = StrEnum("Format", {name: name for name in PREPARED_IMAGE_FORMATS})


def parse_colour(text: str) -> tuple[int, int, int]:
    from PIL import ImageColor

    try:
        return ImageColor.getrgb(text)[:3]
    except ValueError:
        raise UserError(
            f"--background {text!r} is not a colour; use a name (white), #rrggbb or rgb(r,g,b)", 2
        ) from None


@app.command()
def prepare(
    raw_a: Annotated[Path, _raw_folder("A")],
    raw_b: Annotated[Path, _raw_folder("B")],
    out: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="Gets manifest.jsonl and A/ B/ with train/ val/ test/ of prepared images."),
    ],
    load_size: Annotated[
        int, typer.Option(min=1, help="Shorter side of every prepared image, in pixels.")
    ] = PAPER_LOAD_SIZE,
    crop_size: Annotated[
        int, typer.Option(min=1, help="Training crop; images with a shorter side below it are skipped.")
    ] = PAPER_CROP_SIZE,
    upscale_small: Annotated[
        bool, typer.Option("--upscale-small", help="Enlarge images smaller than --crop-size instead of skipping.")
    ] = False,
    test_fraction: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of images for test/ (what the report scores), by content hash and --seed."
        ),
    ] = Settings.test_fraction,
    val_fraction: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of images for val/ (what training chooses its best step by), by the same hash; 0: none.",
        ),
    ] = Settings.val_fraction,
    seed: Annotated[int, typer.Option(help="Seed of the train/val/test split.")] = Settings.seed,
    image_format: Annotated[Format, typer.Option("--format", help="png (lossless) or jpg (quality 95).")] = Format.png,
    background: Annotated[
        str, typer.Option(help="Colour transparent pixels are composited on: white, black, #808080...")
    ] = "white",
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Refuse images with more pixels than this (decompression-bomb guard).")
    ] = DEFAULT_MAX_PIXELS,
    allow_truncated: Annotated[
        bool, typer.Option("--allow-truncated", help="Use what a truncated file holds (the rest is gray).")
    ] = False,
    keep_cross_duplicates: Annotated[
        bool,
        typer.Option("--keep-cross-duplicates", help="Keep files that appear in both domains (default: drop both)."),
    ] = False,
    jobs: Annotated[int, typer.Option(min=0, help="Worker processes (0 = all cores).")] = Settings.jobs,
    strict: Annotated[bool, typer.Option("--strict", help="Stop with exit 1 at the first file that fails.")] = False,
    quiet: Quiet = False,
) -> None:
    """Scan two raw image folders, normalize and resize every image, split train/val/test, write a manifest.

    Every file found gets one line in OUT/manifest.jsonl (ok / skipped / failed, with a reason, and its split).
    The split depends on the file's content and --seed alone, so adding files never moves others. Training
    chooses its best step by val (under 50 images a domain, too few to rank models: the log says so); the
    report scores test. Reruns convert only new or changed files. Exit 0: all ok; 3: some files failed;
    1: fatal; 2: usage.

    Example: `cyclegan-batch prepare raw/photos raw/paintings results/demo/data --load-size 286 --jobs 4`
    """
    from cyclegan_batch.prepare.convert import Conversion
    from cyclegan_batch.prepare.run import prepare as run_prepare

    setup_logging(quiet)
    if crop_size > load_size:
        raise UserError(f"--crop-size {crop_size} is larger than --load-size {load_size}; lower it", ExitCode.USAGE)
    if test_fraction + val_fraction > 1:
        raise UserError(
            f"--test-fraction {test_fraction} + --val-fraction {val_fraction} is over 1; lower one", ExitCode.USAGE
        )
    conversion = Conversion(
        load_size=load_size,
        crop_size=crop_size,
        image_format=image_format.value,
        background=parse_colour(background),
        max_pixels=max_pixels,
        allow_truncated=allow_truncated,
        upscale_small=upscale_small,
    )
    settings = Settings(conversion, test_fraction, val_fraction, seed, keep_cross_duplicates, strict, jobs)
    outcome = run_prepare(raw_a, raw_b, out, settings, progress=show_progress(quiet))
    if not quiet:
        print_summary(outcome)
    log.info("manifest written to %s", outcome.manifest)
    if failed := sum(outcome.count(domain, "failed") for domain in ("A", "B")):
        log.warning(
            '%d files failed; their lines in %s have "status": "failed" and the reason', failed, outcome.manifest
        )
    if empty := outcome.empty_domains():
        raise UserError(
            f"no usable training images in domain {' and '.join(empty)}; {outcome.manifest} says why for each file"
        )
    raise typer.Exit(int(outcome.exit_code))


def print_summary(outcome: Outcome) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="prepare")
    for column in ("domain", "found", "ok", *SPLITS, "skipped", "failed"):
        table.add_column(column, justify="left" if column == "domain" else "right")
    for domain in ("A", "B"):
        table.add_row(
            domain,
            str(outcome.count(domain)),
            str(outcome.count(domain, "ok")),
            *(str(outcome.count(domain, "ok", split)) for split in SPLITS),
            str(outcome.count(domain, "skipped")),
            str(outcome.count(domain, "failed")),
        )
    console = Console()
    console.print(table)
    if reasons := outcome.top_reasons():
        why = Table(title="why files were left out")
        why.add_column("reason")
        why.add_column("files", justify="right")
        for kind, n in reasons:
            why.add_row(kind, str(n))
        console.print(why)
