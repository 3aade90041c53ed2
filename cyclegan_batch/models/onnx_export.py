"""One generator of a model file as an ONNX graph: any batch, height and width, metadata saying how to use it.

The graph takes N x 3 x H x W float32 RGB in [-1, 1] (`x / 127.5 - 1`) and returns the translation at the
same size in [-1, 1]; like the engine, it reflect-pads to a multiple of 4 inside and crops back, so any
H, W >= 8 works. Exported with torch's TorchScript exporter (opset 17): it gives dynamic axes on every torch
this project supports, in about a second, without onnxscript; instance norm becomes InstanceNormalization
and the reflection padding Pad(mode=reflect). The graph is traced in fp32 on NCHW tensors, so nets.py's
channels-last group-norm path is not what is exported.
"""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cyclegan_batch import __version__
from cyclegan_batch.errors import UserError
from cyclegan_batch.models.modelfile import Generators, direction_name
from cyclegan_batch.models.pixels import NORMALIZATION
from cyclegan_batch.util.atomic import atomic_output

OPSET = 17
INPUT, OUTPUT = "image", "translated"
AXES = {0: "batch", 2: "height", 3: "width"}
EXTRA_HINT = "ONNX export needs the onnx extra: pip install 'cyclegan-batch[onnx]' (onnx, onnxruntime)"


class PaddedGenerator(nn.Module):
    """The generator on any size: reflect-pad bottom/right to a multiple of 4, crop the result back."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        y = self.net(F.pad(x, (0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4), mode="reflect"))
        return y[:, :, :h, :w]


def metadata(model: Generators, prefix: str) -> dict[str, str]:
    """What a user of the .onnx file needs: the direction, the value range, where the weights came from."""
    a, b = model.info.domains
    source, target = (a, b) if prefix == "a_to_b" else (b, a)
    return {
        "format": "cyclegan-batch.generator",
        "direction": direction_name(prefix, model.info.domains),
        "source_domain": source,
        "target_domain": target,
        "domains": json.dumps(list(model.info.domains)),
        "input": f"{INPUT}: N x 3 x H x W float32 RGB in [-1, 1], H and W >= 8",
        "output": f"{OUTPUT}: N x 3 x H x W float32 RGB in [-1, 1]; uint8 = round((y + 1) * 127.5)",
        "normalization": NORMALIZATION,
        "generator": json.dumps(model.info.spec.to_dict()),
        "version": __version__,
        **{k: v for k, v in model.info.extra.items() if k.startswith("source")},
    }


def export_onnx(model: Generators, out: Path, prefix: str = "a_to_b") -> None:
    """Write the `prefix` generator ("a_to_b" or "b_to_a") of `model` to `out` atomically."""
    try:
        import onnx
    except ImportError:
        raise UserError(EXTRA_HINT) from None
    net = getattr(model, prefix)
    if net is None:
        raise UserError(f"this model has no {direction_name(prefix, model.info.domains)} generator; export the other")
    wrapped = PaddedGenerator(net.float().to("cpu", memory_format=torch.contiguous_format)).eval()
    example = torch.zeros(1, 3, 64, 64)
    kwargs = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with atomic_output(Path(out)) as tmp:
        with warnings.catch_warnings():  # the exporter's deprecation and tracer notes say nothing about this graph
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped,
                (example,),
                str(tmp),
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_axes={INPUT: AXES, OUTPUT: AXES},
                opset_version=OPSET,
                **kwargs,
            )
        graph = onnx.load(str(tmp))
        graph.doc_string = f"cyclegan-batch generator {metadata(model, prefix)['direction']}"
        onnx.helper.set_model_props(graph, metadata(model, prefix))
        onnx.checker.check_model(graph)
        onnx.save(graph, str(tmp))
