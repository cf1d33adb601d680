"""The fast paths of `exp run` against the slow ones they stand in front of.

- long double-quoted strings: `yamlemit` folds them as ruamel.yaml does, and
  `yamlfast` reads them back as libyaml does;
- params edits of files in ruamel's own layout skip ruamel, byte for byte;
- the experiment snapshot stages tracked paths with `git add -u` alone, and
  refs are written in-process the way `git update-ref` writes them.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from labrun.experiments import names, params
from labrun.experiments.overrides import OverrideError, parse_override
from labrun.pipeline import files
from labrun.pipeline.yamlemit import dump_simple
from labrun.pipeline.yamlfast import NotSimple, load_simple
from labrun.scm import git

# -- long double-quoted strings -------------------------------------------------------------

QUOTED_CHARS = ["ab '\"\\ x{}:#-", "a '", "ab \\\"'", "a b c'd", "a  '"]


def _quoted_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        chars = rng.choice(QUOTED_CHARS)
        text = "".join(rng.choice(chars) for _ in range(rng.randint(1, 220)))
        texts.append(text if "'" in text else text + "'")  # `'` inside: double quotes
    return texts


def _shapes(text: str, key: str) -> list[dict[str, Any]]:
    return [{key: text}, {"stages": {key: {"cmd": text}}}, {"a": [text]}, {"a": [{"c": text}]}]


@pytest.mark.parametrize("seed", range(3))
def test_long_double_quoted_strings_are_written_as_ruamel_writes_them(seed: int) -> None:
    for number, text in enumerate(_quoted_texts(seed, 100)):
        for data in _shapes(text, "k" * (1 + number % 30)):
            fast = dump_simple(data)
            assert fast is not None, data
            assert fast == files.dump_yaml_reference(data), data


def _libyaml(text: str) -> Any:
    return files._load_libyaml(text)


@pytest.mark.parametrize("seed", range(3))
def test_long_double_quoted_strings_are_read_as_libyaml_reads_them(seed: int) -> None:
    taken = 0
    for text in _quoted_texts(seed, 60):
        for data in _shapes(text, "cmd"):
            written = files.dump_yaml_reference(data)
            try:
                value = load_simple(written)
            except NotSimple:
                continue
            taken += 1
            assert value == _libyaml(written), written
    assert taken > 150


DOUBLE_PIECES = ["a", " ", "  ", '\\"', "\\\\", "\\ ", "\\n", "\\x41", "'", "#", ": "]
BREAKS = ["\n", "\n\n", "\\\n", " \n", "\\\n\n", "\n   "]


def test_multi_line_double_quoted_forms_agree_with_libyaml() -> None:
    rng = random.Random(5)
    taken = 0
    for _ in range(1500):
        pieces = DOUBLE_PIECES + BREAKS
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        body = ("\n" + " " * rng.choice([0, 2, 4, 6])).join(body.split("\n"))
        shape = rng.choice(['k: "%s"\n', 'a:\n  k: "%s"\n', 'a:\n- "%s"\n', 'a:\n  k: "%s"  # c\n'])
        text = shape % body
        try:
            value = load_simple(text)
        except NotSimple:
            continue
        taken += 1
        assert value == _libyaml(text), text
    assert taken > 500


def test_the_bench_lock_entry_takes_the_fast_paths() -> None:
    cmd = "cat data/features.txt params.yaml > model.txt && printf '{\"acc\": 0.5}\\n' > m.json"
    entry = {"train": {"cmd": cmd, "params": {"params.yaml": {"train": {"seed": 0, "lr": 0.01}}}}}
    text = dump_simple({"stages": entry})
    assert text is not None and text == files.dump_yaml_reference({"stages": entry})
    assert "\\\n      n" in text  # folded after an escape, as dvc writes it
    assert load_simple(text) == {"stages": entry}


# -- params files in ruamel's layout ----------------------------------------------------------

KEYS = ["a", "b", "lr", "seed", "train", "x_y"]
SCALARS: list[Any] = [0, 1, -3, 10**20, 0.1, 0.01, 1e-05, 1e16, 1000.0, -0.0, 2.5e-10, True]
SCALARS += [False, None, "x", "yes", "1", "a b", "it's", "", "null", "2020-01-01", "a: b", "-"]
SCALARS += ["x" * 90, "y " * 50, float("inf"), 3.7759732760882926e-06]
VALUES = ["1", "0.3", "1e-5", "true", "null", "abc", "'1'", "x y", "[1,2]", "{a: 1}", "-1"]
VALUES += ["2020-01-01", "it's", "1_000", "0x10", ".inf", "nan", "'a b'", "${a}"]


def _document(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if depth < 2 and roll < 0.3:
            value: Any = _document(rng, depth + 1)
        elif roll < 0.4:
            value = [rng.choice([rng.choice(SCALARS), {"p": 1}]) for _ in range(rng.randint(0, 3))]
        else:
            value = rng.choice([rng.choice(SCALARS), rng.random() * 10 ** rng.randint(-20, 20)])
        doc[rng.choice(KEYS)] = value
    return doc


def _key_paths(doc: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in doc.items():
        found.append(prefix + key)
        if isinstance(value, dict):
            found += _key_paths(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            found += [f"{prefix}{key}.{i}" for i in range(len(value))]
    return found


def _edit(text: str, overrides: list[Any], fast: bool) -> Any:
    try:
        return params.edit_text("params.yaml", text, overrides, fast=fast)
    except OverrideError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("seed", range(3))
def test_canonical_params_edits_match_the_ruamel_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    fast_taken = 0
    for _ in range(300):
        doc = _document(rng)
        text = dump_simple(doc)
        if text is None:
            continue
        paths = [*_key_paths(doc), "new", "a.new"]
        lines = []
        for _ in range(rng.randint(1, 3)):
            op, path = rng.choice(["", "", "+", "++", "~"]), rng.choice(paths)
            lines.append(f"~{path}" if op == "~" else f"{op}{path}={rng.choice(VALUES)}")
        try:
            overrides = [parse_override("params.yaml", line) for line in lines]
        except OverrideError:
            continue
        fast_taken += params.edit_canonical_yaml(text, overrides) is not None
        assert _edit(text, overrides, True) == _edit(text, overrides, False), (text, lines)
    assert fast_taken > 25


def test_other_params_texts_are_left_to_ruamel() -> None:
    set_lr = [parse_override("params.yaml", "lr=1")]
    for text in ["lr: 0.1  # rate\n", "lr: 0.10\n", "lr: 1.0e-5\n", "{lr: 1}\n", "lr: 0x10\n"]:
        assert params.edit_canonical_yaml(text, set_lr) is None, text
    assert params.edit_canonical_yaml("lr: 3.7759732760882926e-06\nb: 1\n", set_lr) is None
    assert params.edit_canonical_yaml("lr: 1e-05\n", set_lr) == "lr: 1\n"


def test_a_deleted_and_added_key_keeps_its_place() -> None:
    overrides = [parse_override("params.yaml", o) for o in ["~a", "++a=2"]]
    assert params.edit_canonical_yaml("a: 1\nb: 0.01\n", overrides) == "a: 2\nb: 0.01\n"


# -- git: the private index and refs ----------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "sub").mkdir()
    for name in ["a.txt", "sub/b.txt", "sub/ünï.txt"]:
        (tmp_path / name).write_text(name)
    (tmp_path / ".gitignore").write_text("*.log\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    return tmp_path


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_index_paths_are_those_git_lists(repo: Path, version: str) -> None:
    (repo / "later.txt").write_text("x")
    _git(repo, "add", "-N", "later.txt")  # intent-to-add: an extended flag (version 3)
    _git(repo, "update-index", "--index-version", version)
    found = git.index_paths((repo / ".git" / "index").read_bytes())
    listed = set(_git(repo, "-c", "core.quotepath=off", "ls-files").splitlines())
    assert found == (None if version == "4" else listed)


def _tree_the_slow_way(repo: Path, paths: list[str]) -> str:
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "slow-index")}
    subprocess.run(["cp", str(repo / ".git" / "index"), env["GIT_INDEX_FILE"]], check=True)
    subprocess.run(["git", "add", "-u", "--", ":/"], cwd=repo, env=env, check=True)
    ignored = git.ignored(str(repo), paths)
    keep = [p for p in paths if p not in ignored and (repo / p).exists()]
    subprocess.run(["git", "add", "--", *keep], cwd=repo, env=env, check=True)
    tree = subprocess.run(
        ["git", "write-tree"], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    os.unlink(env["GIT_INDEX_FILE"])
    return tree


def test_snapshot_tree_is_the_tree_of_adding_every_unignored_path(repo: Path) -> None:
    (repo / "a.txt").write_text("changed")
    (repo / "sub" / "b.txt").unlink()
    (repo / "new.txt").write_text("new")
    (repo / "run.log").write_text("ignored")
    (repo / "stray.txt").write_text("not asked for")
    before = (repo / ".git" / "index").read_bytes()
    paths = ["a.txt", "new.txt", "run.log", "missing.txt", "sub/ünï.txt"]
    tree = git.snapshot_tree(str(repo), paths)
    assert tree == _tree_the_slow_way(repo, paths)
    assert (repo / ".git" / "index").read_bytes() == before
    listed = _git(repo, "ls-tree", "-r", "--name-only", tree).splitlines()
    assert "new.txt" in listed and "run.log" not in listed and "stray.txt" not in listed
    assert not [n for n in os.listdir(repo / ".git") if n.startswith("labrun-index")]


def test_snapshot_tree_sees_an_edit_made_in_the_second_the_index_was_written(
    repo: Path,
) -> None:
    """Git compares a racily clean entry (not older than its index file) by content:
    the private copy of the index must keep the index's time for that to work."""
    second = (int(time.time()) - 100) * 10**9
    target, index = repo / "a.txt", repo / ".git" / "index"
    os.utime(target, ns=(second + 100, second + 100))
    _git(repo, "update-index", "--refresh")  # the entry now holds that stat
    os.utime(index, ns=(second + 500, second + 500))  # as if written in the same second
    inode = target.stat().st_ino
    with open(target, "r+b") as stream:  # same size, same inode, same second
        stream.write(b"A.TXT")
    os.utime(target, ns=(second + 900, second + 900))
    assert target.stat().st_ino == inode
    tree = git.snapshot_tree(str(repo), [])
    assert _git(repo, "show", f"{tree}:a.txt") == "A.TXT"


