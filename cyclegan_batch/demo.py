"""The bundled demo: two unpaired domains, held-out pairs and videos, built from photos in scikit-image.

Domain A is crops of the colour photos that ship inside the scikit-image wheel (no download).
Domain B is *other* crops of the same photos with a known style applied: `golden_hour`, a per-pixel
colour grade (warm highlights, teal shadows, lifted blacks, richer colour). Because the style is a known
function, fidelity is a number: on held-out crops, PSNR(G(a), style(a)) against PSNR(a, style(a)).
Realism is scored too, as for any data set: KID of G(a) against the real golden-hour images of B, next to
KID of a itself, on the same KID subsets, so that their difference comes with its own noise (with the
`[metrics]` extra): the demo's claim is that G(a) is closer to B than a by at least CLAIM_STDS std of it.
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cyclegan_batch import runfolder
from cyclegan_batch.media.formats import DEFAULT_CONTAINER
from cyclegan_batch.util.atomic import atomic_output, atomic_write_text

PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "ihc.png",
    "motorcycle_right.png",
)
STRIP_ROWS = 4
TRAIN_IMAGES = 240  # per domain
# Held-out pairs (a, style(a)): with 48, the KID of a grade model's G(a) is below a's by 3-4 std of their
# difference (24 gave under 2: bench/RESULTS.md, "Realism's noise"), for the fewest Inception passes that
# keep the demo in three minutes. More crops leave the first as they were.
HELDOUT_IMAGES = 48
CROP_SIDE = 128
CLAIM_STDS = 2.0  # the demo's claim: G(a)'s KID below a's by at least this many std of their difference


def skimage_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photos as HxWx3 uint8 (read from the installed wheel)."""
    import skimage

    path = Path(skimage.__file__).parent / "data" / name
    return np.asarray(Image.open(path).convert("RGB"))


