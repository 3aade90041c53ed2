"""Training configuration: every hyper-parameter is a key; presets are named sets of overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.media.images import PAPER_CROP_SIZE, PAPER_LOAD_SIZE
from cyclegan_batch.models.spec import RESIZE_CONV, SPEC_KEYS, GeneratorSpec


@dataclass
class TrainConfig:
    # Architecture: the generators' (ngf, n_blocks, upsample and the departures: models/spec.py's GeneratorSpec,
    # set by their own names: `--set ngf=32`), and a 3-layer PatchGAN with ndf=64 (the paper's, at 256x256)
    generator: GeneratorSpec = field(default_factory=GeneratorSpec)
    ndf: int = 64
    d_layers: int = 3
    init_gain: float = 0.02
    # Data: resize shorter side to load_size, random crop_size crop, random horizontal flip
    load_size: int = PAPER_LOAD_SIZE
    crop_size: int = PAPER_CROP_SIZE
    flip: bool = True
    batch_size: int = 1
    # Losses: LSGAN + lambda_cycle * cycle L1 each way + lambda_identity * lambda_cycle * identity L1
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    # Single-frame regularization against video flicker (train/stability.py; 0 = off, the paper's training):
    # stability_weight * mean (G(T(x) + n) - T(G(x)))^2 for both generators, T a random shift (+- px at the
    # training crop), rotation and shear (+- degrees), zoom (+- fraction), n Gaussian noise (max std, [0, 1] scale)
    stability_weight: float = 0.0
    stability_shift: float = 2.0
    stability_rotate: float = 1.0
    stability_zoom: float = 0.03
    stability_noise: float = 0.05
    stability_every: int = 1  # applied on every k-th step only (k = 1: every step), to bound its cost
    stability_blur: float = 0.0  # T also blurs, by a Gaussian of std up to this many px (0 = off, the paper's T)
    # Optimiser and schedule: Adam, constant lr for `epochs`, linear decay to 0 over `decay_epochs`
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    epochs: int = 100
    decay_epochs: int = 100
    max_steps: int = 0  # stop after this many steps in total (0 = run all epochs); for budgets and tests
    minutes: float = 0.0  # wall-clock budget: the schedule (and its decay) is fitted into it (0 = none)
    # Bookkeeping
    seed: int = 0
    log_every: int = 100
    sample_every: int = 1000
    checkpoint_every: int = 1000
    # KID/FID of the val split every eval_every steps (0 = never; needs the [metrics] extra); keeps best.safetensors.
    # 2 x 250 val images x (G 99 + Inception 11.5 GFLOP) = 55 TFLOP against 1000 paper steps x 1879 GFLOP: 2.9 %.
    eval_every: int = 1000
    eval_images: int = 250  # val images per domain scored at each evaluation
    domain_names: list[str] = field(default_factory=lambda: ["A", "B"])

    def total_epochs(self) -> int:
        return self.epochs + self.decay_epochs

    def lr_factor(self, epoch: int) -> float:
        """The paper's schedule (0-based epoch): 1 for `epochs`, then linearly towards 0 over `decay_epochs`."""
        return 1.0 - max(0, epoch + 1 - self.epochs) / (self.decay_epochs + 1)

    def to_dict(self) -> dict[str, Any]:
        """Every key by its own name, the generator's among them (run.json, the checkpoint's config)."""
        flat = dataclasses.asdict(self)
        return {**flat.pop("generator"), **flat}

    def validate(self) -> None:
        problems = self.generator.problems()
        if self.crop_size % 4:
            problems.append(f"crop_size={self.crop_size} must be a multiple of 4")
        if self.crop_size > self.load_size:
            problems.append(f"crop_size={self.crop_size} is larger than load_size={self.load_size}")
        for name in ("stability_weight", "stability_shift", "stability_rotate", "stability_noise", "stability_blur"):
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)} must be 0 or more")
        if 6 * self.stability_blur >= self.crop_size:  # the kernel spans 6 standard deviations
            problems.append(f"stability_blur={self.stability_blur}: its kernel does not fit a {self.crop_size}-px crop")
        if not 0 <= self.stability_zoom < 1:
            problems.append(f"stability_zoom={self.stability_zoom} must be at least 0 and below 1")
        if self.minutes < 0:
            problems.append(f"minutes={self.minutes} must be 0 (no budget) or more")
        if len(self.domain_names) != 2:
            problems.append("domain_names needs exactly two names")
        at_least = {"epochs": 0, "decay_epochs": 0, "eval_every": 0, "max_steps": 0, "pool_size": 0}
        for name in (
            "ndf",
            "batch_size",
            "log_every",
            "sample_every",
            "checkpoint_every",
            "eval_images",
            "stability_every",
            *at_least,
        ):
            if getattr(self, name) < at_least.get(name, 1):
                problems.append(f"{name}={getattr(self, name)} is out of range")
        if problems:
            raise UserError("bad training config: " + "; ".join(problems), ExitCode.USAGE)


