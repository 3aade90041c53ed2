"""The CycleGAN training loop (Zhu et al. 2017), resumable and mixed-precision.

The step itself (networks, optimizers, pools, losses) is `step.CycleGANStep`; what the run writes is
`outputs.TrainingOutputs`; this module holds the data, the schedule, resume and the loop.

Several GPUs (`torchrun --nproc_per_node N -m cyclegan_batch train ...`, or `train --gpus N`): PyTorch
DistributedDataParallel. Each rank takes its own slice of every epoch's draws (data.rank_batches), so N
ranks x batch b follow the schedule of one process with batch N*b, and an epoch is max(|A|, |B|) // (N*b)
steps. All ranks' pools are saved in the checkpoint. Rank 0 alone writes the checkpoint, losses.csv
(losses averaged over ranks, images/s over all ranks), samples, run.json and the model file; every rank
resumes from that checkpoint, with the same number of ranks.

Learning rate: the paper's 2e-4 is tuned for batch 1. The default keeps it fixed for any batch size
and any number of ranks (an effective batch of N*b); users who want the common linear scaling rule
pass `--set lr=...` themselves (e.g. 2e-4 * N * b, usually with warm-up; GANs often prefer less).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cyclegan_batch.device import distributed
from cyclegan_batch.device.precision import choose_precision, pick_device
from cyclegan_batch.errors import UserError
from cyclegan_batch.models.modelfile import STABILITY_KEY, Generators, ModelInfo, load_generators
from cyclegan_batch.models.spec import SPEC_KEYS
from cyclegan_batch.realism import available as realism_available
from cyclegan_batch.runfolder import resolve_model
from cyclegan_batch.train.budget import TimeBudget
from cyclegan_batch.train.config import TrainConfig
from cyclegan_batch.train.data import (
    UnpairedImages,
    collate,
    epoch_draws,
    find_splits,
    rank_batches,
    readable_images,
)
from cyclegan_batch.train.evaluate import Evaluator
from cyclegan_batch.train.outputs import TrainingOutputs
from cyclegan_batch.train.stability import describe
from cyclegan_batch.train.step import CycleGANStep
from cyclegan_batch.util.atomic import remove_stale_parts_under
from cyclegan_batch.util.progress import progress_bar
from cyclegan_batch.util.threads import io_workers

log = logging.getLogger(__name__)

# Keys a resume cannot change: they fix the networks' shapes or every random draw of the run.
STRUCTURAL_KEYS = {*SPEC_KEYS, "ndf", "d_layers", "batch_size", "seed"}


class NonFiniteLoss(RuntimeError):
    pass


def initial_generators(path: Path, cfg: TrainConfig) -> Generators:
    """Generators to fine-tune from, checked against the networks this run builds."""
    pretrained = load_generators(path)
    if pretrained.info.spec != cfg.generator:
        raise UserError(
            f"--init-from {path} has generator {pretrained.info.spec.to_dict()}, but this run "
            f"builds {cfg.generator.to_dict()}; use the same {'/'.join(SPEC_KEYS)}"
        )
    for name in ("a_to_b", "b_to_a"):
        if getattr(pretrained, name) is None:  # an official latest_net_G.pth holds G only
            log.warning("--init-from %s has no %s generator: it starts from random weights", path, name)
    log.info("initialised generators from %s", path)
    return pretrained


class LossWindow:
    """Loss terms summed over one logging interval, and the images/s it ran at."""

    def __init__(self, images_per_step: int) -> None:
        self.images_per_step = images_per_step
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}  # a term may be on some steps only (stability_every)
        self.steps, self.start = 0, time.perf_counter()

    def add(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + 1
        self.steps += 1

    def take(self) -> tuple[dict[str, float], float]:
        """The interval's mean of each term over the steps that had it, and its images/s; then a new interval."""
        means = {k: v / self.counts[k] for k, v in self.sums.items()}
        rate = self.steps * self.images_per_step / (time.perf_counter() - self.start)
        self.sums, self.counts, self.steps, self.start = {}, {}, 0, time.perf_counter()
        return means, rate


