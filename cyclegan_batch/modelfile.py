"""The model file: both generators in one self-describing safetensors file.

Tensors are named `a_to_b.<param>` and `b_to_a.<param>`. The header metadata (strings only, as
safetensors requires) holds everything `translate` needs to rebuild the networks from the file alone:

    format            "cyclegan-batch.generators"
    format_version    "1"
    generator         JSON of nets.GeneratorSpec: {"ngf": 64, "n_blocks": 9, "upsample": "transpose"}
    domains           JSON list of the two domain names, A first: ["photo", "painting"]
    crop_size         training crop (pixels) ; load_size: the resize before cropping
    normalization     "x / 127.5 - 1"  (RGB uint8 -> [-1, 1]; outputs map back with (y + 1) * 127.5)
    version           cyclegan-batch version that wrote it
    epoch, step       training progress when written
    dtype             storage dtype of the weights ("float32" or "float16"); loading returns float32

Nothing here ever unpickles: safetensors holds only raw tensors and a JSON header.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from cyclegan_batch import __version__
from cyclegan_batch.atomic import atomic_output
from cyclegan_batch.errors import UserError
from cyclegan_batch.nets import GeneratorSpec, ResnetGenerator

FORMAT = "cyclegan-batch.generators"
FORMAT_VERSION = "1"
NORMALIZATION = "x / 127.5 - 1"
PREFIXES = ("a_to_b", "b_to_a")


@dataclass
class ModelInfo:
    spec: GeneratorSpec
    domains: tuple[str, str] = ("A", "B")
    crop_size: int = 256
    load_size: int = 286
    epoch: int = 0
    step: int = 0
    version: str = __version__
    extra: dict[str, str] = field(default_factory=dict)

    def to_metadata(self, dtype: torch.dtype) -> dict[str, str]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "generator": json.dumps(self.spec.to_dict()),
            "domains": json.dumps(list(self.domains)),
            "crop_size": str(self.crop_size),
            "load_size": str(self.load_size),
            "normalization": NORMALIZATION,
            "version": self.version,
            "epoch": str(self.epoch),
            "step": str(self.step),
            "dtype": str(dtype).removeprefix("torch."),
            **self.extra,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> ModelInfo:
        known = {
            "format",
            "format_version",
            "generator",
            "domains",
            "crop_size",
            "load_size",
            "normalization",
            "version",
            "epoch",
            "step",
            "dtype",
        }
        return cls(
            spec=GeneratorSpec(**json.loads(meta["generator"])),
            domains=tuple(json.loads(meta["domains"])),
            crop_size=int(meta["crop_size"]),
            load_size=int(meta["load_size"]),
            epoch=int(meta["epoch"]),
            step=int(meta["step"]),
            version=meta["version"],
            extra={k: v for k, v in meta.items() if k not in known},
        )


@dataclass
class Generators:
    a_to_b: ResnetGenerator
    b_to_a: ResnetGenerator
    info: ModelInfo


def save_generators(
    path: Path,
    a_to_b: torch.nn.Module,
    b_to_a: torch.nn.Module,
    info: ModelInfo,
    dtype: torch.dtype = torch.float32,
) -> None:
    tensors = {
        f"{prefix}.{name}": t.detach().to("cpu", dtype).contiguous()
        for prefix, net in zip(PREFIXES, (a_to_b, b_to_a), strict=True)
        for name, t in net.state_dict().items()
    }
    with atomic_output(Path(path)) as tmp:
        save_file(tensors, str(tmp), metadata=info.to_metadata(dtype))
        os.chmod(tmp, 0o666 & ~_umask())  # safetensors creates 0600 files; a model is made to be shared


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_info(path: Path) -> ModelInfo:
    """The header metadata alone (no tensors loaded)."""
    meta = _open_metadata(Path(path))
    return ModelInfo.from_metadata(meta)


def _open_metadata(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise UserError(f"No model at {path} - train one with `cyclegan-batch train` or pass --model")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(
            f"{path} is not a readable safetensors model file ({e}); "
            "pass a generators.safetensors written by `cyclegan-batch train`"
        ) from None
    if meta.get("format") != FORMAT:
        raise UserError(
            f"{path} is a safetensors file but not a cyclegan-batch model "
            f"(format={meta.get('format')!r}); pass a generators.safetensors from `cyclegan-batch train`"
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"{path} has model format version {meta.get('format_version')}; this cyclegan-batch "
            f"({__version__}) reads version {FORMAT_VERSION}"
        )
    return meta


def load_generators(path: Path, device: torch.device | str = "cpu") -> Generators:
    """Rebuild both generators from the file alone; weights come back as float32 in eval mode."""
    path = Path(path)
    info = ModelInfo.from_metadata(_open_metadata(path))
    nets = []
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = list(f.keys())
            for prefix in PREFIXES:
                net = ResnetGenerator(info.spec)
                state = {k[len(prefix) + 1 :]: f.get_tensor(k).float() for k in keys if k.startswith(prefix + ".")}
                net.load_state_dict(state, strict=True)
                nets.append(net.to(device).eval())
    except (SafetensorError, OSError) as e:
        raise UserError(f"{path} is damaged ({e}); retrain or copy the model file again") from None
    except RuntimeError as e:
        raise UserError(
            f"{path}: weights do not match the architecture in its header ({str(e).splitlines()[0]})"
        ) from None
    return Generators(nets[0], nets[1], info)
