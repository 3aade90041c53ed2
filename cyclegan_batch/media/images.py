"""Decode any image Pillow reads into 8-bit RGB, by one documented rule shared by every stage.

The rule (prepare, train and translate all use it, so a picture means the same thing everywhere):
- EXIF orientation is applied (phone photos come out upright).
- Multi-frame files (animated GIF/WebP, multi-page TIFF) use their first frame.
- Transparency (RGBA, LA, P with a transparent colour) is composited over `background`
  (default white) - the colour a viewer would show behind it. `load_rgb_alpha` instead keeps the
  alpha channel apart from the straight colour (translate carries it into outputs that hold it).
- 16-bit and 32-bit modes (I;16, I, F) are scaled to 8 bits by their value range
  (I;16 and I by 65535 / 257; F by its min-max), then grayscale is replicated to RGB.
- CMYK, YCbCr, 1-bit, palette and grayscale are converted with Pillow's standard RGB conversion.
- Images over `max_pixels` are refused before decoding (decompression-bomb guard).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

from cyclegan_batch.media.formats import unreadable

# Output formats whose files hold an alpha channel as Pillow writes them (GIF: one transparent colour,
# which is what a GIF input's alpha is). Pillow writes BMP without alpha; JPEG and PNM have none.
ALPHA_SUFFIXES = frozenset({".png", ".webp", ".tif", ".tiff", ".gif", ".tga"})
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La", "RGBA;16"})
DEFAULT_MAX_PIXELS = 100_000_000  # ~10000x10000; larger is refused as a likely decompression bomb
# The paper\'s resize, then random crop: train\'s defaults (load_size, crop_size) and what prepare resizes to.
PAPER_LOAD_SIZE = 286
PAPER_CROP_SIZE = 256
WHITE = (255, 255, 255)


class ImageLoadError(Exception):
    """This file cannot be used as an image; the message is the per-file reason users see."""


def _to_rgb(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr / 257.0, 0, 255).round().astype(np.uint8), "L")
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(np.nan_to_num(scaled).round().astype(np.uint8), "L")
    elif mode in ("RGBA;16", "RGB;16"):  # rare raw 16-bit colour modes
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, background)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def open_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, allow_truncated: bool = False) -> Image.Image:
    """Open and fully decode `path` as a Pillow image (first frame, EXIF-upright), or raise ImageLoadError."""
    path = Path(path)
    if problem := unreadable(path):
        raise ImageLoadError(problem)
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        ImageFile.LOAD_TRUNCATED_IMAGES = allow_truncated
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageLoadError(f"{w}x{h} = {w * h} pixels is over the limit of {max_pixels} (--max-pixels)")
                img.seek(0)
                img.load()
                return ImageOps.exif_transpose(img) or img.copy()
    except ImageLoadError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageLoadError("not an image Pillow can identify") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageLoadError(f"decompression bomb guard: {e}") from None
    except OSError as e:
        text = str(e)
        if "truncated" in text.lower() or "broken data stream" in text.lower():
            raise ImageLoadError(f"truncated image ({text})") from None
        raise ImageLoadError(f"cannot decode: {text}") from None
    except (ValueError, SyntaxError, EOFError) as e:
        raise ImageLoadError(f"cannot decode: {e}") from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def load_rgb(
    path: Path,
    *,
    background: tuple[int, int, int] = WHITE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    allow_truncated: bool = False,
) -> np.ndarray:
    """`path` as an HxWx3 uint8 RGB array by the module's rule, or raise ImageLoadError."""
    img = open_image(path, max_pixels=max_pixels, allow_truncated=allow_truncated)
    return np.asarray(_to_rgb(img, background), dtype=np.uint8)


def has_transparency(img: Image.Image) -> bool:
    """An alpha channel, or a transparent colour key (palette, grayscale or RGB with PNG tRNS / GIF)."""
    return img.mode in ALPHA_MODES or (img.mode in ("P", "L", "RGB") and "transparency" in img.info)


def load_rgb_alpha(
    path: Path, *, keep_alpha: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, np.ndarray | None]:
    """The colour of `path` and, if it has transparency and `keep_alpha`, its alpha channel apart.

    With alpha: the straight (not premultiplied, not composited) HxWx3 colour and the HxW alpha, both
    uint8. Otherwise `load_rgb`'s pixels (transparency composited over white) and None.
    """
    img = open_image(path, max_pixels=max_pixels)
    if not (keep_alpha and has_transparency(img)):
        return np.asarray(_to_rgb(img, WHITE), dtype=np.uint8), None
    rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


def shrink_rgba(rgb: np.ndarray, alpha: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Area-downscale colour and alpha together to `size` (w, h). Pillow resamples RGBA premultiplied,
    so the colour hidden under transparent pixels does not bleed into the visible edges."""
    img = Image.fromarray(np.dstack([rgb, alpha]), "RGBA").resize(size, Image.Resampling.BOX)
    rgba = np.asarray(img)
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


def holds_alpha(path: Path) -> bool:
    return Path(path).suffix.lower() in ALPHA_SUFFIXES


def to_rgb(img: Image.Image, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """The module's colour rule applied to an already opened image."""
    return _to_rgb(img, background)


def resize_shorter(img: np.ndarray, size: int) -> np.ndarray:
    """Resize so the shorter side is `size` (area when shrinking, bicubic when enlarging); no-op if already."""
    h, w = img.shape[:2]
    if min(h, w) == size:
        return img
    scale = size / min(h, w)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(img).resize(new, method))
