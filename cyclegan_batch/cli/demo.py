"""`cyclegan-batch demo OUT` and `cyclegan-batch demo-score HELDOUT`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from cyclegan_batch.cli import app
from cyclegan_batch.cli.common import Device, PrecisionChoice, PrecisionOption, Quiet, setup_logging
from cyclegan_batch.demo import CLAIM_STDS, CROP_SIDE, HELDOUT_IMAGES, TRAIN_IMAGES

log = logging.getLogger("cyclegan_batch")


@app.command()
def demo(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Folder to write A/, B/, heldout/ and videos/ into.")],
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 0,
    count: Annotated[int, typer.Option(help="Images per domain.")] = TRAIN_IMAGES,
    heldout: Annotated[
        int, typer.Option(min=1, help="Held-out pairs; more give demo-score's KID difference less noise.")
    ] = HELDOUT_IMAGES,
    size: Annotated[int, typer.Option(help="Side of the square crops, pixels.")] = CROP_SIDE,
    videos: Annotated[bool, typer.Option(help="Also write the demo videos (two with audio).")] = True,
    quiet: Quiet = False,
) -> None:
    """Build the demo domains from photos inside scikit-image: A = photo crops, B = other crops in the
    `golden_hour` colour grade, heldout/ = A crops with their true B, videos/ = camera moves.

    Example: `cyclegan-batch demo results/demo/raw`
    """
    from cyclegan_batch.demo import build_demo

    setup_logging(quiet)
    written = build_demo(out, seed=seed, n_train=count, n_heldout=heldout, size=size, videos=videos)
    log.info("demo written to %s: %s", out, ", ".join(f"{k}: {v}" for k, v in written.items()))


@app.command("demo-score")
def demo_score(
    heldout: Annotated[
        Path, typer.Argument(metavar="HELDOUT", help="The demo's heldout/ folder (A/ and B_true/ pairs).")
    ],
    model: Annotated[
        Path | None,
        typer.Option(help="Model file, official .pth, or `bundled` (the demo model in the package; the default)."),
    ] = None,
    precision: PrecisionOption = PrecisionChoice.fp32,
    device: Device = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    strip: Annotated[Path | None, typer.Option(help="Also write a PNG: rows of input | G(input) | true style.")] = None,
    kid: Annotated[
        bool, typer.Option(help="Also KID against the demo's B/ (~0.1-0.3 s per image on a CPU; the metrics extra).")
    ] = True,
    against: Annotated[
        Path | None,
        typer.Option(
            help="Another model (or `bundled`) to compare with crop by crop: the mean PSNR difference +- its "
            "standard error, far smaller than the gain's spread over the crops (is a new model really better?)."
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """How close G(a) comes to the true style on held-out crops, next to doing nothing (a itself): PSNR against
    the true style, and KID x100 against the real golden-hour images of the demo's B/ beside HELDOUT (lower is
    more like the domain; needs the `[metrics]` extra), each +- its std, and their difference +- its std: both
    are scored on the same random subsets, so the difference has its own, smaller noise. The demo's claim is
    that the model's KID is below doing nothing's by at least 2 std of that difference (`kid_claim_holds`).

    Example: `cyclegan-batch demo-score results/demo/raw/heldout --model results/demo/model/generators.safetensors`
    """
    from cyclegan_batch.demo import score_heldout
    from cyclegan_batch.runfolder import BUNDLED, resolve_model

    setup_logging(quiet)
    model = resolve_model(model or BUNDLED)
    other = resolve_model(against) if against is not None else None
    scores = score_heldout(
        heldout, model, device=device, precision=precision.value, strip=strip, kid=kid, against=other
    )
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
        return
    typer.echo(
        f"PSNR vs true style on {scores['images']} held-out crops: model {scores['psnr_model']:.2f} dB, "
        f"identity {scores['psnr_identity']:.2f} dB, gain {scores['gain_db']:+.2f} dB ({scores['model']})"
    )
    if other is not None:
        stderr = scores["paired_diff_stderr_db"]
        typer.echo(
            f"against {other}, crop by crop: {scores['paired_diff_db']:+.3f} dB"
            f"{'' if stderr is None else f' +- {stderr:.3f} (standard error)'}, "
            f"worse on {scores['paired_worse_share']:.0%} of the crops"
        )
    if not kid:
        return
    if "kid_x100_model" not in scores:
        log.warning("%s", scores["kid_note"])
        return
    for warning in scores["warnings"]:
        log.warning("%s", warning)
    typer.echo(
        f"KIDx100 vs {scores['kid_reference_images']} golden-hour images of B: model "
        f"{scores['kid_x100_model']:.3f} +- {scores['kid_x100_std_model']:.3f}, identity "
        f"{scores['kid_x100_identity']:.3f} +- {scores['kid_x100_std_identity']:.3f}; difference "
        f"{scores['kid_x100_diff']:+.3f} +- {scores['kid_x100_diff_std']:.3f} (same subsets): "
        f"{'beyond' if scores['kid_claim_holds'] else 'NOT beyond'} {CLAIM_STDS:g} std"
    )
