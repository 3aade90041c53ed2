"""`cyclegan-batch train DATA MODEL_DIR` (one process, or one per GPU under torchrun)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from cyclegan_batch import runfolder
from cyclegan_batch.cli import app
from cyclegan_batch.cli.common import Device, PrecisionChoice, PrecisionOption, Quiet, parse_domain_names, setup_logging
from cyclegan_batch.errors import UserError
from cyclegan_batch.util.progress import show_progress

log = logging.getLogger("cyclegan_batch")


@app.command()
def train(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA", help="Folder with A/train + B/train (from `prepare`), trainA + trainB, or A + B."
        ),
    ],
    model_dir: Annotated[
        Path,
        typer.Argument(metavar="MODEL_DIR", help="Where generators.safetensors, losses.csv, samples/ and state/ go."),
    ],
    preset: Annotated[
        str,
        typer.Option(
            help="Starting values: paper (the published defaults; textures and shapes, on a GPU), grade (a colour "
            "grade or tone curve on a laptop CPU in minutes: a pointwise generator that starts as the identity, "
            "32-px crops of 128-px images, 8-minute cap; exports as a .cube LUT), quick (local styles, strokes and "
            "fringes, and a grade with them, on a laptop CPU in 9 minutes: a small full-resolution generator with a "
            "colour path, starting as the identity), "
            "demo, tiny."
        ),
    ] = "paper",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Any config key: --set lambda_cycle=5 (repeatable).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs at constant lr.")] = None,
    decay_epochs: Annotated[int | None, typer.Option(help="Epochs of linear lr decay to 0 after those.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps in total (0 = no limit).")] = None,
    minutes: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Wall-clock budget: the run ends within it with a finished model, the lr decay fitted into "
            "it (steps/s is measured as it goes; 0 = none). Counts earlier sessions of a resumed run.",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Images per step from each domain, per GPU (paper: 1). lr is not scaled: --set lr=..."),
    ] = None,
    crop_size: Annotated[int | None, typer.Option(help="Training crop in pixels (multiple of 4).")] = None,
    load_size: Annotated[int | None, typer.Option(help="Shorter side is resized to this before cropping.")] = None,
    names: Annotated[
        str | None, typer.Option(help="Domain names stored in the model, A first: photo,painting.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for init, data order, augmentation and the pool.")] = None,
    precision: PrecisionOption = PrecisionChoice.auto,
    device: Device = "auto",
    workers: Annotated[int | None, typer.Option(help="DataLoader worker processes (default: up to 4).")] = None,
    compile: Annotated[
        bool, typer.Option("--compile", help="torch.compile the step (slow start, faster steps).")
    ] = False,
    capture: Annotated[
        bool,
        typer.Option(
            "--capture",
            help="Replay the step as one CUDA graph (bf16/fp32 on a GPU: batch 1 stops being launch-bound); the "
            "pool decides on the device. Off by default until measured to pay (bench/gpu_session.sh).",
        ),
    ] = False,
    gpus: Annotated[
        int,
        typer.Option(
            help="Train on N GPUs of this machine with DDP: reruns this command under torchrun (one process "
            "per GPU, each its own image pool; lr is not scaled, see --set lr=...). With --device cpu: N CPU "
            "processes. Ignored when already started by torchrun.",
            min=1,
        ),
    ] = 1,
    channels_last: Annotated[
        bool | None,
        typer.Option(
            "--channels-last/--no-channels-last",
            help="Channels-last memory format. Default: on CUDA (faster convs), off on CPUs (no gain measured).",
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from MODEL_DIR/state/checkpoint.pt when present.")] = True,
    init_from: Annotated[
        Path | None,
        typer.Option(
            help="Start the generators from this model file, official .pth checkpoint, or `bundled` (the demo "
            "model in the package; its ngf/n_blocks are the demo preset's). Fine-tuning."
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Train CycleGAN on two folders of unpaired images; rerun the same command to resume.

    Example: `cyclegan-batch train results/demo/data results/demo/model --preset demo --epochs 5`

    On a laptop: `cyclegan-batch train data/ model/ --preset grade` (colour), `--preset quick` (local styles)

    Several GPUs: `cyclegan-batch train DATA MODEL --gpus 4`, or `torchrun --nproc_per_node 4 -m
    cyclegan_batch train DATA MODEL`. Each GPU trains on its own share of every epoch (max(|A|, |B|) //
    (N x batch) steps per epoch) with its own image pool; rank 0 writes all outputs. Resume with the
    same number of GPUs.
    """
    from cyclegan_batch.device import distributed
    from cyclegan_batch.device.precision import pick_device
    from cyclegan_batch.train.config import build_config
    from cyclegan_batch.train.loop import NonFiniteLoss, Trainer

    setup_logging(quiet)
    if gpus > 1 and not distributed.under_torchrun():
        distributed.relaunch_under_torchrun(gpus, claim_gpus=check_gpus(gpus, device))
    overrides = dict(
        epochs=epochs,
        decay_epochs=decay_epochs,
        max_steps=max_steps,
        minutes=minutes,
        batch_size=batch_size,
        crop_size=crop_size,
        load_size=load_size,
        seed=seed,
        domain_names=list(parse_domain_names(names)) if names else None,
    )
    cfg = build_config(preset, overrides, set_)
    with distributed.process_group(pick_device(device)):
        setup_logging(quiet or not distributed.is_main())  # one voice: rank 0's
        trainer = Trainer(
            data,
            model_dir,
            cfg,
            device=device,
            precision=precision.value,
            workers=workers,
            compile=compile,
            capture=capture,
            resume=resume,
            init_from=init_from,
            channels_last=channels_last,
            progress=show_progress(quiet),
        )
        log.info(
            "training %s -> %s on %s%s in %s (%s): %d + %d images, %d steps/epoch, %d epochs",
            cfg.domain_names[0],
            cfg.domain_names[1],
            trainer.device,
            f" x {trainer.world_size} ranks" if trainer.world_size > 1 else "",
            trainer.precision,
            trainer.precision_reason,
            trainer.n_a,
            trainer.n_b,
            trainer.steps_per_epoch,
            cfg.total_epochs(),
        )
        try:
            trainer.fit()
        except NonFiniteLoss as e:
            raise UserError(str(e)) from None
    log.info("model written to %s", model_dir / runfolder.MODEL_FILE)


def check_gpus(gpus: int, device: str) -> bool:
    """--gpus N needs N CUDA devices, unless --device cpu (N CPU processes). True: plain cuda, claim N free ones."""
    from cyclegan_batch.device import gpu_claim

    if device == "cpu":
        return False
    count = gpu_claim.device_count()
    if device == "auto" and count == 0:
        raise UserError(f"--gpus {gpus}: no CUDA device here; pass --device cpu to train with {gpus} CPU processes")
    if count < gpus:
        raise UserError(f"--gpus {gpus}: this machine has {count} CUDA device(s); lower --gpus")
    return device in ("auto", "cuda")
