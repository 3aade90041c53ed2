"""`cyclegan-batch video split|join`: fan a video out into keyframe segments and join translated ones."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from cyclegan_batch.cli import app
from cyclegan_batch.cli.common import Quiet, setup_logging
from cyclegan_batch.errors import UserError

log = logging.getLogger("cyclegan_batch")

video_app = typer.Typer(
    help="Cut a video into keyframe segments (one cluster job each) and join the translated segments.\n\n"
    "Example: `cyclegan-batch video split clip.mp4 work/segments --seconds 10`",
    no_args_is_help=True,
)
app.add_typer(video_app, name="video")

Overwrite = Annotated[bool, typer.Option(help="Redo an output that is already complete.")]


@video_app.command("split")
def split_command(
    video: Annotated[Path, typer.Argument(metavar="VIDEO", help="The video to cut (mp4, mov, mkv, webm, avi, gif).")],
    outdir: Annotated[
        Path, typer.Argument(metavar="OUTDIR", help="New folder for segment_00000.mp4, ... (picture only, no audio).")
    ],
    seconds: Annotated[float, typer.Option(min=0.1, help="Target segment length; cuts fall on the next keyframe.")],
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Cut VIDEO into segments of about N seconds at keyframes, without re-encoding; segments.csv says where
    each starts (for `translate SEGMENT OUT --context-from VIDEO`).

    Translate the folder with `translate`, then put it back together with `video join`.

    Example: `cyclegan-batch video split clip.mp4 work/segments --seconds 10`
    """
    from cyclegan_batch.media.ffmpeg import VideoError
    from cyclegan_batch.media.mux import split
    from cyclegan_batch.video.segments import INDEX_NAME, write_index

    setup_logging(quiet)
    if outdir.is_dir() and (outdir / INDEX_NAME).is_file() and not overwrite:
        log.info("%s already holds segments; skipped (pass --overwrite to cut again)", outdir)
        return
    try:
        segments = split(video, outdir, seconds)
        write_index(segments, outdir)  # where each starts: `translate --context-from` warms up on what comes before
    except VideoError as e:
        raise UserError(f"{video}: {e}") from None
    log.info("%s: %d segments in %s", video.name, len(segments), outdir)


@video_app.command("join")
def join_command(
    segdir: Annotated[
        Path, typer.Argument(metavar="SEGDIR", help="Folder of translated segments (joined in name order).")
    ],
    original: Annotated[
        Path, typer.Argument(metavar="ORIGINAL", help="The video that was split: its audio goes into OUT.")
    ],
    out: Annotated[
        Path, typer.Argument(metavar="OUT", help="The joined video (+ OUT.cycle.csv and OUT.json beside it).")
    ],
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Concatenate translated segments without re-encoding and add the original's audio.

    Example: `cyclegan-batch video join work/translated clip.mp4 out/clip.mp4`
    """
    from cyclegan_batch.media.ffmpeg import VideoError
    from cyclegan_batch.media.formats import CONTAINER_FORMATS
    from cyclegan_batch.video.pipeline import join_video

    setup_logging(quiet)
    if not segdir.is_dir():
        raise UserError(f"{segdir} is not a folder; pass the folder `translate` wrote the segments to")
    if out.suffix.lstrip(".").lower() not in CONTAINER_FORMATS:
        raise UserError(f"{out}: name the output .{', .'.join(CONTAINER_FORMATS)}")
    try:
        result = join_video(segdir, original, out, overwrite=overwrite)
    except VideoError as e:
        raise UserError(f"{original.name}: {e}") from None
    if result.status == "skipped":
        log.info("%s exists; skipped (pass --overwrite to join again)", out)
    else:
        log.info("%s: %d frames joined", out, result.frames)
