"""Official junyanz/pytorch-CycleGAN-and-pix2pix checkpoints wherever a model file goes, and hostile model files."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, smooth_images, write_images
from official_reference import OfficialResnetGenerator, legacy_norm_keys, official_unet, random_pair
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from cyclegan_batch.cli import main
from cyclegan_batch.errors import UserError
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import ModelInfo, load_generators, read_info, save_generators
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.models.pixels import to_uint8_image
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.loop import Trainer

X = torch.rand(2, 3, 36, 44) * 2 - 1


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """The console entry point in this process (cheaper than run_cli's new process): exit code, stdout, stderr."""

    def run(*args: str | Path) -> subprocess.CompletedProcess:
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "argv", ["cyclegan-batch", *map(str, args)])
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as done:
            main()
        return subprocess.CompletedProcess(args, done.value.code or 0, out.getvalue(), err.getvalue())

    return run


def save_official(path: Path, net: torch.nn.Module, *, prefix: bool = False, legacy: bool = False) -> Path:
    """A checkpoint as the official code writes it: the generator's state_dict (from DataParallel: `module.`)."""
    state = dict(net.state_dict())
    if legacy:
        state |= legacy_norm_keys(net)
    if prefix:
        state = {f"module.{k}": v for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)  # PyTorch < 1.6 wrote the pickle stream
    return path


@pytest.mark.parametrize(
    ("ngf", "n_blocks", "dropout", "prefix", "legacy"),
    [
        (8, 9, False, False, False),  # resnet_9blocks --no_dropout
        (16, 6, True, False, False),  # resnet_6blocks, trained with dropout
        (8, 3, True, True, False),  # DataParallel's module. prefix
        (12, 2, False, False, True),  # PyTorch 0.3: instance-norm running stats, legacy serialization
    ],
)
def test_official_generator_gives_the_official_output(
    tmp_path: Path, ngf: int, n_blocks: int, dropout: bool, prefix: bool, legacy: bool
) -> None:
    ours, theirs = random_pair(ngf, n_blocks, dropout, seed=ngf + n_blocks)
    assert any("conv_block" in k for k in theirs.state_dict())
    file = save_official(tmp_path / "latest_net_G.pth", theirs, prefix=prefix, legacy=legacy)
    model = load_generators(file)
    assert model.info.spec == GeneratorSpec(ngf=ngf, n_blocks=n_blocks) and model.b_to_a is None
    with torch.no_grad():
        want = theirs(X)
        assert (model.a_to_b(X) - want).abs().max() <= 1e-5
        assert torch.equal(model.a_to_b(X), ours(X))  # same weights, same network
    frames = ((X[:1].permute(0, 2, 3, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    out = Translator(model, device="cpu", precision="fp32").translate(frames).outputs
    with torch.no_grad():  # the official test script's path: uint8 -> [-1, 1] -> G -> uint8
        expected = to_uint8_image(theirs(torch.from_numpy(frames).permute(0, 3, 1, 2) / 127.5 - 1))
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1


@pytest.fixture
def official_pair(tmp_path: Path) -> tuple[Path, dict[str, OfficialResnetGenerator]]:
    """checkpoints/horse2zebra/latest_net_G_{A,B}.pth of a tiny run (ngf 8, 2 blocks, with dropout)."""
    folder = tmp_path / "checkpoints" / "horse2zebra"
    nets = {}
    for side, seed in (("A", 1), ("B", 2)):
        _, nets[side] = random_pair(8, 2, True, seed=seed)
        save_official(folder / f"latest_net_G_{side}.pth", nets[side])
    return folder, nets


def test_a_g_a_file_brings_its_g_b_sibling_and_the_folder_names_the_domains(official_pair) -> None:
    folder, nets = official_pair
    for given in (folder / "latest_net_G_A.pth", folder / "latest_net_G_B.pth", folder):
        model = load_generators(given)
        assert model.info.domains == ("horse", "zebra")
        with torch.no_grad():
            assert (model.a_to_b(X) - nets["A"](X)).abs().max() <= 1e-5
            assert (model.b_to_a(X) - nets["B"](X)).abs().max() <= 1e-5


def test_translate_with_an_official_pair_computes_the_cycle(official_pair, tmp_path: Path) -> None:
    folder, _ = official_pair
    write_images(tmp_path / "in", smooth_images(2, 40, seed=3))
    run_cli("translate", tmp_path / "in", tmp_path / "out", "--model", folder / "latest_net_G_A.pth", "--quiet")
    rows = list(csv.DictReader((tmp_path / "out" / "cycle.csv").open()))
    assert len(rows) == 2 and all(r["status"] == "ok" and float(r["l1"]) >= 0 for r in rows)


def test_a_single_latest_net_g_translates_and_says_why_there_is_no_cycle(tmp_path: Path, cli) -> None:
    """The pretrained zoo's layout: checkpoints/horse2zebra_pretrained/latest_net_G.pth, one direction."""
    _, theirs = random_pair(8, 2, False, seed=4)
    file = save_official(tmp_path / "horse2zebra_pretrained" / "latest_net_G.pth", theirs)
    write_images(tmp_path / "in", smooth_images(2, 40, seed=5))
    result = run_cli("translate", tmp_path / "in", tmp_path / "out", "--model", file)
    assert "cycle not computed: the model has no zebra -> horse generator" in result.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "cycle.csv").open()))
    assert [r["status"] for r in rows] == ["ok", "ok"] and all(r["l1"] == "" for r in rows)
    assert all("cycle not computed" in r["reason"] for r in rows)
    rerun = cli("translate", tmp_path / "in", tmp_path / "out", "--model", file)
    assert "translated 0, skipped 2" in rerun.stderr  # no cycle to wait for, so the outputs count as done
    wrong_way = cli("translate", tmp_path / "in", tmp_path / "o2", "--model", file, "--direction", "BtoA")
    assert wrong_way.returncode == 2 and "holds horse -> zebra only" in wrong_way.stderr
    assert len(wrong_way.stderr.strip().splitlines()) == 1


