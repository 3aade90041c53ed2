"""Which files are images and videos by their names, which are hidden, and what each stage writes them as:
the one home of these rules.

Torch-free and import-free: the CLI's choices (kept fast for `--help`), the pipelines and the workflow's
rules (workflow/rules/common.smk) all derive from it. Telling an animated GIF (a video) from a still one
takes Pillow: media/gif.py's `is_video_file`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePath

# Images: what the scanners take (by suffix, case-insensitive), and what `translate --format` writes.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".tga"}
)
IMAGE_OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}  # --format name -> suffix
PREPARED_IMAGE_FORMATS = ("png", "jpg")  # what `prepare --format` writes: lossless, or JPEG quality 95

# Videos: containers ffmpeg writes (name = suffix -> ffmpeg muxer), plus GIF (written by media/gif.py).
CONTAINER_FORMATS = {"mp4": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm", "avi": "avi"}
GIF = "gif"
DEFAULT_CONTAINER = "mp4"  # what a video becomes unless told (an animated GIF stays a GIF)
OUTPUT_CONTAINERS = (*CONTAINER_FORMATS, GIF)
VIDEO_SUFFIXES = frozenset({".m4v", *(f".{name}" for name in OUTPUT_CONTAINERS)})  # an animated GIF is a video

# `video split` keeps MP4/MOV segments (exact time bases); everything else goes to Matroska, which takes any codec.
SEGMENT_SUFFIX_OF = {".mp4": ".mp4", ".m4v": ".mp4", ".mov": ".mov"}
SEGMENT_FALLBACK_SUFFIX = ".mkv"
SEGMENT_SUFFIXES = (*sorted(set(SEGMENT_SUFFIX_OF.values())), SEGMENT_FALLBACK_SUFFIX)


def segment_suffix(source_suffix: str) -> str:
    return SEGMENT_SUFFIX_OF.get(source_suffix.lower(), SEGMENT_FALLBACK_SUFFIX)


def is_image_name(path: PurePath | str) -> bool:
    """An image by its suffix (a GIF among them: whether it is animated is media/gif.py's question)."""
    return PurePath(path).suffix.lower() in IMAGE_SUFFIXES


def is_video_name(path: PurePath | str) -> bool:
    return PurePath(path).suffix.lower() in VIDEO_SUFFIXES


def unreadable(path: Path) -> str | None:
    """Why a file cannot be read at all (missing, no permission, empty), in the words every stage reports; None
    when it has bytes to decode."""
    try:
        return "empty file (0 bytes)" if Path(path).stat().st_size == 0 else None
    except OSError as e:
        return f"cannot read file: {e.strerror or e}"


def is_hidden(relpath: PurePath | str) -> bool:
    """A file or folder name starting with '.' anywhere in the path (`.DS_Store`, `.thumbs/a.jpg`): every
    stage leaves these out, as file browsers do."""
    return any(part.startswith(".") for part in PurePath(relpath).parts)


def visible_files(root: Path, exclude: Path | None = None) -> Iterator[Path]:
    """Every file under `root` that is not hidden, recursively, in name order (`root` itself if it is a file).
    `exclude`: a folder left out (an output folder inside the input)."""
    root = Path(root)
    if root.is_file():
        yield root
        return
    excluded = exclude.resolve() if exclude is not None else None
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d) and Path(folder, d).resolve() != excluded)
        yield from (Path(folder, name) for name in sorted(files) if not is_hidden(name))
