"""Generator checkpoints of the official junyanz/pytorch-CycleGAN-and-pix2pix code, read into this project's generator.

The official ResnetGenerator and nets.ResnetGenerator are the same network layer for layer, so the weights
map by name alone: `model.{i}.conv_block.{j}` there is `model.{i}.body.{j}` here. Variants handled:
- trained without `--no_dropout`: each block's conv_block holds Dropout(0.5) at index 4, so its second conv
  sits at 6 instead of 5 (dropout is the identity at inference);
- saved from DataParallel: every key starts with `module.`;
- saved by PyTorch < 0.4: instance norms carry running_mean / running_var (/ num_batches_tracked), which the
  official code deletes before loading (`__patch_instance_norm_state_dict`); so does this;
- any ngf and number of blocks (resnet_9blocks, resnet_6blocks, ...): both are read from the tensor shapes.
U-Net, batch-norm, discriminator and other checkpoints are named and refused. Files are read with
`torch.load(..., weights_only=True)` only, which refuses pickled objects without running them.

Which files: `G_A.pth` (A -> B) and its sibling `G_B.pth` (B -> A), as a training run leaves them
(`latest_net_G_A.pth`, `200_net_G_B.pth`); a single `latest_net_G.pth` (the pretrained zoo, `--model test`)
holds A -> B only; a folder is searched for those names. Domain names come from a folder named `X2Y`
(`horse2zebra_pretrained`), else they are A and B.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cyclegan_batch.errors import UserError
from cyclegan_batch.models.nets import GeneratorSpec

SOURCE = "junyanz/pytorch-CycleGAN-and-pix2pix"
SUFFIXES = (".pth", ".pt")
MAGICS = (b"PK\x03\x04", b"\x80")  # torch.save's zip archive; the pre-1.6 pickle stream
PAIR_NAME = re.compile(r"^(?P<stem>.*)net_G_(?P<side>[AB])\.pth$")
EPOCH_NAME = re.compile(r"^(?P<epoch>\d+)_net_G")
DIR_NAMES = ("latest_net_G_A.pth", "latest_net_G_B.pth", "latest_net_G.pth")
LEGACY_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")
BLOCK_KEY = re.compile(r"^model\.(?P<block>\d+)\.conv_block\.(?P<layer>\d+)\.(?P<param>\w+)$")
SUPPORTED = (
    "supported: official ResNet generators (resnet_9blocks, resnet_6blocks, any ngf) with instance norm, "
    "with or without dropout, RGB in and out"
)


@dataclass
class Checkpoint:
    """One or two official generators, renamed to this project's parameter names."""

    spec: GeneratorSpec
    states: dict[str, dict[str, torch.Tensor]]  # "a_to_b" / "b_to_a" -> state dict in nets.ResnetGenerator names
    domains: tuple[str, str]
    files: dict[str, Path]
    dropout: bool = False
    epoch: int = 0
    sha256: dict[str, str] = field(default_factory=dict)

    def header(self) -> dict[str, str]:
        """What the model file records about the source (strings, as safetensors metadata wants)."""
        files = {p: {"file": self.files[p].name, "sha256": self.sha256[p]} for p in self.states}
        arch = f"resnet_{self.spec.n_blocks}blocks, ngf {self.spec.ngf}, instance norm"
        return {
            "source": SOURCE,
            "source_files": json.dumps(files),
            "source_architecture": arch + (", dropout" if self.dropout else ", no dropout"),
        }


def is_official(path: Path) -> bool:
    """A .pth/.pt file, a torch.save archive or pickle by its first bytes, or a folder holding DIR_NAMES."""
    path = Path(path)
    if path.is_dir():
        return any((path / name).is_file() for name in DIR_NAMES)
    if path.suffix.lower() in SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    if head[8:9] == b"{":  # safetensors: an 8-byte header length (any first byte, 0x80 too), then JSON
        return False
    return any(head.startswith(magic) for magic in MAGICS)


def resolve(path: Path) -> dict[str, Path]:
    """Direction -> file: a folder's latest checkpoints, a G_A/G_B file with its sibling, or one file as A -> B."""
    path = Path(path)
    if path.is_dir():
        pair = {
            p: path / name
            for p, name in zip(("a_to_b", "b_to_a"), DIR_NAMES[:2], strict=True)
            if (path / name).is_file()
        }
        return pair or {"a_to_b": path / DIR_NAMES[2]}
    if not path.is_file():
        raise UserError(f"No model at {path} - pass a .pth checkpoint, a folder of them, or a model file")
    match = PAIR_NAME.match(path.name)
    if match is None:
        return {"a_to_b": path}
    files = {side: path.with_name(f"{match['stem']}net_G_{side}.pth") for side in "AB"}
    return {p: files[s] for p, s in (("a_to_b", "A"), ("b_to_a", "B")) if files[s].is_file()}


def domains_from_folder(folder: Path) -> tuple[str, str]:
    """`horse2zebra_pretrained` -> (horse, zebra); anything else -> (A, B)."""
    parts = folder.name.removesuffix("_pretrained").split("2")
    if len(parts) == 2 and all(re.fullmatch(r"[A-Za-z][\w-]*", p) for p in parts) and parts[0] != parts[1]:
        return parts[0], parts[1]
    return "A", "B"


