"""Row data of one revision: params/metrics selection, tracked vars, deps/outs, sources."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from labrun.experiments.collect import Collected, CollectOptions, collect_row
from labrun.pipeline.index import Index
from labrun.pipeline.source import WorkspaceSource
from labrun.repro import metrics as gather
from labrun.repro.overlay import OutputOverlay, Recorded
from labrun.scm.catfile import CatFile, GitTreeSource


def write(root: Path, files: dict[str, Any]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def commit(root: Path) -> str:
    def run(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    if not (root / ".git").exists():
        run("init", "-q")
        run("config", "user.name", "t")
        run("config", "user.email", "t@t.invalid")
    run("add", "-A")
    run("commit", "-q", "-m", "c")
    return run("rev-parse", "HEAD")


def row(root: Path, **kwargs: Any) -> dict[str, Any]:
    found = collect_row(str(root), WorkspaceSource(str(root)), CollectOptions(**kwargs))
    assert found.error is None, found.error
    assert found.data is not None
    return found.data


# --- selecting keys and extracting metrics -------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["train.lr"], {"train": {"lr": 0.1}}),
        (["train.layers.1"], {"train": {"layers": [None, 32]}}),
        (["train.layers.2.a"], {"train": {"layers": [None, None, {"a": 1}]}}),
        (["nope"], {}),
        (["train.l*"], {"train": {"lr": 0.1, "layers": [16, 32, {"a": 1}]}}),
        (["train.layers.0", "train.layers.1"], {"train": {"layers": [16, None, 32]}}),
        (["train.opt.b", "train.opt.c", "x"], {"train": {"opt": {"b": 1, "c": 2}}, "x": 1}),
    ],
)
def test_select_keys_as_dvc_dpath_search_and_merge(keys: list[str], expected: Any) -> None:
    data = {"train": {"lr": 0.1, "layers": [16, 32, {"a": 1}], "opt": {"b": 1, "c": 2}}, "x": 1}
    if keys == ["train.l*"]:
        data = {"train": {"lr": 0.1, "layers": [16, 32, {"a": 1}]}}
    assert gather.select_keys(data, keys) == expected


def test_extract_metrics_keeps_numbers_bools_and_strings() -> None:
    doc = {"acc": 0.9, "ok": True, "name": "x", "lst": [1], "none": None, "d": {"e": {}}}
    assert gather.extract_metrics(doc) == {"acc": 0.9, "ok": True, "name": "x"}
    assert gather.extract_metrics(0.93) == 0.93


def test_a_scalar_metrics_file_and_unreadable_ones(tmp_path: Path) -> None:
    write(tmp_path, {"m.txt": "0.93\n", "bad.json": "{", "bin.yaml": b"\xff\xfe"})
    source = WorkspaceSource(str(tmp_path))
    assert gather.read_metrics(source, "m.txt") == {"data": 0.93}
    missing = gather.read_metrics(source, "gone.json")
    assert missing == {
        "error": {
            "type": "FileNotFoundError",
            "msg": "[Errno 2] No such file or directory: 'gone.json'",
        }
    }
    assert (
        "JSON file structure is corrupted"
        in gather.read_metrics(source, "bad.json")["error"]["msg"]
    )
    assert "utf-8" in gather.read_metrics(source, "bin.yaml")["error"]["msg"]


# --- which files ------------------------------------------------------------------------------


PIPELINE = """\
vars:
  - vars.yaml
  - {inline: 1}
metrics: [top.json]
params: [extra.toml]
stages:
  a:
    cmd: run ${data_dir} ${inline} ${nested.map} ${nested.map.k}
    wdir: sub
    params:
      - ../params.yaml:
          - lr
      - cfg.json:
          - x
    metrics: [m.json]
  b:
    foreach: [1, 2]
    do:
      cmd: echo ${item} ${other}
      params: [seed]
