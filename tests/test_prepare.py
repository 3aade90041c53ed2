"""`prepare`: every defect a real folder holds, built as a real file, gets the right manifest line and output."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cyclegan_batch.cli import app
from cyclegan_batch.media.images import resize_shorter
from cyclegan_batch.prepare.convert import Conversion
from cyclegan_batch.prepare.run import JOURNAL, Settings, output_name, prepare
from cyclegan_batch.runfolder import MANIFEST, SPLITS, split_of

LOAD, CROP = 36, 32
BACKGROUND = (16, 32, 48)
NOBODY = 65534  # the unprivileged user and group that Debian and most Linux systems have
RED, GREEN = (255, 0, 0), (0, 255, 0)
SETTINGS = Settings(Conversion(load_size=LOAD, crop_size=CROP, background=BACKGROUND), test_fraction=0.3, jobs=2)


def noise(w: int, h: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save_noise(path: Path, seed: int, size: tuple[int, int] = (48, 40), **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noise(*size, seed)).save(path, **kw)
    return path


def png_header_only(path: Path, width: int, height: int) -> None:
    """A valid PNG signature and IHDR claiming width x height, with no real pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def half_transparent(mode: str) -> Image.Image:
    """Left half opaque red (or white for LA), right half fully transparent."""
    img = Image.new("RGBA", (48, 40), (*RED, 255))
    img.paste((0, 0, 0, 0), (24, 0, 48, 40))
    return img.convert(mode)


# relpath -> (status, words the reason must contain); built by build_domain_a
EXPECTED_A: dict[str, tuple[str, str]] = {
    "good.jpg": ("ok", ""),
    "sub dir/ünïcode phöto.png": ("ok", ""),
    "-leading dash.png": ("ok", ""),
    "cmyk.jpg": ("ok", ""),
    "gray16.png": ("ok", ""),
    "gray16.tif": ("ok", ""),
    "rgb16.tif": ("ok", ""),
    "rgb16.png": ("ok", ""),
    "int32.tif": ("ok", ""),
    "float.tif": ("ok", ""),
    "bilevel.png": ("ok", ""),
    "palette_transparent.png": ("ok", ""),
    "la.png": ("ok", ""),
    "rgba.png": ("ok", ""),
    "rotated.jpg": ("ok", ""),
    "animated.gif": ("ok", ""),
    "multipage.tif": ("ok", ""),
    "dup1.png": ("ok", ""),
    "sub dir/dup2.png": ("skipped", "duplicate: same bytes as dup1.png"),
    "shared.png": ("skipped", "in both domains: same bytes as B:same.png"),
    "small.png": ("skipped", "too small: 20x24 is under the crop size 32"),
    "huge.png": ("failed", "50000x50000 = 2500000000 pixels is over the limit"),
    "empty.jpg": ("failed", "empty file (0 bytes)"),
    "truncated.jpg": ("failed", "truncated image"),
    "truncated.png": ("failed", "truncated image"),
    "text.jpg": ("failed", "not an image"),
    ".DS_Store": ("skipped", "hidden file"),
    ".thumbs/thumb.jpg": ("skipped", "hidden file or folder"),
    "notes.txt": ("skipped", "not an image file type (.txt)"),
    "broken.png": ("failed", "broken symlink: its target missing.png does not exist"),
    "loop.png": ("failed", "symlink loop"),
    "loopdir": ("skipped", "symlink to a folder already scanned"),
}


