"""Which video decoder and encoder a translation uses: NVDEC/NVENC where the machine has them, the CPU's elsewhere.

The ffmpeg that imageio-ffmpeg ships has `-hwaccel cuda` and `h264_nvenc`/`hevc_nvenc`/`av1_nvenc`; whether
they work depends on the card and its driver. Decided once per video, by trying them on it:
- Decoder: `-hwaccel cuda` where the model runs on a CUDA device and one frame of this stream decodes that way
  (ffmpeg's software decoder otherwise: 4:4:4, 10-bit on older cards, a driver without NVDEC). Decoding is
  exact either way, so the frames are the same.
- Encoder (`--codec auto`, the default): NVENC where the model runs on a CUDA device, the output is 4:2:0 and a
  two-frame trial encode at the video's size succeeds (consumer cards' session limits, a driver without
  NVENC, a size it refuses fall back); libx264 otherwise (VP9 in WebM). A named `--codec` is used as given.
The log says what was chosen and, for a fallback, why, in one line; a job never fails for it.

`--crf` maps to NVENC's constant quality (`-rc vbr -cq Q -b:v 0`) by NVENC_CQ: the Q whose file sits as
close to the lossless frames as libx264's at that CRF (PSNR; bench/nvenc_quality.py measures it on a GPU and
writes the table; until it is measured on a card, Q = CRF, and bench/RESULTS.md says so). Files encoded
by NVENC and by libx264 differ: the same CRF gives about the same fidelity, not the same bytes.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cyclegan_batch.media.ffmpeg import file_arg, first_error, run

log = logging.getLogger("cyclegan_batch")

AUTO = "auto"
NVDEC, SOFTWARE = "NVDEC", "the CPU"  # where a stream is decoded
NVENC = {"libx264": "h264_nvenc", "libx265": "hevc_nvenc", "libsvtav1": "av1_nvenc", "libaom-av1": "av1_nvenc"}
NVENC_CQ: dict[int, int] = {}  # CRF -> NVENC constant quality, from bench/nvenc_quality.py; empty: Q = CRF
NVENC_PRESET = "p5"  # of p1 (fastest) .. p7 (best): NVENC's slow end, as libx264's medium is for x264
TRIAL_SIZE = (256, 144)  # at least NVENC's smallest frame; the video's own size is tried when larger


def nvenc_cq(crf: int) -> int:
    return NVENC_CQ.get(crf, crf)


@dataclass(frozen=True)
class Choice:
    name: str  # the ffmpeg encoder (h264_nvenc, libx264, ...), or where the decoder runs (NVDEC, SOFTWARE)
    reason: str  # why, for the log (one line)


@functools.cache
def _encoder_works(encoder: str, width: int, height: int) -> str:
    """Empty if a two-frame encode of this size with `encoder` succeeds here, else ffmpeg's complaint."""
    args = ["-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25", "-frames:v", "2"]
    args += ["-c:v", encoder, "-pix_fmt", "yuv420p", "-f", "null", "-"]
    try:
        proc = run(args, text=True, errors="replace", timeout=60)
    except subprocess.TimeoutExpired:
        return "the trial encode did not finish in 60 s"
    return "" if proc.returncode == 0 else first_error(proc.stderr)


def choose_encoder(codec: str, pix_fmt: str, width: int, height: int, gpu: bool) -> Choice:
    """The encoder for one output video: `codec` as given, or for `auto` NVENC where it works, else libx264."""
    if codec != AUTO:
        return Choice(codec, "as asked (--codec)")
    cpu = "libx264"
    if not gpu:
        return Choice(cpu, "the model runs on the CPU; NVENC is used where it runs on a CUDA device")
    if pix_fmt != "yuv420p":
        return Choice(cpu, f"NVENC takes 4:2:0 here, this output is {pix_fmt} (odd size)")
    nvenc = NVENC[cpu]
    complaint = _encoder_works(nvenc, max(width, TRIAL_SIZE[0]), max(height, TRIAL_SIZE[1]))
    if complaint:
        return Choice(cpu, f"{nvenc} is not available here: {complaint}")
    return Choice(nvenc, "a CUDA device whose driver offers NVENC")


@functools.cache
def _hwaccel_decodes(path: str) -> str:
    """Empty if the first frame of `path` decodes with `-hwaccel cuda` and no fallback, else ffmpeg's complaint."""
    args = ["-v", "warning", "-hwaccel", "cuda", "-i", path, "-map", "0:V:0", "-frames:v", "1", "-f", "null", "-"]
    try:
        proc = run(args, text=True, errors="replace", timeout=60)
    except subprocess.TimeoutExpired:
        return "the trial decode did not finish in 60 s"
    failed = proc.returncode != 0 or any(
        sign in proc.stderr.lower() for sign in ("failed setup", "hwaccel initialisation returned error", "no device")
    )
    return first_error(proc.stderr) if failed else ""


def choose_decoder(path: Path, gpu: bool) -> Choice:
    """NVDEC (`-hwaccel cuda`) where the model runs on a CUDA device and this stream decodes there; else the
    CPU (ffmpeg's software decoder)."""
    if not gpu:
        return Choice(SOFTWARE, "the model runs on the CPU")
    complaint = _hwaccel_decodes(file_arg(path))
    if complaint:
        return Choice(SOFTWARE, f"NVDEC cannot take this stream: {complaint}")
    return Choice(NVDEC, "a CUDA device whose driver offers NVDEC")
