"""What training leaves in MODEL_DIR, written atomically by rank 0 (names in `runfolder`).

`generators.safetensors` (inference), `state/checkpoint.pt` (everything a resume needs, read back with
`weights_only=True`), `losses.csv` (one row per logging interval), `samples/step_*.png` and `run.json`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
from PIL import Image

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.models.modelfile import ModelInfo, save_generators
from cyclegan_batch.models.pixels import to_uint8_image
from cyclegan_batch.train.step import LOSS_TERMS, Networks
from cyclegan_batch.util.atomic import atomic_output, atomic_write_text

LOSS_COLUMNS = ("epoch", "step", *LOSS_TERMS, "lr", "images_per_s")


class TrainingOutputs:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)
        if self.model_dir.exists() and not self.model_dir.is_dir():
            raise UserError(f"model dir {self.model_dir} exists and is a file; pass a folder path")
        self.model = self.model_dir / runfolder.MODEL_FILE
        self.checkpoint = self.model_dir / runfolder.CHECKPOINT_FILE
        self.losses = self.model_dir / runfolder.LOSSES_CSV
        self.samples = self.model_dir / runfolder.SAMPLES_DIR
        self.run_info = self.model_dir / runfolder.RUN_JSON

    def log_losses(self, epoch: int, step: int, means: dict[str, float], lr: float, rate: float) -> None:
        new = not self.losses.exists()
        self.losses.parent.mkdir(parents=True, exist_ok=True)
        with self.losses.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(LOSS_COLUMNS)
            terms = (f"{means.get(k, 0.0):.6g}" for k in LOSS_TERMS)
            writer.writerow([epoch, step, *terms, f"{lr:.6g}", f"{rate:.3f}"])

    def forget_losses_after(self, step: int) -> None:
        """Drop rows a killed run logged after its last checkpoint: the resume logs those steps again."""
        if not self.losses.is_file():
            return
        with self.losses.open(newline="") as f:
            rows = list(csv.reader(f))
        kept = rows[:1] + [row for row in rows[1:] if int(row[1]) <= step]
        if len(kept) < len(rows):
            with atomic_output(self.losses) as tmp, tmp.open("w", newline="") as f:
                csv.writer(f).writerows(kept)

    def write_samples(self, step: int, grid: torch.Tensor) -> None:
        with atomic_output(self.samples / runfolder.sample_name(step)) as tmp:
            Image.fromarray(to_uint8_image(grid)).save(tmp, format="PNG")

    def write_model(self, nets: Networks, info: ModelInfo) -> None:
        save_generators(self.model, nets.a_to_b, nets.b_to_a, info)

    def write_checkpoint(self, state: dict) -> None:
        with atomic_output(self.checkpoint) as tmp:
            torch.save(state, tmp)

    def read_checkpoint(self, device: torch.device) -> dict:
        try:
            return torch.load(self.checkpoint, map_location=device, weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint gets the same answer
            raise UserError(f"cannot resume from {self.checkpoint} ({e}); pass --no-resume to start over") from None

    def write_run_info(self, info: dict) -> None:
        atomic_write_text(self.run_info, json.dumps(info, indent=2))