def build_domain_a(root: Path) -> None:
    save_noise(root / "good.jpg", 1, (64, 48), quality=90)
    save_noise(root / "sub dir" / "ünïcode phöto.png", 2)
    save_noise(root / "-leading dash.png", 3)
    Image.new("CMYK", (48, 40), (0, 255, 0, 0)).save(root / "cmyk.jpg")  # magenta ink
    gray16 = np.full((40, 48), 257 * 100, np.uint16)
    gray16[0, 0] = 7  # not uniform, so the PNG and TIFF below differ from the other grays
    Image.fromarray(gray16).save(root / "gray16.png")
    Image.fromarray(gray16).save(root / "gray16.tif")
    rgb16 = np.dstack([np.full((40, 48), 257 * v, np.uint16) for v in (30, 60, 90)])  # cv2 writes BGR
    cv2.imwrite(str(root / "rgb16.tif"), rgb16)
    cv2.imwrite(str(root / "rgb16.png"), rgb16)
    Image.fromarray(np.full((40, 48), 257 * 200, np.int32), "I").save(root / "int32.tif")
    Image.fromarray(np.linspace(-1.0, 1.0, 40 * 48, dtype=np.float32).reshape(40, 48)).save(root / "float.tif")
    Image.fromarray(np.indices((40, 48)).sum(0) % 2 == 0).save(root / "bilevel.png")
    half_transparent("RGBA").quantize(2).save(root / "palette_transparent.png", transparency=0)
    half_transparent("LA").save(root / "la.png")
    half_transparent("RGBA").save(root / "rgba.png")
    rotated = Image.fromarray(noise(64, 48, 4))
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to view": a phone held upright
    rotated.save(root / "rotated.jpg", exif=exif)
    frames = [Image.new("RGB", (48, 40), c) for c in (RED, GREEN)]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:])
    frames[0].save(root / "multipage.tif", save_all=True, append_images=frames[1:])
    save_noise(root / "dup1.png", 5)
    (root / "sub dir" / "dup2.png").write_bytes((root / "dup1.png").read_bytes())
    save_noise(root / "shared.png", 6)
    save_noise(root / "small.png", 7, (20, 24))
    png_header_only(root / "huge.png", 50000, 50000)
    (root / "empty.jpg").touch()
    truncate(save_noise(root / "truncated.jpg", 8, (200, 150)))
    truncate(save_noise(root / "truncated.png", 9, (200, 150)))
    (root / "text.jpg").write_text("this is not a JPEG\n")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    save_noise(root / ".thumbs" / "thumb.jpg", 10)
    (root / "notes.txt").write_text("shot on a phone\n")
    (root / "broken.png").symlink_to("missing.png")
    (root / "loop.png").symlink_to("loop.png")
    (root / "loopdir").symlink_to(".")


def build_domain_b(root: Path) -> None:
    save_noise(root / "b1.png", 11)
    save_noise(root / "nested" / "b2.jpg", 12, quality=95)
    save_noise(root / "b3.png", 13)
    (root / "same.png").write_bytes((root.parent / "A" / "shared.png").read_bytes())


def entries_found(root: Path) -> int:
    """What a user counts as 'files found': every non-folder entry, plus symlinks to folders."""
    count = 0
    for folder, dirs, files in os.walk(root):
        count += len(files) + sum(os.path.islink(os.path.join(folder, d)) for d in dirs)
    return count


def read_manifest(out: Path) -> dict[tuple[str, str], dict]:
    lines = (out / MANIFEST).read_text(encoding="utf-8").splitlines()
    return {(r["domain"], r["relpath"]): r for r in map(json.loads, lines)}


def output_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for d in "AB" for p in (out / d).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("raw")
    build_domain_a(base / "A")
    build_domain_b(base / "B")
    out = base / "out"
    outcome = prepare(base / "A", base / "B", out, SETTINGS)
    assert outcome.exit_code == 3  # some files failed, the batch went on
    return base, out, read_manifest(out)


def test_one_manifest_line_per_file_found(prepared: tuple[Path, Path, dict]) -> None:
    base, out, manifest = prepared
    lines = (out / MANIFEST).read_text(encoding="utf-8").splitlines()
    assert len(lines) == entries_found(base / "A") + entries_found(base / "B") == len(manifest)
    assert {rel for dom, rel in manifest if dom == "A"} == set(EXPECTED_A)


