"""How a video's pixels are meant to be shown: sample aspect ratio and colour description.

A translated video must play like its input: an anamorphic clip (pixels not square, e.g. SAR 128:117)
keeps its SAR, and the colour description the input declares (primaries, transfer, matrix, range) is
written again. The matrix and range also steer the conversions: ffmpeg decodes the input to RGB with the
input's matrix and range, and the encoder converts back to YUV with the same ones, so the tags describe
the pixels. What the input leaves unsaid stays unsaid (ffmpeg's defaults both ways, as before).

`Layout` says how one raw frame lies in the ffmpeg pipes: the stream's own YUV planes, or packed RGB24
(media/yuv.py converts between them).

The values are read from the showinfo filter's per-frame fields (`sar:128/117`, `color_range:tv
color_space:bt709 ...`), which ffmpeg spells with the same names its setparams filter takes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

RGB24 = "rgb24"  # the decoder's layout for any other pixel format (ffmpeg converts), and the GIF writer's
# pixel format -> (horizontal, vertical chroma subsampling, bits per sample)
PLANAR = {
    "yuv420p": (2, 2, 8),
    "yuv422p": (2, 1, 8),
    "yuv444p": (1, 1, 8),
    "yuvj420p": (2, 2, 8),
    "yuvj422p": (2, 1, 8),
    "yuvj444p": (1, 1, 8),
    "yuv420p10le": (2, 2, 10),
    "yuv422p10le": (2, 1, 10),
    "yuv444p10le": (1, 1, 10),
}
UNSAID = frozenset({"unknown", "reserved", "unspecified"})
# The output is always YUV: for an RGB-coded input (matrix `gbr`: GIF, RGB codecs) neither its matrix nor
# its range (full, as RGB always is) describes the output, so both are left to the encoder's defaults.
RGB_MATRICES = frozenset({"gbr"})
# The matrices this ffmpeg converts between YUV and RGB (tried both ways); with the others (YCgCo, ICtCp,
# BT.2020 constant luminance, chroma-derived...) it decodes no frame to RGB.
CONVERTIBLE_MATRICES = frozenset({"bt709", "fcc", "bt470bg", "smpte170m", "smpte240m", "bt2020nc"})


@dataclass(frozen=True)
class Picture:
    sar: Fraction = Fraction(1)
    primaries: str | None = None
    transfer: str | None = None
    matrix: str | None = None
    range: str | None = None

    def summary(self) -> dict[str, str | None]:
        """The sidecar's fields (flat, so the report shows them as rows)."""
        return {
            "sar": f"{self.sar.numerator}:{self.sar.denominator}",
            "color_primaries": self.primaries,
            "color_transfer": self.transfer,
            "color_matrix": self.matrix,
            "color_range": self.range,
        }

    def convertible(self) -> bool:
        return self.matrix is None or self.matrix in CONVERTIBLE_MATRICES

    def filters(self) -> list[str]:
        """Filters for the encoder's RGB input: set the SAR and tag the frames, so ffmpeg's conversion to
        YUV uses the declared matrix and range and the encoder writes all four tags (output options alone
        set the matrix and range but not primaries and transfer in this ffmpeg)."""
        chain = []
        if self.sar != 1:
            largest = max(self.sar.numerator, self.sar.denominator, 100)  # setsar reduces past 100 otherwise
            chain.append(f"setsar=sar={self.sar.numerator}/{self.sar.denominator}:max={largest}")
        tags = {"color_primaries": self.primaries, "color_trc": self.transfer}
        tags |= {"colorspace": self.matrix, "range": self.range}
        params = ":".join(f"{key}={value}" for key, value in tags.items() if value is not None)
        if params:
            chain.append(f"setparams={params}")
        return chain


@dataclass(frozen=True)
class Layout:
    """How one raw frame of `pix_fmt` lies in the pipe: a Y plane then two chroma planes, or packed rgb24."""

    pix_fmt: str
    width: int
    height: int

    @classmethod
    def reading(cls, pix_fmt: str | None, width: int, height: int, planes: bool = True) -> Layout:
        """The layout frames of a stream in `pix_fmt` come out of the decoder in: their own planes, or (any
        other format, or `planes` False) rgb24."""
        return cls(pix_fmt if planes and pix_fmt in PLANAR else RGB24, width, height)

    @property
    def planar(self) -> bool:
        return self.pix_fmt in PLANAR

    @property
    def chroma_size(self) -> tuple[int, int]:
        """(height, width) of a chroma plane (odd sides round up, as ffmpeg's planes do)."""
        sx, sy, _ = PLANAR[self.pix_fmt]
        return -(-self.height // sy), -(-self.width // sx)

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.planar and PLANAR[self.pix_fmt][2] > 8 else 1

    @property
    def frame_bytes(self) -> int:
        if not self.planar:
            return 3 * self.width * self.height
        ch, cw = self.chroma_size
        return (self.width * self.height + 2 * ch * cw) * self.bytes_per_sample

    def full_range(self, range_tag: str | None) -> bool:
        return self.pix_fmt.startswith("yuvj") or range_tag == "pc"


def _said(value: str | None) -> str | None:
    return None if value is None or value in UNSAID else value


def parse_showinfo(stderr: str) -> Picture:
    """The first frame's SAR and colour fields from showinfo's log lines (defaults where a field is absent)."""
    sar = Fraction(1)
    found = re.search(r"showinfo.* n:\s*0 .* sar:(\d+)/(\d+) ", stderr)
    if found and int(found.group(1)) > 0 and int(found.group(2)) > 0:  # 0/1: unknown, square pixels
        sar = Fraction(int(found.group(1)), int(found.group(2)))
    colour = re.search(r"showinfo.* color_range:(\S+) color_space:(\S+) color_primaries:(\S+) color_trc:(\S+)", stderr)
    if colour is None:
        return Picture(sar)
    value_range, matrix, primaries, transfer = (_said(v) for v in colour.groups())
    if matrix in RGB_MATRICES:
        matrix = value_range = None
    return Picture(sar, primaries, transfer, matrix, value_range)
