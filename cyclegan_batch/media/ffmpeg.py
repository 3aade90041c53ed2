"""The ffmpeg binary that imageio-ffmpeg ships, and how this project calls it.

Every call is an argument list (never a shell string) and every file reaches ffmpeg as `file:<absolute
path>`, so a name with spaces, unicode or a leading dash is never read as an option or a protocol. The jobs
that call it live beside this module: probe.py (what a video holds), decode.py (frames out), encode.py
(frames in) and mux.py (audio, split, join). The rules they follow are in the manual's video page.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from pathlib import Path

import imageio_ffmpeg

log = logging.getLogger("cyclegan_batch")
VIDEO_STREAM = "0:V:0"  # capital V: video streams that are not attached pictures (cover art)


class VideoError(Exception):
    """This file cannot be translated as a video; the message is the one-line reason users see."""


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def file_arg(path: Path) -> str:
    """A path as ffmpeg must see it: the file protocol and an absolute path, never an option or URL."""
    return "file:" + str(Path(path).absolute())


def filter_value(value: str) -> str:
    """`value` (a path) as an option value inside a -vf filter graph: escaped for the filter's option parser,
    then for the graph's (ffmpeg-filters, "Notes on filtergraph escaping"), so `:`, `,` or a quote in it stay
    literal."""
    for specials in ("\\':", "\\'[],;"):
        value = "".join("\\" + c if c in specials else c for c in value)
    return value


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """One ffmpeg process to completion, its output captured."""
    log.debug("ffmpeg %s", shlex.join(args))
    return subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", *args], capture_output=True, **kwargs)


def popen(args: list[str], **kwargs) -> subprocess.Popen:
    """One ffmpeg process streaming through pipes (the frame readers and writers)."""
    log.debug("ffmpeg %s", shlex.join(args))
    return subprocess.Popen([ffmpeg_exe(), "-nostdin", "-hide_banner", *args], **kwargs)


def _messages(stderr: str) -> list[str]:
    """ffmpeg's stderr lines without their `[demuxer @ 0x...]` prefixes and its generic closing lines."""
    lines = [re.sub(r"^(\[[^]]*@ 0x[0-9a-f]+\]\s*)+", "", line).strip() for line in stderr.splitlines()]
    return [line for line in lines if line and not line.startswith(("Error opening input file", "Conversion failed"))]


def last_error(stderr: str) -> str:
    """The most telling line of ffmpeg's stderr when a file is at fault: the last one."""
    lines = _messages(stderr)
    return lines[-1] if lines else "ffmpeg failed without a message"


def first_error(stderr: str) -> str:
    """The most telling line when a device is at fault (no driver, no session): the first; the rest follow from it."""
    lines = _messages(stderr)
    return lines[0] if lines else "ffmpeg failed without a message"
