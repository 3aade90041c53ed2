"""Turn two raw image folders into clean train/val/test sets and account for every file in manifest.jsonl.

The pipeline, per run:
1. scan    every entry under RAW_A and RAW_B becomes a record; folders are entered once each (by real
           path), so symlink loops end; hidden files, non-image types, broken links are recorded, not read.
2. hash    sha256 of each candidate's bytes, in worker processes; reused from the manifest when the
           file's size and mtime are unchanged.
3. decide  identical files inside a domain are kept once (the first by path); files present in both
           domains are kept out of both unless asked (they teach the mapping "change nothing");
           train/val/test comes from sha256(seed, content hash) alone (runfolder.split_of), so adding
           files never moves others. Training chooses its best step by val, the report scores test.
4. convert in worker processes: media.images' decoding rule (EXIF, first frame, alpha over `background`,
           16-bit scaling), shorter side resized to `load_size`, written atomically as PNG or JPEG q95.
5. record  manifest.jsonl (sorted, written atomically); outputs no record claims are removed.

Incremental and kill-safe: each converted record is appended to a journal as soon as its output is in
place, and a record (from the manifest or the journal) is reused when the source hash and the conversion
settings match and its output exists. A rerun after a kill therefore redoes only what was unfinished, and
ends with the same manifest and the same output bytes as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import logging
import os
import re
import stat
import unicodedata
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from cyclegan_batch import runfolder
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.media.formats import is_hidden, is_image_name
from cyclegan_batch.prepare.convert import Conversion, Job, convert, worker_pool
from cyclegan_batch.realism.stats import RANKS
from cyclegan_batch.util.atomic import atomic_write_text
from cyclegan_batch.util.bounded import bounded_map
from cyclegan_batch.util.journal import Journal, read_entries
from cyclegan_batch.util.progress import progress_bar

log = logging.getLogger(__name__)

JOURNAL = "manifest.jsonl.journal"  # records converted by an unfinished run
DOMAINS, SPLITS = runfolder.DOMAINS, runfolder.SPLITS
Status = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class Settings:
    conversion: Conversion = field(default_factory=Conversion)
    test_fraction: float = runfolder.TEST_FRACTION
    val_fraction: float = runfolder.VAL_FRACTION
    seed: int = 0
    keep_cross_duplicates: bool = False
    strict: bool = False
    jobs: int = 0  # 0 = all cores


@dataclass
class Record:
    """One manifest line. `settings` is set only on records that went through conversion."""

    source: str
    domain: str
    relpath: str
    status: Status | None = None  # None while still to be decided
    reason: str = ""
    sha256: str | None = None
    bytes: int | None = None
    mtime_ns: int | None = None
    width: int | None = None  # as a viewer shows it (after EXIF orientation)
    height: int | None = None
    mode: str | None = None  # Pillow mode of the source, e.g. RGB, RGBA, P, CMYK, I;16
    split: str | None = None
    output: str | None = None  # relative to OUT
    settings: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.domain, self.relpath


@dataclass
class Outcome:
    records: list[Record]
    manifest: Path

    def count(self, domain: str, status: Status | None = None, split: str | None = None) -> int:
        """Records of `domain`, narrowed to a status and a split when given."""
        matches = (r for r in self.records if r.domain == domain)
        return sum((status is None or r.status == status) and (split is None or r.split == split) for r in matches)

    def top_reasons(self, n: int = 5) -> list[tuple[str, int]]:
        """The commonest kinds of reason files were left out, with file-specific details folded away."""
        kinds = Counter(reason_kind(r.reason) for r in self.records if r.status != "ok")
        return kinds.most_common(n)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if any(r.status == "failed" for r in self.records) else ExitCode.OK

    def empty_domains(self) -> list[str]:
        return [d for d in DOMAINS if self.count(d, "ok", "train") == 0]


def reason_kind(reason: str) -> str:
    """'duplicate: same bytes as x.jpg' -> 'duplicate'; '40x30 = 1200 pixels is over...' -> 'NxN = N pixels...'."""
    head = re.sub(r"\s*\(.*", "", reason.split(":")[0])
    return re.sub(r"\d+", "N", head)


# ---- 1. scan ---------------------------------------------------------------------------------------------


def scan(domain: str, root: Path) -> Iterator[Record]:
    """A record for every entry under `root` that is not a folder entered; status None = image to read."""
    root = Path(os.path.abspath(root))
    visited = {root.resolve()}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as e:
            yield _found(domain, root, folder, "failed", f"cannot list folder: {e.strerror}")
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                info = path.stat()  # follows symlinks
            except OSError as e:
                yield _found(domain, root, path, "failed", _bad_link_reason(path, e))
                continue
            if stat.S_ISDIR(info.st_mode):
                real = path.resolve()
                if real in visited:
                    why = "symlink to a folder already scanned (a loop or a repeat); not followed"
                    yield _found(domain, root, path, "skipped", why)
                else:
                    visited.add(real)
                    stack.append(path)
                continue
            record = _found(domain, root, path, None, "")
            record.bytes, record.mtime_ns = info.st_size, info.st_mtime_ns
            record.status, record.reason = _file_problem(path, root, info)
            yield record


def _found(domain: str, root: Path, path: Path, status: Status | None, reason: str) -> Record:
    return Record(str(path), domain, path.relative_to(root).as_posix(), status, reason)


def _bad_link_reason(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return f"symlink loop: {error.strerror}"
    if path.is_symlink():
        return f"broken symlink: its target {os.readlink(path)} does not exist"
    return f"cannot read file: {error.strerror}"


def _file_problem(path: Path, root: Path, info: os.stat_result) -> tuple[Status | None, str]:
    if is_hidden(path.relative_to(root)):
        return "skipped", "hidden file or folder (name starts with '.')"
    if not stat.S_ISREG(info.st_mode):
        return "skipped", "not a regular file (fifo, socket or device)"
    if not is_image_name(path):
        return "skipped", f"not an image file type ({path.suffix or 'no extension'})"
    if info.st_size == 0:
        return "failed", "empty file (0 bytes)"
    return None, ""


# ---- 2. hash ---------------------------------------------------------------------------------------------


def hash_file(path: str) -> tuple[str | None, str]:
    """(sha256 hex, '') or (None, reason)."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest(), ""
    except OSError as e:
        return None, f"cannot read file: {e.strerror}"