class Trainer:
    def __init__(
        self,
        data: Path,
        model_dir: Path,
        cfg: TrainConfig,
        *,
        device: str = "auto",
        precision: str = "auto",
        workers: int | None = None,
        compile: bool = False,
        capture: bool = False,
        resume: bool = True,
        init_from: Path | None = None,
        channels_last: bool | None = None,
        progress: bool = True,
    ) -> None:
        self.cfg = cfg
        self.outputs = TrainingOutputs(model_dir)
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.progress = progress and self.rank == 0
        self.device = distributed.rank_device(pick_device(device))
        self.precision, self.precision_reason = choose_precision(precision, self.device)  # type: ignore[arg-type]
        if channels_last is None:  # CUDA's tensor-core convs prefer it; CPU training measured slower with it
            # (bench/RESULTS.md, appendix "Session 1 details", training step)
            channels_last = self.device.type == "cuda"
        memory_format = torch.channels_last if channels_last else torch.contiguous_format

        # A val split is carved from the training images only where the run will evaluate on it (train/evaluate.py)
        splits = find_splits(Path(data), carve=cfg.eval_every > 0 and realism_available())
        files_a, bad_a = readable_images(splits.train[0], splits.folders[0], cfg.domain_names[0])
        files_b, bad_b = readable_images(splits.train[1], splits.folders[1], cfg.domain_names[1])
        self.skipped = bad_a + bad_b
        for path, reason in self.skipped:
            log.warning("skipping %s: %s", path, reason)
        self.dataset = UnpairedImages(files_a, files_b, cfg.load_size, cfg.crop_size, cfg.flip)
        self.n_a, self.n_b = len(files_a), len(files_b)
        self.steps_per_epoch = max(self.n_a, self.n_b) // (cfg.batch_size * self.world_size)
        if self.steps_per_epoch == 0:
            ranks = f" x {self.world_size} ranks" if self.world_size > 1 else ""
            raise UserError(
                f"batch_size={cfg.batch_size}{ranks} is larger than the dataset ({max(self.n_a, self.n_b)} "
                "images); lower --batch-size" + (" or the number of GPUs" if ranks else "")
            )
        self.workers = io_workers() if workers is None else workers

        init = initial_generators(resolve_model(init_from), cfg) if init_from is not None else None
        self.step = CycleGANStep(
            cfg, self.device, self.precision, memory_format, initial_generators=init, compile=compile, capture=capture
        )
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.train_seconds = 0.0  # time earlier sessions of this run spent (from the checkpoint)
        self.session_start = time.perf_counter()
        self.fixed_samples = self._fixed_samples()
        self.evaluator = Evaluator(splits, Path(model_dir), cfg, self.device, self.precision, self.rank)
        if self.rank == 0:  # a run killed mid-write leaves temporary files
            remove_stale_parts_under(self.outputs.model_dir)
        if resume and self.outputs.checkpoint.is_file():
            self._resume()
            if self.rank == 0:
                self.outputs.forget_losses_after(self.global_step)
            log.info("resuming at epoch %d, step %d", self.epoch + 1, self.global_step)
        if self.rank == 0:
            self.evaluator.resume(self.global_step)

    def _fixed_samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The same few centre-cropped images in every sample grid, so grids show progress over time."""
        n = min(3, self.n_a, self.n_b)
        draws = epoch_draws(self.n_a, self.n_b, self.cfg.seed + 99, 0)[:n]
        a, b = collate([self.dataset[d] for d in draws])
        return a.to(self.device), b.to(self.device)

    def _batches(self, epoch: int, skip: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        draws = epoch_draws(self.n_a, self.n_b, self.cfg.seed, epoch)
        batches = rank_batches(draws, self.cfg.batch_size, self.world_size, self.rank)[skip:]
        loader = DataLoader(
            batches,
            batch_size=None,
            collate_fn=lambda ds: collate([self.dataset[d] for d in ds]),
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            prefetch_factor=4 if self.workers else None,
        )
        yield from loader

    def _loss_values(self, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The step's loss terms as floats, averaged over the ranks (so every rank agrees on NaNs and logs)."""
        stacked = distributed.mean_across_ranks(torch.stack([v.float() for v in terms.values()]))
        values = dict(zip(terms, stacked.tolist(), strict=True))
        if not all(math.isfinite(v) for v in values.values()):
            bad = ", ".join(f"{k}={v}" for k, v in values.items() if not math.isfinite(v))
            raise NonFiniteLoss(
                f"non-finite loss at step {self.global_step + 1} (epoch {self.epoch + 1}): {bad}; the last "
                f"checkpoint in {self.outputs.model_dir} is intact - lower --lr or use --precision fp32, then rerun"
            )
        return values

    def fit(self) -> None:
        cfg = self.cfg
        total_steps = cfg.total_epochs() * self.steps_per_epoch
        if cfg.max_steps:
            total_steps = min(total_steps, cfg.max_steps)
        if self.global_step >= total_steps:
            log.info("training already complete (%d steps); pass --no-resume to start over", self.global_step)
            if self.rank == 0:
                self.outputs.write_model(self.step.nets, self.model_info())
                self.evaluator.finish(self.step.nets.a_to_b, self.step.nets.b_to_a, self.model_info())
            return
        started = time.perf_counter()
        budget = self._budget(total_steps)
        window = LossWindow(images_per_step=cfg.batch_size * self.world_size)
        with progress_bar("train", total_steps, "step", self.progress, self.global_step) as advance:
            while self.global_step < total_steps:
                lr = cfg.lr * cfg.lr_factor(self.epoch)
                self.step.set_lr(lr)
                for real_a, real_b in self._batches(self.epoch, self.step_in_epoch):
                    if budget is not None:  # the decay follows the clock, step by step
                        lr = cfg.lr * budget.lr_factor(self.global_step)
                        self.step.set_lr(lr)
                    values = self._loss_values(self.step.train_step(real_a, real_b))
                    self.global_step += 1
                    self.step_in_epoch += 1
                    if budget is not None:
                        total_steps = self._agreed(budget.update(self.global_step))
                    window.add(values)
                    status = " ".join(f"{k}={values[k]:.3f}" for k in ("G_A", "cycle_A", "D_A"))
                    advance(status=status, total=total_steps)
                    if self.global_step % cfg.log_every == 0 or self.global_step == total_steps:
                        means, rate = window.take()
                        if self.rank == 0:
                            self.outputs.log_losses(self.epoch + 1, self.global_step, means, lr, rate)
                    if self.global_step % cfg.sample_every == 0 and self.rank == 0:
                        self.outputs.write_samples(self.global_step, self.step.sample_grid(*self.fixed_samples))
                    evaluated = self._evaluate(last=self.global_step >= total_steps)
                    if evaluated or self.global_step % cfg.checkpoint_every == 0:
                        self._checkpoint()
                    if self.global_step >= total_steps:
                        break
                if self.step_in_epoch >= self.steps_per_epoch:
                    self.epoch, self.step_in_epoch = self.epoch + 1, 0
                self._checkpoint()
        if budget is not None:
            log.info("time budget: %d steps in %.1f min of %.1f", self.global_step, budget.elapsed() / 60, cfg.minutes)
        if self.rank == 0:
            self.outputs.write_samples(self.global_step, self.step.sample_grid(*self.fixed_samples))
            self.evaluator.finish(self.step.nets.a_to_b, self.step.nets.b_to_a, self.model_info())
            self.outputs.write_run_info(self.run_info(time.perf_counter() - started))

    def _budget(self, total_steps: int) -> TimeBudget | None:
        """The `minutes` budget, counting the time earlier sessions of this run spent; None without one."""
        if not self.cfg.minutes:
            return None
        constant = self.cfg.epochs / self.cfg.total_epochs()
        return TimeBudget(self.cfg.minutes, constant, total_steps, self.train_seconds, self.session_start)

    def _agreed(self, total: int) -> int:
        """Every rank stops at the same step: the mean of the ranks' estimates (clocks and rates differ)."""
        if self.world_size == 1:
            return total
        return int(distributed.mean_across_ranks(torch.tensor([float(total)], device=self.device)).item())

    def _evaluate(self, last: bool) -> bool:
        """KID/FID of the val split when due (train/evaluate.py); True if due, so a checkpoint follows."""
        if not self.evaluator.due(self.global_step, last):
            return False
        if self.evaluator.enabled:
            self.evaluator.evaluate(self.step.nets.a_to_b, self.step.nets.b_to_a, self.model_info())
        return True

    # ------------------------------------------------------------------------------ checkpoint and resume
    def _checkpoint(self) -> None:
        """Everything a resume needs, atomically; then the generators file for inference. Rank 0 writes."""
        pools = self.step.gathered_pools()
        if self.rank != 0:
            return
        state = {
            **self.step.state_dict(),
            "pools": pools,  # one {"a", "b"} per rank
            "world_size": self.world_size,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "train_seconds": self.train_seconds + time.perf_counter() - self.session_start,  # for --minutes
            "config": json.dumps(self.cfg.to_dict()),
        }
        self.outputs.write_checkpoint(state)
        self.outputs.write_model(self.step.nets, self.model_info())

    def _resume(self) -> None:
        state = self.outputs.read_checkpoint(self.device)
        saved = json.loads(state["config"])
        defaults = TrainConfig().to_dict()  # a key newer than the checkpoint had its default then
        structural = {k for k, v in self.cfg.to_dict().items() if saved.get(k, defaults[k]) != v} & STRUCTURAL_KEYS
        if structural:
            raise UserError(
                f"{self.outputs.model_dir} holds a run with different {', '.join(sorted(structural))}; "
                "pass --no-resume to start over or use another model dir"
            )
        if state["world_size"] != self.world_size:
            saved_world = state["world_size"]
            raise UserError(
                f"{self.outputs.model_dir} holds a run trained by {saved_world} process(es), this is "
                f"{self.world_size}; resume with --gpus {saved_world} (torchrun --nproc_per_node {saved_world}) "
                "or pass --no-resume"
            )
        self.step.load_state_dict(state)
        self.step.load_pools(state["pools"])
        self.epoch, self.step_in_epoch = state["epoch"], state["step_in_epoch"]
        self.global_step = state["global_step"]
        self.train_seconds = float(state.get("train_seconds", 0.0))  # absent in checkpoints of older versions

    # ------------------------------------------------------------------------------------ descriptions
    def model_info(self) -> ModelInfo:
        stable = {STABILITY_KEY: json.dumps(describe(self.cfg))} if self.cfg.stability_weight > 0 else {}
        return ModelInfo(
            spec=self.step.nets.a_to_b.spec,
            domains=tuple(self.cfg.domain_names),  # type: ignore[arg-type]
            crop_size=self.cfg.crop_size,
            load_size=self.cfg.load_size,
            epoch=self.epoch,
            step=self.global_step,
            extra=stable,
        )

    def run_info(self, seconds: float) -> dict:
        return {
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
            "precision": self.precision,
            "precision_reason": self.precision_reason,
            "world_size": self.world_size,
            "steps": self.global_step,
            "epochs": self.epoch,
            "images": {"A": self.n_a, "B": self.n_b},
            "skipped": [{"path": str(p), "reason": r} for p, r in self.skipped],
            "last_session_seconds": round(seconds, 2),
            "config": self.cfg.to_dict(),
            "torch": torch.__version__,
        }
