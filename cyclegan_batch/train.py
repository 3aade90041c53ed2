"""The CycleGAN training loop (Zhu et al. 2017), resumable and mixed-precision.

One step, as in the paper and the authors' code:
  G step: L_G = LSGAN(D_B(G(a)), 1) + LSGAN(D_A(F(b)), 1)
              + lambda_cycle * (|F(G(a)) - a| + |G(F(b)) - b|)
              + lambda_identity * lambda_cycle * (|G(b) - b| + |F(a) - a|)
  D step: L_D_X = 0.5 * (LSGAN(D_X(real), 1) + LSGAN(D_X(pool(fake)), 0)) for X in A, B
Here G = a_to_b, F = b_to_a; D_A judges domain A images, D_B domain B images.

Several GPUs (`torchrun --nproc_per_node N -m cyclegan_batch train ...`, or `train --gpus N`): PyTorch
DistributedDataParallel. The generator pair and the discriminator pair are each one DDP module, so each
optimizer's single backward averages its gradients over the ranks; in the G step the discriminators run
unwrapped and frozen (they get no gradient there). Each rank takes its own slice of every epoch's draws
(data.rank_batches), so N ranks x batch b follow the schedule of one process with batch N*b, and an epoch
is max(|A|, |B|) // (N*b) steps. The image pool is per rank: each rank's discriminators see fakes from
its own history (all pools are saved in the checkpoint). Rank 0 alone writes the checkpoint, losses.csv
(losses averaged over ranks, images/s over all ranks), samples, run.json and the model file; every rank
resumes from that checkpoint, with the same number of ranks.

Learning rate: the paper's 2e-4 is tuned for batch 1. The default keeps it fixed for any batch size
and any number of ranks (an effective batch of N*b); users who want the common linear scaling rule
pass `--set lr=...` themselves (e.g. 2e-4 * N * b, usually with warm-up; GANs often prefer less).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from cyclegan_batch import distributed
from cyclegan_batch.atomic import atomic_output, atomic_write_text, remove_stale_parts
from cyclegan_batch.config import TrainConfig
from cyclegan_batch.data import (
    UnpairedImages,
    collate,
    epoch_draws,
    find_domain_dirs,
    rank_batches,
    readable_images,
    to_uint8,
)
from cyclegan_batch.errors import UserError
from cyclegan_batch.modelfile import ModelInfo, load_generators, save_generators
from cyclegan_batch.nets import GeneratorSpec, PatchDiscriminator, ResnetGenerator, init_weights
from cyclegan_batch.precision import autocast, pick_device, resolve_precision
from cyclegan_batch.progress import progress_bar

log = logging.getLogger(__name__)

MODEL_FILE = "generators.safetensors"
CHECKPOINT_FILE = "state/checkpoint.pt"
LOSS_TERMS = ("D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")
LOSS_COLUMNS = ("epoch", "step", *LOSS_TERMS, "lr", "images_per_s")


class NonFiniteLoss(RuntimeError):
    pass


class ImagePool:
    """Shrivastava et al.'s history of generated images; D sees old fakes half the time once it is full.

    Its random choices use its own generator so that its state can be checkpointed and restored.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = torch.Generator().manual_seed(seed)

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for img in batch.detach():
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand(1, generator=self.rng).item() > 0.5:
                i = int(torch.randint(0, self.size, (1,), generator=self.rng).item())
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)

    def state_dict(self) -> dict:
        images = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"images": images, "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        # `images` is one stacked tensor (or, in older checkpoints, a list): both iterate image by image
        self.images = [t.to(device) for t in state["images"]]
        self.rng.set_state(state["rng"])


@dataclass
class Networks:
    a_to_b: ResnetGenerator
    b_to_a: ResnetGenerator
    d_a: PatchDiscriminator
    d_b: PatchDiscriminator

    def named(self) -> dict[str, nn.Module]:
        return {"a_to_b": self.a_to_b, "b_to_a": self.b_to_a, "d_a": self.d_a, "d_b": self.d_b}