def test_snapshot_tree_of_a_project_below_the_top(repo: Path) -> None:
    (repo / "sub" / "b.txt").write_text("changed")
    (repo / "sub" / "c.txt").write_text("new")
    tree = git.snapshot_tree(str(repo / "sub"), ["b.txt", "c.txt"])
    listed = _git(repo, "ls-tree", "-r", "--name-only", tree).splitlines()
    assert "sub/c.txt" in listed
    assert _git(repo, "show", f"{tree}:sub/b.txt") == "changed"


def test_refs_written_in_process_read_as_git_writes_them(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    ref = "refs/exps/ab/cdef/quick-fox"
    git.update_ref(str(repo), ref, head, "m")
    assert _git(repo, "rev-parse", ref) == head
    loose = repo / ".git" / "refs" / "exps" / "ab" / "cdef" / "quick-fox"
    assert loose.read_text() == head + "\n"
    assert not (repo / ".git" / "logs" / "refs" / "exps").exists()
    _git(repo, "pack-refs", "--all")
    tree = _git(repo, "write-tree")
    other = _git(repo, "commit-tree", tree, "-m", "other")
    git.update_ref(str(repo), ref, other, "m")  # a loose ref over the packed one
    assert _git(repo, "rev-parse", ref) == other


def test_refs_with_a_reflog_are_left_to_git(repo: Path) -> None:
    _git(repo, "config", "core.logAllRefUpdates", "always")
    head = _git(repo, "rev-parse", "HEAD")
    git.update_ref(str(repo), "refs/exps/ab/cdef/logged", head, "labrun: logged")
    log = (repo / ".git" / "logs" / "refs" / "exps" / "ab" / "cdef" / "logged").read_text()
    assert "labrun: logged" in log


def test_a_held_ref_lock_still_fails_as_git_fails(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    lock = repo / ".git" / "refs" / "exps" / "x" / "y.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    with pytest.raises(git.GitError):
        git.update_ref(str(repo), "refs/exps/x/y", head)


def test_names_use_every_word() -> None:
    drawn = {names._choice(names.NOUNS[:7]) for _ in range(400)}
    assert drawn == set(names.NOUNS[:7])
