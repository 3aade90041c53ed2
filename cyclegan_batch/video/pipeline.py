"""Translate one video: probe, decode, translate in batches and encode concurrently, with per-frame metrics.

    probe -> decoder thread --raw frames--> model threads (to RGB, Translator, cycle metrics; batched, on
             (media/decode.py)             the model's device)
                                  --in order--> main thread (stabilizer, the encoder's planes, ffmpeg encoder,
                                                frame images, warping metrics: video/frame_sink.py)

With the model on a GPU, frames cross the pipes in the stream's own YUV planes, and the colour conversions
(media/yuv.py) and the work after the model run there (video/frames.py); on a CPU the pipes carry RGB24.

Each stage runs a bounded number of items ahead of the next (cyclegan_batch/util/bounded.py), so memory stays
at a few batches whatever the video's length.
Output files (docs/interfaces.md): `<dst>` (the video), `<dst>.cycle.csv` (one row per frame) and
`<dst>.json` (input vs output properties). All three are written to temporary names; the video is renamed
last, so its presence means all three are complete, and a rerun after a kill starts the video again.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cyclegan_batch import runfolder
from cyclegan_batch.media.codecs import NVDEC, choose_decoder, choose_encoder
from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.encode import DEFAULT_CRF, EncodeSettings, FrameWriter, encoder_layout, pix_fmt_for
from cyclegan_batch.media.ffmpeg import VideoError
from cyclegan_batch.media.formats import DEFAULT_CONTAINER, GIF, is_video_name
from cyclegan_batch.media.gif import GifTiming, GifWriter, read_timing
from cyclegan_batch.media.mux import finish_with_audio, join
from cyclegan_batch.media.picture import Layout
from cyclegan_batch.media.probe import VideoInfo, probe
from cyclegan_batch.media.yuv import to_rgb
from cyclegan_batch.models.engine import BatchSize, Translator
from cyclegan_batch.models.pixels import to_pixels
from cyclegan_batch.util.atomic import atomic_output, atomic_write_text, remove_stale_parts_of, temp_path_for
from cyclegan_batch.util.bounded import bounded_map, in_background
from cyclegan_batch.util.progress import progress_bar
from cyclegan_batch.util.threads import ModelThreads, io_workers, opencv_sequential
from cyclegan_batch.video import DEFAULT_STRENGTH
from cyclegan_batch.video.frame_sink import FrameSink
from cyclegan_batch.video.frames import Frame, frame_ops, frames_on_device
from cyclegan_batch.video.graded import GradeLut, copy_frames, unmeasured_rows
from cyclegan_batch.video.segments import segment_context

log = logging.getLogger("cyclegan_batch")


@dataclass(frozen=True)
class VideoOptions:
    """How `translate` writes videos: container (the output suffix), codec, quality, optional frame images."""

    container: str | None = None  # None: an animated GIF stays a GIF, any other video becomes mp4
    codec: str | None = None  # None: auto (NVENC or libx264: media/codecs.py), or VP9 in WebM
    crf: int = DEFAULT_CRF
    frames_dir: Path | None = None  # also write each translated frame to frames_dir/<output name>/000000.png
    temporal: float | None = DEFAULT_STRENGTH  # stabilization strength (cyclegan_batch/video/stabilize.py); None: off
    context_from: Path | None = None  # a segment's original video: warm the stabilizer on the frames before it
    # measure the warping errors (warp_in, warp_out); off with --no-cycle: without the stabilizer they would be
    # the only reason to compute the flow (bench/RESULTS.md, "The work around the model")
    flicker: bool = True

    def output_name(self, rel: Path) -> Path:
        container = self.container or (GIF if rel.suffix.lower() == f".{GIF}" else DEFAULT_CONTAINER)
        return rel.with_suffix(f".{container}")

    def settings(self) -> EncodeSettings:
        # A segment (context_from: it is joined to its neighbours later) starts with a keyframe, whose
        # cleaner look against the P-frames before it showed as a flicker seam at every join; x264's grain
        # tuning keeps I- and P-frames alike (measured: bench/RESULTS.md, appendix "Temporal
        # stabilization", the segment encoding table), at the cost of larger files.
        tune = "grain" if self.context_from is not None else None
        return EncodeSettings.for_container(self.container or DEFAULT_CONTAINER, self.codec, self.crf, tune)


@dataclass
class VideoResult:
    status: str  # "ok" or "skipped" (complete output already there)
    frames: int = 0
    width: int = 0
    height: int = 0
    warnings: list[str] = field(default_factory=list)


def _run_pipeline(
    translator: Translator,
    reader: FrameReader,
    frames: Iterable[np.ndarray],
    sink: FrameSink,
    batch_size: int,
    advance: Callable,
    model_calls: int = 1,
) -> None:
    """Decode, translate and encode concurrently; the first error of any stage is raised.

    `model_calls` batches are translated at once (util/threads.py's ModelThreads), while the main thread
    encodes the results in frame order; the decoder keeps two rounds of batches ready.
    """
    ops, device, cycle, layout = sink.ops, translator.device, translator.backward is not None, reader.layout

    def translate_batch(batch: list[np.ndarray]) -> tuple[list[Frame], list[Frame], list | None]:
        if layout.planar:  # the stream's own planes, converted on the model's device
            raw = torch.from_numpy(np.stack(batch))
            if device.type == "cuda":
                raw = raw.pin_memory()
            pixels = to_rgb(raw.to(device, non_blocking=True), layout, reader.picture.matrix, reader.picture.range)
            inputs, x = ops.frames(pixels), translator.from_pixels(pixels)
        else:  # RGB24 converted by ffmpeg: the decoded frames are the inputs as they are
            rgb = np.stack(batch).reshape(len(batch), layout.height, layout.width, 3)
            inputs, x = ops.decoded(rgb), translator.to_device(rgb)
        outputs, reconstructions = translator.translate_tensor(x)
        scores = ops.cycle(inputs, ops.frames(to_pixels(reconstructions))) if cycle else None
        return inputs, ops.frames(to_pixels(outputs)), scores

    queued = in_background(frames, 2 * batch_size * model_calls, "decode")
    batches = iter(lambda: list(itertools.islice(queued, batch_size)), [])
    model_pool = ModelThreads(model_calls)
    try:
        for _, (inputs, outputs, scores) in bounded_map(model_pool, translate_batch, batches, model_calls):
            for i in range(len(inputs)):
                sink.add(inputs[i], outputs[i], None if scores is None else scores[i])
            advance(len(inputs))
    finally:
        model_pool.shutdown(cancel_futures=True)
        queued.close()
        sink.finish()


def remove_stale_video_parts(dst: Path) -> None:
    """Temporary files a killed run left for this output and its sidecars (other videos' stay)."""
    for name in (dst, runfolder.video_cycle_csv(dst), runfolder.video_sidecar(dst)):
        remove_stale_parts_of(name)


def translate_video(
    translator: Translator,
    src: Path,
    dst: Path,
    *,
    settings: EncodeSettings | None = None,
    batch_size: BatchSize = "auto",
    frames_dir: Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
    measure_workers: int | None = None,
    temporal: float | None = None,
    context_from: Path | None = None,
    on_device: bool | None = None,
    in_ffmpeg: bool = True,
    flicker: bool = True,
) -> VideoResult:
    """Translate the video `src` into `dst` (+ `.cycle.csv` and `.json` beside it). Raises VideoError.

    `temporal`: stabilize with this strength (cyclegan_batch/video/stabilize.py); None writes the per-frame
    translation. `context_from`: `src` is a segment of this video: the frames before it go through the model
    and the stabilizer first and are discarded, so a segment starts where its neighbour ended.
    `flicker`: measure the warping errors; without it and without `temporal` no flow is computed and
    warp_in/warp_out stay empty. `on_device`: frames cross the pipes as YUV and the work after the model
    runs in torch on its device (video/frames.py); None: where the model is on a GPU. On a CPU, ffmpeg
    converts to and from RGB24 and the sink runs in OpenCV: the same results, in less CPU time there
    (bench/RESULTS.md).
    A pointwise model is never stabilized (a colour function adds no spatial flicker); without the cycle (and
    without `frames_dir`) its grade runs inside ffmpeg as a 3D LUT (video/graded.py), unless `in_ffmpeg` is
    False (bench/graded_video.py's baseline).
    """
    src, dst = Path(src), Path(dst)
    settings = settings or EncodeSettings.for_container(dst.suffix.lstrip(".").lower())
    if dst.exists() and not overwrite:
        return VideoResult("skipped")
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_video_parts(dst)
    info = probe(src)
    warnings: list[str] = []
    gif = dst.suffix.lower() == f".{GIF}"
    container, codec = (GIF, GIF) if gif else (settings.container, settings.codec)
    if info.vfr and not gif:
        warnings.append(f"variable frame rate: {info.frames} frames re-timed to a constant {float(info.fps):.4g} fps")
    pointwise = translator.pointwise_net is not None
    if pointwise and temporal is not None:
        log.info("%s: not stabilized: a pointwise model (a colour function) adds no spatial flicker", src.name)
        temporal = None
    with contextlib.ExitStack() as cleanup:  # the reader's ffmpeg and the LUT's folder, however this ends
        lut = None
        if pointwise and in_ffmpeg and translator.backward is None and frames_dir is None:
            log.info(
                "%s: graded inside ffmpeg (lut3d) with the pointwise model's 3D LUT; no per-frame metrics", src.name
            )
            lut = GradeLut(translator.pointwise_net)
            cleanup.callback(lut.close)
        on_device = frames_on_device(translator.device, on_device) and lut is None  # the LUT's frames are RGB24
        context = segment_context(src, context_from, temporal is not None, flicker, on_device)
        if any(
            len(frame) != Layout.reading(info.pix_fmt, info.width, info.height, on_device).frame_bytes
            for frame in context
        ):
            raise VideoError(
                f"--context-from {context_from}: its frames are not in the segment's pixel format and size"
            )
        gpu = translator.device.type == "cuda"
        decoder = choose_decoder(src, gpu)
        rgb_filter = None if lut is None else lut.filter
        reader = FrameReader(src, info, planes=on_device, hwaccel=decoder.name == NVDEC, rgb_filter=rgb_filter)
        cleanup.callback(reader.close)
        batch_size = translator.batch_size_for(info.height, info.width, batch_size)
        video_only = temp_path_for(dst)
        if gif:
            log.info("%s: decoding %s on %s (%s)", src.name, info.codec, decoder.name, decoder.reason)
            timing = _gif_timing(src, info, warnings)
            writer: FrameWriter | GifWriter = GifWriter(video_only, timing, info.width, info.height)
        else:
            pix_fmt = pix_fmt_for(info.width, info.height)
            encoder = choose_encoder(settings.codec, pix_fmt, info.width, info.height, gpu)
            settings, codec = replace(settings, codec=encoder.name), encoder.name
            log.info(
                "%s: decoding %s on %s (%s), encoding with %s (%s)",
                src.name,
                info.codec,
                decoder.name,
                decoder.reason,
                encoder.name,
                encoder.reason,
            )
            if pix_fmt != "yuv420p":
                log.info(
                    "%s: odd size %dx%d kept exactly, encoded as 4:4:4 (%s)", src.name, info.width, info.height, codec
                )
            layout = encoder_layout(info.width, info.height) if on_device else None  # None: RGB24, ffmpeg converts
            writer = FrameWriter(video_only, info.width, info.height, info.fps, settings, info.picture, layout)
        try:
            ops = frame_ops(translator.device, on_device)
            stabilizer = None if temporal is None else ops.stabilizer(temporal)
            workers = measure_workers or io_workers()
            sink = None  # a LUT's frames go straight to the encoder: nothing to stabilize or measure
            if lut is None:
                if not flicker and stabilizer is None:
                    log.info("%s: no warping errors (warp_in/warp_out) without the cycle or the stabilizer", src.name)
                sink = FrameSink(
                    writer, ops, info.picture, float(info.fps), frames_dir, workers, stabilizer, len(context), flicker
                )
            on_cpu = translator.device.type == "cpu"
            calls = translator.concurrent_calls(info.height, info.width, batch_size)
            with (
                progress_bar(src.name, len(context) + info.frames, "frames", progress) as advance,
                opencv_sequential(on_cpu),
            ):
                if sink is not None:
                    _run_pipeline(
                        translator, reader, itertools.chain(context, reader), sink, batch_size, advance, calls
                    )
                else:
                    copy_frames(reader, writer, advance)
            if reader.frames_read == 0:
                raise VideoError(f"zero frames decoded ({reader.last_error() or 'the stream is empty'})")
            writer.close()
        except BaseException:
            writer.abort()
            video_only.unlink(missing_ok=True)
            raise
    if reader.frames_read < info.frames or info.truncated:
        warnings.append(
            f"truncated file: translated the {reader.frames_read} frames that decode "
            f"({info.duration_s:.2f} s of the {info.header_duration_s:.2f} s its header promises)"
        )
    _publish(
        dst,
        lambda tmp: finish_with_audio(video_only, src, info, tmp, container),
        src,
        info,
        sink.csv_text() if sink is not None else unmeasured_rows(reader.frames_read, float(info.fps)),
        warnings,
    )
    for warning in warnings:
        log.warning("%s: %s", src.name, warning)
    return VideoResult("ok", reader.frames_read, info.width, info.height, warnings)


def _gif_timing(src: Path, info: VideoInfo, warnings: list[str]) -> GifTiming:
    """A GIF input's own frame durations and loop count; for other inputs, its frame rate, looping forever."""
    if info.audio:
        warnings.append(f"a GIF holds no audio: {', '.join(info.audio)} left out")
    stored = read_timing(src) if src.suffix.lower() == f".{GIF}" else None
    if stored is not None and len(stored.durations_ms) == info.frames:
        return stored
    if stored is not None:
        warnings.append(
            f"Pillow reads {len(stored.durations_ms)} frames, ffmpeg {info.frames}: durations from the frame rate"
        )
    return GifTiming.of_rate(info.fps, info.frames, stored.loop if stored is not None else 0)


def _publish(
    dst: Path, produce: Callable[[Path], str], src: Path, info: VideoInfo, csv_text: str, warnings: list[str]
) -> None:
    """Write the video via `produce(tmp) -> audio note`, then its two sidecars, then rename the video.

    The sidecar names the input video by its absolute path, so the report shows input frames beside the output.
    """
    with atomic_output(dst) as tmp:
        audio = produce(tmp)
        out_info = probe(tmp)
        sidecar = {
            "input": {**info.summary(), "path": str(src.resolve())},
            "output": {**out_info.summary(), "audio_carried": audio},
            "warnings": warnings,
        }
        atomic_write_text(runfolder.video_cycle_csv(dst), csv_text)
        atomic_write_text(runfolder.video_sidecar(dst), json.dumps(sidecar, indent=2) + "\n")


def _merged_csv(segments: list[Path], fps: float) -> tuple[str, list[str]]:
    """The segments' per-frame rows as one table: frames renumbered, times recomputed at the joined rate."""
    rows: list[dict[str, str]] = []
    missing = []
    for segment in segments:
        table = runfolder.video_cycle_csv(segment)
        if not table.is_file():
            missing.append(segment.name)
            continue
        with table.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                frame = len(rows)
                rows.append({**row, "frame": str(frame), "time_s": f"{frame / fps:.6f}"})
    warnings = [f"no per-frame metrics for segments {', '.join(missing)}: the joined cycle.csv skips them"]
    return runfolder.video_cycle_text(rows), warnings if missing else []


def join_video(segments_dir: Path, original: Path, dst: Path, *, overwrite: bool = False) -> VideoResult:
    """Join the translated segments in `segments_dir` (name order) into `dst` with `original`'s audio.

    The per-frame tables of the segments are merged; a segment translated with `--context-from` has the
    warping error at its first frame too (measured against the context frame before it). Raises VideoError.
    """
    segments_dir, dst = Path(segments_dir), Path(dst)
    segments = sorted(p for p in segments_dir.iterdir() if is_video_name(p) and not p.name.startswith("."))
    if not segments:
        raise VideoError(f"no video segments in {segments_dir}")
    if dst.exists() and not overwrite:
        return VideoResult("skipped")
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_video_parts(dst)
    info = probe(original)
    container = dst.suffix.lstrip(".").lower()
    csv_text, warnings = _merged_csv(segments, float(info.fps))
    _publish(dst, lambda tmp: join(segments, original, info, tmp, container), original, info, csv_text, warnings)
    for warning in warnings:
        log.warning("%s: %s", dst.name, warning)
    return VideoResult("ok", info.frames, info.width, info.height, warnings)
