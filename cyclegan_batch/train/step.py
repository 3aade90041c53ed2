"""One CycleGAN training step (Zhu et al. 2017): four networks, two Adams, two image pools, the losses.

As in the paper and the authors' code:
  G step: L_G = LSGAN(D_B(G(a)), 1) + LSGAN(D_A(F(b)), 1)
              + lambda_cycle * (|F(G(a)) - a| + |G(F(b)) - b|)
              + lambda_identity * lambda_cycle * (|G(b) - b| + |F(a) - a|)
  D step: L_D_X = 0.5 * (LSGAN(D_X(real), 1) + LSGAN(D_X(pool(fake)), 0)) for X in A, B
Here G = a_to_b, F = b_to_a; D_A judges domain A images, D_B domain B images. With stability_weight > 0
(a departure, off by default) the G step adds train/stability.py's regularizer against flicker:
              + stability_weight * (mean (G(T(a) + n) - T(G(a)))^2 + mean (F(T'(b) + n') - T'(F(b)))^2)

Under torchrun the generator pair and the discriminator pair are each one DDP module, so each optimizer's
single backward averages its gradients over the ranks; in the G step the discriminators run unwrapped and
frozen (they get no gradient there). The image pool is per rank: each rank's discriminators see fakes
from its own history.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cyclegan_batch.device import distributed
from cyclegan_batch.device.precision import autocast
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.models.modelfile import Generators
from cyclegan_batch.models.nets import Generator, PatchDiscriminator, build_generator, init_weights
from cyclegan_batch.train.capture import DevicePool, StepGraph
from cyclegan_batch.train.config import TrainConfig
from cyclegan_batch.train.stability import Motion, MotionDraws, stability_loss

LOSS_TERMS = ("D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "stab_A", "stab_B")


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
        self.images = [t.to(device) for t in state["images"]]
        self.rng.set_state(state["rng"])


@dataclass
class Networks:
    a_to_b: Generator
    b_to_a: Generator
    d_a: PatchDiscriminator
    d_b: PatchDiscriminator

    def named(self) -> dict[str, nn.Module]:
        return {"a_to_b": self.a_to_b, "b_to_a": self.b_to_a, "d_a": self.d_a, "d_b": self.d_b}


class GeneratorPair(nn.Module):
    """Every generator pass of the G step behind one forward: one DDP module, one all-reduce per backward."""

    def __init__(self, a_to_b: Generator, b_to_a: Generator, identity: bool) -> None:
        super().__init__()
        self.a_to_b, self.b_to_a, self.identity = a_to_b, b_to_a, identity

    def forward(
        self, real_a: torch.Tensor, real_b: torch.Tensor, moved: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        out = {"fake_b": self.a_to_b(real_a), "fake_a": self.b_to_a(real_b)}
        out["rec_a"] = self.b_to_a(out["fake_b"])
        out["rec_b"] = self.a_to_b(out["fake_a"])
        if self.identity:  # G(b) should be b and F(a) should be a
            out["same_b"], out["same_a"] = self.a_to_b(real_b), self.b_to_a(real_a)
        if moved is not None:  # G(T(a) + n) and F(T'(b) + n'), for the stability terms
            out["moved_fake_b"], out["moved_fake_a"] = self.a_to_b(moved[0]), self.b_to_a(moved[1])
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
    nets = Networks(
        build_generator(cfg.generator),
        build_generator(cfg.generator),
        PatchDiscriminator(cfg.ndf, cfg.d_layers),
        PatchDiscriminator(cfg.ndf, cfg.d_layers),
    )
    for net in nets.named().values():
        init_weights(net, cfg.init_gain)
    return nets


def make_adam(
    params: list[nn.Parameter], cfg: TrainConfig, device: torch.device, capturable: bool = False
) -> torch.optim.Adam:
    """Fused Adam (one kernel for all parameters) where this torch supports it on `device`. `capturable`: its
    state and learning rate on the device, so a CUDA graph can replay its step (train/capture.py)."""
    if capturable:
        lr = torch.tensor(cfg.lr, dtype=torch.float64, device=device)  # the same updates as a float lr
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=True, capturable=True)
    kwargs = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    try:
        return torch.optim.Adam(params, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, foreach=device.type == "cuda", **kwargs)


def lsgan(pred: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
    return F.mse_loss(pred.float(), target)


class CycleGANStep:
    """The networks, optimizers and pools of one rank, and the update that one batch makes to them.

    `initial_generators` (fine-tuning) replaces the freshly initialised generators' weights (a direction it
    lacks keeps them); the discriminators always start from the paper's init. `capture`: the capture-ready
    step of train/capture.py (device-side pools, capturable Adam), replayed as one CUDA graph on a GPU.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        device: torch.device,
        precision: str,
        memory_format: torch.memory_format,
        *,
        initial_generators: Generators | None = None,
        compile: bool = False,
        capture: bool = False,
    ) -> None:
        self.cfg, self.device, self.precision, self.memory_format = cfg, device, precision, memory_format
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.nets = build_networks(cfg, cfg.seed)
        for name in ("a_to_b", "b_to_a") if initial_generators is not None else ():
            if (pretrained := getattr(initial_generators, name)) is not None:  # one direction may be missing
                getattr(self.nets, name).load_state_dict(pretrained.state_dict())
        for net in self.nets.named().values():
            net.to(device, memory_format=memory_format).train()
        n = self.nets
        if capture and precision == "fp16":
            raise UserError(
                "--capture runs bf16 or fp32: fp16's loss scaling syncs with the host every step", ExitCode.USAGE
            )
        self.opt_g = make_adam([*n.a_to_b.parameters(), *n.b_to_a.parameters()], cfg, device, capture)
        self.opt_d = make_adam([*n.d_a.parameters(), *n.d_b.parameters()], cfg, device, capture)
        self.scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
        pool_seed = cfg.seed + 1000 * self.rank  # per-rank pools make their own choices
        pool = (lambda size, seed: DevicePool(size, seed, device)) if capture else ImagePool
        self.pool_a: ImagePool | DevicePool = pool(cfg.pool_size, pool_seed + 1)
        self.pool_b: ImagePool | DevicePool = pool(cfg.pool_size, pool_seed + 2)
        # only when asked: with stability_weight 0 the step draws nothing more than the paper's
        self.motions = MotionDraws(cfg, pool_seed + 3) if cfg.stability_weight > 0 else None
        if capture and self.motions is not None:
            raise UserError(
                "--capture replays one fixed step; stability_weight adds its term every "
                f"{cfg.stability_every} steps: set stability_weight=0 or leave --capture off",
                ExitCode.USAGE,
            )
        self._graph = StepGraph(self._update, self._draw) if capture and device.type == "cuda" else None
        self.autocast_cache = self._graph is None  # a captured graph replays the weight casts
        self.generators = self._distribute(GeneratorPair(n.a_to_b, n.b_to_a, cfg.lambda_identity > 0))
        self.discriminators = self._distribute(DiscriminatorPair(n.d_a, n.d_b))
        self.generator_losses = torch.compile(self._generator_losses) if compile else self._generator_losses

    def _distribute(self, module: nn.Module) -> nn.Module:
        """DDP-wrapped under torchrun (rank 0's weights are broadcast here), the module itself otherwise."""
        if self.world_size == 1:
            return module
        return DistributedDataParallel(module, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def _generator_losses(
        self, real_a: torch.Tensor, real_b: torch.Tensor, motions: tuple[Motion, Motion] | None = None
    ) -> tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor]:
        """Generator losses (D frozen by the caller) and the fakes the discriminators train on."""
        cfg, n = self.cfg, self.nets
        moved = None if motions is None else (motions[0].apply(real_a), motions[1].apply(real_b))
        out = self.generators(real_a, real_b, moved)
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
        if motions is not None:
            w = cfg.stability_weight
            terms["stab_A"] = stability_loss(out["moved_fake_b"], out["fake_b"], motions[0]) * w
            terms["stab_B"] = stability_loss(out["moved_fake_a"], out["fake_a"], motions[1]) * w
        loss = sum(terms.values())
        return loss, terms, out["fake_a"].detach(), out["fake_b"].detach()

    def train_step(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        """One G update, then one D update on pooled fakes; the loss terms, detached."""
        real_a = real_a.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        real_b = real_b.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        if self._graph is not None:
            return self._graph(real_a, real_b)
        motions = None
        if self.motions is not None and self.motions.due():  # drawn on the CPU, outside the computation
            motions = (self.motions.draw(real_a).to(self.device), self.motions.draw(real_b).to(self.device))
        self._draw(len(real_a))
        return self._update(real_a, real_b, motions)

    def _draw(self, n: int) -> None:
        """The device pools' random numbers for the next step (outside a captured graph; ImagePool draws its own)."""
        for pool in (self.pool_a, self.pool_b):
            if isinstance(pool, DevicePool):
                pool.draw(n)

    def _update(
        self, real_a: torch.Tensor, real_b: torch.Tensor, motions: tuple[Motion, Motion] | None = None
    ) -> dict[str, torch.Tensor]:
        """The step's work on batches already on the device: what train/capture.py's StepGraph captures."""
        n = self.nets
        for d in (n.d_a, n.d_b):
            d.requires_grad_(False)
        with autocast(self.device, self.precision, cache=self.autocast_cache):
            loss_g, terms, fake_a, fake_b = self.generator_losses(real_a, real_b, motions)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)

        for d in (n.d_a, n.d_b):
            d.requires_grad_(True)
        with autocast(self.device, self.precision, cache=self.autocast_cache):
            pool_a, pool_b = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
            real_a_pred, fake_a_pred, real_b_pred, fake_b_pred = self.discriminators(real_a, pool_a, real_b, pool_b)
            terms["D_A"] = 0.5 * (lsgan(real_a_pred, True) + lsgan(fake_a_pred, False))
            terms["D_B"] = 0.5 * (lsgan(real_b_pred, True) + lsgan(fake_b_pred, False))
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(terms["D_A"] + terms["D_B"]).backward()
        self.scaler.step(self.opt_d)
        self.scaler.update()
        return {k: v.detach() for k, v in terms.items()}

    def set_lr(self, lr: float) -> None:
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                if isinstance(group["lr"], torch.Tensor):  # capturable: the graph reads it in place
                    group["lr"].fill_(lr)
                else:
                    group["lr"] = lr

    @torch.no_grad()
    def sample_grid(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """real | translated | reconstructed, one row per image, domain A's rows first; in [-1, 1]."""
        n = self.nets
        for net in (n.a_to_b, n.b_to_a):
            net.eval()
        with autocast(self.device, self.precision):
            rows_a = torch.cat([a, (fb := n.a_to_b(a)).float(), n.b_to_a(fb).float()], dim=3)
            rows_b = torch.cat([b, (fa := n.b_to_a(b)).float(), n.a_to_b(fa).float()], dim=3)
        for net in (n.a_to_b, n.b_to_a):
            net.train()
        return torch.cat([torch.cat(list(rows_a), dim=1), torch.cat(list(rows_b), dim=1)], dim=1)

    def state_dict(self) -> dict:
        """Networks, optimizers and the grad scaler (the pools are gathered over the ranks separately)."""
        return {
            "nets": {k: v.state_dict() for k, v in self.nets.named().items()},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        for name, net in self.nets.named().items():
            net.load_state_dict(state["nets"][name])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.scaler.load_state_dict(state["scaler"])

    def gathered_pools(self) -> list[dict]:
        """Every rank's own random state at rank 0: its two pools and, with stability_weight > 0, its motion
        draws; one {"a", "b"(, "motions")} per rank (a collective: every rank calls it)."""
        gathered = {}
        for name, pool in (("a", self.pool_a), ("b", self.pool_b)):
            state = pool.state_dict()
            images = distributed.gather_to_main(state["images"], self.device)
            rngs = distributed.gather_to_main(state["rng"], self.device)
            gathered[name] = [{"images": i, "rng": r} for i, r in zip(images, rngs, strict=True)]
        ranks = [{"a": a, "b": b} for a, b in zip(gathered["a"], gathered["b"], strict=True)]
        if self.motions is not None:
            state = self.motions.state_dict()
            rngs = distributed.gather_to_main(state["rng"], self.device)
            for rank, rng in zip(ranks, rngs, strict=True):
                rank["motions"] = {"rng": rng, "steps": state["steps"]}  # the step count is the same on every rank
        return ranks

    def load_pools(self, pools: list[dict]) -> None:
        mine = pools[self.rank]
        self.pool_a.load_state_dict(mine["a"], self.device)
        self.pool_b.load_state_dict(mine["b"], self.device)
        if self.motions is not None and "motions" in mine:  # a run that turned the regularizer on starts it fresh
            self.motions.load_state_dict(mine["motions"])
