"""Which files are images and videos, and what each stage writes them as: the one home of these names.

Torch-free and import-free: the CLI's choices (kept fast for `--help`), the pipelines and the workflow's
rules (workflow/rules/common.smk) all derive from it.
"""

from __future__ import annotations

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
