"""Read a run folder (docs/interfaces.md, names in `runfolder`) into a `Report`.

Anything missing or broken becomes a note in the section it belongs to, never a crash.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.formats import is_hidden, is_video_name
from cyclegan_batch.report.gates import check_gates
from cyclegan_batch.report.model import (
    METRICS,
    DataSection,
    GalleryItem,
    Gate,
    ImageSetSection,
    ModelSection,
    Report,
    TrainingSection,
    VideoSection,
    to_float,
)


def read_csv(path: Path, required: tuple[str, ...]) -> tuple[list[dict[str, str]], str | None]:
    """Rows of a CSV, or the problem that stops us using it (said on the page, not raised)."""
    if not path.is_file():
        return [], f"no {path.name} - the stage that writes it did not run or did not finish"
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        return [], f"cannot read {path.name}: {e}"
    missing = [c for c in required if c not in columns]
    if missing:
        return [], f"{path.name} lacks the column(s) {', '.join(missing)} (see docs/interfaces.md)"
    if not rows:
        return [], f"{path.name} has no rows"
    return rows, None


def read_json(path: Path) -> tuple[dict[str, Any], str | None]:
    if not path.is_file():
        return {}, f"no {path.name}"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return {}, f"cannot read {path.name}: {e}"
    return (value, None) if isinstance(value, dict) else ({}, f"{path.name} is not a JSON object")


def translation_model(run_dir: Path, image_sets: list[ImageSetSection]) -> Path:
    """The model file of the run the image sets were translated with (each set's run.json names it), when
    they agree on one of model/'s files; else model/generators.safetensors, the last step."""
    names = {Path(str(s.run.get("model", ""))).name for s in image_sets}
    if len(names) == 1 and (name := names.pop()) in (runfolder.MODEL_FILE, runfolder.BEST_MODEL_FILE):
        chosen = run_dir / runfolder.MODEL_DIR / name
        if chosen.is_file():
            return chosen
    return runfolder.model_file(run_dir)


def read_model(run_dir: Path, path: Path | None = None) -> ModelSection:
    """The model file `path` (default: model/generators.safetensors) as the report's model section."""
    from cyclegan_batch.models.modelfile import STABILITY_KEY, read_info

    section = ModelSection(path or runfolder.model_file(run_dir))
    try:
        meta = read_info(section.path)
    except UserError as e:
        section.notes.append(str(e))
        return section
    if section.path.name == runfolder.BEST_MODEL_FILE:  # why this checkpoint, from its header
        step = meta.extra.get("best_step", "?")
        rule = (  # a best.safetensors from before the val split was chosen by the lowest KID of the test split
            f"by the val split while training: step {step}, the last to lower the best mean KID by more than one "
            "std of their difference"
            if meta.extra.get("best_split") == runfolder.VAL
            else f"by the test split while training: the lowest mean KID, at step {step}"
        )
        basis = meta.extra.get("best_basis")  # "the last step: why nothing was chosen"
        section.info["selected"] = f"as {basis}" if basis else f"{rule}; the last step is {runfolder.MODEL_FILE}"
    section.info |= {
        "domains": list(meta.domains),
        "generator": meta.spec.to_dict(),
        "crop_size": meta.crop_size,
        "load_size": meta.load_size,
        "epoch": meta.epoch,
        "step": meta.step,
        "version": meta.version,
        "bytes": section.path.stat().st_size,
        "stability": stability_settings(meta.extra.get(STABILITY_KEY)),
    }
    return section


def stability_settings(header: str | None) -> dict[str, Any] | str:
    """The single-frame regularizer's settings from the model header, or why there are none."""
    if header is None:
        return "off"
    try:
        settings = json.loads(header)
    except json.JSONDecodeError:
        return f"unreadable header entry: {header[:80]!r}"
    return settings if isinstance(settings, dict) else f"unreadable header entry: {header[:80]!r}"


def raw_root(entry: dict[str, Any]) -> Path | None:
    """The raw domain folder of a manifest entry: its source path less its path inside the domain."""
    source, relpath = entry.get("source"), entry.get("relpath")
    if not isinstance(source, str) or not isinstance(relpath, str) or not relpath:
        return None
    source_path, parts = Path(source), len(Path(relpath).parts)
    return source_path.parents[parts - 1] if len(source_path.parts) > parts else None


def read_manifest(run_dir: Path) -> DataSection:
    section = DataSection()
    path = run_dir / runfolder.DATA_DIR / runfolder.MANIFEST
    if not path.is_file():
        section.notes.append("no data/manifest.jsonl - `cyclegan-batch prepare` did not run for this experiment")
        return section
    bad_lines = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            bad_lines += 1
            continue
        counts = section.counts.setdefault(str(entry.get("domain", "?")), Counter())
        status = str(entry.get("status", "?"))
        counts["found"] += 1
        counts[status] += 1
        if status == "ok" and entry.get("split"):
            counts[str(entry["split"])] += 1
        if status == "ok" and (root := raw_root(entry)) is not None:
            section.roots.setdefault(str(entry.get("domain")), root)
        if status != "ok":
            section.reasons[str(entry.get("reason") or "no reason given")] += 1
    if bad_lines:
        section.notes.append(f"{bad_lines} line(s) of manifest.jsonl are not JSON and were not counted")
    if not section.counts:
        section.notes.append("data/manifest.jsonl lists no files")
    return section


def read_training(run_dir: Path) -> TrainingSection:
    model_dir = run_dir / runfolder.MODEL_DIR
    section = TrainingSection()
    section.run, problem = read_json(model_dir / runfolder.RUN_JSON)
    if problem:
        section.notes.append(f"model/: {problem}; device, precision and time are unknown")
    rows, problem = read_csv(model_dir / runfolder.LOSSES_CSV, ("step",))
    if problem:
        section.curve_notes.append(f"model/: {problem}; no training curves")
    for column in rows[0] if rows else []:
        if column != "epoch":
            section.losses[column] = [to_float(r.get(column)) for r in rows]
    if (model_dir / runfolder.METRICS_CSV).is_file():  # only runs that evaluated while training have one
        rows, problem = read_csv(model_dir / runfolder.METRICS_CSV, ("step", "kid_x100_mean"))
        if problem:
            section.curve_notes.append(f"model/: {problem}; no KID curve")
        section.evaluations = {c: [to_float(r.get(c)) for r in rows] for c in rows[0]} if rows else {}
        section.evaluated_on = (rows[-1].get("split") or runfolder.TEST) if rows else section.evaluated_on
    section.samples = sorted((model_dir / runfolder.SAMPLES_DIR).glob(runfolder.SAMPLE_GLOB))
    return section


def find_input_root(section: ImageSetSection, images_roots: dict[str, Path]) -> None:
    if section.name in images_roots:
        section.input_root, section.input_root_from = images_roots[section.name], "--images-root"
        return
    if section.run.get("input"):
        root = Path(section.run["input"])
        root = root if root.is_absolute() else section.folder / root
        section.input_root, section.input_root_from = (root.parent if root.is_file() else root), "run.json"
    elif section.rows and "source" in section.rows[0]:
        section.input_root_from = "source column"


def gallery_item(section: ImageSetSection, row: dict[str, str]) -> GalleryItem:
    item = GalleryItem(
        label=row.get("input", ""),
        metrics={m: to_float(row.get(m)) for m in METRICS},
        input=None,
        output=section.folder / row["output"] if row.get("output") else None,
    )
    if row.get("source"):
        item.input = Path(row["source"])
    elif section.input_root is not None:
        item.input = section.input_root / row.get("input", "")
    if item.input is None:
        item.notes.append("input not located (pass --images-root SET=DIR)")
    elif not item.input.is_file():
        item.notes.append(f"input not found at {item.input}")
        item.input = None
    if item.output is not None and not item.output.is_file():
        item.notes.append("translated file missing")
        item.output = None
    candidates = [section.folder / runfolder.RECONSTRUCTED_DIR / row[k] for k in ("output", "input") if row.get(k)]
    item.reconstruction = next((p for p in candidates if p.is_file()), None)
    if item.reconstruction is None:
        item.notes.append("reconstruction not saved (translate --save-reconstruction)")
    return item


def read_image_set(folder: Path, images_roots: dict[str, Path], worst_k: int) -> ImageSetSection:
    section = ImageSetSection(folder.name, folder, run=read_json(folder / runfolder.RUN_JSON)[0])
    section.rows, problem = read_csv(folder / runfolder.CYCLE_CSV, ("input", "output", "status", *METRICS))
    if problem:
        section.notes.append(problem)
        return section
    find_input_root(section, images_roots)
    if section.failures:
        section.notes.append(f"{len(section.failures)} of {len(section.rows)} image(s) failed; reasons below")
    scored = [r for r in section.rows if r.get("status") == "ok" and to_float(r.get("l1")) is not None]
    if not scored and len(section.failures) < len(section.rows):
        section.notes.append("no cycle metrics in cycle.csv (translated with --no-cycle?)")
    scored.sort(key=lambda r: to_float(r["l1"]) or 0.0, reverse=True)
    section.worst = [gallery_item(section, r) for r in scored[:worst_k]]
    return section


def find_input_video(section: VideoSection, videos_root: Path | None) -> None:
    given = section.properties.get("input", {}).get("path")
    if given:
        path = Path(given) if Path(given).is_absolute() else section.path.parent / given
        section.input_video = path if path.is_file() else None
    elif videos_root is not None:
        stem = Path(section.name).stem
        same_name = [videos_root / section.name]
        other_suffix = sorted(p for p in videos_root.glob(f"{stem}.*") if is_video_name(p))
        section.input_video = next((p for p in [*same_name, *other_suffix] if p.is_file()), None)
    if section.input_video is None:
        section.notes.append(
            f"input video {'not found at ' + str(given) if given else 'not located (pass --videos-root DIR)'}: "
            "thumbnails show the output only"
        )


def worst_frames(frames: list[float | None], values: list[float | None], k: int) -> list[int]:
    scored = [(v, int(f)) for f, v in zip(frames, values, strict=True) if v is not None and f is not None]
    return [f for _, f in sorted(scored, key=lambda t: -t[0])[:k]]


def read_video(folder: Path, name: str, videos_root: Path | None, worst_k: int) -> VideoSection:
    section = VideoSection(name, folder / name)
    if not section.path.is_file():
        section.notes.append(f"no video file {name} beside its metrics - translation did not finish")
    section.properties, problem = read_json(runfolder.video_sidecar(folder / name))
    if problem:
        section.notes.append(f"{problem}: properties in vs out unknown")
    if not all(isinstance(section.properties.get(k, {}), dict) for k in ("input", "output")):
        section.notes.append(f"{name}.json lacks the input/output objects of docs/interfaces.md")
        section.properties = {}
    section.notes += [str(w) for w in section.properties.get("warnings") or []]
    columns = ("frame", "time_s", *METRICS, "warp_in", "warp_out")
    rows, problem = read_csv(runfolder.video_cycle_csv(folder / name), columns)
    if problem:
        section.notes.append(problem)
    read = (*columns, "fidelity_psnr")  # the last: translate --temporal only
    section.frames = {c: [to_float(r.get(c)) for r in rows] for c in read} if rows else {}
    if rows:
        section.frames["flicker"] = [
            o - i if o is not None and i is not None else None
            for i, o in zip(section.frames["warp_in"], section.frames["warp_out"], strict=True)
        ]
        section.worst_cycle = worst_frames(section.frames["frame"], section.frames["l1"], worst_k)
        section.worst_flicker = worst_frames(section.frames["frame"], section.frames["flicker"], worst_k)
        find_input_video(section, videos_root)
    return section


def video_names(folder: Path) -> list[str]:
    """Output videos named by a file, its cycle.csv or its sidecar (so a half-written run still shows)."""
    names = set()
    for path in folder.iterdir() if folder.is_dir() else []:
        name = path.name.removesuffix(runfolder.VIDEO_CYCLE_SUFFIX).removesuffix(runfolder.VIDEO_SIDECAR_SUFFIX)
        if is_video_name(name) and not is_hidden(name):
            names.add(name)
    return sorted(names)


def read_run(
    run_dir: Path,
    *,
    worst_k: int = 8,
    images_roots: dict[str, Path] | None = None,
    videos_root: Path | None = None,
    gates: list[Gate] | None = None,
    realism: bool = False,
    reference: Path | None = None,
    video_frames: int | None = None,
    device: str = "auto",
) -> Report:
    """The run folder as a `Report`; with `realism`, KID/FID against `reference` (report/realism.py)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"no run folder at {run_dir}; pass results/<experiment> (see docs/interfaces.md)")
    if not any((run_dir / part).exists() for part in (runfolder.DATA_DIR, runfolder.MODEL_DIR, "translated")):
        raise UserError(
            f"{run_dir} has none of data/, model/, translated/ - pass a run folder like results/<experiment>"
        )
    images = run_dir / runfolder.IMAGES_DIR
    set_dirs = sorted(p for p in images.iterdir() if p.is_dir()) if images.is_dir() else []
    videos = run_dir / runfolder.VIDEOS_DIR
    image_sets = [read_image_set(d, images_roots or {}, worst_k) for d in set_dirs]
    report = Report(
        run_dir=run_dir,
        model=read_model(run_dir, translation_model(run_dir, image_sets)),
        data=read_manifest(run_dir),
        training=read_training(run_dir),
        image_sets=image_sets,
        videos=[read_video(videos, n, videos_root, worst_k) for n in video_names(videos)],
    )
    if realism:
        from cyclegan_batch.report.realism import add_realism

        add_realism(report, reference, device, video_frames)
    else:
        report.realism_note = "KID/FID not computed (report --no-realism)"
    report.gates = check_gates(gates or [], report)
    return report