def golden_hour(img: np.ndarray) -> np.ndarray:
    """The demo style: a per-pixel colour grade, HxWx3 uint8 -> HxWx3 uint8."""
    x = img.astype(np.float32) / 255.0
    luma = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    # Split-tone: warm (orange) highlights, teal shadows; a gentle S-curve; lifted blacks.
    shadows = (1.0 - luma)[..., None] ** 2
    highlights = luma[..., None] ** 2
    x = x + shadows * np.array([-0.22, 0.06, 0.22]) + highlights * np.array([0.30, 0.08, -0.30])
    x = 0.08 + 0.88 * (x - 0.8 * np.sin(2 * np.pi * x) / (2 * np.pi))
    # Richer colour: push chroma away from the (new) luma.
    new_luma = (x @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    x = new_luma + 1.5 * (x - new_luma)
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def random_crops(photos: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`n` square crops at random positions and scales (between `size` and half the photo's shorter side)."""
    crops = []
    for _ in range(n):
        photo = photos[int(rng.integers(len(photos)))]
        h, w = photo.shape[:2]
        side = int(rng.integers(size, max(size + 1, min(h, w) // 2 + 1)))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side])
        crops.append(np.asarray(crop.resize((size, size), Image.Resampling.BOX)))
    return crops


def save_png(img: np.ndarray, path: Path) -> None:
    with atomic_output(path) as tmp:
        Image.fromarray(img).save(tmp, format="PNG")


@dataclass(frozen=True)
class DemoVideo:
    name: str
    photo: str
    width: int
    height: int
    fps: str  # ffmpeg rate, fractions allowed
    seconds: float
    audio: bool


VIDEOS = (
    DemoVideo("astronaut_pan", "astronaut.png", 320, 240, "24", 3.0, audio=True),
    DemoVideo("coffee_zoom", "coffee.png", 256, 192, "30000/1001", 2.0, audio=False),
    DemoVideo("rocket_tilt", "rocket.jpg", 322, 182, "25", 2.0, audio=True),
)


def camera_move(photo: np.ndarray, video: DemoVideo, n_frames: int) -> list[np.ndarray]:
    """A slow pan plus zoom over `photo`: each frame is a moving window resized to the video size."""
    h, w = photo.shape[:2]
    aspect = video.width / video.height
    frames = []
    for i in range(n_frames):
        t = i / max(1, n_frames - 1)
        zoom = 0.85 - 0.25 * t  # window height as a fraction of the photo's
        wh = zoom * min(h, w / aspect)
        ww = wh * aspect
        cx = ww / 2 + (w - ww) * (0.2 + 0.6 * t)
        cy = wh / 2 + (h - wh) * (0.5 + 0.3 * np.sin(np.pi * t) - 0.15)
        box = (cx - ww / 2, cy - wh / 2, cx + ww / 2, cy + wh / 2)
        frame = Image.fromarray(photo).resize((video.width, video.height), Image.Resampling.BICUBIC, box=box)
        frames.append(np.asarray(frame))
    return frames


def write_tone(path: Path, seconds: float, rate: int = 44100) -> None:
    """A two-note chime as 16-bit mono WAV: the audio track that must survive translation."""
    t = np.arange(int(seconds * rate)) / rate
    note = np.where(t % 1.0 < 0.5, 440.0, 660.0)
    samples = 0.3 * np.sin(2 * np.pi * note * t) * np.exp(-3 * (t % 0.5))
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((samples * 32767).astype("<i2").tobytes())


def write_video(video: DemoVideo, frames: list[np.ndarray], path: Path) -> None:
    """H.264 (yuv444p keeps odd sizes) in mp4, with an AAC chime when `video.audio`."""
    import imageio_ffmpeg

    fps = eval_rate(video.fps)
    with atomic_output(path) as tmp:
        audio = None
        if video.audio:
            audio = tmp.with_suffix(".wav")
            write_tone(audio, video.seconds)
        try:
            writer = imageio_ffmpeg.write_frames(
                str(tmp),
                (video.width, video.height),
                fps=fps,
                codec="libx264",
                macro_block_size=1,
                pix_fmt_out="yuv444p" if video.width % 2 or video.height % 2 else "yuv420p",
                # a keyframe every second, so `video split` can cut the demo videos into segments
                output_params=["-r", video.fps, "-crf", "18", "-g", str(round(eval_rate(video.fps))), "-shortest"],
                audio_path=str(audio) if audio else None,
                audio_codec="aac" if audio else None,
                ffmpeg_log_level="error",
            )
            writer.send(None)
            for frame in frames:
                writer.send(np.ascontiguousarray(frame))
            writer.close()
        finally:
            if audio:
                audio.unlink(missing_ok=True)


def build_demo(
    out: Path,
    *,
    seed: int = 0,
    n_train: int = TRAIN_IMAGES,
    n_heldout: int = HELDOUT_IMAGES,
    size: int = CROP_SIDE,
    videos: bool = True,
) -> dict:
    """Write OUT/{A,B}/*.png (unpaired), OUT/heldout/{A,B_true}/*.png (pairs) and OUT/videos/*.mp4."""
    rng = np.random.default_rng(seed)
    photos = [skimage_photo(name) for name in PHOTOS]
    sets = {
        "A": random_crops(photos, n_train, size, rng),
        "B": [golden_hour(c) for c in random_crops(photos, n_train, size, rng)],
    }
    heldout = random_crops(photos, n_heldout, size, rng)
    sets[f"{runfolder.HELDOUT_DIR}/A"] = heldout
    sets[f"{runfolder.HELDOUT_DIR}/{runfolder.HELDOUT_TRUE_B}"] = [golden_hour(c) for c in heldout]
    for folder, images in sets.items():
        for i, img in enumerate(images):
            save_png(img, out / folder / f"{i:04d}.png")
    written = {folder: len(images) for folder, images in sets.items()}
    if videos:
        for video in VIDEOS:
            n_frames = round(video.seconds * eval_rate(video.fps))
            frames = camera_move(skimage_photo(video.photo), video, n_frames)
            write_video(video, frames, out / runfolder.DEMO_VIDEOS_DIR / f"{video.name}.{DEFAULT_CONTAINER}")
        written["videos"] = len(VIDEOS)
    atomic_write_text(out / "demo.json", json.dumps({"seed": seed, "style": "golden_hour", **written}, indent=2))
    return written


def eval_rate(rate: str) -> float:
    num, _, den = rate.partition("/")
    return float(num) / float(den or 1)


def score_heldout(
    heldout: Path,
    model: Path,
    *,
    device: str = "auto",
    precision: str = "fp32",
    strip: Path | None = None,
    kid: bool = True,
    against: Path | None = None,
) -> dict:
    """Mean PSNR of G(a) and of a itself against style(a), over heldout/A and heldout/B_true; and KID x100 of G(a)
    and of a against the golden-hour domain B beside heldout/, with their difference and its noise (a
    `kid_note` instead where they cannot be computed: no metrics extra, no B/, too few images).

    `strip`: also write a before/after picture there, columns a | G(a) | style(a) for the first crops.
    `against`: also translate the crops with that model and compare crop by crop (`paired_scores`).
    """
    from skimage.metrics import peak_signal_noise_ratio

    from cyclegan_batch.errors import UserError
    from cyclegan_batch.media.images import load_rgb

    inputs = sorted((heldout / "A").glob("*.png"))
    if not inputs:
        raise UserError(f"{heldout}/A has no PNG crops; build them with `cyclegan-batch demo OUT`")
    crops = [load_rgb(path) for path in inputs]
    truths = [load_rgb(heldout / runfolder.HELDOUT_TRUE_B / path.name) for path in inputs]
    fakes, model_db = translated_psnrs(model, crops, truths, device=device, precision=precision)
    identity_db = [peak_signal_noise_ratio(truth, a, data_range=255) for a, truth in zip(crops, truths, strict=True)]
    if strip is not None:
        rows = [np.concatenate(row, axis=1) for row in zip(crops, fakes, truths, strict=True)][:STRIP_ROWS]
        save_png(np.concatenate(rows, axis=0), strip)
    psnr_model, psnr_identity = float(np.mean(model_db)), float(np.mean(identity_db))
    scores = {
        "images": len(inputs),
        "model": str(model),
        "psnr_model": round(psnr_model, 3),
        "psnr_identity": round(psnr_identity, 3),
        "gain_db": round(psnr_model - psnr_identity, 3),
    }
    if against is not None:
        _, other_db = translated_psnrs(against, crops, truths, device=device, precision=precision)
        scores |= paired_scores(model_db, other_db, against)
    return scores | (realism_scores(fakes, inputs, heldout.parent / "B", device) if kid else {})


def translated_psnrs(
    model: Path, crops: list[np.ndarray], truths: list[np.ndarray], *, device: str, precision: str
) -> tuple[list[np.ndarray], list[float]]:
    """G(a) for every crop, and its PSNR against the true style."""
    from skimage.metrics import peak_signal_noise_ratio

    from cyclegan_batch.models.engine import Translator

    translator = Translator.from_file(model, direction="AtoB", device=device, precision=precision, cycle=False)
    fakes = [translator.translate(a[None]).outputs[0] for a in crops]
    psnrs = [peak_signal_noise_ratio(truth, fake, data_range=255) for fake, truth in zip(fakes, truths, strict=True)]
    return fakes, psnrs


def paired_scores(model_db: list[float], other_db: list[float], other: Path) -> dict:
    """The model's PSNR less the other model's, crop by crop: the mean difference with its standard error, far
    smaller than either gain's spread over the crops, since both share each crop's difficulty."""
    diff = np.asarray(model_db) - np.asarray(other_db)
    stderr = round(float(diff.std(ddof=1) / np.sqrt(diff.size)), 3) if diff.size > 1 else None
    return {
        "against": str(other),
        "paired_diff_db": round(float(diff.mean()), 3),
        "paired_diff_stderr_db": stderr,
        "paired_worse_share": round(float(np.mean(diff < 0)), 3),
    }


def realism_scores(fakes: list[np.ndarray], originals: list[Path], reference: Path, device: str) -> dict:
    """KID x100 (with its std) and FID of G(a) (`model`) and of a (`identity`) against `reference`, on the same KID
    subsets, and the difference model - identity with its std: the demo's claim holds when the model's KID is
    below doing nothing's by at least CLAIM_STDS std of that difference. A note instead when not possible."""
    from cyclegan_batch.realism import MetricsUnavailable, Scorer
    from cyclegan_batch.realism.stats import FID_MIN

    if not reference.is_dir():
        return {"kid_note": f"no KID: no {reference} (the demo's golden-hour domain B, beside the held-out pairs)"}
    if len(fakes) < FID_MIN:  # KID needs 2 images a side, FID 3
        return {"kid_note": f"no KID or FID: {len(fakes)} held-out crops; they need at least {FID_MIN}"}
    try:
        scorer = Scorer(device)
    except MetricsUnavailable as e:
        return {"kid_note": str(e)}
    real = scorer.reference(reference)
    if len(real.features) < FID_MIN:
        return {
            "kid_note": f"no KID or FID: {reference} has {len(real.features)} readable images (the demo's B "
            f"domain); they need at least {FID_MIN}"
        }
    # the untranslated crops are the same files in every run: cached by content, like the reference
    change = scorer.compare_sets(scorer.features(originals, cache=True), scorer.features(fakes), real)
    scores = {"kid_reference": str(reference), "kid_reference_images": len(real.features)}
    for name, result in (("model", change.after), ("identity", change.before)):
        scores |= {
            f"kid_x100_{name}": round(result.kid_x100, 4),  # type: ignore[arg-type]
            f"kid_x100_std_{name}": round(result.kid_x100_std, 4),  # type: ignore[arg-type]
            f"fid_{name}": round(result.fid, 2),  # type: ignore[arg-type]
        }
    return {
        **scores,
        "kid_x100_diff": round(change.kid_x100_diff, 4),  # type: ignore[arg-type]
        "kid_x100_diff_std": round(change.kid_x100_diff_std, 4),  # type: ignore[arg-type]
        "kid_claim_holds": change.lower_by(CLAIM_STDS),
        "kid_claim": f"the model's KID below doing nothing's by at least {CLAIM_STDS:g} std of their difference",
        "fid_comparable": change.after.fid_comparable,
        "warnings": change.after.warnings,
    }
