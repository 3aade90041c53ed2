"""The model file: the generators in one self-describing safetensors file.

Tensors are named `a_to_b.<param>` and `b_to_a.<param>`; a file imported from a single official
`latest_net_G.pth` holds one direction only. The header metadata (strings only, as safetensors requires)
holds everything `translate` needs to rebuild the networks from the file alone:

    format            "cyclegan-batch.generators"
    format_version    "1"
    generator         JSON of spec.GeneratorSpec: {"ngf": 64, "n_blocks": 9, "upsample": "transpose"} for the
                      paper's generator; its departures only when set: "residual": true (output = input + a
                      zero-initialised last conv), "pointwise": true (1x1 convolutions only), "n_downsampling": 0
                      or 1, "colour_width": w (a pointwise colour path beside the convolutions)
    domains           JSON list of the two domain names, A first: ["photo", "painting"]
    directions        JSON list of the generators held: ["a_to_b", "b_to_a"] (the tensors decide on reading)
    crop_size         training crop (pixels) ; load_size: the resize before cropping
    normalization     "x / 127.5 - 1"  (RGB uint8 -> [-1, 1]; outputs map back with (y + 1) * 127.5)
    version           cyclegan-batch version that wrote it
    epoch, step       training progress when written
    dtype             storage dtype of the weights ("float32" or "float16"); loading returns float32
    source, ...       imported files only: where the weights came from (see official.py)
    stability         trained with the single-frame regularizer against flicker (train/stability.py) only: JSON of
                      its settings, {"weight": 30.0, "shift_px": 2.0, "rotate_deg": 1.0, "zoom": 0.03,
                      "noise": 0.05, "every": 1}

The header is checked against the tensor shapes in the safetensors header before any network is built,
so a damaged or hand-edited header fails in one line instead of allocating what it claims.
Wherever a model file goes, an official junyanz/pytorch-CycleGAN-and-pix2pix `.pth` checkpoint may go
too (official.py maps it). Nothing here ever unpickles: safetensors holds only raw tensors and a JSON
header, and `.pth` files are read with `torch.load(..., weights_only=True)`.
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
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.images import PAPER_CROP_SIZE, PAPER_LOAD_SIZE
from cyclegan_batch.models import official
from cyclegan_batch.models.nets import Generator, build_generator
from cyclegan_batch.models.pixels import NORMALIZATION
from cyclegan_batch.models.spec import SPEC_KEYS, GeneratorSpec
from cyclegan_batch.runfolder import resolve_model
from cyclegan_batch.util.atomic import atomic_output

FORMAT = "cyclegan-batch.generators"
STABILITY_KEY = "stability"  # an `extra` entry: the regularizer's settings, absent when it was off
FORMAT_VERSION = "1"
PREFIXES = ("a_to_b", "b_to_a")
KNOWN_KEYS = frozenset(
    (
        "format",
        "format_version",
        "generator",
        "domains",
        "directions",
        "crop_size",
        "load_size",
        "normalization",
        "version",
        "epoch",
        "step",
        "dtype",
    )
)


@dataclass
class ModelInfo:
    spec: GeneratorSpec
    domains: tuple[str, str] = ("A", "B")
    crop_size: int = PAPER_CROP_SIZE
    load_size: int = PAPER_LOAD_SIZE
    epoch: int = 0
    step: int = 0
    version: str = __version__
    extra: dict[str, str] = field(default_factory=dict)
    directions: tuple[str, ...] = PREFIXES  # which of a_to_b / b_to_a the file holds

    def to_metadata(self, dtype: torch.dtype) -> dict[str, str]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "generator": json.dumps(self.spec.to_dict()),
            "domains": json.dumps(list(self.domains)),
            "directions": json.dumps(list(self.directions)),
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
    def from_metadata(cls, meta: dict[str, str], where: Path | str = "model file") -> ModelInfo:
        """Parse a header; anything missing or malformed is one UserError naming the key."""
        for key in ("generator", "domains"):
            if key not in meta:
                raise UserError(
                    f"{where}: the model header has no {key!r} entry (every cyclegan-batch model file has one); "
                    "use the file as `cyclegan-batch train` or `import` wrote it"
                )
        return cls(
            spec=_spec(meta["generator"], where),
            domains=_domains(meta["domains"], where),
            crop_size=_int(meta, "crop_size", PAPER_CROP_SIZE, where),
            load_size=_int(meta, "load_size", PAPER_LOAD_SIZE, where),
            epoch=_int(meta, "epoch", 0, where),
            step=_int(meta, "step", 0, where),
            version=meta.get("version", "unknown"),
            extra={k: v for k, v in meta.items() if k not in KNOWN_KEYS},
        )


def _bad(where: Path | str, key: str, value: str, want: str) -> UserError:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return UserError(f"{where}: model header entry {key!r} is {shown!r}, expected {want}; the header is damaged")


def _spec(value: str, where: Path | str) -> GeneratorSpec:
    want = f"JSON like {json.dumps(GeneratorSpec().to_dict())}"
    try:
        d = json.loads(value)
    except ValueError:
        raise _bad(where, "generator", value, want) from None
    if not isinstance(d, dict) or not set(d) <= set(SPEC_KEYS):
        raise _bad(where, "generator", value, want)
    spec = GeneratorSpec(**d)
    if problems := spec.problems():
        raise _bad(where, "generator", value, "; ".join(problems))
    return spec


def _domains(value: str, where: Path | str) -> tuple[str, str]:
    try:
        d = json.loads(value)
    except ValueError:
        d = None
    if not (isinstance(d, list) and len(d) == 2 and all(isinstance(n, str) and n for n in d) and d[0] != d[1]):
        raise _bad(where, "domains", value, 'a JSON list of two different names like ["photo", "painting"]')
    return d[0], d[1]


def _int(meta: dict[str, str], key: str, default: int, where: Path | str) -> int:
    try:
        return int(meta.get(key, default))
    except ValueError:
        raise _bad(where, key, meta[key], "an integer") from None


def expected_shapes(spec: GeneratorSpec) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape of the generator `spec` describes, without allocating it (meta device)."""
    with torch.device("meta"):
        net = build_generator(spec)
    return {name: tuple(t.shape) for name, t in net.state_dict().items()}


