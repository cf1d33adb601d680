"""The quick path helpers of `pipeline.stage` against the `os.path` functions they stand for."""

from __future__ import annotations

import itertools
import os
import posixpath
from collections.abc import Callable

import pytest

from labrun.pipeline.stage import Stage, relpath_in

ROOTS = ["/p", "/p/", "/", "//", "/a/b", "/a/b/..", "/p/.hidden", "p", "", "/p//q", "/p/.."]
TAILS = ["", "x", "x/y", ".x", "./x", "x/./y", "x/../y", "..", "../q", "x/", "x//y", "x/.."]


def outcome(function: Callable[[str, str], str], path: str, root: str) -> tuple[str, str]:
    try:
        return "ok", function(path, root)
    except ValueError as exc:
        return "error", str(exc)


def paths_for(root: str) -> list[str]:
    found = [root + "/" + tail for tail in TAILS] + [root + tail for tail in TAILS]
    return [*found, "/q/x", "/px", "/p", "/"]


@pytest.mark.parametrize("root", ROOTS)
def test_relpath_in_is_os_relpath(root: str) -> None:
    for path in paths_for(root):
        assert outcome(relpath_in, path, root) == outcome(os.path.relpath, path, root)


DVCFILES = ["dvc.yaml", "sub/dvc.yaml", "a/b/dvc.yaml", "data.dvc", "sub/x.dvc", "../dvc.yaml"]
CWDS = [".", "", "sub", "a", "a/b", "other/deep", "..", "sub/.."]


def test_addressing_matches_posix_relpath() -> None:
    for dvcfile, cwd in itertools.product(DVCFILES, CWDS):
        stage = Stage(name="train", dvcfile=dvcfile, wdir=".")
        rel = posixpath.relpath(dvcfile, cwd or ".")
        expected = (
            rel if dvcfile.endswith(".dvc") else "train" if rel == "dvc.yaml" else f"{rel}:train"
        )
        assert stage.addressing_from(cwd) == expected, (dvcfile, cwd)


def test_abspath_is_the_normalised_join() -> None:
    for wdir, def_path in itertools.product([".", "sub", "../up", "a/./b"], ["x", "../y", "/abs"]):
        stage = Stage(name="s", dvcfile="dvc.yaml", wdir=wdir)
        expected = os.path.normpath(os.path.join("/p", wdir, def_path))
        assert stage.abspath("/p", def_path) == expected
