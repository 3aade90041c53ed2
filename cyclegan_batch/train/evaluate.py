"""Realism while training: every `eval_every` steps (and at the last), translate the test split both ways,
score it, append the result to metrics.csv, and keep the generators with the lowest mean KID as best.safetensors.

A->B outputs are scored against B's test images and B->A against A's (KID x100 and FID, realism/), on
at most `eval_images` test images per domain, resized to `load_size` and centre-cropped to `crop_size` as
the networks saw them in training. The reference features are computed once per run, at the first evaluation.
best.safetensors carries its step and scores in its header (`best_step`, `kid_x100_mean`, ...), so a resumed
run keeps the best so far. Rank 0 evaluates; the other ranks wait at the checkpoint that follows.
Without the `[metrics]` extra, or without a test split, training runs as before and says so once; a run
that asked for evaluation then still ends with a best.safetensors, the last step's, whose header says why
(`best_basis`), so that whatever translates with `best` (the workflow's translate.model auto) finds one.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from cyclegan_batch import runfolder
from cyclegan_batch.device.precision import autocast
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.images import ImageLoadError, load_rgb, resize_shorter
from cyclegan_batch.models.modelfile import ModelInfo, read_info, save_generators
from cyclegan_batch.models.pixels import to_model_range, to_pixels
from cyclegan_batch.realism import Features, MetricsUnavailable, Scorer
from cyclegan_batch.train.config import TrainConfig
from cyclegan_batch.train.data import list_images
from cyclegan_batch.util.atomic import atomic_output

log = logging.getLogger(__name__)

TEST_DIRS = (("A/test", "B/test"), ("testA", "testB"))  # beside find_domain_dirs' training layouts


def find_test_dirs(data: Path) -> tuple[Path, Path] | None:
    for a, b in TEST_DIRS:
        if (data / a).is_dir() and (data / b).is_dir():
            return data / a, data / b
    return None


def centre_crop(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = (h - side) // 2, (w - side) // 2
    return img[top : top + side, left : left + side]


class Evaluator:
    def __init__(
        self, data: Path, model_dir: Path, cfg: TrainConfig, device: torch.device, precision: str, rank: int = 0
    ) -> None:
        self.cfg, self.device, self.precision = cfg, device, precision
        self.csv = Path(model_dir) / runfolder.METRICS_CSV
        self.best_file = Path(model_dir) / runfolder.BEST_MODEL_FILE
        self.best = math.inf
        self.scorer: Scorer | None = None
        self.images: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        self.references: tuple[Features, Features] | None = None
        self.unavailable = "no evaluation scored a finite KID"  # why best.safetensors is the last step, if it is
        if cfg.eval_every == 0 or rank != 0:
            return
        tests = find_test_dirs(Path(data))
        if tests is None:
            self.unavailable = f"no test split in {data} (A/test and B/test, or testA and testB)"
            log.info("%s: no evaluation while training", self.unavailable)
            return
        try:
            self.scorer = Scorer(device)
        except MetricsUnavailable as e:
            self.unavailable = str(e)
            log.info("no evaluation while training: %s", e)
            return
        self.images = (self._load(tests[0]), self._load(tests[1]))
        if min(map(len, self.images)) < 2:
            self.unavailable = "the test split has under 2 readable images in a domain"
            log.warning("%s: no evaluation while training", self.unavailable)
            self.scorer = None

    @property
    def enabled(self) -> bool:
        return self.scorer is not None

    def _load(self, folder: Path) -> list[np.ndarray]:
        """The first `eval_images` readable test images, as the networks see them in training."""
        images = []
        for path in list_images(folder):
            if len(images) == self.cfg.eval_images:
                break
            try:
                images.append(centre_crop(resize_shorter(load_rgb(path), self.cfg.load_size), self.cfg.crop_size))
            except ImageLoadError:
                continue  # training already warned about it
        return images

    def resume(self, step: int) -> None:
        """Keep what the evaluations up to `step` left (0: a fresh run keeps nothing of an earlier one).

        The best so far comes back from best.safetensors' header; a best or rows from after `step` (a killed
        run's, or an earlier run's) are removed: those steps are trained again.
        """
        if self.best_file.is_file():
            try:
                extra = read_info(self.best_file).extra
                best, best_step = float(extra["kid_x100_mean"]), int(extra["best_step"])
            except (UserError, KeyError, ValueError):
                best, best_step = math.inf, step + 1
            if 0 < best_step <= step:
                self.best = best
            else:
                self.best_file.unlink()
                log.info(
                    "removed %s: it is from step %d, after this run's start at step %d", self.best_file, best_step, step
                )
        if self.csv.is_file():
            with self.csv.open(newline="") as f:
                rows = list(csv.reader(f))
            kept = rows[:1] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= step]
            if len(kept) == 1:
                self.csv.unlink()
            elif len(kept) < len(rows):
                with atomic_output(self.csv) as tmp, tmp.open("w", newline="") as f:
                    csv.writer(f).writerows(kept)

    def due(self, step: int, last: bool) -> bool:
        """Every rank agrees (it does not depend on rank 0's state), so all take the checkpoint that follows."""
        return self.cfg.eval_every > 0 and (step % self.cfg.eval_every == 0 or last)

    @torch.no_grad()
    def _translate(self, net: torch.nn.Module, images: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        batch = max(1, self.cfg.batch_size)
        for i in range(0, len(images), batch):
            x = to_model_range(torch.from_numpy(np.stack(images[i : i + batch])).to(self.device).permute(0, 3, 1, 2))
            with autocast(self.device, self.precision):
                y = net(x)
            out += list(to_pixels(y).permute(0, 2, 3, 1).cpu().numpy())
        return out

    def evaluate(self, a_to_b: torch.nn.Module, b_to_a: torch.nn.Module, info: ModelInfo) -> None:
        """Score both directions at `info.step`; write the row, and best.safetensors when the mean KID is lowest."""
        assert self.scorer is not None
        started = time.perf_counter()
        if self.references is None:
            self.references = (self.scorer.features(self.images[0]), self.scorer.features(self.images[1]))
        nets = (a_to_b, b_to_a)
        modes = [n.training for n in nets]
        for n in nets:
            n.eval()
        try:
            fake_b = self.scorer.features(self._translate(a_to_b, self.images[0]))
            fake_a = self.scorer.features(self._translate(b_to_a, self.images[1]))
        finally:
            for n, mode in zip(nets, modes, strict=True):
                n.train(mode)
        a2b, b2a = Scorer.score_sets(fake_b, self.references[1]), Scorer.score_sets(fake_a, self.references[0])
        mean = (a2b.kid_x100 + b2a.kid_x100) / 2  # type: ignore[operator]
        scores = {
            "kid_x100_a2b": a2b.kid_x100,
            "kid_x100_std_a2b": a2b.kid_x100_std,
            "fid_a2b": a2b.fid,
            "kid_x100_b2a": b2a.kid_x100,
            "kid_x100_std_b2a": b2a.kid_x100_std,
            "fid_b2a": b2a.fid,
            "kid_x100_mean": mean,
        }
        if mean < self.best:
            self.best = mean
            info.extra = {
                **info.extra,
                "best_step": str(info.step),
                **{k: runfolder.csv_number(v) for k, v in scores.items()},
            }
            save_generators(self.best_file, a_to_b, b_to_a, info)
        seconds = time.perf_counter() - started
        self._append(
            {
                "step": info.step,
                "epoch": info.epoch,
                **{k: runfolder.csv_number(v) for k, v in scores.items()},
                "images_a": len(self.images[0]),
                "images_b": len(self.images[1]),
                "seconds": f"{seconds:.2f}",
            }
        )
        log.info(
            "step %d: KIDx100 A->B %.3f, B->A %.3f (best mean %.3f) in %.1f s",
            info.step,
            a2b.kid_x100,
            b2a.kid_x100,
            self.best,
            seconds,
        )

    def finish(self, a_to_b: torch.nn.Module, b_to_a: torch.nn.Module, info: ModelInfo) -> None:
        """At the end of a run that asked for evaluation (rank 0): if no evaluation kept a best, the last step
        becomes best.safetensors, its header saying why. A resumed run removes it (no `kid_x100_mean`)."""
        if self.cfg.eval_every == 0 or self.best_file.is_file():
            return
        info.extra = {**info.extra, "best_step": str(info.step), "best_basis": f"the last step: {self.unavailable}"}
        save_generators(self.best_file, a_to_b, b_to_a, info)
        log.info("%s is the last step's generators (%s)", self.best_file.name, self.unavailable)

    def _append(self, row: dict) -> None:
        new = not self.csv.exists()
        self.csv.parent.mkdir(parents=True, exist_ok=True)
        with self.csv.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=runfolder.METRICS_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row)
