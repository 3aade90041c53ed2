"""Realism while training: every `eval_every` steps (and at the last), translate the val split both ways, score
it, append the result to metrics.csv, and keep the best step as best.safetensors - chosen beyond the noise.

- **Val, never test.** The val split is `prepare`'s (or carved from the training images where a data folder has a
  test split but none: train/data.py's find_splits). Choosing on a split flatters the figures of that split, so
  the report scores the chosen model on test and says that val chose it.
- **As `translate` would.** A->B outputs are scored against B's val images and B->A against A's, on at most
  `eval_images` images per domain, each whole at its own size through the translation engine (models/engine.py),
  not as training crops: the figures are those of the images a user gets. The cost is metrics.csv's `seconds`.
- **Beyond the noise** (realism/stats.py, one definition): the first evaluation is the first best. Every later
  one is compared with the best so far on the same KID subsets of the same val images: the per-subset
  difference of their mean KID (A->B and B->A), its mean and its std. It replaces the best only when its mean
  KID is lower by more than one std of that difference; metrics.csv keeps both, and the best step after it.
- best.safetensors carries its step and scores in its header (`best_step`, `kid_x100_mean`, ...), so a resumed
  run keeps the best so far (and translates val with it again, for the next comparison). Rank 0 evaluates; the
  other ranks wait at the checkpoint that follows. Without the `[metrics]` extra, or without a val split, training
  runs as before and says so once; a run that asked for evaluation then still ends with a best.safetensors, the
  last step's, whose header says why (`best_basis`), so that whatever translates with `best` finds one.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

import numpy as np
import torch

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.images import ImageLoadError, load_rgb
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo, load_generators, read_info, save_generators
from cyclegan_batch.realism import Features, MetricsUnavailable, Scorer
from cyclegan_batch.realism.stats import KID_MIN, RANKS, kid_values, mean_std, score_values, too_small
from cyclegan_batch.realism.translated import translated
from cyclegan_batch.train.config import TrainConfig
from cyclegan_batch.train.data import Splits
from cyclegan_batch.util.atomic import atomic_output

log = logging.getLogger(__name__)

SELECT_STDS = 1.0  # a later step replaces the best when its mean KID is lower by more than this many std


class Evaluator:
    def __init__(
        self, splits: Splits, model_dir: Path, cfg: TrainConfig, device: torch.device, precision: str, rank: int = 0
    ) -> None:
        self.cfg, self.device, self.precision = cfg, device, precision
        self.csv = Path(model_dir) / runfolder.METRICS_CSV
        self.best_file = Path(model_dir) / runfolder.BEST_MODEL_FILE
        self.best_step = 0  # 0: none yet
        self.best_fakes: tuple[Features, Features] | None = None  # its val translations' features (B, A)
        self.scorer: Scorer | None = None
        self.images: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        self.references: tuple[Features, Features] | None = None
        self.unavailable = "no evaluation scored a finite KID"  # why best.safetensors is the last step, if it is
        if cfg.eval_every == 0 or rank != 0:
            return
        if not all(splits.val):
            self.unavailable = splits.origin
            log.info("%s: no evaluation while training", self.unavailable)
            return
        try:
            self.scorer = Scorer(device)
        except MetricsUnavailable as e:
            self.unavailable = str(e)
            log.info("no evaluation while training: %s", e)
            return
        self.images = (self._load(splits.val[0]), self._load(splits.val[1]))
        counts = tuple(map(len, self.images))
        if min(counts) < KID_MIN:
            self.unavailable = f"the val split has under {KID_MIN} readable images in a domain"
            log.warning("%s: no evaluation while training", self.unavailable)
            self.scorer = None
            return
        log.info("evaluating on the val split (%s): %d and %d images, whole", splits.origin, *counts)
        if min(counts) < RANKS:
            log.warning("val split: %s; the best step is still chosen by the noise rule", too_small(min(counts)))

    @property
    def enabled(self) -> bool:
        return self.scorer is not None

    def _load(self, files: list[Path]) -> list[np.ndarray]:
        """The first `eval_images` readable val images, whole, as `translate` reads them."""
        images = []
        for path in files:
            if len(images) == self.cfg.eval_images:
                break
            try:
                images.append(load_rgb(path))
            except ImageLoadError as e:
                log.warning("val split: skipping %s: %s", path, e)
        return images

    def resume(self, step: int) -> None:
        """Keep what the evaluations up to `step` left (0: a fresh run keeps nothing of an earlier one).

        The best so far comes back from best.safetensors' header; a best or rows from after `step` (a killed
        run's, or an earlier run's) are removed: those steps are trained again.
        """
        if self.best_file.is_file():
            try:
                extra = read_info(self.best_file).extra
                float(extra["kid_x100_mean"])  # a scored best (not the last step's stand-in: finish())
                best_step: int | None = int(extra["best_step"])
            except (UserError, KeyError, ValueError):
                best_step = None
            if best_step is not None and 0 < best_step <= step:
                self.best_step = best_step
            else:
                self.best_file.unlink()
                why = (
                    "it is not a scored best (the last step's stand-in, or unreadable); this run's end writes one"
                    if best_step is None
                    else f"it is from step {best_step}, after this run's start at step {step}"
                )
                log.info("removed %s: %s", self.best_file, why)
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

    def _fakes(self, model: Generators) -> tuple[Features, Features]:
        """Features of val A translated to B and of val B translated to A."""
        assert self.scorer is not None
        fakes = []
        for a_to_b, images in ((True, self.images[0]), (False, self.images[1])):
            engine = Translator(model, a_to_b=a_to_b, device=str(self.device), precision=self.precision, cycle=False)
            fakes.append(self.scorer.features(translated(engine, images)))
        return fakes[0], fakes[1]

    def _judge(self, fakes: tuple[Features, Features]) -> tuple[dict[str, float | None], dict[str, float]]:
        """This step's scores, and its comparison with the best so far (empty at the first evaluation)."""
        assert self.references is not None
        values, scores = [], {}
        for side, name in enumerate(("a2b", "b2a")):
            fake, reference = fakes[side].features, self.references[1 - side].features
            sets = [fake] if self.best_fakes is None else [self.best_fakes[side].features, fake]
            values.append(kid_values(sets, reference))  # the best's (if any) and this step's, on the same subsets
            score = score_values(values[side][-1], fake, reference)
            scores |= {f"kid_x100_{name}": score.kid_x100, f"kid_x100_std_{name}": score.kid_x100_std}
            scores[f"fid_{name}"] = score.fid
        per_subset = 100.0 * (values[0] + values[1]) / 2  # the mean KID x100 of both directions, per subset
        scores["kid_x100_mean"], scores["kid_x100_std_mean"] = mean_std(per_subset[-1])
        if self.best_fakes is None:
            return scores, {}
        diff, std = mean_std(per_subset[1] - per_subset[0])
        return scores, {"compared_to": self.best_step, "kid_x100_diff": diff, "kid_x100_diff_std": std}

    def evaluate(self, a_to_b: torch.nn.Module, b_to_a: torch.nn.Module, info: ModelInfo) -> None:
        """Score both directions at `info.step` against the best so far; write the row, and best.safetensors when
        this step is better beyond the noise (or is the first)."""
        assert self.scorer is not None
        started = time.perf_counter()
        if self.references is None:
            self.references = (self.scorer.features(self.images[0]), self.scorer.features(self.images[1]))
        fakes = self._fakes(Generators(a_to_b, b_to_a, info))
        if self.best_fakes is None and self.best_step:  # resumed: the best's translations, for the comparison
            self.best_fakes = self._fakes(load_generators(self.best_file))
        scores, compared = self._judge(fakes)
        better = not compared or compared["kid_x100_diff"] < -SELECT_STDS * compared["kid_x100_diff_std"]
        previous = self.best_step
        if better:
            self.best_step, self.best_fakes = info.step, fakes
            info.extra = {
                **info.extra,
                "best_step": str(info.step),
                "best_split": runfolder.VAL,
                **{k: runfolder.csv_number(v) for k, v in {**scores, **compared}.items() if k != "compared_to"},
            }
            save_generators(self.best_file, a_to_b, b_to_a, info)
        seconds = time.perf_counter() - started
        self._append(
            {
                "step": info.step,
                "epoch": info.epoch,
                "split": runfolder.VAL,
                **{k: runfolder.csv_number(v) for k, v in scores.items()},
                "compared_to": compared.get("compared_to", ""),
                "kid_x100_diff": runfolder.csv_number(compared.get("kid_x100_diff")),
                "kid_x100_diff_std": runfolder.csv_number(compared.get("kid_x100_diff_std")),
                "best_step": self.best_step,
                "images_a": len(self.images[0]),
                "images_b": len(self.images[1]),
                "seconds": f"{seconds:.2f}",
            }
        )
        against = (
            f"; against step {previous}: {compared['kid_x100_diff']:+.3f} +- {compared['kid_x100_diff_std']:.3f}"
            if compared
            else ""
        )
        log.info(
            "step %d: val KIDx100 A->B %.3f +- %.3f, B->A %.3f +- %.3f, mean %.3f%s: best step %d (%.1f s)",
            info.step,
            scores["kid_x100_a2b"],
            scores["kid_x100_std_a2b"],
            scores["kid_x100_b2a"],
            scores["kid_x100_std_b2a"],
            scores["kid_x100_mean"],
            against,
            self.best_step,
            seconds,
        )

    def finish(self, a_to_b: torch.nn.Module, b_to_a: torch.nn.Module, info: ModelInfo) -> None:
        """At the end of a run that asked for evaluation (rank 0): if no evaluation kept a best, the last step
        becomes best.safetensors, its header saying why. A resumed run removes it (no `kid_x100_mean`) and so
        writes it again here; a rerun with nothing left to train writes it at once (loop.py's fit)."""
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
