"""`cyclegan-batch report` on real runs: a tiny training, a translated image set and a translated video
(real ffmpeg), then the page and summary.json are checked against the CSVs they were built from."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cyclegan_batch.cli import app
from cyclegan_batch.media.images import load_rgb
from cyclegan_batch.metrics import cycle_metrics
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import read_info
from cyclegan_batch.video.pipeline import translate_video

FPS = 25
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Offline and quiet: no first-run UI, no network services, a window the size of a laptop page.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
)


# ------------------------------------------------------------------------------ a tiny DOM for checks
class Node:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children, self.parts = tag, attrs, [], []

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if child.tag == tag and all(self._matches(child, k.rstrip("_"), v) for k, v in attrs.items()):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found

    @staticmethod
    def _matches(node: Node, key: str, value: str) -> bool:
        if key == "class":
            return value in node.attrs.get("class", "").split()
        return node.attrs.get(key) == value

    def find(self, tag: str, **attrs: str) -> Node:
        (node,) = self.find_all(tag, **attrs)
        return node


class Page(HTMLParser):
    VOID = {"img", "meta", "br", "link", "input", "hr"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.root = Node("root", {})
        self.stack = [self.root]
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while self.stack[-1].tag != tag:
            self.stack.pop()
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def numbers_by_row(table: Node) -> list[list[float]]:
    return [
        [float(td.attrs["data-value"]) for td in tr.find_all("td") if "data-value" in td.attrs]
        for tr in table.find("tbody").find_all("tr")
    ]


# ------------------------------------------------------------------------------------- building a run
def synthetic_image(rng: np.random.Generator, size: tuple[int, int], tint: tuple[int, int, int]) -> np.ndarray:
    h, w = size
    ramp = np.linspace(0, 1, w)[None, :, None] * np.linspace(0.5, 1, h)[:, None, None]
    img = ramp * np.array(tint) + rng.normal(0, 12, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def make_data(run: Path, raw: Path) -> None:
    """Training folders plus a manifest as prepare writes it, with one skipped and one failed file."""
    rng = np.random.default_rng(0)
    entries = []
    for domain, tint in (("A", (230, 60, 40)), ("B", (40, 90, 230))):
        for i in range(8):
            split = "train" if i < 6 else "test"
            out = run / "data" / domain / split / f"{i:03d}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(synthetic_image(rng, (40, 40), tint)).save(out)
            data = out.read_bytes()
            entries.append(
                dict(
                    source=f"raw/{domain}/{i}.png",
                    domain=domain,
                    status="ok",
                    reason="",
                    split=split,
                    sha256=hashlib.sha256(data).hexdigest(),
                    bytes=len(data),
                    width=40,
                    height=40,
                    mode="RGB",
                    output=out.relative_to(run / "data").as_posix(),
                )
            )
    entries.append(dict(source="raw/A/notes.txt", domain="A", status="skipped", reason="not an image file"))
    entries.append(dict(source="raw/B/bad.png", domain="B", status="failed", reason="truncated image"))
    (run / "data" / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))


def translate_set(model: Path, src: Path, out: Path) -> None:
    """What `translate --save-reconstruction` writes: outputs, reconstructions, cycle.csv, run.json."""
    translator = Translator.from_file(model, device="cpu", precision="fp32")
    rows = []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src).as_posix()
        try:
            x = load_rgb(path)
        except Exception as e:  # noqa: BLE001 - the reason goes into the CSV, as translate does
            rows.append(dict(input=rel, output="", status="failed", reason=str(e)))
            continue
        batch = translator.translate(x[None])
        for folder, img in ((out, batch.outputs[0]), (out / "reconstructed", batch.reconstructions[0])):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / rel)
        metrics = cycle_metrics(x, batch.reconstructions[0])
        rows.append(
            dict(
                input=rel,
                output=rel,
                status="ok",
                reason="",
                width=x.shape[1],
                height=x.shape[0],
                **{k: f"{v:.6f}" for k, v in metrics.items()},
            )
        )
    write_csv(out / "cycle.csv", ["input", "output", "status", "reason", "width", "height", "l1", "psnr", "ssim"], rows)
    (out / "run.json").write_text(json.dumps({"input": str(src.resolve())}))


def make_input_images(folder: Path) -> None:
    rng = np.random.default_rng(1)
    for i, size in enumerate([(40, 40), (28, 44), (36, 36), (44, 30), (32, 32), (40, 48), (30, 30)]):
        path = folder / ("nested" if i % 2 else "") / f"img {i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(synthetic_image(rng, size, (220, 70, 50))).save(path)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)


def make_video(path: Path, n: int = 14) -> None:
    rng = np.random.default_rng(2)
    base = synthetic_image(rng, (32, 48), (200, 80, 60))
    with imageio.get_writer(path, fps=FPS, codec="libx264", macro_block_size=1, ffmpeg_log_level="error") as w:
        for t in range(n):
            w.append_data(np.roll(base, 2 * t, axis=1))


def decode(path: Path) -> list[np.ndarray]:
    reader = imageio_ffmpeg.read_frames(str(path))
    width, height = next(reader)["size"]
    return [np.frombuffer(b, np.uint8).reshape(height, width, 3).copy() for b in reader]


def without_realism(args: tuple[str | Path, ...]) -> list[str]:
    """`report` here skips KID/FID (their Inception passes): tests/test_realism.py and the workflow's
    finished_run test the report's realism."""
    return [*map(str, args), *(["--no-realism"] if args and args[0] == "report" else [])]


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real console entry (`main`): one-line errors and exit codes as a user sees them."""
    command = [sys.executable, "-m", "cyclegan_batch", *without_realism(args)]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, without_realism(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    threads = torch.get_num_threads()
    run = root / "results" / "exp"
    make_data(run, root / "raw")
    # One OpenMP thread: on a shared, oversubscribed CPU spinning OpenMP threads make tiny steps ~10x slower.
    tiny = "--preset tiny --max-steps 20 --epochs 4 --workers 0 --set log_every=5 --set sample_every=5 --quiet"
    tiny += " --set eval_every=0"  # training's KID/FID is tests/test_realism.py's
    tiny += " --set stability_weight=1"  # the flicker regularizer: its curve and the model card's row
    trained = cli("train", run / "data", run / "model", *tiny.split(), env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert trained.returncode == 0, trained.stderr
    model = run / "model" / "generators.safetensors"
    torch.set_num_threads(1)
    held_out = root / "held out"
    make_input_images(held_out)
    translate_set(model, held_out, run / "translated" / "images" / "held_out")
    videos = root / "videos"
    videos.mkdir()
    make_video(videos / "clip.mp4")
    translator = Translator.from_file(model, device="cpu", precision="fp32")
    assert translate_video(translator, videos / "clip.mp4", run / "translated" / "videos" / "clip.mp4").status == "ok"
    page = run / "report" / "index.html"
    code, output = invoke("report", run, page, "--worst-k", "3", "--videos-root", videos, "--quiet")
    assert code == 0, output
    torch.set_num_threads(threads)
    return {"run": run, "page": page, "videos": videos, "held_out": held_out}


@pytest.fixture(scope="module")
def dom(run: dict[str, Path]) -> Node:
    return Page(run["page"].read_text()).root


@pytest.fixture(scope="module")
def summary(run: dict[str, Path]) -> dict:
    return json.loads((run["page"].parent / "summary.json").read_text())


# ------------------------------------------------------------------------------------------- the page
def test_page_is_self_contained_offline_html(run: dict[str, Path], dom: Node) -> None:
    assert not dom.find_all("script") and not dom.find_all("link")
    page_dir = run["page"].parent
    srcs = [img.attrs["src"] for img in dom.find_all("img")]
    assert srcs and all(s.startswith("index_assets/") for s in srcs)
    assert all((page_dir / unquote(s)).is_file() for s in srcs)
    hrefs = [a.attrs["href"] for a in dom.find_all("a") if not a.attrs["href"].startswith("#")]
    assert hrefs and not [h for h in hrefs if "://" in h or h.startswith("/")]
    assert all((page_dir / unquote(h)).exists() for h in hrefs), "every link opens a file of the run"
    assert not list(page_dir.glob(".*")), "no temporary files left beside the page"


def test_run_summary_matches_model_manifest_and_training(run: dict[str, Path], dom: Node, summary: dict) -> None:
    info = read_info(run["run"] / "model" / "generators.safetensors")
    assert summary["model"]["domains"] == list(info.domains) and summary["model"]["step"] == 20
    assert " → ".join(info.domains) in dom.find("div", id="model").text
    assert summary["model"]["stability"]["weight"] == 1.0 and "weight=1.0" in dom.find("div", id="model").text
    counts = summary["data"]["counts"]
    assert counts["A"] == {"found": 9, "ok": 8, "train": 6, "test": 2, "skipped": 1}
    assert counts["B"] == {"found": 9, "ok": 8, "train": 6, "test": 2, "failed": 1}
    shown = numbers_by_row(dom.find("div", id="data").find("table", class_="counts"))
    assert shown == [[9, 8, 6, 0, 2, 1, 0], [9, 8, 6, 0, 2, 0, 1]]  # found, ok, train, val, test, skipped, failed
    assert summary["data"]["reasons"] == {"not an image file": 1, "truncated image": 1}
    run_json = json.loads((run["run"] / "model" / "run.json").read_text())
    training = summary["training"]
    assert (training["steps"], training["precision"], training["device"]) == (20, run_json["precision"], "cpu")
    losses = read_rows(run["run"] / "model" / "losses.csv")
    assert [int(r["step"]) for r in losses] == [5, 10, 15, 20]
    rates = sorted(float(r["images_per_s"]) for r in losses)
    assert training["images_per_s"] == pytest.approx((rates[1] + rates[2]) / 2)
    run_card = dom.find("div", id="run").text
    assert run_json["precision"] in run_card and f"{training['images_per_s']:.2f} images/s" in run_card


def test_training_curves_and_sample_grids(run: dict[str, Path], dom: Node, summary: dict) -> None:
    section = dom.find("section", id="training")
    plots = [img.attrs["src"].rsplit("/", 1)[-1] for img in section.find_all("img")]
    # KID over steps too where training evaluated (the metrics extra and a test split: tests/test_realism.py)
    evaluated = (run["run"] / "model" / "metrics.csv").is_file()
    assert plots == ["training-curves.png", *(["kid-curve.png"] if evaluated else [])]
    last = read_rows(run["run"] / "model" / "losses.csv")[-1]
    shown = {
        td.attrs["data-term"]: float(td.attrs["data-value"])
        for td in section.find("table", class_="final").find_all("td")
    }
    expected = {k: float(v) for k, v in last.items() if k not in ("epoch", "step")}
    assert shown == pytest.approx(expected)
    assert summary["training"]["final_losses"]["cycle_A"] == float(last["cycle_A"])
    grids = sorted((run["run"] / "model" / "samples").glob("step_*.png"))
    assert [g.name for g in grids] == [f"step_{s:07d}.png" for s in (5, 10, 15, 20)]
    captions = [f.text for f in dom.find("section", id="samples").find_all("figcaption")]
    assert captions == ["step 5", "step 10", "step 15", "step 20"]


def test_image_set_numbers_failures_and_worst_gallery(run: dict[str, Path], dom: Node, summary: dict) -> None:
    folder = run["run"] / "translated" / "images" / "held_out"
    rows = read_rows(folder / "cycle.csv")
    ok = [r for r in rows if r["status"] == "ok"]
    data = summary["image_sets"]["held_out"]
    assert (data["count"], data["ok"], data["failed"]) == (8, 7, 1)
    assert data["failures"][0]["input"] == "broken.png" and data["failures"][0]["reason"]
    article = dom.find("article", **{"data-name": "held_out"})
    assert numbers_by_row(article.find("table", class_="counts")) == [[8, 7, 1]]
    failures = article.find("table", class_="failures").text
    assert "broken.png" in failures and data["failures"][0]["reason"] in failures
    stats_rows = numbers_by_row(article.find("table", class_="stats"))
    for metric, shown in zip(("l1", "psnr", "ssim"), stats_rows, strict=True):
        values = np.array([float(r[metric]) for r in ok])
        expected = [values.mean(), np.median(values), np.percentile(values, 95)]
        assert [data["metrics"][metric][k] for k in ("mean", "median", "p95")] == pytest.approx(expected)
        worst = values.max() if metric == "l1" else values.min()
        assert shown == pytest.approx([*expected, worst, len(values)])
    assert article.find("img", alt="held_out histograms")
    worst = sorted(ok, key=lambda r: -float(r["l1"]))[:3]
    items = article.find_all("div", class_="item")
    assert [i.attrs["data-input"] for i in items] == [r["input"] for r in worst]
    assert [w["input"] for w in data["worst"]] == [r["input"] for r in worst]
    for item, row in zip(items, worst, strict=True):
        assert len(item.find_all("img")) == 4, "input | translated | reconstructed | error heatmap"
        targets = {(run["page"].parent / unquote(a.attrs["href"])).resolve() for a in item.find_all("a")}
        files = [run["held_out"] / row["input"], folder / row["output"], folder / "reconstructed" / row["output"]]
        assert targets == {f.resolve() for f in files}, "links open the input, output and reconstruction"
    assert data["input_root_from"] == "run.json"


def test_video_section_numbers_properties_and_frames(run: dict[str, Path], dom: Node, summary: dict) -> None:
    folder = run["run"] / "translated" / "videos"
    rows = read_rows(folder / "clip.mp4.cycle.csv")
    data = summary["videos"]["clip.mp4"]
    assert data["frames"] == len(rows) == 14
    article = dom.find("article", **{"data-name": "clip.mp4"})
    flicker = [float(r["warp_out"]) - float(r["warp_in"]) for r in rows[1:]]
    stats_rows = numbers_by_row(article.find("table", class_="stats"))
    for metric, shown in zip(("l1", "psnr", "ssim", "warp_in", "warp_out", "flicker"), stats_rows, strict=True):
        values = np.array(flicker if metric == "flicker" else [float(r[metric]) for r in rows if r[metric]])
        assert data["metrics"][metric]["mean"] == pytest.approx(values.mean())
        assert shown[:3] == pytest.approx([values.mean(), np.median(values), np.percentile(values, 95)])
    properties = {
        tr.find_all("td")[0].text: [td.text for td in tr.find_all("td")[1:]]
        for tr in article.find("table", class_="properties").find("tbody").find_all("tr")
    }
    assert properties["frames"] == ["14", "14", "same"] and properties["fps"][0] == "25.000 (25/1)"
    assert properties["audio"][:2] == ["none", "none"] and data["mismatches"] == []
    assert properties["codec"][2] == "" and properties["codec"][0], "extra sidecar keys are shown, not judged"
    worst = [int(r["frame"]) for r in sorted(rows, key=lambda r: -float(r["l1"]))[:3]]
    assert data["worst_cycle_frames"] == worst
    blocks = article.find_all("div", class_="frames")
    assert [int(d.attrs["data-frame"]) for d in blocks[0].find_all("div", class_="item")] == worst
    for item in [*blocks[0].find_all("div", class_="item"), *blocks[1].find_all("div", class_="item")]:
        assert [f.text for f in item.find_all("figcaption")] == ["input", "output"]
    assert article.find("img", alt="clip.mp4")


def test_thumbnails_are_the_decoded_frames(run: dict[str, Path], summary: dict) -> None:
    frame = summary["videos"]["clip.mp4"]["worst_cycle_frames"][0]
    expected = decode(run["run"] / "translated" / "videos" / "clip.mp4")[frame]
    thumb = np.asarray(Image.open(run["page"].parent / "index_assets" / f"video1-f{frame}-out.jpg").convert("RGB"))
    small = np.asarray(Image.fromarray(thumb).resize((48, 32), Image.Resampling.BOX), dtype=np.float64)
    assert np.abs(small - expected).mean() < 12, "the thumbnail shows that frame of the output video"


# -------------------------------------------------------------------------------------------- gates
def test_gates_exit_3_when_crossed_and_0_when_not(run: dict[str, Path], tmp_path: Path, summary: dict) -> None:
    mean_l1 = summary["image_sets"]["held_out"]["metrics"]["l1"]["mean"]
    page = tmp_path / "gated.html"
    code, output = invoke("report", run["run"], page, "--fail-above", f"l1={mean_l1 / 2}", "--worst-k", "0")
    assert code == 3, output
    gated = json.loads((tmp_path / "summary.json").read_text())
    assert gated["passed"] is False
    assert {g["item"] for g in gated["gates"] if not g["passed"]} >= {"images/held_out"}
    assert "quality gate checks failed" in Page(page.read_text()).root.find("div", id="verdict").text

    lenient = ["--fail-above", "l1=1", "--fail-below", "psnr=0", "--fail-above", "flicker=1", "--worst-k", "0"]
    code, output = invoke("report", run["run"], page, *lenient)
    assert code == 0, output
    assert json.loads((tmp_path / "summary.json").read_text())["passed"] is True

    code, _ = invoke("report", run["run"], page, "--fail-above", "failed=0", "--worst-k", "0")
    assert code == 3, "one image of the set failed"


def test_gate_on_the_wrong_side_is_a_usage_error(run: dict[str, Path], tmp_path: Path) -> None:
    result = cli("report", run["run"], tmp_path / "r.html", "--fail-above", "psnr=20")
    assert result.returncode == 2 and "use --fail-below psnr=20" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------- bad input
def test_missing_and_broken_parts_are_said_in_place(tmp_path: Path) -> None:
    run = tmp_path / "broken run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "losses.csv").write_text("epoch,step,D_A\n")
    sets = run / "translated" / "images"
    (sets / "unfinished").mkdir(parents=True)
    (sets / "empty").mkdir()
    (sets / "empty" / "cycle.csv").write_text("input,output,status,reason,width,height,l1,psnr,ssim\n")
    (sets / "all_failed").mkdir()
    write_csv(
        sets / "all_failed" / "cycle.csv",
        ["input", "output", "status", "reason", "l1", "psnr", "ssim"],
        [dict(input="a.png", output="", status="failed", reason="not an image Pillow can identify")],
    )
    (run / "translated" / "videos").mkdir()
    (run / "translated" / "videos" / "clip.mp4.json").write_text("{not json")
    page = tmp_path / "out" / "report.html"
    code, output = invoke("report", run, page, "--fail-above", "l1=0.5")
    assert code == 3, "a gate with no l1 values to check fails rather than passing silently"
    dom = Page(page.read_text()).root
    assert "No model at" in dom.find("div", id="model").text
    assert "manifest.jsonl" in dom.find("div", id="data").text
    assert "losses.csv has no rows" in dom.find("section", id="training").text
    assert "no sample grids" in dom.find("section", id="samples").text.lower()
    assert "no cycle.csv" in dom.find("article", **{"data-name": "unfinished"}).text
    assert "cycle.csv has no rows" in dom.find("article", **{"data-name": "empty"}).text
    all_failed = dom.find("article", **{"data-name": "all_failed"})
    assert "1 of 1 image(s) failed" in all_failed.text and "not an image Pillow can identify" in all_failed.text
    video = dom.find("article", **{"data-name": "clip.mp4"}).text
    assert "no video file clip.mp4" in video and "cannot read clip.mp4.json" in video
    assert "no clip.mp4.cycle.csv" in video
    summary = json.loads((page.parent / "summary.json").read_text())
    assert summary["image_sets"]["empty"]["metrics"] == {"l1": None, "psnr": None, "ssim": None}
    assert {g["item"]: g["reason"] for g in summary["gates"]}["images/empty"] == "no l1 values to check"


def test_run_without_videos_or_images_says_so(tmp_path: Path) -> None:
    (tmp_path / "run" / "model").mkdir(parents=True)
    code, _ = invoke("report", tmp_path / "run", tmp_path / "index.html")
    assert code == 0
    dom = Page((tmp_path / "index.html").read_text()).root
    assert "No videos in translated/videos/" in dom.find("section", id="videos").text
    assert "No image sets" in dom.find("section", id="images").text


def test_not_a_run_folder_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    for target, expected in ((tmp_path / "nope", "no run folder at"), (tmp_path, "has none of data/, model/")):
        result = cli("report", target, tmp_path / "r.html")
        assert result.returncode == 1 and expected in result.stderr and "results/<experiment>" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------- rendering
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium) for a screenshot")
def test_page_renders_in_headless_chromium(run: dict[str, Path], tmp_path: Path) -> None:
    shot, page = tmp_path / "page.png", run["page"].resolve()
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": profile},
        )
    assert result.returncode == 0, result.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape == (2000, 1280, 3)
    header = img[:120].reshape(-1, 3).mean(axis=0)
    assert header.max() < 80, "the dark page header is drawn (CSS applied)"
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 500, "plots and thumbnails are drawn, not a blank page"


def test_images_root_option_locates_inputs_when_run_json_cannot(run: dict[str, Path], tmp_path: Path) -> None:
    elsewhere = tmp_path / "moved inputs"
    shutil.copytree(run["held_out"], elsewhere)
    page = tmp_path / "r.html"
    code, output = invoke("report", run["run"], page, "--worst-k", "1", "--images-root", f"held_out={elsewhere}")
    assert code == 0, output
    data = json.loads((tmp_path / "summary.json").read_text())["image_sets"]["held_out"]
    assert (data["input_root"], data["input_root_from"]) == (str(elsewhere), "--images-root")
    item = Page(page.read_text()).root.find("article", **{"data-name": "held_out"}).find("div", class_="item")
    hrefs = [(tmp_path / unquote(a.attrs["href"])).resolve() for a in item.find_all("a")]
    assert (elsewhere / item.attrs["data-input"]).resolve() in hrefs

    code, _ = invoke("report", run["run"], page, "--worst-k", "1", "--images-root", f"held_out={tmp_path / 'gone'}")
    assert code == 0
    article = Page(page.read_text()).root.find("article", **{"data-name": "held_out"})
    assert "input not found at" in article.find("div", class_="item").text