class GeneratorPair(nn.Module):
    """Every generator pass of the G step behind one forward: one DDP module, one all-reduce per backward."""

    def __init__(self, a_to_b: ResnetGenerator, b_to_a: ResnetGenerator, identity: bool) -> None:
        super().__init__()
        self.a_to_b, self.b_to_a, self.identity = a_to_b, b_to_a, identity

    def forward(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"fake_b": self.a_to_b(real_a), "fake_a": self.b_to_a(real_b)}
        out["rec_a"] = self.b_to_a(out["fake_b"])
        out["rec_b"] = self.a_to_b(out["fake_a"])
        if self.identity:  # G(b) should be b and F(a) should be a
            out["same_b"], out["same_a"] = self.a_to_b(real_b), self.b_to_a(real_a)
        return out


class DiscriminatorPair(nn.Module):
    """Both discriminators on real images and pooled fakes: the D step's one DDP module."""

    def __init__(self, d_a: PatchDiscriminator, d_b: PatchDiscriminator) -> None:
        super().__init__()
        self.d_a, self.d_b = d_a, d_b

    def forward(
        self, real_a: torch.Tensor, fake_a: torch.Tensor, real_b: torch.Tensor, fake_b: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.d_a(real_a), self.d_a(fake_a), self.d_b(real_b), self.d_b(fake_b)


def build_networks(cfg: TrainConfig, seed: int) -> Networks:
    torch.manual_seed(seed)
    spec = GeneratorSpec(ngf=cfg.ngf, n_blocks=cfg.n_blocks, upsample=cfg.upsample)  # type: ignore[arg-type]
    nets = Networks(
        ResnetGenerator(spec),
        ResnetGenerator(spec),
        PatchDiscriminator(cfg.ndf, cfg.d_layers),
        PatchDiscriminator(cfg.ndf, cfg.d_layers),
    )
    for net in nets.named().values():
        init_weights(net, cfg.init_gain)
    return nets


def make_adam(params: list[nn.Parameter], cfg: TrainConfig, device: torch.device) -> torch.optim.Adam:
    """Fused Adam (one kernel for all parameters) where this torch supports it on `device`."""
    kwargs = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    try:
        return torch.optim.Adam(params, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, foreach=device.type == "cuda", **kwargs)


def lsgan(pred: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
    return F.mse_loss(pred.float(), target)


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
        resume: bool = True,
        init_from: Path | None = None,
        channels_last: bool | None = None,
        progress: bool = True,
    ) -> None:
        self.cfg, self.model_dir = cfg, Path(model_dir)
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.progress = progress and self.rank == 0
        if self.model_dir.exists() and not self.model_dir.is_dir():
            raise UserError(f"model dir {self.model_dir} exists and is a file; pass a folder path")
        self.device = distributed.rank_device(pick_device(device))
        self.precision = resolve_precision(precision, self.device)  # type: ignore[arg-type]
        if channels_last is None:  # CUDA's tensor-core convs prefer it; a bf16 step on an AMX CPU ran ~3% slower
            channels_last = self.device.type == "cuda"
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

        dir_a, dir_b = find_domain_dirs(Path(data))
        files_a, bad_a = readable_images(dir_a, cfg.domain_names[0])
        files_b, bad_b = readable_images(dir_b, cfg.domain_names[1])
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
        self.workers = min(4, os.cpu_count() or 1) if workers is None else workers

        self.nets = build_networks(cfg, cfg.seed)
        if init_from is not None:
            self._init_generators(Path(init_from))
        for net in self.nets.named().values():
            net.to(self.device, memory_format=self.memory_format).train()
        gen_params = [*self.nets.a_to_b.parameters(), *self.nets.b_to_a.parameters()]
        dis_params = [*self.nets.d_a.parameters(), *self.nets.d_b.parameters()]
        self.opt_g = make_adam(gen_params, cfg, self.device)
        self.opt_d = make_adam(dis_params, cfg, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        pool_seed = cfg.seed + 1000 * self.rank  # per-rank pools make their own choices
        self.pool_a = ImagePool(cfg.pool_size, pool_seed + 1)
        self.pool_b = ImagePool(cfg.pool_size, pool_seed + 2)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.fixed_samples = self._fixed_samples()
        n = self.nets
        self.generators = self._distribute(GeneratorPair(n.a_to_b, n.b_to_a, cfg.lambda_identity > 0))
        self.discriminators = self._distribute(DiscriminatorPair(n.d_a, n.d_b))

        self.forward = self._forward
        if compile:
            self.forward = torch.compile(self._forward)
        if self.rank == 0 and self.model_dir.is_dir():  # a run killed mid-write leaves temporary files
            remove_stale_parts(self.model_dir)
        if resume and (self.model_dir / CHECKPOINT_FILE).is_file():
            self._load_checkpoint()
            if self.rank == 0:
                self._forget_losses_after_checkpoint()
            log.info("resuming at epoch %d, step %d", self.epoch + 1, self.global_step)

    # ----------------------------------------------------------------------------------------- setup
    def _distribute(self, module: nn.Module) -> nn.Module:
        """DDP-wrapped under torchrun (rank 0's weights are broadcast here), the module itself otherwise."""
        if self.world_size == 1:
            return module
        return DistributedDataParallel(module, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def _init_generators(self, path: Path) -> None:
        pretrained = load_generators(path)
        if pretrained.info.spec != self.nets.a_to_b.spec:
            raise UserError(
                f"--init-from {path} has generator {pretrained.info.spec.to_dict()}, but this run "
                f"builds {self.nets.a_to_b.spec.to_dict()}; use the same ngf/n_blocks/upsample"
            )
        for name in ("a_to_b", "b_to_a"):
            if (net := getattr(pretrained, name)) is not None:
                getattr(self.nets, name).load_state_dict(net.state_dict())
            else:  # an official latest_net_G.pth holds G only
                log.warning("--init-from %s has no %s generator: it starts from random weights", path, name)
        log.info("initialised generators from %s", path)

    def _fixed_samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The same few centre-cropped images in every sample grid, so grids show progress over time."""
        n = min(3, self.n_a, self.n_b)
        draws = epoch_draws(self.n_a, self.n_b, self.cfg.seed + 99, 0)[:n]
        a, b = collate([self.dataset[d] for d in draws])
        return a.to(self.device), b.to(self.device)

    # ------------------------------------------------------------------------------------- the step
    def _forward(
        self, real_a: torch.Tensor, real_b: torch.Tensor
    ) -> tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor]:
        """Generator losses (D frozen by the caller) and the fakes the discriminators train on."""
        cfg, n = self.cfg, self.nets
        out = self.generators(real_a, real_b)
        terms = {  # the discriminators run unwrapped: frozen here, nothing of theirs to all-reduce
            "G_A": lsgan(n.d_b(out["fake_b"]), True),
            "G_B": lsgan(n.d_a(out["fake_a"]), True),
            "cycle_A": F.l1_loss(out["rec_a"].float(), real_a) * cfg.lambda_cycle,
            "cycle_B": F.l1_loss(out["rec_b"].float(), real_b) * cfg.lambda_cycle,
        }
        if cfg.lambda_identity > 0:
            w = cfg.lambda_identity * cfg.lambda_cycle
            terms["idt_A"] = F.l1_loss(out["same_b"].float(), real_b) * w
            terms["idt_B"] = F.l1_loss(out["same_a"].float(), real_a) * w
        loss = sum(terms.values())
        return loss, terms, out["fake_a"].detach(), out["fake_b"].detach()

    def train_step(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        n = self.nets
        real_a = real_a.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        real_b = real_b.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        for d in (n.d_a, n.d_b):
            d.requires_grad_(False)
        with autocast(self.device, self.precision):
            loss_g, terms, fake_a, fake_b = self.forward(real_a, real_b)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)

        for d in (n.d_a, n.d_b):
            d.requires_grad_(True)
        with autocast(self.device, self.precision):
            pool_a, pool_b = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
            real_a_pred, fake_a_pred, real_b_pred, fake_b_pred = self.discriminators(real_a, pool_a, real_b, pool_b)
            terms["D_A"] = 0.5 * (lsgan(real_a_pred, True) + lsgan(fake_a_pred, False))
            terms["D_B"] = 0.5 * (lsgan(real_b_pred, True) + lsgan(fake_b_pred, False))
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(terms["D_A"] + terms["D_B"]).backward()
        self.scaler.step(self.opt_d)
        self.scaler.update()
        return {k: v.detach() for k, v in terms.items()}

    # ----------------------------------------------------------------------------------------- loop
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

    def _set_lr(self) -> float:
        lr = self.cfg.lr * self.cfg.lr_factor(self.epoch)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def _loss_values(self, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The step's loss terms as floats, averaged over the ranks (so every rank agrees on NaNs and logs)."""
        stacked = distributed.mean_across_ranks(torch.stack([v.float() for v in terms.values()]))
        return dict(zip(terms, stacked.tolist(), strict=True))

    def fit(self) -> None:
        cfg = self.cfg
        total_steps = cfg.total_epochs() * self.steps_per_epoch
        if cfg.max_steps:
            total_steps = min(total_steps, cfg.max_steps)
        if self.global_step >= total_steps:
            log.info("training already complete (%d steps); pass --no-resume to start over", self.global_step)
            if self.rank == 0:
                self._write_model()
            return
        started = time.perf_counter()
        window_start, window_steps = time.perf_counter(), 0
        sums: dict[str, float] = {}
        with progress_bar("train", total_steps, "step", self.progress, self.global_step) as advance:
            while self.global_step < total_steps:
                lr = self._set_lr()
                for real_a, real_b in self._batches(self.epoch, self.step_in_epoch):
                    values = self._loss_values(self.train_step(real_a, real_b))
                    if not all(math.isfinite(v) for v in values.values()):
                        bad = ", ".join(f"{k}={v}" for k, v in values.items() if not math.isfinite(v))
                        raise NonFiniteLoss(
                            f"non-finite loss at step {self.global_step + 1} (epoch "
                            f"{self.epoch + 1}): {bad}; the last checkpoint in {self.model_dir} "
                            "is intact - lower --lr or use --precision fp32, then rerun"
                        )
                    for k, v in values.items():
                        sums[k] = sums.get(k, 0.0) + v
                    self.global_step += 1
                    self.step_in_epoch += 1
                    window_steps += 1
                    advance(status=" ".join(f"{k}={values[k]:.3f}" for k in ("G_A", "cycle_A", "D_A")))
                    if self.global_step % cfg.log_every == 0 or self.global_step == total_steps:
                        images = window_steps * cfg.batch_size * self.world_size
                        if self.rank == 0:
                            rate = images / (time.perf_counter() - window_start)
                            self._log_losses({k: v / window_steps for k, v in sums.items()}, lr, rate)
                        sums, window_start, window_steps = {}, time.perf_counter(), 0
                    if self.global_step % cfg.sample_every == 0 and self.rank == 0:
                        self._write_samples()
                    if self.global_step % cfg.checkpoint_every == 0:
                        self._checkpoint()
                    if self.global_step >= total_steps:
                        break
                if self.step_in_epoch >= self.steps_per_epoch:
                    self.epoch, self.step_in_epoch = self.epoch + 1, 0
                self._checkpoint()
        if self.rank == 0:
            self._write_samples()
            self._write_run_info(time.perf_counter() - started)

    # --------------------------------------------------------------------------------------- output
    def _forget_losses_after_checkpoint(self) -> None:
        """Drop losses.csv rows a killed run logged after its last checkpoint: the resume logs those steps again."""
        path = self.model_dir / "losses.csv"
        if not path.is_file():
            return
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        kept = rows[:1] + [row for row in rows[1:] if int(row[1]) <= self.global_step]
        if len(kept) < len(rows):
            with atomic_output(path) as tmp, tmp.open("w", newline="") as f:
                csv.writer(f).writerows(kept)

    def _log_losses(self, means: dict[str, float], lr: float, rate: float) -> None:
        path = self.model_dir / "losses.csv"
        new = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(LOSS_COLUMNS)
            writer.writerow(
                [
                    self.epoch + 1,
                    self.global_step,
                    *(f"{means.get(k, 0.0):.6g}" for k in LOSS_TERMS),
                    f"{lr:.6g}",
                    f"{rate:.3f}",
                ]
            )

    @torch.no_grad()
    def _write_samples(self) -> None:
        """A grid per domain: real | translated | reconstructed, one row per fixed sample."""
        from PIL import Image

        n = self.nets
        for net in (n.a_to_b, n.b_to_a):
            net.eval()
        a, b = self.fixed_samples
        with autocast(self.device, self.precision):
            rows_a = torch.cat([a, (fb := n.a_to_b(a)).float(), n.b_to_a(fb).float()], dim=3)
            rows_b = torch.cat([b, (fa := n.b_to_a(b)).float(), n.a_to_b(fa).float()], dim=3)
        for net in (n.a_to_b, n.b_to_a):
            net.train()
        grid = torch.cat([torch.cat(list(rows_a), dim=1), torch.cat(list(rows_b), dim=1)], dim=1)
        path = self.model_dir / "samples" / f"step_{self.global_step:07d}.png"
        with atomic_output(path) as tmp:
            Image.fromarray(to_uint8(grid)).save(tmp, format="PNG")

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            spec=self.nets.a_to_b.spec,
            domains=tuple(self.cfg.domain_names),  # type: ignore[arg-type]
            crop_size=self.cfg.crop_size,
            load_size=self.cfg.load_size,
            epoch=self.epoch,
            step=self.global_step,
        )

    def _write_model(self) -> None:
        save_generators(self.model_dir / MODEL_FILE, self.nets.a_to_b, self.nets.b_to_a, self.model_info())

    def _gathered_pools(self) -> list[dict]:
        """Every rank's two pools, at rank 0 (a collective: every rank calls it)."""
        gathered = {}
        for name, pool in (("a", self.pool_a), ("b", self.pool_b)):
            state = pool.state_dict()
            images = distributed.gather_to_main(state["images"], self.device)
            rngs = distributed.gather_to_main(state["rng"], self.device)
            gathered[name] = [{"images": i, "rng": r} for i, r in zip(images, rngs, strict=True)]
        return [{"a": a, "b": b} for a, b in zip(gathered["a"], gathered["b"], strict=True)]

    def _checkpoint(self) -> None:
        """Everything a resume needs, atomically; then the generators file for inference. Rank 0 writes."""
        pools = self._gathered_pools()
        if self.rank != 0:
            return
        state = {
            "nets": {k: v.state_dict() for k, v in self.nets.named().items()},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "pools": pools,  # one {"a", "b"} per rank
            "world_size": self.world_size,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "config": json.dumps(self.cfg.to_dict()),
        }
        with atomic_output(self.model_dir / CHECKPOINT_FILE) as tmp:
            torch.save(state, tmp)
        self._write_model()

    def _load_checkpoint(self) -> None:
        path = self.model_dir / CHECKPOINT_FILE
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint gets the same answer
            raise UserError(f"cannot resume from {path} ({e}); pass --no-resume to start over") from None
        saved = json.loads(state["config"])
        changed = {k for k, v in self.cfg.to_dict().items() if saved.get(k) != v and k not in ("max_steps",)}
        structural = changed & {"ngf", "ndf", "n_blocks", "d_layers", "upsample", "batch_size", "seed"}
        if structural:
            raise UserError(
                f"{self.model_dir} holds a run with different {', '.join(sorted(structural))}; "
                "pass --no-resume to start over or use another model dir"
            )
        saved_world = state.get("world_size", 1)
        if saved_world != self.world_size:
            raise UserError(
                f"{self.model_dir} holds a run trained by {saved_world} process(es), this is {self.world_size}; "
                f"resume with --gpus {saved_world} (torchrun --nproc_per_node {saved_world}) or pass --no-resume"
            )
        for name, net in self.nets.named().items():
            net.load_state_dict(state["nets"][name])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.scaler.load_state_dict(state["scaler"])
        # checkpoints from before DDP hold one process's pools as pool_a / pool_b
        pools = state["pools"][self.rank] if "pools" in state else {"a": state["pool_a"], "b": state["pool_b"]}
        self.pool_a.load_state_dict(pools["a"], self.device)
        self.pool_b.load_state_dict(pools["b"], self.device)
        self.epoch, self.step_in_epoch = state["epoch"], state["step_in_epoch"]
        self.global_step = state["global_step"]

    def _write_run_info(self, seconds: float) -> None:
        info = {
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
            "precision": self.precision,
            "world_size": self.world_size,
            "steps": self.global_step,
            "epochs": self.epoch,
            "images": {"A": self.n_a, "B": self.n_b},
            "skipped": [{"path": str(p), "reason": r} for p, r in self.skipped],
            "last_session_seconds": round(seconds, 2),
            "config": self.cfg.to_dict(),
            "torch": torch.__version__,
        }
        atomic_write_text(self.model_dir / "run.json", json.dumps(info, indent=2))