def test_import_info_export_and_demo_score_take_official_files(official_pair, tmp_path: Path, cli) -> None:
    folder, nets = official_pair
    out = tmp_path / "h2z.safetensors"
    cli("import", folder / "latest_net_G_A.pth", folder / "latest_net_G_B.pth", out, "--names", "horse,zebra")
    shown = json.loads(cli("info", out, "--json").stdout)
    assert shown["domains"] == "horse -> zebra" and shown["directions"] == "horse -> zebra, zebra -> horse"
    assert shown["generator"] == {"ngf": 8, "n_blocks": 2, "upsample": "transpose"}
    assert shown["source"] == "junyanz/pytorch-CycleGAN-and-pix2pix"
    assert "dropout" in shown["source_architecture"]
    files = json.loads(shown["source_files"])
    assert files["b_to_a"]["file"] == "latest_net_G_B.pth" and len(files["b_to_a"]["sha256"]) == 64
    assert json.loads(cli("info", folder / "latest_net_G_A.pth", "--json").stdout)["source"] == shown["source"]
    imported = load_generators(out)
    with torch.no_grad():
        assert (imported.b_to_a(X) - nets["B"](X)).abs().max() <= 1e-5

    assert cli("export", folder / "latest_net_G_B.pth", tmp_path / "half.safetensors").returncode == 0
    assert read_info(tmp_path / "half.safetensors").directions == ("a_to_b", "b_to_a")

    heldout = tmp_path / "heldout"
    write_images(heldout / "A", smooth_images(2, 32, seed=6))
    write_images(heldout / "B_true", smooth_images(2, 32, seed=7))
    scored = json.loads(cli("demo-score", heldout, "--model", folder / "latest_net_G_A.pth", "--json").stdout)
    assert scored["images"] == 2 and np.isfinite(scored["psnr_model"])
    assert scored["kid_note"].startswith("no KID: no ")  # no demo domain B beside these pairs: PSNR alone


def test_import_one_file_writes_a_one_direction_model(tmp_path: Path, cli) -> None:
    _, theirs = random_pair(8, 2, False, seed=8)
    file = save_official(tmp_path / "style_monet_pretrained" / "latest_net_G.pth", theirs)
    assert cli("import", file, tmp_path / "monet.safetensors", "--names", "photo,monet").returncode == 0
    info = read_info(tmp_path / "monet.safetensors")
    assert info.directions == ("a_to_b",) and info.domains == ("photo", "monet")
    assert load_generators(tmp_path / "monet.safetensors").b_to_a is None


def test_init_from_an_official_pair(official_pair, tiny_domains: Path, tmp_path: Path) -> None:
    folder, nets = official_pair
    trainer = Trainer(
        tiny_domains,
        tmp_path / "run",
        build_config("tiny"),
        device="cpu",
        precision="fp32",
        workers=0,
        progress=False,
        init_from=folder,
    )
    for name, side in (("a_to_b", "A"), ("b_to_a", "B")):
        net = getattr(trainer.step.nets, name).eval()
        with torch.no_grad():
            assert (net(X) - nets[side](X)).abs().max() <= 1e-5


