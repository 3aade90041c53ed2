"""`cyclegan-batch translate IN OUT`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from cyclegan_batch.cli import app
from cyclegan_batch.cli.common import Device, PrecisionChoice, PrecisionOption, Quiet, Verbose, setup_logging
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.media.encode import DEFAULT_CRF
from cyclegan_batch.media.formats import IMAGE_OUTPUT_FORMATS, OUTPUT_CONTAINERS
from cyclegan_batch.media.images import DEFAULT_MAX_PIXELS
from cyclegan_batch.video import DEFAULT_STRENGTH

if TYPE_CHECKING:  # the engine imports torch; --help stays fast without it
    from cyclegan_batch.models.engine import BatchSize, TileSide


ContainerChoice = StrEnum("ContainerChoice", {name: name for name in OUTPUT_CONTAINERS})
FormatChoice = StrEnum("FormatChoice", {name: name for name in IMAGE_OUTPUT_FORMATS})


def _auto_or_int(text: str) -> int | Literal["auto"] | None:
    """`auto`, a non-negative integer, or None for anything else."""
    text = text.strip().lower()
    if text == "auto":
        return "auto"
    return int(text) if text.isdecimal() else None


def parse_tile(text: str) -> TileSide:
    """`auto`, `off`/`0`, or a tile side in pixels."""
    value = 0 if text.strip().lower() == "off" else _auto_or_int(text)
    if value is None:
        raise UserError(f"--tile {text!r}: use auto, off, or a tile side in pixels such as 1024", ExitCode.USAGE)
    return value


def parse_batch_size(text: str) -> BatchSize:
    """`auto` or a positive number of images."""
    value = _auto_or_int(text)
    if value is None or value == 0:
        raise UserError(f"--batch-size {text!r}: use auto or a number of images such as 4", ExitCode.USAGE)
    return value


@app.command()
def translate(
    src: Annotated[
        Path, typer.Argument(metavar="IN", help="An image, or a folder searched recursively for images and videos.")
    ],
    out: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="Output folder: results at the inputs' relative paths, plus cycle.csv."),
    ],
    model: Annotated[
        Path | None,
        typer.Option(
            help="A generators.safetensors, an official latest_net_G_A.pth / latest_net_G.pth (or its folder), "
            "`bundled` (the demo model in the package), or `last` / `best`: results/demo/model/generators.safetensors "
            "/ best.safetensors (the lowest KID while training). Default: `last` if present, else `bundled`."
        ),
    ] = None,
    direction: Annotated[
        str, typer.Option(help="AtoB, BtoA, or the model's domain names: photo2painting, or just painting.")
    ] = "AtoB",
    output_format: Annotated[
        FormatChoice | None,
        typer.Option("--format", help="Write every output in this format (default: each input's own)."),
    ] = None,
    max_side: Annotated[
        int | None, typer.Option(min=8, help="Downscale larger images to this longer side first (outputs too).")
    ] = None,
    tile: Annotated[
        str, typer.Option(help="auto (tile only images too large for memory), off, or a tile side in pixels.")
    ] = "auto",
    cycle: Annotated[
        bool,
        typer.Option(
            help="Also run the reverse generator and record L1/PSNR/SSIM of x vs F(G(x)), and a video's warping "
            "errors (warp_in/warp_out). Without it, a video's flow is computed only for the stabilizer, and a "
            "pointwise (grade) model's videos are graded inside ffmpeg with its 3D LUT, several times faster."
        ),
    ] = True,
    save_reconstruction: Annotated[
        bool,
        typer.Option("--save-reconstruction", help="Also write F(G(x)) under OUT/reconstructed/, same relative paths."),
    ] = False,
    batch_size: Annotated[
        str,
        typer.Option(
            help="Same-size images or frames per model call. auto: 8 on a GPU; on a CPU about 100,000 pixels "
            "per call (1 frame of 320x180, 6 of 128x128), measured fastest there."
        ),
    ] = "auto",
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Image decode threads, and as many encode threads (default: one a core)."),
    ] = None,
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Refuse larger images (decompression-bomb guard).")
    ] = DEFAULT_MAX_PIXELS,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Redo outputs that are newer than their input and the model.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Stop with an error at the first file that fails.")] = False,
    container: Annotated[
        ContainerChoice | None,
        typer.Option(
            help="Videos: output container for every video (default: an animated GIF stays a GIF with its frame "
            "durations and loop count, other videos become mp4; a video OUT file's suffix wins)."
        ),
    ] = None,
    codec: Annotated[
        str,
        typer.Option(
            help="Videos: auto (NVENC's h264_nvenc on a CUDA machine whose driver has it, else libx264; "
            "libvpx-vp9 for webm), or any ffmpeg encoder. The log names the decoder and encoder used, and why."
        ),
    ] = "auto",
    crf: Annotated[
        int,
        typer.Option(
            min=0, max=63, help="Videos: constant quality, lower is better (x264: 18; NVENC: its -cq, mapped)."
        ),
    ] = DEFAULT_CRF,
    frames_dir: Annotated[
        Path | None, typer.Option(help="Videos: also write every translated frame to DIR/NAME/000000.png.")
    ] = None,
    temporal: Annotated[
        bool,
        typer.Option(
            help="Videos: stabilize the translated frames along the input's optical flow, so they flicker no more "
            "than the input (per-frame translation where the flow is unreliable and after scene cuts). A pointwise "
            "(grade) model is never stabilized: a colour function adds no spatial flicker."
        ),
    ] = True,
    temporal_strength: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.95,
            help="Videos: weight of the previous stabilized frame where the flow is reliable; 0 is --no-temporal.",
        ),
    ] = DEFAULT_STRENGTH,
    context_from: Annotated[
        Path | None,
        typer.Option(
            help="Videos: IN is a segment `video split` cut from this video; warm the stabilizer up on the "
            "frames before it, so the joined video has no seam."
        ),
    ] = None,
    precision: PrecisionOption = PrecisionChoice.auto,
    device: Device = "auto",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Translate images, videos, or a folder of both into the other domain; cycle error in OUT/cycle.csv.

    Files that cannot be read are recorded in cycle.csv (status failed, with the reason) and the batch goes
    on (exit code 3). A rerun skips outputs that are newer than their input and the model.

    Videos (mp4, mov, mkv, webm, avi) become OUT/NAME.mp4 with the input's frames, frame rate, size, pixel
    aspect ratio, colour description and audio, plus NAME.mp4.cycle.csv (per frame) and NAME.mp4.json; an OUT
    ending in .mp4 names the file. An animated GIF becomes a GIF with the same frame durations and loop count.
    Transparency (PNG, WebP, TIFF, GIF) is kept: the colour is translated, the alpha carried over unchanged.

    Example: `cyclegan-batch translate photos/ results/demo/translated/images/photos --direction AtoB`

    Example: `cyclegan-batch translate clip.mp4 out/ --crf 20 --frames-dir out/frames`

    Example: `cyclegan-batch translate segs/segment_00001.mp4 out/segment_00001.mp4 --context-from clip.mp4`
    """
    from cyclegan_batch.translate.image_pipeline import PipelineSettings
    from cyclegan_batch.translate.verb import TranslateOptions, translate_path
    from cyclegan_batch.util.progress import show_progress
    from cyclegan_batch.video.pipeline import VideoOptions

    setup_logging(quiet, verbose)
    if context_from is not None and not (src.is_file() and out.suffix.lower().lstrip(".") in set(ContainerChoice)):
        raise UserError("--context-from needs IN to be one video segment and OUT a video file", ExitCode.USAGE)
    pipeline = PipelineSettings(batch_size=parse_batch_size(batch_size), max_side=max_side, max_pixels=max_pixels)
    if workers is not None:
        pipeline.workers = workers
    options = TranslateOptions(
        model=model,
        direction=direction,
        format=output_format.value if output_format else None,
        cycle=cycle,
        save_reconstruction=save_reconstruction,
        overwrite=overwrite,
        strict=strict,
        device=device,
        precision=precision.value,
        tile=parse_tile(tile),
        pipeline=pipeline,
        video=VideoOptions(
            container=container.value if container else None,
            codec=None if codec == "auto" else codec,
            crf=crf,
            frames_dir=frames_dir,
            temporal=temporal_strength if temporal and temporal_strength > 0 else None,
            context_from=context_from,
            flicker=cycle,
        ),
    )
    summary = translate_path(src, out, options, progress=show_progress(quiet))
    if summary.failures:
        raise typer.Exit(int(ExitCode.PARTIAL))