@pytest.mark.parametrize("relpath", sorted(EXPECTED_A))
def test_each_defect_gets_its_status_and_reason(prepared: tuple[Path, Path, dict], relpath: str) -> None:
    base, out, manifest = prepared
    record = manifest["A", relpath]
    status, words = EXPECTED_A[relpath]
    assert (record["status"], record["domain"]) == (status, "A")
    assert words in record["reason"]
    assert record["source"] == str(base / "A" / relpath)
    if status == "ok":
        source = base / "A" / relpath
        assert record["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert record["bytes"] == source.stat().st_size
        assert record["split"] in SPLITS and record["output"].startswith(f"A/{record['split']}/")
        with Image.open(out / record["output"]) as img:
            assert (img.format, img.mode) == ("PNG", "RGB")
            assert min(img.size) == LOAD
    else:
        assert record["output"] is None and record["split"] is None


def prepared_pixels(prepared: tuple[Path, Path, dict], relpath: str) -> tuple[dict, np.ndarray]:
    _, out, manifest = prepared
    record = manifest["A", relpath]
    return record, np.asarray(Image.open(out / record["output"]))


@pytest.mark.parametrize(
    ("relpath", "mode", "colour"),
    [
        ("cmyk.jpg", "CMYK", (255, 0, 255)),
        ("gray16.png", "I;16", (100, 100, 100)),  # 16-bit scaled by 257
        ("gray16.tif", "I;16", (100, 100, 100)),
        ("rgb16.tif", "RGB", (90, 60, 30)),  # Pillow reads 16-bit colour as 8-bit RGB
        ("rgb16.png", "RGB", (90, 60, 30)),
        ("int32.tif", "I", (200, 200, 200)),
        ("animated.gif", "P", RED),  # first frame
        ("multipage.tif", "RGB", RED),  # first page
    ],
)
def test_modes_become_8bit_rgb(prepared: tuple[Path, Path, dict], relpath: str, mode: str, colour: tuple) -> None:
    record, pixels = prepared_pixels(prepared, relpath)
    assert record["mode"] == mode
    assert pixels.shape == (LOAD, round(48 * LOAD / 40), 3)
    assert np.abs(pixels[LOAD // 2, LOAD // 2].astype(int) - colour).max() <= 2


def test_float_images_are_scaled_by_their_range(prepared: tuple[Path, Path, dict]) -> None:
    record, pixels = prepared_pixels(prepared, "float.tif")
    assert record["mode"] == "F"
    assert pixels[0, 0, 0] <= 3 and pixels[-1, -1, 0] >= 252  # -1 -> black, +1 -> white


@pytest.mark.parametrize("relpath", ["rgba.png", "la.png", "palette_transparent.png"])
def test_transparency_is_composited_on_the_background(prepared: tuple[Path, Path, dict], relpath: str) -> None:
    _, pixels = prepared_pixels(prepared, relpath)
    assert tuple(pixels[LOAD // 2, -2]) == BACKGROUND  # the transparent right half
    opaque = (76, 76, 76) if relpath == "la.png" else RED  # LA keeps the luma of red
    assert np.abs(pixels[LOAD // 2, 2].astype(int) - opaque).max() <= 2


def test_exif_orientation_is_applied(prepared: tuple[Path, Path, dict]) -> None:
    record, pixels = prepared_pixels(prepared, "rotated.jpg")
    assert (record["width"], record["height"]) == (48, 64)  # upright, as a viewer shows it
    assert pixels.shape == (48, 36, 3)


def test_output_names_are_safe_and_derived_from_the_path(prepared: tuple[Path, Path, dict]) -> None:
    _, _, manifest = prepared
    names = [Path(r["output"]).name for r in manifest.values() if r["output"]]
    assert len(names) == len(set(names))
    assert not any(n.startswith(("-", ".")) or " " in n for n in names)
    assert Path(manifest["A", "sub dir/ünïcode phöto.png"]["output"]).name.startswith("sub_dir__ünïcode_phöto-")
    assert Path(manifest["A", "-leading dash.png"]["output"]).name.startswith("leading_dash-")


def test_output_names_never_collide() -> None:
    paths = ["a b.png", "a_b.png", "a b.jpg", "a/b.png", "a__b.png", "-a b.png", ".a b.png", "é" * 300 + ".png"]
    names = [output_name(p, "png") for p in paths]
    assert len(set(names)) == len(paths)
    assert all(len(n.encode()) <= 255 and not n.startswith(("-", ".")) for n in names)


def test_only_ok_records_have_outputs_and_nothing_else_is_left(prepared: tuple[Path, Path, dict]) -> None:
    _, out, manifest = prepared
    claimed = {r["output"] for r in manifest.values() if r["status"] == "ok"}
    assert set(output_files(out)) == claimed
    assert not (out / JOURNAL).exists()


def test_split_depends_only_on_content_and_seed() -> None:
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)]
    splits = [split_of(h, 0, 0.3, 0.2) for h in hashes]
    assert 0.27 < splits.count("test") / 3000 < 0.33 and 0.17 < splits.count("val") / 3000 < 0.23
    assert splits == [split_of(h, 0, 0.3, 0.2) for h in hashes]
    assert splits != [split_of(h, 1, 0.3, 0.2) for h in hashes]
    # a val share taken from train alone (what training carves from a layout without val): test never moves
    without_val = [split_of(h, 0, 0.3, 0.0) for h in hashes]
    assert [s for s in splits if s == "test"] == [s for s in without_val if s == "test"]
    assert all(a == b or (a, b) == ("val", "train") for a, b in zip(splits, without_val, strict=True))


def test_val_split_is_named_in_the_manifest_and_a_small_one_is_said(tmp_path: Path) -> None:
    """Issue 32's check at a tenth of its size: 30 images a domain give about 3 val a domain (300 give ~30)."""
    for domain in "AB":
        make_clean(tmp_path / domain, 30)
    result = run_cli(tmp_path / "A", tmp_path / "B", tmp_path / "out", "--load-size", "36", "--crop-size", "32")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "out" / MANIFEST).read_text().splitlines()]
    for domain in "AB":
        splits = [r["split"] for r in records if r["domain"] == domain]
        assert set(splits) == {"train", "val", "test"} and 1 <= splits.count("val") <= 8, splits
        for r in records:
            assert r["output"].startswith(f"{r['domain']}/{r['split']}/")
            assert (tmp_path / "out" / r["output"]).is_file()
    assert "too small to rank models" in result.stderr and "--val-fraction" in result.stderr
    assert "val" in result.stdout  # the summary's column
    over = run_cli(tmp_path / "A", tmp_path / "B", tmp_path / "o2", "--test-fraction", "0.6", "--val-fraction", "0.5")
    assert over.returncode == 2 and "over 1" in over.stderr


def make_clean(root: Path, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        save_noise(root / f"img{i:03d}.png", 100 + i + (0 if root.name == "A" else 1000))


def mtimes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for d in "AB" for p in (out / d).rglob("*.png")}


def test_rerun_redoes_nothing_and_new_files_keep_old_splits(tmp_path: Path) -> None:
    raw_a, raw_b, out = tmp_path / "A", tmp_path / "B", tmp_path / "out"
    make_clean(raw_a, 12)
    make_clean(raw_b, 4)
    assert prepare(raw_a, raw_b, out, SETTINGS).exit_code == 0
    first, first_times = read_manifest(out), mtimes(out)

    assert prepare(raw_a, raw_b, out, SETTINGS).exit_code == 0
    assert read_manifest(out) == first and mtimes(out) == first_times  # nothing rewritten

    make_clean(raw_a, 12, start=12)
    prepare(raw_a, raw_b, out, SETTINGS)
    grown, grown_times = read_manifest(out), mtimes(out)
    assert len(grown) == len(first) + 12
    for key, record in first.items():
        assert grown[key] == record  # same split, same output
        assert grown_times[record["output"]] == first_times[record["output"]]  # not reconverted

    changed = raw_a / "img000.png"
    save_noise(changed, 999)
    (raw_a / "img001.png").unlink()
    prepare(raw_a, raw_b, out, SETTINGS)
    after = read_manifest(out)
    assert after["A", "img000.png"]["sha256"] == hashlib.sha256(changed.read_bytes()).hexdigest()
    assert ("A", "img001.png") not in after
    assert set(output_files(out)) == {r["output"] for r in after.values()}  # the deleted source's output is gone

    bigger = Settings(Conversion(load_size=40, crop_size=CROP), test_fraction=0.3, jobs=2)
    prepare(raw_a, raw_b, out, bigger)
    assert all(min(Image.open(out / r["output"]).size) == 40 for r in read_manifest(out).values())


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "cyclegan_batch", "prepare", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_kill_and_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    raw_a, raw_b = tmp_path / "A", tmp_path / "B"
    for i in range(40):
        save_noise(raw_a / f"big{i:02d}.jpg", 200 + i, (800, 600), quality=90)
    make_clean(raw_b, 3)
    opts = ("--load-size", "256", "--crop-size", "32", "--test-fraction", "0.3", "--jobs", "1", "--quiet")

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "cyclegan_batch", "prepare", raw_a, raw_b, killed, *opts]
    proc = subprocess.Popen(list(map(str, cmd)), start_new_session=True)  # own group: its workers die with it
    journal = killed / JOURNAL
    while proc.poll() is None and not (journal.exists() and journal.read_text().count("\n") >= 3):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / MANIFEST).exists(), "the run finished before it could be killed"
    done = [json.loads(line)["output"] for line in journal.read_text().splitlines()[:3]]
    done_times = {o: (killed / o).stat().st_mtime_ns for o in done}

    assert run_cli(raw_a, raw_b, killed, *opts).returncode == 0
    assert {o: (killed / o).stat().st_mtime_ns for o in done} == done_times  # finished work is not redone
    whole = tmp_path / "whole"
    assert run_cli(raw_a, raw_b, whole, *opts).returncode == 0
    assert (killed / MANIFEST).read_text() == (whole / MANIFEST).read_text()
    assert output_files(killed) == output_files(whole)  # same names, same bytes, no half-written leftovers


def test_cli_exit_codes_summary_and_strict(prepared: tuple[Path, Path, dict], tmp_path: Path) -> None:
    base, _, _ = prepared
    size = ("--load-size", str(LOAD), "--crop-size", str(CROP), "--jobs", "2")
    result = run_cli(base / "A", base / "B", tmp_path / "out", *size)
    assert result.returncode == 3, result.stderr
    assert (
        "found" in result.stdout and "why files were left out" in result.stdout and "truncated image" in result.stdout
    )

    strict = run_cli(base / "A", base / "B", tmp_path / "strict", *size, "--strict")
    assert strict.returncode == 1
    assert strict.stderr.strip().splitlines()[-1].startswith("cyclegan-batch: error: ")
    assert "--strict" in strict.stderr and "Traceback" not in strict.stderr

    inside = run_cli(base / "A", base / "B", base / "A" / "out", *size)
    assert inside.returncode == 2 and "inside RAW_A" in inside.stderr
    missing = run_cli(base / "nope", base / "B", tmp_path / "x", *size)
    assert missing.returncode == 2
    assert run_cli(base / "A", base / "B", tmp_path / "x", "--background", "nocolour").returncode == 2


def test_options_upscale_truncated_jpeg_pixels_cross_duplicates(tmp_path: Path) -> None:
    raw_a, raw_b = tmp_path / "A", tmp_path / "B"
    make_clean(raw_a, 2)
    make_clean(raw_b, 2)
    save_noise(raw_a / "small.png", 7, (20, 24))
    truncate(save_noise(raw_a / "truncated.jpg", 8, (200, 150)))
    (raw_b / "same.png").write_bytes((raw_a / "img000.png").read_bytes())
    conversion = Conversion(
        load_size=LOAD, crop_size=CROP, image_format="jpg", allow_truncated=True, upscale_small=True
    )
    out = tmp_path / "out"
    assert prepare(raw_a, raw_b, out, Settings(conversion, keep_cross_duplicates=True, jobs=2)).exit_code == 0
    manifest = read_manifest(out)
    assert all(r["status"] == "ok" and r["output"].endswith(".jpg") for r in manifest.values())
    assert "in both domains" in manifest["A", "img000.png"]["reason"]
    with Image.open(out / manifest["A", "small.png"]["output"]) as img:
        assert (img.format, min(img.size)) == ("JPEG", LOAD)

    limited = Settings(Conversion(load_size=LOAD, crop_size=CROP, max_pixels=1000), jobs=2)
    prepare(raw_a, raw_b, tmp_path / "limited", limited)
    record = read_manifest(tmp_path / "limited")["A", "img001.png"]
    assert record["status"] == "failed" and "--max-pixels" in record["reason"]


def test_unreadable_file_fails_with_reason(tmp_path: Path) -> None:
    """A file its user may not read. Root reads any file, so as root (CI) `prepare` runs as `nobody`, in a
    folder that user may enter, through the real CLI."""
    as_root = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="unreadable-")) if as_root else tmp_path
    try:
        make_clean(root / "A", 2)
        make_clean(root / "B", 2)
        locked = save_noise(root / "A" / "locked.png", 50)
        locked.chmod(0)
        if as_root:
            root.chmod(0o755)
            (root / "out").mkdir()
            os.chown(root / "out", NOBODY, NOBODY)
            drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
            cmd = [*drop, sys.executable, "-m", "cyclegan_batch", "prepare", "--load-size", str(LOAD)]
            cmd += [
                "--crop-size",
                str(CROP),
                "--jobs",
                "2",
                "--quiet",
                str(root / "A"),
                str(root / "B"),
                str(root / "out"),
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": "/"})
            assert result.returncode == 3, result.stderr  # done, with a file that failed
        else:
            prepare(root / "A", root / "B", root / "out", SETTINGS)
        record = read_manifest(root / "out")["A", "locked.png"]
        assert record["status"] == "failed" and "cannot read file" in record["reason"]
    finally:
        if as_root:
            shutil.rmtree(root)


def test_trainer_reads_the_prepared_layout(tmp_path: Path) -> None:
    make_clean(tmp_path / "A", 3)
    make_clean(tmp_path / "B", 3)
    data, model = tmp_path / "data", tmp_path / "model"
    prepare(tmp_path / "A", tmp_path / "B", data, Settings(Conversion(load_size=36, crop_size=32), 0.0, 0.0, jobs=2))
    prepared = np.asarray(Image.open(next((data / "A" / "train").glob("*.png"))))
    assert resize_shorter(prepared, 36) is prepared  # the trainer's resize is a no-op at load_size

    args = ["train", str(data), str(model), "--preset", "tiny", "--max-steps", "2", "--workers", "0", "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (model / "generators.safetensors").is_file()


def test_a_domain_with_nothing_usable_is_fatal(tmp_path: Path) -> None:
    make_clean(tmp_path / "A", 2)
    (tmp_path / "B").mkdir()
    (tmp_path / "B" / "readme.txt").write_text("no pictures here\n")
    result = run_cli(tmp_path / "A", tmp_path / "B", tmp_path / "out", "--load-size", "36", "--crop-size", "32")
    assert result.returncode == 1
    assert "no usable training images in domain B" in result.stderr and "Traceback" not in result.stderr
    assert len((tmp_path / "out" / MANIFEST).read_text().splitlines()) == 3  # still accounted for