def foreign_checkpoints(tmp_path: Path) -> dict[str, Path]:
    batch_norm = OfficialResnetGenerator(ngf=8, n_blocks=2, norm_layer=nn.BatchNorm2d)
    discriminator = nn.Module()  # NLayerDiscriminator keeps its layers as self.model
    discriminator.model = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4))
    return {
        "U-Net": save_official(tmp_path / "unet" / "latest_net_G.pth", official_unet()),
        "batch norm": save_official(tmp_path / "bn" / "latest_net_G_A.pth", batch_norm),
        "discriminator": save_official(tmp_path / "d" / "latest_net_D_A.pth", discriminator),
        "1-channel": save_official(tmp_path / "gray" / "g.pth", OfficialResnetGenerator(ngf=8, n_blocks=2, input_nc=1)),
        "not a generator's state dict": _save(tmp_path / "opt.pth", {"epoch": 3, "lr": 0.1}),
    }


def _save(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


def test_foreign_checkpoints_get_one_line_naming_them(tmp_path: Path, cli) -> None:
    for name, file in foreign_checkpoints(tmp_path).items():
        result = cli("info", file)
        assert result.returncode == 1, name
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert name in result.stderr and "supported: official ResNet generators" in result.stderr, result.stderr


class Payload:
    """Unpickling this creates a file: what a hostile 'model' would do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_malicious_pickle_named_pth_is_refused_without_running(tmp_path: Path, zip_format: bool, cli) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "latest_net_G.pth"
    torch.save({"model.1.weight": Payload(marker)}, evil, _use_new_zipfile_serialization=zip_format)
    write_images(tmp_path / "in", smooth_images(1, 32, seed=10))
    verbs = (
        ["info", evil],
        ["translate", tmp_path / "in", tmp_path / "out", "--model", evil],
        ["import", evil, tmp_path / "x.safetensors"],
    )
    for i, verb in enumerate(verbs):
        result = run_cli(*verb, check=False) if i == 0 else cli(*verb)  # one as a user runs it, in a new process
        assert result.returncode == 1 and "refused without running them" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not marker.exists()
    raw = tmp_path / "raw.pth"
    raw.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    with pytest.raises(UserError, match="refused"):
        load_generators(raw)
    assert not marker.exists()
    pickle.loads(raw.read_bytes())  # the payload is real: unpickling it the ordinary way does create the file
    assert marker.exists()


# ---------------------------------------------------------------- damaged headers (issue 13, defect 3)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    spec = GeneratorSpec(ngf=8, n_blocks=2)
    path = tmp_path / "generators.safetensors"
    save_generators(path, ResnetGenerator(spec), ResnetGenerator(spec), ModelInfo(spec, domains=("photo", "art")))
    return path


def rewrite_header(path: Path, edit) -> Path:
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    edit(meta)
    save_file(tensors, str(path), metadata=meta)
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("domains"), "the model header has no 'domains' entry"),
        (lambda m: m.pop("generator"), "the model header has no 'generator' entry"),
        (lambda m: m.update(generator='{"ngf": 100000, "n_blocks": 9}'), "do not match the architecture"),
        (lambda m: m.update(generator='{"ngf": 8, "n_blocks": 3}'), "tensors missing"),
        (lambda m: m.update(generator="{ngf: 8"), "'generator' is"),
        (lambda m: m.update(generator='{"ngf": -1, "n_blocks": 2}'), "ngf >= 1"),
        (lambda m: m.update(domains='["only-one"]'), "'domains' is"),
        (lambda m: m.update(epoch="five"), "'epoch' is"),
    ],
)
def test_a_damaged_header_is_one_line_before_anything_is_built(model_file: Path, tmp_path: Path, edit, message, cli):
    rewrite_header(model_file, edit)
    write_images(tmp_path / "in", smooth_images(1, 32, seed=9))
    for verb in (["info", model_file], ["translate", tmp_path / "in", tmp_path / "out", "--model", model_file]):
        result = cli(*verb)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_files_are_told_apart_by_content_not_only_by_name(tmp_path: Path, model_file: Path) -> None:
    _, theirs = random_pair(8, 2, False, seed=11)
    renamed = save_official(tmp_path / "g.bin", theirs)  # a torch.save archive under any name
    assert load_generators(renamed).info.spec == GeneratorSpec(ngf=8, n_blocks=2)
    spec = GeneratorSpec(ngf=8, n_blocks=2)
    for pad in range(1, 300):  # a safetensors header whose length byte looks like a pickle's first byte
        path = tmp_path / "odd.model"
        save_generators(path, ResnetGenerator(spec), None, ModelInfo(spec, extra={"note": "x" * pad}))
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert read_info(path).directions == ("a_to_b",)