# Presets: named overrides of the paper's defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Tests and smoke runs: a training step takes a fraction of a second on a CPU (measured:
    # bench/RESULTS.md, appendix "Tiny preset training step").
    "tiny": dict(
        ngf=8,
        ndf=8,
        n_blocks=2,
        load_size=36,
        crop_size=32,
        epochs=1,
        decay_epochs=0,
        pool_size=10,
        log_every=10,
        sample_every=100,
        checkpoint_every=100,
    ),
    # The bundled demo model: small and fast enough to train on a CPU, resize-conv against checkerboards.
    "demo": dict(
        ngf=32,
        ndf=32,
        n_blocks=4,
        upsample=RESIZE_CONV,
        load_size=72,
        crop_size=64,
        epochs=30,
        decay_epochs=30,
        log_every=50,
        sample_every=500,
        checkpoint_every=500,
        # the flicker regularizer on every other step: +10.5 % a step (bench/RESULTS.md, "Generators that flicker less")
        stability_weight=100.0,
        stability_every=2,
    ),
    # A colour grade or look on a 2-core laptop CPU in minutes (docs/tutorial.md, "Your data: which preset"); it
    # exports as a .cube 3D LUT. Its departures from the paper: pointwise generators (a colour function per pixel:
    # what grades and tone curves are) that start as the identity (residual), a small discriminator,
    # low-resolution training (32-px crops of 128-px views; translation still runs at full size, and a pointwise
    # generator does the same there), batches of 8, a higher lr, a weaker cycle loss and no identity loss (both
    # hold a generator that starts as the identity where it is), an 8-minute budget. Named `quick` before issue
    # 31; model files written then carry their spec and load as they did. Views were 36 px until 2026-12-07:
    # crops of nearly the whole view let the discriminators win, and 128-px views gained 1.5-20 dB more on every
    # colour mapping of bench/quick_style.py (bench/RESULTS.md, "grade's views: 128 px instead of 36").
    "grade": dict(
        ngf=64,
        ndf=16,
        n_blocks=2,
        pointwise=True,
        residual=True,
        load_size=128,
        crop_size=32,
        batch_size=8,
        lr=1e-3,
        lambda_cycle=2.0,
        lambda_identity=0.0,
        epochs=50,
        decay_epochs=50,
        minutes=8.0,
        log_every=20,
        sample_every=200,
        checkpoint_every=200,
    ),
    # Local styles (strokes, fringes, textures a colour function cannot make) on a 2-core laptop CPU in ten
    # minutes (docs/tutorial.md, "Your data: which preset"; bench/RESULTS.md: tuned in "A spatial `quick`: the
    # search", measured in "The spatial `quick` preset").
    # Its departures from the paper: a small residual generator (starts as the identity) that never downsamples, so
    # it keeps every pixel's detail, with a pointwise colour path beside its convolutions (width 32: they see each
    # crop through instance norms, which hide the absolute colour a grade depends on; with the path faded film gains
    # +16.9 dB instead of +1.4, `grade`'s +19.0); `grade`'s small discriminator (ndf 16, the paper's 3 layers); 32
    # px crops of 128 px images in batches of 8 at a 5x lr; no horizontal flips (a mirrored stroke is another style)
    # and no identity loss; no KID evaluation (the last step's model); a 9-minute budget that decides the length
    # (the epochs are a cap). Until 2026-12-07 the discriminator was ndf 32 with 2 layers at lr 2e-3: `grade`'s
    # gained 0.9-3.7 dB more on every spatial mapping and seed (bench/RESULTS.md, "The spatial `quick` preset").
    "quick": dict(
        ngf=16,
        ndf=16,
        n_blocks=2,
        n_downsampling=0,
        residual=True,
        colour_width=32,
        load_size=128,
        crop_size=32,
        flip=False,
        batch_size=8,
        lr=1e-3,
        lambda_identity=0.0,
        epochs=1000,
        decay_epochs=1000,
        minutes=9.0,
        eval_every=0,
        log_every=50,
        sample_every=500,
        checkpoint_every=500,
    ),
}


def _coerce(name: str, raw: str, current: Any) -> Any:
    try:
        if isinstance(current, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, list):
            return [s.strip() for s in raw.split(",") if s.strip()]
        return raw
    except ValueError:
        raise UserError(f"--set {name}={raw}: expected a {type(current).__name__}", ExitCode.USAGE) from None


def config_keys() -> list[str]:
    """Every key a preset, an override or `--set` may name: the config's own and the generator spec's."""
    return sorted({f.name for f in fields(TrainConfig)} - {"generator"} | set(SPEC_KEYS))


def _set(cfg: TrainConfig, key: str, value: Any) -> None:
    if key in SPEC_KEYS:
        cfg.generator = dataclasses.replace(cfg.generator, **{key: value})
    else:
        setattr(cfg, key, value)


def _get(cfg: TrainConfig, key: str) -> Any:
    return getattr(cfg.generator if key in SPEC_KEYS else cfg, key)


def build_config(
    preset: str = "paper", overrides: dict[str, Any] | None = None, settings: list[str] | None = None
) -> TrainConfig:
    """Preset, then typed overrides (CLI options), then `key=value` strings (--set)."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}", ExitCode.USAGE)
    cfg = TrainConfig()
    names = config_keys()
    for key, value in [*PRESETS[preset].items(), *(overrides or {}).items()]:
        if value is not None:
            _set(cfg, key, value)
    for item in settings or []:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in names:
            raise UserError(
                f"--set {item!r}: expected KEY=VALUE with KEY one of: {', '.join(names)}",
                ExitCode.USAGE,
            )
        _set(cfg, key, _coerce(key, raw.strip(), _get(cfg, key)))
    cfg.validate()
    return cfg
