"""`cyclegan-batch report RUN_DIR OUT.html`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from cyclegan_batch.cli import app
from cyclegan_batch.cli.common import Device, Quiet, setup_logging
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.util.progress import show_progress

log = logging.getLogger("cyclegan_batch")


def parse_roots(items: list[str]) -> dict[str, Path]:
    roots = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise UserError(f"--images-root {item!r}: expected SET=DIR, e.g. test=data/A/test", ExitCode.USAGE)
        roots[name] = Path(folder)
    return roots


@app.command()
def report(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="A run folder: results/EXPERIMENT (layout in docs/interfaces.md).")
    ],
    out_html: Annotated[
        Path,
        typer.Argument(
            metavar="OUT_HTML", help="The page to write; summary.json and NAME_assets/ (its pictures) go beside it."
        ),
    ],
    fail_above: Annotated[
        list[str] | None,
        typer.Option(
            metavar="METRIC=VALUE",
            help="Gate: exit 3 if any set's or video's value is above: l1 (mean cycle L1), flicker (mean "
            "warp_out - warp_in), failed (failed images in a set), kid (KID x100 against the reference), fid. "
            "Repeatable.",
        ),
    ] = None,
    fail_below: Annotated[
        list[str] | None,
        typer.Option(
            metavar="METRIC=VALUE", help="Gate: exit 3 if any mean psnr or ssim is below: psnr=20. Repeatable."
        ),
    ] = None,
    worst_k: Annotated[int, typer.Option(min=0, help="Worst images / frames shown per set and video.")] = 8,
    images_root: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SET=DIR", help="Where a set's inputs are, for the gallery (default: the set's run.json)."
        ),
    ] = None,
    videos_root: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Folder with the input videos, for input thumbnails (matched by name)."),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Real images of the target domain for KID/FID (default: the run's data/B, or data/A for sets "
            "translated B to A).",
        ),
    ] = None,
    realism: Annotated[
        bool, typer.Option(help="KID/FID of each set and video (needs the [metrics] extra; ~0.1-0.3 s per image).")
    ] = True,
    video_frames: Annotated[
        int | None,
        typer.Option(
            min=2, help="Frames of each video scored for KID/FID, and as many input frames for the baseline (50)."
        ),
    ] = None,
    device: Device = "auto",
    quiet: Quiet = False,
) -> None:
    """Write an HTML report of a run (summary, training curves, samples, per-set and per-video cycle error,
    and how real the outputs look: KID/FID against the target domain next to the untranslated inputs).

    The page opens offline (no JavaScript; pictures in OUT_assets/ beside it); summary.json beside it
    holds the same numbers. Missing or broken parts of the run are reported on the page.
    Exit codes: 0 written and every gate passed, 3 written but a gate failed (or checked nothing),
    1 fatal error, 2 usage error.

    Example: `cyclegan-batch report results/demo results/demo/report/index.html --fail-above l1=0.2`
    """
    from cyclegan_batch.report.gates import parse_gates
    from cyclegan_batch.report.page import write_report
    from cyclegan_batch.report.read import read_run

    setup_logging(quiet)
    if out_html.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"OUT.html {out_html} must end in .html, e.g. {run_dir}/report/index.html", ExitCode.USAGE)
    gates = parse_gates(fail_above or [], fail_below or [])
    run = read_run(
        run_dir,
        worst_k=worst_k,
        images_roots=parse_roots(images_root or []),
        videos_root=videos_root,
        gates=gates,
        realism=realism,
        reference=reference,
        video_frames=video_frames,
        device=device,
    )
    if realism and run.realism_note:
        log.warning("%s", run.realism_note)
    summary = write_report(run, out_html, progress=show_progress(quiet))
    log.info(
        "report written to %s (%d image set(s), %d video(s)); numbers in %s",
        out_html,
        len(run.image_sets),
        len(run.videos),
        summary,
    )
    failed = [g for g in run.gates if not g.passed]
    for g in failed:
        log.warning("gate %s failed for %s: %s", g.gate.text, g.item, g.reason)
    if failed:
        raise typer.Exit(int(ExitCode.PARTIAL))