def generator_with(state: dict[str, torch.Tensor], spec: GeneratorSpec) -> Generator:
    """The generator `spec` describes, holding `state`'s tensors. Built on the meta device: a random
    initialisation that the weights replace at once cost ~50 ms per paper generator at every start-up."""
    with torch.device("meta"):
        net = build_generator(spec)
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True, assign=True)  # float32, as promised
    return net


def shape_mismatch(spec: GeneratorSpec, shapes: dict[str, tuple[int, ...]]) -> str | None:
    """The first difference between a generator's tensors and what `spec` builds, or None."""
    want = expected_shapes(spec)
    if missing := [k for k in want if k not in shapes]:
        return f"{len(missing)} tensors missing, e.g. {missing[0]}"
    if extra := [k for k in shapes if k not in want]:
        return f"{len(extra)} unexpected tensors, e.g. {extra[0]}"
    for name, shape in want.items():
        if shapes[name] != shape:
            return f"{name} is {list(shapes[name])}, the header's architecture needs {list(shape)}"
    return None


@dataclass
class Generators:
    a_to_b: Generator | None  # None where the file holds one direction only
    b_to_a: Generator | None
    info: ModelInfo

    def __post_init__(self) -> None:
        self.info.directions = tuple(
            p for p, net in zip(PREFIXES, (self.a_to_b, self.b_to_a), strict=True) if net is not None
        )


def direction_name(prefix: str, domains: tuple[str, str]) -> str:
    """`a_to_b` -> "horse -> zebra" for the model's domains."""
    a, b = domains
    return f"{a} -> {b}" if prefix == "a_to_b" else f"{b} -> {a}"


