"""`bundled` names the demo model in the package wherever a model file is taken, as the workflow's init_from does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli, smooth_images, write_images

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.models.modelfile import read_info
from cyclegan_batch.runfolder import BUNDLED, bundled_model, resolve_model


def test_resolve_model_maps_only_the_word() -> None:
    assert resolve_model(BUNDLED) == bundled_model() is not None
    assert resolve_model(Path("runs/bundled.safetensors")) == Path("runs/bundled.safetensors")


def test_resolve_model_names_the_fix_when_the_install_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runfolder, "bundled_model", lambda: None)
    with pytest.raises(UserError, match="reinstall the package or pass a model file"):
        resolve_model(BUNDLED)


def test_info_and_translate_take_bundled(tmp_path: Path) -> None:
    info = json.loads(run_cli("info", BUNDLED, "--json").stdout)
    assert info["domains"] == " -> ".join(read_info(bundled_model()).domains)
    write_images(tmp_path / "in", smooth_images(2, 32, seed=3))
    run_cli("translate", tmp_path / "in", tmp_path / "out", "--model", BUNDLED)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["000.png", "001.png"]
    assert json.loads((tmp_path / "out" / runfolder.RUN_JSON).read_text())["model"] == str(bundled_model().resolve())


def test_train_fine_tunes_from_bundled(tiny_domains: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    sizes = ("--set", "load_size=36", "--set", "crop_size=32")
    steps = ("--set", "max_steps=2")
    run_cli("train", tiny_domains, model_dir, "--init-from", BUNDLED, "--preset", "demo", *steps, *sizes)
    assert read_info(model_dir / runfolder.MODEL_FILE).spec == read_info(bundled_model()).spec