def read(path: Path, domains: tuple[str, str] | None = None) -> Checkpoint:
    """The official checkpoint(s) at `path` (a file or a folder; see `resolve`)."""
    files = resolve(path)
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    return read_files(files, domains or domains_from_folder(folder.resolve()))


def read_files(files: dict[str, Path], domains: tuple[str, str]) -> Checkpoint:
    """Explicit files per direction; both must be the same architecture."""
    states: dict[str, dict[str, torch.Tensor]] = {}
    specs: dict[str, tuple[GeneratorSpec, bool]] = {}
    for prefix, file in files.items():
        state = _load_state(file)
        specs[prefix] = (infer_spec(state), any(_dropout_layer(k) for k in state))
        states[prefix] = project_names(state, dropout=specs[prefix][1])
    (spec, dropout), *others = specs.values()
    if any(other[0] != spec for other in others):
        shown = ", ".join(f"{files[p].name}: {s.to_dict()}" for p, (s, _) in specs.items())
        raise UserError(f"the two generators differ in architecture ({shown}); pass a G_A and G_B of one run")
    epochs = [int(m["epoch"]) for f in files.values() if (m := EPOCH_NAME.match(f.name))]
    return Checkpoint(
        spec=spec,
        states=states,
        domains=domains,
        files=dict(files),
        dropout=dropout,
        epoch=max(epochs, default=0),
        sha256={p: hashlib.sha256(f.read_bytes()).hexdigest() for p, f in files.items()},
    )


def _load_state(file: Path) -> dict[str, torch.Tensor]:
    """The file's state dict with `module.` and legacy instance-norm statistics removed; foreign files refused."""
    if not file.is_file():
        raise UserError(f"No checkpoint at {file} - pass the path of a latest_net_G_A.pth or latest_net_G.pth")
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - bad bytes raise many types (UnpicklingError, RuntimeError, EOFError...)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "weights only" in str(e).lower() or "unsupported global" in str(e).lower():
            raise UserError(
                f"{file} holds pickled Python objects, not only tensors; refused without running them "
                "(only plain state dicts are read). Pass a generator's state dict saved with torch.save"
            ) from None
        raise UserError(f"{file} is not a readable PyTorch checkpoint ({first[:160]})") from None
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        what = f"a dict with keys {sorted(map(str, obj))[:4]}" if isinstance(obj, dict) else type(obj).__name__
        raise UserError(f"{file} holds {what}, not a generator's state dict; {SUPPORTED}")
    state = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in state):  # saved from nn.DataParallel
        state = {k.removeprefix("module."): v for k, v in state.items()}
    _refuse_foreign(state, file)
    modules_with_weight = {k.rsplit(".", 1)[0] for k in state if k.endswith(".weight")}
    return {
        k: v.float()
        for k, v in state.items()
        if not (k.rsplit(".", 1)[-1] in LEGACY_NORM_STATS and k.rsplit(".", 1)[0] not in modules_with_weight)
    }


def _refuse_foreign(state: dict[str, torch.Tensor], file: Path) -> None:
    """One line naming what the checkpoint is, for the layouts known not to be an official ResNet generator."""
    first = state.get("model.1.weight")
    batch_norm = any(k.endswith(".running_mean") and k.replace("running_mean", "weight") in state for k in state)
    if any(k.startswith("model.model.") for k in state):
        what = "an official U-Net generator (unet_256 / unet_128, as pix2pix uses)"
    elif batch_norm:
        what = "a generator with batch norm (--norm batch)"
    elif "model.0.weight" in state and state["model.0.weight"].dim() == 4 and state["model.0.weight"].shape[-1] == 4:
        what = "a PatchGAN discriminator (net_D), not a generator"
    elif first is None or first.dim() != 4 or tuple(first.shape[-2:]) != (7, 7):
        what = f"not an official ResNet generator (no 7x7 input convolution at model.1; keys like {next(iter(state))})"
    elif first.shape[1] != 3:
        what = f"a generator for {first.shape[1]}-channel input (--input_nc {first.shape[1]})"
    elif not any(BLOCK_KEY.match(k) for k in state):
        what = "not an official ResNet generator (no residual blocks model.N.conv_block)"
    else:
        return
    raise UserError(f"{file} is {what}; {SUPPORTED}")


def _dropout_layer(key: str) -> bool:
    match = BLOCK_KEY.match(key)
    return match is not None and match["layer"] == "6"  # the second conv, one index later behind Dropout


def infer_spec(state: dict[str, torch.Tensor]) -> GeneratorSpec:
    """ngf from the input convolution, the number of blocks from the distinct block indices."""
    blocks = {int(m["block"]) for k in state if (m := BLOCK_KEY.match(k))}
    return GeneratorSpec(ngf=int(state["model.1.weight"].shape[0]), n_blocks=len(blocks), upsample="transpose")


def project_names(state: dict[str, torch.Tensor], dropout: bool) -> dict[str, torch.Tensor]:
    """Official parameter names -> nets.ResnetGenerator's (`conv_block.j` -> `body.j`, less Dropout's index)."""
    out = {}
    for key, value in state.items():
        match = BLOCK_KEY.match(key)
        if match is None:
            out[key] = value
            continue
        layer = int(match["layer"])
        if dropout and layer > 4:
            layer -= 1
        out[f"model.{match['block']}.body.{layer}.{match['param']}"] = value
    return out