def save_generators(
    path: Path,
    a_to_b: torch.nn.Module | None,
    b_to_a: torch.nn.Module | None,
    info: ModelInfo,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write the generators given (one may be None: a one-direction model) and the header."""
    nets = {prefix: net for prefix, net in zip(PREFIXES, (a_to_b, b_to_a), strict=True) if net is not None}
    if not nets:
        raise ValueError("save_generators needs at least one generator")
    tensors = {
        f"{prefix}.{name}": t.detach().to("cpu", dtype).contiguous()
        for prefix, net in nets.items()
        for name, t in net.state_dict().items()
    }
    info.directions = tuple(nets)
    with atomic_output(Path(path)) as tmp:
        save_file(tensors, str(tmp), metadata=info.to_metadata(dtype))
        os.chmod(tmp, 0o666 & ~_umask())  # safetensors creates 0600 files; a model is made to be shared


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_info(path: Path) -> ModelInfo:
    """The header alone (no tensors loaded), checked against the tensor shapes; official checkpoints are read."""
    path = resolve_model(path)
    if official.is_official(path):
        return from_official(official.read(path)).info
    return _read_header(path)[0]


def _read_header(path: Path) -> tuple[ModelInfo, dict[str, dict[str, tuple[int, ...]]]]:
    """The parsed header and, per direction held, its tensor shapes, consistent with each other."""
    if not path.exists():
        raise UserError(f"No model at {path} - train one with `cyclegan-batch train` or pass --model")
    if path.is_dir():
        raise UserError(
            f"{path} is a folder with no official checkpoints (latest_net_G_A.pth / latest_net_G.pth) in it; "
            "pass a model file (generators.safetensors) or a .pth"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(
            f"{path} is not a readable safetensors model file ({e}); "
            "pass a generators.safetensors written by `cyclegan-batch train`, or an official .pth checkpoint"
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
    info = ModelInfo.from_metadata(meta, path)
    by_direction: dict[str, dict[str, tuple[int, ...]]] = {}
    for name, shape in shapes.items():
        prefix, _, param = name.partition(".")
        if prefix not in PREFIXES:
            raise UserError(f"{path}: unexpected tensor {name!r} (names start with a_to_b. or b_to_a.); damaged file")
        by_direction.setdefault(prefix, {})[param] = shape
    if not by_direction:
        raise UserError(f"{path} holds no generator weights; damaged file")
    for prefix, got in by_direction.items():
        if problem := shape_mismatch(info.spec, got):
            raise UserError(
                f"{path}: weights do not match the architecture in its header {info.spec.to_dict()} "
                f"({prefix}: {problem}); the header is damaged"
            )
    info.directions = tuple(p for p in PREFIXES if p in by_direction)
    return info, by_direction


def load_generators(path: Path, device: torch.device | str = "cpu") -> Generators:
    """Rebuild the generators from the file alone; weights come back as float32 in eval mode.

    `path` may also be an official checkpoint (`latest_net_G_A.pth`, `latest_net_G.pth`) or its folder,
    or `bundled` (runfolder.resolve_model)."""
    path = resolve_model(path)
    if official.is_official(path):
        return _to(from_official(official.read(path)), device)
    info, by_direction = _read_header(path)
    nets: dict[str, Generator] = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            for prefix, params in by_direction.items():
                nets[prefix] = generator_with({k: f.get_tensor(f"{prefix}.{k}") for k in params}, info.spec)
    except (SafetensorError, OSError) as e:
        raise UserError(f"{path} is damaged ({e}); retrain or copy the model file again") from None
    return _to(Generators(nets.get("a_to_b"), nets.get("b_to_a"), info), device)


def _to(model: Generators, device: torch.device | str) -> Generators:
    for net in (model.a_to_b, model.b_to_a):
        if net is not None:
            net.to(device).eval()
    return model


def from_official(checkpoint: official.Checkpoint) -> Generators:
    """Official weights in this project's generator; the header records where they came from."""
    nets: dict[str, Generator] = {}
    for prefix, state in checkpoint.states.items():
        if problem := shape_mismatch(checkpoint.spec, {k: tuple(v.shape) for k, v in state.items()}):
            raise UserError(
                f"{checkpoint.files[prefix]} is not in the official ResNet layout ({problem}); {official.SUPPORTED}"
            )
        nets[prefix] = generator_with(state, checkpoint.spec)
    info = ModelInfo(checkpoint.spec, domains=checkpoint.domains, epoch=checkpoint.epoch, extra=checkpoint.header())
    return Generators(nets.get("a_to_b"), nets.get("b_to_a"), info)
