"""What this machine's disk allows for trees of many small files, whatever the tool.

`add` and `checkout` of 70,000 small files must create 70,000 files (the cache
objects, or the workspace copies). This times the bare system calls of that,
from one Python process with nothing else to do, so the `add-files` and
`checkout-files` rows of `bench/run.py` can be read against the floor:

- create: `open(O_CREAT | O_EXCL)` + `write` + `close` of each file;
- link: `link` of each file to a second name (what `cache.type = hardlink` costs);
- copy: open the source, create the copy, `copy_file_range`, close both;
- cp -r: the whole tree copied by coreutils.

Files are spread over 256 folders, as a cache's prefix folders are. Dirty pages
are written back (`sync`) before each step, so no step pays for the previous one.

With ``--big-mib N`` it also times what storing one big file durably costs,
under the `add-big` row: the md5 of the file alone; a copy (`copy_file_range`)
with `fsync`; and both at once on two threads, the least any tool that hashes
a file while it stores a durable copy can take.

    python3 bench/file_floor.py [--files 70000] [--bytes 275] [--runs 3] [--big-mib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path


def _folders(top: Path, name: str) -> list[str]:
    folders = [str(top / name / f"{i:02x}") for i in range(256)]
    for folder in folders:
        os.makedirs(folder)
    return folders


def _create(top: Path, files: int, data: bytes) -> None:
    folders = _folders(top, "src")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i in range(files):
        fd = os.open(f"{folders[i % 256]}/{i:06d}", flags, 0o644)
        os.write(fd, data)
        os.close(fd)


def _link(top: Path, files: int) -> None:
    src = [str(top / "src" / f"{i:02x}") for i in range(256)]
    dst = _folders(top, "link")
    for i in range(files):
        os.link(f"{src[i % 256]}/{i:06d}", f"{dst[i % 256]}/{i:06d}")


def _copy(top: Path, files: int, size: int) -> None:
    src = [str(top / "src" / f"{i:02x}") for i in range(256)]
    dst = _folders(top, "copy")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i in range(files):
        fin = os.open(f"{src[i % 256]}/{i:06d}", os.O_RDONLY)
        fout = os.open(f"{dst[i % 256]}/{i:06d}", flags, 0o644)
        os.copy_file_range(fin, fout, size)
        os.close(fout)
        os.close(fin)


def _cp_r(top: Path) -> None:
    subprocess.run(["cp", "-r", str(top / "src"), str(top / "cp")], check=True)


def _md5(path: Path) -> None:
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        while chunk := stream.read(4 << 20):
            digest.update(chunk)


def _durable_copy(path: Path, dst: Path) -> None:
    size = path.stat().st_size
    fin = os.open(path, os.O_RDONLY)
    fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        done = 0
        while done < size:
            copied = os.copy_file_range(fin, fout, size - done, done, done)
            if not copied:
                break
            done += copied
        os.fsync(fout)
    finally:
        os.close(fout)
        os.close(fin)
    dst.unlink()


def _both(path: Path, dst: Path) -> None:
    hasher = threading.Thread(target=_md5, args=(path,))
    hasher.start()
    _durable_copy(path, dst)
    hasher.join()


def _big_run(top: Path, mib: int) -> dict[str, float]:
    big = top / "big.bin"
    with open(big, "wb") as stream:
        for _ in range(mib):
            stream.write(os.urandom(1 << 20))
    return {
        "md5": _timed(_md5, big),
        "copy+fsync": _timed(_durable_copy, big, top / "copy.bin"),
        "both": _timed(_both, big, top / "copy.bin"),
    }


def _timed(step: Callable[..., None], *args: object) -> float:
    os.sync()
    start = time.perf_counter()
    step(*args)
    return time.perf_counter() - start


def _one_run(top: Path, files: int, data: bytes) -> dict[str, float]:
    return {
        "create": _timed(_create, top, files, data),
        "link": _timed(_link, top, files),
        "copy": _timed(_copy, top, files, len(data)),
        "cp -r": _timed(_cp_r, top),
    }


_BIG_STEPS = ("md5", "copy+fsync", "both")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=70_000)
    parser.add_argument("--bytes", type=int, default=275)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-mib", type=int, default=0, help="also time one file this big")
    parser.add_argument("--dir", default=None, help="where to write (default: a temp folder)")
    args = parser.parse_args()
    data = os.urandom(args.bytes)
    times: dict[str, list[float]] = {}
    for run in range(args.runs):
        top = Path(tempfile.mkdtemp(prefix="file-floor-", dir=args.dir))
        try:
            steps = _one_run(top, args.files, data)
            if args.big_mib:
                steps.update(_big_run(top, args.big_mib))
            for step, seconds in steps.items():
                times.setdefault(step, []).append(seconds)
        finally:
            shutil.rmtree(top)
        line = ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items())
        print(f"run {run + 1}: {line}", flush=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for step, values in times.items():
        what = f"{args.big_mib} MiB" if step in _BIG_STEPS else f"{args.files} files"
        print(
            f"{step:>10}: median {statistics.median(values):.2f} s (min {min(values):.2f}, "
            f"max {max(values):.2f}) for {what}; load {load}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