"""


def project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "dvc.yaml": PIPELINE,
            "params.yaml": "lr: 0.1\nseed: 3\nother: o\n",
            "vars.yaml": "data_dir: d\nnested:\n  list: [1, 2]\n  map: {k: v}\n",
            "extra.toml": "depth = 2\n",
            "top.json": '{"t": 1}',
            "sub/cfg.json": '{"x": 5, "y": 6}',
            "sub/m.json": '{"acc": 0.5}',
        },
    )
    return tmp_path


def test_params_files_in_dvc_order_with_tracked_vars(tmp_path: Path) -> None:
    data = row(project(tmp_path))
    assert data["params"] == {
        "params.yaml": {"data": {"lr": 0.1, "seed": 3, "other": "o"}},  # also root params.yaml
        "sub/cfg.json": {"data": {"x": 5}},
        "extra.toml": {"data": {"depth": 2}},
        # values `${...}` took from a vars file (not mappings, not inline vars, not `item`)
        "vars.yaml": {"data": {"data_dir": "d", "nested.map.k": "v"}},
    }
    assert data["metrics"] == {"sub/m.json": {"data": {"acc": 0.5}}, "top.json": {"data": {"t": 1}}}


def test_param_deps_only(tmp_path: Path) -> None:
    data = row(project(tmp_path), param_deps=True)
    assert data["params"]["params.yaml"] == {"data": {"lr": 0.1, "seed": 3}}
    assert "extra.toml" not in data["params"]


def test_deps_and_outs_come_from_the_lock(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: x\n    deps: [in.txt, ../up.txt]\n"
            "    wdir: w\n    outs: [out]\n    metrics: [m.json]\n",
            "w/dvc.lock": "",
            "dvc.lock": (
                "schema: '2.0'\nstages:\n  s:\n    cmd: x\n    deps:\n    - path: in.txt\n"
                "      hash: md5\n      md5: 3e2b31c72181b87149ff995e7202c0e3\n      size: 3\n"
                "    outs:\n    - path: out\n      hash: md5\n"
                "      md5: 883b9ba19a4d1ee6ec7d8b7d9d82e2d5.dir\n      size: 64\n      nfiles: 2\n"
            ),
        },
    )
    data = row(tmp_path)
    assert data["deps"] == {
        "w/in.txt": {"hash": "3e2b31c72181b87149ff995e7202c0e3", "size": 3, "nfiles": None},
        "up.txt": {"hash": None, "size": None, "nfiles": None},
    }
    assert data["outs"] == {
        "w/out": {
            "hash": "883b9ba19a4d1ee6ec7d8b7d9d82e2d5.dir",
            "size": 64,
            "nfiles": 2,
            "use_cache": True,
            "is_data_source": False,
        }
    }


def test_a_broken_pipeline_is_a_row_error(tmp_path: Path) -> None:
    write(tmp_path, {"dvc.yaml": "stages:\n  s:\n    cmd: ${missing}\n"})
    found = collect_row(str(tmp_path), WorkspaceSource(str(tmp_path)))
    assert found.data is None and found.error is not None
    assert found.error["type"] == "TemplateError" and "missing" in found.error["msg"]
    assert found.has_errors


def test_collected_text_and_data_round_trip() -> None:
    data = {"params": {}, "metrics": {"m": {"data": {"a": 1}}}, "deps": {}, "outs": {}, "meta": {}}
    from_text = Collected(text=json.dumps(data))
    assert from_text.data == data and not from_text.has_errors
    assert Collected(data=data).text == json.dumps(data)
    assert Collected(data=data) == from_text


# --- a commit as a source -----------------------------------------------------------------


def test_the_pipeline_of_a_commit_equals_the_working_tree_one(tmp_path: Path) -> None:
    root = project(tmp_path)
    write(root, {".dvcignore": "ignored/\n", "ignored/dvc.yaml": "stages: [\n"})
    sha = commit(root)
    with CatFile(str(root)) as cat:
        source = GitTreeSource(cat, sha)
        from labrun.pipeline.snapshot import ignore_filter

        from_git = Index.load(str(root), source=source, ignore=ignore_filter(source))
        workspace = Index.load(str(root), ignore=lambda p, d: p.startswith("ignored"))
        assert from_git.stages == workspace.stages
        git_row = collect_row(str(root), source, CollectOptions(ignore=ignore_filter(source)))
    assert git_row.data == row(root, ignore=lambda p, d: p.startswith("ignored"))


def test_git_tree_source_behaves_like_files(tmp_path: Path) -> None:
    write(tmp_path, {"a.txt": "one\r\ntwo\r\n", "d/b.txt": "b", "big name.txt": "x"})
    (tmp_path / "link").symlink_to("d/b.txt")
    sha = commit(tmp_path)
    with CatFile(str(tmp_path)) as cat:
        src = GitTreeSource(cat, sha)
        assert src.read_text("a.txt") == "one\ntwo\n"  # universal newlines, as open()
        assert src.read_text("link") == "b" and src.read_text("./d/../big name.txt") == "x"
        assert (src.isdir("d"), src.isfile("d"), src.exists("nope")) == (True, False, False)
        assert sorted(e.name for e in src.scandir(".")) == [
            "a.txt",
            "big name.txt",
            "d",
            "link",
        ]
        with pytest.raises(FileNotFoundError):
            src.read_text("nope")
        with pytest.raises(IsADirectoryError):
            src.read_text("d")
        with pytest.raises(NotADirectoryError):
            src.scandir("a.txt")
        assert src.read_paths >= {"a.txt", "link", "big name.txt"}


def test_a_project_in_a_subdirectory_of_the_repository(tmp_path: Path) -> None:
    write(tmp_path, {"proj/params.yaml": "lr: 0.1\n", "other.txt": "x"})
    sha = commit(tmp_path)
    with CatFile(str(tmp_path)) as cat:
        src = GitTreeSource(cat, sha, prefix="proj")
        assert src.read_text("params.yaml") == "lr: 0.1\n"
        assert not src.exists("other.txt") and not src.exists("../../etc")


# --- outputs read from the cache ----------------------------------------------------------


def test_overlay_reads_tracked_files_and_directories_from_the_cache(tmp_path: Path) -> None:
    from labrun.cache.hashing import Manifest, md5_bytes
    from labrun.cache.odb import LocalObjectStore

    store = LocalObjectStore(tmp_path / "cache")
    file_oid = md5_bytes(b'{"acc": 1}')
    store.add(file_oid, b'{"acc": 1}')
    inner = md5_bytes(b"y: 2\n")
    store.add(inner, b"y: 2\n")
    manifest = Manifest([("b.yaml", inner), ("deep/c.yaml", inner)])
    store.add(manifest.oid, manifest.to_bytes())
    base = WorkspaceSource(str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    view = OutputOverlay(
        base,
        {"m.json": Recorded(file_oid), "evals": Recorded(manifest.oid)},
        str(tmp_path / "cache"),
    )
    assert view.read_text("m.json") == '{"acc": 1}'
    assert view.isdir("evals") and view.isfile("evals/deep/c.yaml")
    assert sorted((e.name, e.is_dir()) for e in view.scandir("evals")) == [
        ("b.yaml", False),
        ("deep", True),
    ]
    assert gather.expand_dirs(view, ["evals"]) == ["evals/b.yaml", "evals/deep/c.yaml"]
    assert sorted(e.name for e in view.scandir(".")) == ["evals", "m.json"]
    with pytest.raises(FileNotFoundError):
        view.read_text("evals/none.yaml")
    lost = OutputOverlay(base, {"x.json": Recorded("0" * 32)}, str(tmp_path / "cache"))
    assert "No such file" in gather.read_metrics(lost, "x.json")["error"]["msg"]
