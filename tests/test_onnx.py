"""`export MODEL OUT.onnx`: onnxruntime gives torch's output at any batch, height and width."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli

from cyclegan_batch.models.engine import pad_to_multiple
from cyclegan_batch.models.modelfile import ModelInfo, load_generators, save_generators
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator, init_weights

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install '.[onnx]'")
onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed: pip install '.[onnx]'")

SPEC = GeneratorSpec(ngf=8, n_blocks=2)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    nets = [ResnetGenerator(SPEC) for _ in range(2)]
    for net in nets:
        init_weights(net)
    model = folder / "generators.safetensors"
    save_generators(model, *nets, ModelInfo(SPEC, domains=("photo", "painting")))
    out = folder / "painting2photo.onnx"
    run_cli("export", model, out, "--direction", "painting2photo")
    return model, out


@pytest.mark.parametrize(("batch", "height", "width"), [(1, 180, 320), (2, 256, 256), (1, 92, 120), (3, 45, 61)])
def test_onnxruntime_matches_torch(exported: tuple[Path, Path], batch: int, height: int, width: int) -> None:
    model_path, onnx_path = exported
    net = load_generators(model_path).b_to_a
    x = torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(height)) * 2 - 1
    with torch.no_grad():
        want = net(pad_to_multiple(x))[..., :height, :width].numpy()  # the engine's pad-and-crop
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})[0]
    assert got.shape == (batch, 3, height, width)
    assert np.abs(got - want).max() <= 1e-3


def test_the_graph_says_how_to_use_it(exported: tuple[Path, Path]) -> None:
    graph = onnx.load(str(exported[1]))
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta["direction"] == "painting -> photo" and meta["target_domain"] == "photo"
    assert json.loads(meta["domains"]) == ["photo", "painting"] and meta["normalization"] == "x / 127.5 - 1"
    dims = [d.dim_param for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "", "height", "width"]
    ops = {node.op_type for node in graph.graph.node}
    assert "InstanceNormalization" in ops and "Pad" in ops
    assert any(a.s == b"reflect" for node in graph.graph.node if node.op_type == "Pad" for a in node.attribute)


def test_the_bundled_model_exports_with_its_resize_conv_upsampling(tmp_path: Path) -> None:
    """A trained model (resize-conv: nearest Upsample in the graph), named by its domain names."""
    from cyclegan_batch.runfolder import bundled_model

    out = tmp_path / "golden.onnx"
    run_cli("export", bundled_model(), out, "--direction", "photo2golden_hour")
    net = load_generators(bundled_model()).a_to_b
    x = torch.rand(2, 3, 92, 120, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        want = net(x).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})[0]
    assert np.abs(got - want).max() <= 1e-3
