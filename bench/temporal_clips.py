"""Clips for the temporal bench, made from scikit-image's photos: the camera moves and defects real footage has.

Each clip is a list of H x W x 3 uint8 frames; `write_clip` encodes it as H.264 with the real ffmpeg, so the
bench and the pipeline see decoded frames with codec noise, as they would from a camera file.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from cyclegan_batch.demo import skimage_photo
from cyclegan_batch.media.encode import EncodeSettings, FrameWriter

SIZE = (320, 180)  # W x H, the cost-measurement size


def window(photo: np.ndarray, cx: float, cy: float, zoom: float, size: tuple[int, int] = SIZE) -> np.ndarray:
    """The view of a camera centred on (cx, cy) (fractions of the photo), `zoom` of the photo's height."""
    w, h = size
    ph, pw = photo.shape[:2]
    wh = zoom * min(ph, pw * h / w)
    ww = wh * w / h
    x0 = np.clip(cx * pw - ww / 2, 0, pw - ww)
    y0 = np.clip(cy * ph - wh / 2, 0, ph - wh)
    affine = np.float32([[ww / w, 0, x0], [0, wh / h, y0]])
    return cv2.warpAffine(photo, affine, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)


def pan(n: int) -> list[np.ndarray]:
    """A steady horizontal pan, about 3 px per frame."""
    photo = skimage_photo("chelsea.png")
    return [window(photo, 0.35 + 0.3 * i / n, 0.5, 0.8) for i in range(n)]


def fast_motion(n: int) -> list[np.ndarray]:
    """A whip pan (about 15 px per frame, bobbing) with motion blur along the move."""
    photo = skimage_photo("motorcycle_left.png")
    frames = []
    for i in range(n):
        t = i / n
        frame = window(photo, 0.25 + 0.5 * t, 0.5 + 0.08 * np.sin(6 * t), 0.55)
        kernel = np.zeros((1, 9), np.float32)
        kernel[0, :] = 1 / 9
        frames.append(cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REFLECT))
    return frames


def occlusion(n: int) -> list[np.ndarray]:
    """A slow pan with a foreground object crossing in front of it (covers and uncovers the background)."""
    background, thing = skimage_photo("coffee.png"), skimage_photo("astronaut.png")
    card = cv2.resize(thing[60:300, 140:360], (110, 120), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        frame = window(background, 0.45 + 0.1 * i / n, 0.5, 0.8).copy()
        x = int(-110 + (SIZE[0] + 110) * i / (n - 1))
        left, right = max(0, x), min(SIZE[0], x + 110)
        if right > left:
            frame[30:150, left:right] = card[:, left - x : right - x]
        frames.append(frame)
    return frames


def lighting(n: int) -> list[np.ndarray]:
    """A pan under changing light: exposure drops to 55 % and comes back, with a warm-to-cool shift."""
    photo = skimage_photo("astronaut.png")
    frames = []
    for i in range(n):
        t = i / n
        gain = 1.0 - 0.45 * np.sin(np.pi * t)
        tint = np.array([1.0 + 0.1 * np.cos(np.pi * t), 1.0, 1.0 - 0.1 * np.cos(np.pi * t)], np.float32)
        frame = window(photo, 0.4 + 0.2 * t, 0.45, 0.7).astype(np.float32) * gain * tint
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
    return frames


def hard_cut(n: int) -> list[np.ndarray]:
    """Two shots: a pan over one photo, then at frame n // 2 a cut to a pan over another."""
    first, second = skimage_photo("rocket.jpg"), skimage_photo("chelsea.png")
    half = n // 2
    return [window(first, 0.4 + 0.2 * i / n, 0.5, 0.8) for i in range(half)] + [
        window(second, 0.4 + 0.2 * i / n, 0.5, 0.7) for i in range(n - half)
    ]


def static(n: int) -> list[np.ndarray]:
    """A locked-off camera: the same view with fresh sensor noise (sigma 3 grey levels) in every frame."""
    frame = window(skimage_photo("astronaut.png"), 0.5, 0.45, 0.8).astype(np.float32)
    rng = np.random.default_rng(0)
    return [np.clip(frame + rng.normal(0, 3, frame.shape) + 0.5, 0, 255).astype(np.uint8) for _ in range(n)]


CLIPS: dict[str, Callable[[int], list[np.ndarray]]] = {
    "pan": pan,
    "fast_motion": fast_motion,
    "occlusion": occlusion,
    "lighting": lighting,
    "hard_cut": hard_cut,
    "static": static,
}


def write_clip(frames: list[np.ndarray], path: Path, fps: int = 25) -> Path:
    """Encode `frames` as H.264 (crf 18) with the bundled ffmpeg."""
    h, w = frames[0].shape[:2]
    writer = FrameWriter(path, w, h, Fraction(fps), EncodeSettings())
    for frame in frames:
        writer.write(frame)
    writer.close()
    return path
