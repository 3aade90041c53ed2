"""Unpaired training data: two image folders, the paper's augmentation, a deterministic epoch order.

An epoch is max(|A|, |B|) steps: A is visited in a shuffled order (wrapping when shorter), and
B is drawn at random. Every random choice of an epoch (order, B draws, crop offsets, flips) comes
from one generator seeded by (seed, epoch), so an epoch can be replayed or resumed mid-way exactly,
whatever the number of DataLoader workers. Under DDP every rank computes the same epoch and takes its
own disjoint slice of each step's draws (`rank_batches`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.formats import is_image_name, visible_files
from cyclegan_batch.media.images import ImageLoadError, load_rgb, resize_shorter
from cyclegan_batch.models.pixels import to_model_range

log = logging.getLogger(__name__)


def find_domain_dirs(data: Path) -> tuple[Path, Path]:
    """The two training folders inside `data`, in any of the layouts users have.

    `A/train` + `B/train` (what `cyclegan-batch prepare` writes), `trainA` + `trainB` (the CycleGAN
    datasets' layout), or plain `A` + `B`.
    """
    for a, b in (("A/train", "B/train"), ("trainA", "trainB"), ("A", "B")):
        if (data / a).is_dir() and (data / b).is_dir():
            return data / a, data / b
    raise UserError(
        f"{data} holds no training folders: expected A/train and B/train (from `cyclegan-batch "
        "prepare`), trainA and trainB, or A and B"
    )


VAL_DIRS = ("A/val", "B/val")  # what `cyclegan-batch prepare` writes
TEST_DIRS = (("A/test", "B/test"), ("testA", "testB"))  # prepare's before it wrote val/, the CycleGAN datasets'


@dataclass
class Splits:
    """The images a run trains on and the ones it evaluates on (none: no evaluation), per domain."""

    folders: tuple[Path, Path]  # the training folders
    train: tuple[list[Path], list[Path]]
    val: tuple[list[Path], list[Path]]
    origin: str  # where val comes from, or why there is none


def find_splits(data: Path, carve: bool) -> Splits:
    """The training images of `data` and its val split: A/val + B/val where `prepare` wrote them; in a layout with
    a test split but no val split (trainA/testA, or an older `prepare`'s), and with `carve`, the share of the
    training images that `prepare` would have put in val (runfolder.split_of, by content hash, VAL_FRACTION), kept
    out of training; otherwise none."""
    folders = find_domain_dirs(data)
    train = (list_images(folders[0]), list_images(folders[1]))
    if all((data / folder).is_dir() for folder in VAL_DIRS):
        val = (list_images(data / VAL_DIRS[0]), list_images(data / VAL_DIRS[1]))
        return Splits(folders, train, val, " and ".join(VAL_DIRS))
    test = next((pair for pair in TEST_DIRS if all((data / f).is_dir() for f in pair)), None)
    if test is None or not carve:
        why = f"no val split in {data} ({' and '.join(VAL_DIRS)}, from `cyclegan-batch prepare`)"
        return Splits(folders, train, ([], []), why)
    kept: list[list[Path]] = [[], []]
    val: list[list[Path]] = [[], []]
    for side, files in enumerate(train):
        for path in files:
            (val if _is_val(path) else kept)[side].append(path)
    origin = (
        f"carved from the training images: {len(val[0])} and {len(val[1])}, the share ({runfolder.VAL_FRACTION:g}) "
        f"that `prepare` puts in val by content hash ({data} has {test[0]} but no val split)"
    )
    log.info("val split %s; they are kept out of training", origin)
    return Splits(folders, (kept[0], kept[1]), (val[0], val[1]), origin)


def _is_val(path: Path) -> bool:
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return runfolder.split_of(digest, 0, 0.0, runfolder.VAL_FRACTION) == runfolder.VAL


def list_images(folder: Path) -> list[Path]:
    """The images under `folder` (recursive, hidden names skipped, media/formats.py's rules), in name order."""
    return [p for p in visible_files(folder) if is_image_name(p)]


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> 3xHxW float in [-1, 1] (the model file's normalization)."""
    # np.array copies: decoded images are read-only views, which torch cannot wrap safely
    return to_model_range(torch.from_numpy(np.array(img, copy=True)).permute(2, 0, 1))


@dataclass(frozen=True)
class Draw:
    """One training step's sample: which images, and their augmentation."""

    index_a: int
    index_b: int
    aug_seed: int


class UnpairedImages(Dataset):
    """Loads A and B images by a Draw: resize, random crop, random flip, scale to [-1, 1]."""

    def __init__(self, files_a: list[Path], files_b: list[Path], load_size: int, crop_size: int, flip: bool):
        self.files = (files_a, files_b)
        self.load_size, self.crop_size, self.flip = load_size, crop_size, flip

    def _augment(self, path: Path, rng: np.random.Generator) -> torch.Tensor:
        img = resize_shorter(load_rgb(path), self.load_size)
        h, w = img.shape[:2]
        top = int(rng.integers(0, h - self.crop_size + 1))
        left = int(rng.integers(0, w - self.crop_size + 1))
        img = img[top : top + self.crop_size, left : left + self.crop_size]
        if self.flip and rng.random() < 0.5:
            img = img[:, ::-1]
        return to_tensor(img)

    def __len__(self) -> int:
        return max(len(self.files[0]), len(self.files[1]))

    def __getitem__(self, draw: Draw) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng(draw.aug_seed)
        return self._augment(self.files[0][draw.index_a], rng), self._augment(self.files[1][draw.index_b], rng)


def epoch_draws(n_a: int, n_b: int, seed: int, epoch: int) -> list[Draw]:
    """The whole epoch's sample order, a pure function of (sizes, seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    steps = max(n_a, n_b)
    order_a = np.concatenate([rng.permutation(n_a) for _ in range(-(-steps // n_a))])[:steps]
    index_b = rng.integers(0, n_b, size=steps)
    aug = rng.integers(0, 2**63 - 1, size=steps)
    return [Draw(int(a), int(b), int(s)) for a, b, s in zip(order_a, index_b, aug, strict=True)]


def rank_batches(draws: list[Draw], batch_size: int, world_size: int = 1, rank: int = 0) -> list[list[Draw]]:
    """One rank's batches of an epoch: step s spans draws [s*N*b, (s+1)*N*b) and rank r takes the r-th b.

    So N ranks with batch b see, step by step, exactly the images one process sees with batch N*b. The
    last draws that do not fill a whole step are left out: max(|A|, |B|) // (N*b) steps per rank.
    """
    step = batch_size * world_size
    first = rank * batch_size
    return [draws[s + first : s + first + batch_size] for s in range(0, len(draws) - step + 1, step)]


def collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = zip(*batch, strict=True)
    return torch.stack(a), torch.stack(b)


def readable_images(files: list[Path], folder: Path, domain: str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Those of `files` (a domain's training images, in `folder`) that decode, and (path, reason) for the others.

    Checking once up front keeps a bad file from killing a long run hours in.
    """
    good, bad = [], []
    for path in files:
        try:
            load_rgb(path)
        except ImageLoadError as e:
            bad.append((path, str(e)))
            continue
        good.append(path)
    if not good:
        found = "no image files" if not bad else f"{len(bad)} files, none readable"
        raise UserError(f"domain {domain}: {folder} has {found}; put the domain's images (png/jpg/...) there")
    return good, bad
