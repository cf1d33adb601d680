""".dvcignore: gitwildmatch patterns, nested files, nested projects, pruning walks.

The expected answers follow DVC 3.67.1 (checked against its own matcher);
the compat suite repeats a sample of them with the real `dvc check-ignore`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from labrun.errors import FileFormatError
from labrun.ignore import DvcIgnore, IgnoreFileError, reanchor, translate

try:
    from tests import cache_fixtures as cf
except ImportError:  # tests/ is not a package: conftest put it on sys.path
    import cache_fixtures as cf  # type: ignore[no-redef,import-not-found]


def _project(tmp_path: Path, files: dict[str, Any]) -> DvcIgnore:
    cf.write_tree(tmp_path, files)
    return DvcIgnore(tmp_path)


def _kept(ign: DvcIgnore, top: Path) -> list[str]:
    return sorted(rel for rel, _ in ign.iter_files(top))


# -- single patterns ---------------------------------------------------------------

# (pattern, path, is_dir, ignored?) for a pattern in the root .dvcignore
SINGLE = [
    ("*.tmp", "a.tmp", False, True),
    ("*.tmp", "d/e/a.tmp", False, True),
    ("*.tmp", "a.tmpx", False, False),
    ("*.tmp", "x.tmp/inner.txt", False, True),  # a directory named like it
    ("/top.txt", "top.txt", False, True),
    ("/top.txt", "d/top.txt", False, False),
    ("a/b", "a/b", False, True),
    ("a/b", "x/a/b", False, False),  # a slash in the middle anchors
    ("logs/", "logs", True, True),
    ("logs/", "logs", False, False),  # directory-only
    ("logs/", "d/logs/x.txt", False, True),
    ("a/**/c", "a/c", False, True),
    ("a/**/c", "a/x/y/c", False, True),
    ("a/**/c", "b/a/c", False, False),
    ("**/deep", "x/y/deep", False, True),
    ("b/**", "b/x", False, True),
    ("b/**", "b", True, True),  # DVC tries "b/" for directories
    ("?.x", "1.x", False, True),
    ("?.x", "12.x", False, False),
    ("[ab].y", "a.y", False, True),
    ("[ab].y", "c.y", False, False),
    ("[!a].z", "b.z", False, True),
    ("[!a].z", "a.z", False, False),
    ("[^a].z", "b.z", False, True),
    ("[]-]q", "-q", False, True),
    ("e[0-9]", "e7", False, True),
    ("e[0-9]", "ex", False, False),
    ("f\\*", "f*", False, True),
    ("f\\*", "fx", False, False),
    ("\\#h", "#h", False, True),
    ("\\!n", "!n", False, True),
    ("a b", "a b", False, True),
    ("*", "anything/at/all", False, True),
    ("**", "x", False, True),
    ("*.TMP", "a.tmp", False, False),  # case-sensitive
    # DVC matches with re.match, so these directory-only forms match nothing
    ("**/", "d", True, False),
    ("*/", "d/x.txt", False, False),
    ("[", "[", False, False),  # unfinished range: the line is dropped
    ("/", "x", False, False),
]


@pytest.mark.parametrize(("pattern", "path", "is_dir", "ignored"), SINGLE)
def test_single_pattern(
    tmp_path: Path, pattern: str, path: str, is_dir: bool, ignored: bool
) -> None:
    ign = _project(tmp_path, {".dvcignore": pattern + "\n"})
    assert ign.is_ignored(path, is_dir) is ignored


def test_translate_examples() -> None:
    assert translate("*.tmp") == (r"^(?:.+/)?[^/]*\.tmp(?:/|$)", False)
    assert translate("!/a/b/") == (r"^a/b/", True)
    assert translate("# a comment") is None
    assert translate("q[") is None
    with pytest.raises(ValueError):
        translate("trailing\\")
    with pytest.raises(ValueError):
        translate("!")


def test_translated_regexes_compile_without_warnings() -> None:
    for pattern, *_ in SINGLE:
        compiled = translate(pattern)
        if compiled is not None:
            re.compile(compiled[0])


def test_reanchor_rewrites_nested_patterns() -> None:
    assert reanchor("*.log", "sub") == "/sub/**/*.log"
    assert reanchor("**/x", "sub") == "/sub/**/x"
    assert reanchor("/a", "sub") == "/sub/a"
    assert reanchor("a/b/", "s/t") == "/s/t/a/b/"
    assert reanchor("!keep/", "s") == "!/s/**/keep/"
    assert reanchor("\\#x", "s") == "/s/**/#x"
    assert reanchor("x", "we[ird]") == "/we\\[ird\\]/**/x"  # git: the name is literal


def test_reanchor_verbatim_is_what_dvc_does() -> None:
    assert reanchor("*.log", "sub", verbatim_dir=True) == "sub/**/*.log"
    assert reanchor("x", "we[ird]", verbatim_dir=True) == "we[ird]/**/x"
    assert reanchor("!x", "s", verbatim_dir=True) == "!/s/**/x"
    assert translate(reanchor("x", "#h", verbatim_dir=True)) is None  # became a comment


# -- rule order, negation, nesting ---------------------------------------------------


def test_last_match_wins_and_negation(tmp_path: Path) -> None:
    ign = _project(tmp_path, {".dvcignore": "*.log\n!important.log\n"})
    assert ign.is_ignored("a.log")
    assert not ign.is_ignored("important.log")
    match = ign.explain("important.log", False)
    assert match is not None and not match.ignored
    assert str(match) == ".dvcignore:2:!important.log"


def test_negation_cannot_reach_inside_an_ignored_directory(tmp_path: Path) -> None:
    ign = _project(tmp_path, {".dvcignore": "d/\n!d/keep.txt\n"})
    assert ign.is_ignored("d/keep.txt")
    assert str(ign.explain("d/keep.txt", False)) == ".dvcignore:1:d/"


def test_a_file_rule_also_covers_a_directorys_contents(tmp_path: Path) -> None:
    # `foo` matches "foo/bar" even when the directory itself was un-ignored
    ign = _project(tmp_path, {".dvcignore": "foo\n!foo/\n"})
    assert not ign.is_ignored("foo", True)
    assert ign.is_ignored("foo/bar", False)


def test_nested_file_is_anchored_to_its_directory(tmp_path: Path) -> None:
    ign = _project(
        tmp_path,
        {
            ".dvcignore": "*.tmp\n",
            "sub": {".dvcignore": "/only-here.txt\n*.csv\n!keep.tmp\n"},
        },
    )
    assert ign.is_ignored("sub/only-here.txt")
    assert not ign.is_ignored("only-here.txt")
    assert not ign.is_ignored("sub/x/only-here.txt")
    assert ign.is_ignored("sub/x/y.csv")
    assert not ign.is_ignored("y.csv")
    assert not ign.is_ignored("sub/keep.tmp")
    assert ign.is_ignored("keep.tmp")
    assert str(ign.explain("sub/x/y.csv", False)) == "sub/.dvcignore:2:*.csv"


def test_nested_file_in_an_oddly_named_directory(tmp_path: Path) -> None:
    # DVC pastes the directory name into the rules unescaped; labrun does the
    # same so that both tools hash the same files: `!n/` turns the rules into
    # negations, `#h/` into comments, `g[1]/` into a glob that misses itself
    ign = _project(
        tmp_path,
        {
            ".dvcignore": "*.y\n",
            "!n": {".dvcignore": "*.x\n"},
            "#h": {".dvcignore": "*.x\n"},
            "g[1]": {".dvcignore": "*.x\n"},
            "g1": {".dvcignore": "*.x\n"},
        },
    )
    assert not ign.is_ignored("!n/a.x")
    assert not ign.is_ignored("#h/a.x")
    assert not ign.is_ignored("g[1]/a.x")
    assert ign.is_ignored("g1/a.x")
    assert ign.is_ignored("!n/a.y")


def test_ignored_dvcignore_file_is_not_read(tmp_path: Path) -> None:
    ign = _project(
        tmp_path,
        {".dvcignore": "sub/.dvcignore\n", "sub": {".dvcignore": "*.txt\n", "a.txt": "a"}},
    )
    assert not ign.is_ignored("sub/a.txt")


def test_own_dvcignore_matching_its_directory_drops_everything_below(tmp_path: Path) -> None:
    ign = _project(tmp_path, {"d": {".dvcignore": "**\n", "a.txt": "a", "e": {"b": "b"}}})
    assert _kept(ign, tmp_path) == []
    assert ign.is_ignored("d/a.txt")


def test_defaults_ignore_vcs_and_dvc_dirs(tmp_path: Path) -> None:
    ign = _project(
        tmp_path,
        {".git": {"HEAD": "x"}, ".dvc": {"config": ""}, "d": {".hg": {"x": "1"}, "a": "a"}},
    )
    assert ign.is_ignored(".git", True)
    assert ign.is_ignored(".git", False)  # `.git` may be a file (worktrees)
    assert ign.is_ignored("d/.hg/x")
    assert str(ign.explain(".dvc", True)) == ":.dvc/"
    assert ign.explain("d/a", False) is None
    assert _kept(ign, tmp_path) == ["d/a"]


def test_nested_project_is_ignored(tmp_path: Path) -> None:
    ign = _project(tmp_path, {"sub": {".dvc": {"config": ""}, "x.txt": "x"}, "y.txt": "y"})
    assert ign.is_ignored("sub/x.txt")
    match = ign.explain("sub", True)
    assert match is not None and match.ignored
    assert str(match) == "in sub_repo:sub"
    assert _kept(ign, tmp_path) == ["y.txt"]


def test_lines_are_stripped_and_comments_skipped(tmp_path: Path) -> None:
    ign = _project(tmp_path, {".dvcignore": "# comment\n\n   spaced.txt  \r\n\t# also comment\n"})
    assert ign.is_ignored("spaced.txt")
    assert str(ign.explain("spaced.txt", False)) == ".dvcignore:3:spaced.txt"


def test_explain_reports_the_first_rule_of_a_run_of_plain_rules(tmp_path: Path) -> None:
    ign = _project(tmp_path, {".dvcignore": "*\n*.tmp\n"})
    assert str(ign.explain("a.tmp", False)) == ".dvcignore:1:*"


def test_explain_defaults_is_dir_from_disk(tmp_path: Path) -> None:
    ign = _project(tmp_path, {".dvcignore": "logs/\n", "logs": {"a": "a"}, "x": {"logs": "file"}})
    assert ign.explain("logs") is not None
    assert ign.explain("x/logs") is None


def test_invalid_pattern_names_file_and_line(tmp_path: Path) -> None:
    ign = _project(tmp_path, {"sub": {".dvcignore": "ok\nbad\\\n"}})
    with pytest.raises(IgnoreFileError) as err:
        ign.is_ignored("sub/x")
    assert isinstance(err.value, FileFormatError)
    assert "sub/.dvcignore" in str(err.value) and "line 2" in str(err.value)


def test_unreadable_dvcignore(tmp_path: Path) -> None:
    (tmp_path / ".dvcignore").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(IgnoreFileError):
        DvcIgnore(tmp_path).is_ignored("x")


# -- walking -------------------------------------------------------------------------


def test_walk_prunes_and_lists_like_os_walk(tmp_path: Path) -> None:
    ign = _project(
        tmp_path,
        {
            ".dvcignore": "*.tmp\nlogs/\n",
            "data": {"a.txt": "a", "b.tmp": "b", "logs": {"l.txt": "l"}, "e": {"c.txt": "c"}},
        },
    )
    seen = {
        os.path.relpath(root, tmp_path): (sorted(dirs), sorted(files))
        for root, dirs, files in ign.walk(tmp_path / "data")
    }
    assert seen == {"data": (["e"], ["a.txt"]), "data/e": ([], ["c.txt"])}
    assert _kept(ign, tmp_path / "data") == ["a.txt", "e/c.txt"]


def test_walk_honours_pruning_by_the_caller(tmp_path: Path) -> None:
    ign = _project(tmp_path, {"a": {"x": "x"}, "b": {"y": "y"}})
    roots = []
    for root, dirs, _ in ign.walk(tmp_path):
        roots.append(os.path.relpath(root, tmp_path))
        dirs[:] = [d for d in dirs if d != "b"]
    assert sorted(roots) == [".", "a"]


def test_walk_below_an_ignored_directory_keeps_nothing(tmp_path: Path) -> None:
    ign = _project(tmp_path, {".dvcignore": "skip/\n", "skip": {"in": {"a": "a"}}})
    assert _kept(ign, tmp_path / "skip" / "in") == []


def test_walk_outside_the_root_applies_no_rules(tmp_path: Path) -> None:
    cf.write_tree(tmp_path / "outside", {".git": {"x": "x"}, "a.tmp": "a"})
    ign = _project(tmp_path / "proj", {".dvcignore": "*.tmp\n"})
    assert _kept(ign, tmp_path / "outside") == [".git/x", "a.tmp"]


def test_links_to_directories_are_not_followed(tmp_path: Path) -> None:
    ign = _project(tmp_path, {"real": {"a": "a"}, "top": {"f": "f"}})
    (tmp_path / "top" / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "top" / "flink").symlink_to(tmp_path / "real" / "a")
    assert _kept(ign, tmp_path / "top") == ["f", "flink"]
    walked = [(sorted(d), sorted(f)) for _, d, f in ign.walk(tmp_path / "top")]
    assert walked == [(["link"], ["f", "flink"])]  # listed, as os.walk does, not entered


def test_walk_decides_every_file_of_a_suspect_directory(tmp_path: Path) -> None:
    files = {f"f{i}.txt": "x" for i in range(50)}
    files.update({"g.tmp": "t", "keep.tmp": "k"})
    ign = _project(tmp_path, {".dvcignore": "*.tmp\n!keep.tmp\n", "d": files})
    kept = _kept(ign, tmp_path / "d")
    assert "g.tmp" not in kept and "keep.tmp" in kept and len(kept) == 51


def test_rule_matching_through_a_parent_name_is_seen_by_the_listing_check(tmp_path: Path) -> None:
    ign = _project(tmp_path, {".dvcignore": "foo\n!foo/\n", "foo": {"bar": "b", "baz": "z"}})
    assert _kept(ign, tmp_path) == [".dvcignore"]


def test_names_with_newlines_are_decided_one_by_one(tmp_path: Path) -> None:
    ign = _project(tmp_path, {".dvcignore": "*.tmp\n", "d": {"a\nb.tmp": "x", "c\nd": "y"}})
    assert _kept(ign, tmp_path / "d") == ["c\nd"]


def test_clean_directories_keep_every_file(tmp_path: Path) -> None:
    tree: dict[str, Any] = {f"d{d}": {f"f{f}.txt": "" for f in range(40)} for d in range(10)}
    tree["d3"] = {**tree["d3"], "x.tmp": "", "y.tmp": ""}
    ign = _project(tmp_path, {".dvcignore": "*.tmp\nlogs/\n!x.tmp\n", "data": tree})
    kept = _kept(ign, tmp_path / "data")
    assert len(kept) == 401 and "d3/x.tmp" in kept