def _reuse_hashes(records: list[Record], previous: dict[tuple[str, str], Record]) -> list[Record]:
    """Fill sha256 from the previous run where size and mtime match; return the records still to hash."""
    todo = []
    for record in records:
        old = previous.get(record.key)
        if old and old.sha256 and (old.bytes, old.mtime_ns) == (record.bytes, record.mtime_ns):
            record.sha256 = old.sha256
        else:
            todo.append(record)
    return todo


# ---- 3. decide -------------------------------------------------------------------------------------------


def output_name(relpath: str, image_format: str) -> str:
    """A flat, shell-safe file name from the source's path inside its domain.

    Readable (folders joined by '__', unsafe characters as '_', never a leading '-' or '.') and made
    collision-free by 12 hex digits of the SHA-1 of the exact relative path (a.jpg and a.png, 'a b' and
    'a_b' differ there).
    """
    stem = str(PurePosixPath(relpath).with_suffix(""))
    readable = "__".join(re.sub(r"[^\w.-]+", "_", part) for part in unicodedata.normalize("NFC", stem).split("/"))
    readable = readable.lstrip("-._")
    while len(readable.encode("utf-8", "surrogateescape")) > 100:  # file names are limited to 255 bytes
        readable = readable[:-1]
    digest = hashlib.sha1(relpath.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{readable}-{digest}.{image_format}" if readable else f"{digest}.{image_format}"


def decide(records: list[Record], settings: Settings) -> list[Record]:
    """Settle duplicates and splits; return the records that need their image read."""
    first_of: dict[tuple[str, str], Record] = {}
    for record in sorted((r for r in records if r.status is None), key=lambda r: r.key):
        kept = first_of.setdefault((record.domain, record.sha256), record)
        if kept is not record:
            record.status, record.reason = "skipped", f"duplicate: same bytes as {kept.relpath}"
    for (domain, sha), record in first_of.items():
        twin = first_of.get(("B" if domain == "A" else "A", sha))
        if twin is None:
            continue
        if settings.keep_cross_duplicates:
            record.reason = f"in both domains: same bytes as {twin.domain}:{twin.relpath} (kept by option)"
        else:
            record.status = "skipped"
            record.reason = (
                f"in both domains: same bytes as {twin.domain}:{twin.relpath} (identical pictures teach "
                "'change nothing'; --keep-cross-duplicates keeps them)"
            )
    todo = [r for r in records if r.status is None]
    for record in todo:
        record.split = runfolder.split_of(record.sha256, settings.seed, settings.test_fraction, settings.val_fraction)
        name = output_name(record.relpath, settings.conversion.image_format)
        record.output = f"{record.domain}/{record.split}/{name}"
    return todo


# ---- 4. convert (convert.py) ------------------------------------------------------------------------


def _reusable(old: Record | None, new: Record, fingerprint: str, out: Path) -> bool:
    if old is None or old.settings != fingerprint or old.sha256 != new.sha256:
        return False
    return old.status != "ok" or (old.output == new.output and (out / new.output).is_file())


# ---- 5. record -------------------------------------------------------------------------------------------


def read_records(path: Path) -> dict[tuple[str, str], Record]:
    """Records of a manifest or journal by (domain, relpath); a torn last line (killed mid-write) is ignored."""
    records: dict[tuple[str, str], Record] = {}
    for entry in read_entries(path):
        try:
            record = Record(**entry)
        except TypeError:  # not a record of this version
            continue
        records[record.key] = record
    return records


def _line(record: Record) -> str:
    return json.dumps(dataclasses.asdict(record)) + "\n"


def _remove_unclaimed(out: Path, claimed: set[str]) -> int:
    """Delete files in OUT/{A,B}/{train,val,test} that no ok record names (stale or half-written outputs)."""
    removed = 0
    for domain in DOMAINS:
        for split in SPLITS:
            folder = out / domain / split
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if f"{domain}/{split}/{path.name}" not in claimed and not path.is_dir():
                    path.unlink()
                    removed += 1
    return removed


def _check_folders(raw: dict[str, Path], out: Path) -> None:
    usage = ExitCode.USAGE
    resolved = {d: p.resolve() for d, p in raw.items()}
    out_real = out.resolve()
    for domain, path in resolved.items():
        if out_real.is_relative_to(path):
            raise UserError(f"OUT {out} is inside RAW_{domain} {raw[domain]}; write to a folder outside it", usage)
        if any(path.is_relative_to(out_real / d) for d in DOMAINS):
            raise UserError(f"RAW_{domain} {raw[domain]} is inside OUT's A/ or B/; pick another OUT", usage)
    if resolved["A"].is_relative_to(resolved["B"]) or resolved["B"].is_relative_to(resolved["A"]):
        raise UserError("RAW_A and RAW_B overlap; give each domain its own folder", usage)
    if not (out / runfolder.MANIFEST).exists() and not (out / JOURNAL).exists():
        leftovers = [p for d in DOMAINS for s in SPLITS if (p := out / d / s).is_dir() and any(p.iterdir())]
        if leftovers:
            raise UserError(
                f"{leftovers[0]} holds files but {out} has no {runfolder.MANIFEST}; give prepare a new folder", usage
            )


def prepare(raw_a: Path, raw_b: Path, out: Path, settings: Settings, *, progress: bool = False) -> Outcome:
    """Scan, hash, decide, convert and record; see the module docstring. Raises UserError on fatal problems."""
    raw = {"A": Path(raw_a), "B": Path(raw_b)}
    out = Path(out)
    _check_folders(raw, out)
    records = [record for domain in DOMAINS for record in scan(domain, raw[domain])]
    for domain in DOMAINS:
        log.info("%s: %d files found under %s", domain, sum(r.domain == domain for r in records), raw[domain])
    out.mkdir(parents=True, exist_ok=True)
    previous = read_records(out / runfolder.MANIFEST) | read_records(out / JOURNAL)
    jobs = settings.jobs or os.cpu_count() or 1
    with worker_pool(jobs) as pool:
        to_hash = {r.source: r for r in _reuse_hashes([r for r in records if r.status is None], previous)}
        with progress_bar("hashing", len(to_hash), "files", progress and bool(to_hash)) as advance:
            for source, (sha, reason) in bounded_map(pool, hash_file, to_hash, jobs * 4, ordered=False):
                record = to_hash[source]
                record.sha256 = sha
                if sha is None:
                    record.status, record.reason = "failed", reason
                advance()
        _stop_if_strict(records, settings)
        todo = decide(records, settings)
        _convert_all(pool, todo, previous, out, settings, progress, in_flight=jobs * 4)
    records.sort(key=lambda r: r.key)
    atomic_write_text(out / runfolder.MANIFEST, "".join(_line(r) for r in records))
    removed = _remove_unclaimed(out, {r.output for r in records if r.status == "ok" and r.output})
    if removed:
        log.info("removed %d outputs no longer claimed by any source (stale or half-written)", removed)
    Journal(out / JOURNAL).remove()
    outcome = Outcome(records, out / runfolder.MANIFEST)
    _say_if_val_is_small(outcome, settings)
    return outcome


def _say_if_val_is_small(outcome: Outcome, settings: Settings) -> None:
    """Training chooses its best step by the val split: below RANKS images a domain, the noise swamps the gaps."""
    if not settings.val_fraction:
        log.info("no val split (--val-fraction 0): training will not evaluate, and keeps its last step")
        return
    counts = {d: outcome.count(d, "ok", runfolder.VAL) for d in DOMAINS}
    if min(counts.values()) < RANKS:
        log.warning(
            "the val split holds %s images: too small to rank models (under %d a domain, realism/stats.py); "
            "training still chooses its best step by it. More images, or a larger --val-fraction, make that choice "
            "mean something",
            " and ".join(f"{n} {d}" for d, n in counts.items()),
            RANKS,
        )


def _convert_all(
    pool: Executor,
    todo: list[Record],
    previous: dict[tuple[str, str], Record],
    out: Path,
    settings: Settings,
    progress: bool,
    in_flight: int,
) -> None:
    fingerprint = settings.conversion.fingerprint()
    fresh = []
    for record in todo:
        old = previous.get(record.key)
        if _reusable(old, record, fingerprint, out):
            _settle(record, dataclasses.asdict(old), fingerprint)
        else:
            fresh.append(record)
    log.info("%d images to convert, %d unchanged since the last run", len(fresh), len(todo) - len(fresh))
    by_source = {r.source: r for r in fresh}
    jobs = [Job(r.source, str(out / r.output), settings.conversion) for r in fresh]
    with (
        Journal(out / JOURNAL) as journal,
        progress_bar("preparing", len(jobs), "images", progress and bool(jobs)) as advance,
    ):
        for job, fields in bounded_map(pool, convert, jobs, in_flight, ordered=False):
            record = by_source[job.source]
            _settle(record, fields, fingerprint)
            journal.append(dataclasses.asdict(record))
            advance()
            _stop_if_strict([record], settings)


def _settle(record: Record, fields: dict[str, Any], fingerprint: str) -> None:
    """Apply a conversion's result; the conversion's reason counts only when it left the file out."""
    record.status, record.settings = fields["status"], fingerprint
    record.width, record.height, record.mode = fields.get("width"), fields.get("height"), fields.get("mode")
    if record.status != "ok":
        record.reason = fields["reason"]
        record.split = record.output = None


def _stop_if_strict(records: list[Record], settings: Settings) -> None:
    if settings.strict:
        for record in records:
            if record.status == "failed":
                raise UserError(f"{record.source}: {record.reason} (--strict stops at a bad file; drop it to go on)")
