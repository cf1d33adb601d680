"""Experiment trees and commits made in process are those git makes.

`git.snapshot_tree` stages tracked changes itself (labrun.scm.staging) and
`git.commit_tree` writes the commit itself (labrun.scm.commits) in plain
repositories; each test compares with what real `git` produces, and checks
that anything out of the ordinary is left to git.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from labrun.scm import commits, git


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, input=stdin
    ).stdout


@pytest.fixture(autouse=True)
def quiet_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own: no user or system config but what a test writes."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for name in ("GIT_CONFIG_GLOBAL", "EMAIL", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"):
        monkeypatch.delenv(name, raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        for part in ("NAME", "EMAIL", "DATE"):
            monkeypatch.delenv(f"GIT_{role}_{part}", raising=False)
    (home / ".gitconfig").write_text("[user]\n\tname = Ann Example\n\temail = ann@example.com\n")
    return home


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    files = {
        "dvc.yaml": "stages: {}\n",
        "params.yaml": "lr: 0.1\n",
        "gone.txt": "bye\n",
        "run.sh": "echo hi\n",
        "same.txt": "same\n",
        "sub/deep/metrics.json": '{"acc": 1}\n',
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "link").symlink_to("same.txt")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    return root


def _by_git(root: Path, paths: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setattr(git, "_snapshot_in_process", lambda *a: None)
        return git.snapshot_tree(str(root), paths)


def _edit(root: Path) -> None:
    time.sleep(0.01)
    (root / "params.yaml").write_text("lr: 0.2\n")  # same size: only the stat tells
    (root / "gone.txt").unlink()
    (root / "run.sh").chmod(0o755)
    (root / "sub/deep/metrics.json").write_text('{"acc": 0.5}\n')
    (root / "link").unlink()
    (root / "link").symlink_to("run.sh")
    (root / "untracked.txt").write_text("not in the tree\n")


def test_staged_tree_is_gits(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _edit(repo)
    paths = ["dvc.yaml", "params.yaml", "sub/deep/metrics.json"]
    ours = git._snapshot_in_process(str(repo), paths)
    assert ours is not None
    assert ours == _by_git(repo, paths, monkeypatch)
    listing = _git(repo, "ls-tree", "-r", ours)
    assert "100755 blob" in listing and "gone.txt" not in listing
    assert "untracked.txt" not in listing
    _git(repo, "fsck", "--strict", "--no-dangling")


_LFS_CONFIG = (
    '[filter "lfs"]\n\tclean = git-lfs clean -- %f\n\tsmudge = git-lfs smudge -- %f\n'
    "\tprocess = git-lfs filter-process\n\trequired = true\n"
)


def test_a_filter_driver_alone_changes_nothing(
    repo: Path, quiet_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git lfs install` defines a filter in the user's config; no attributes file uses it."""
    with (quiet_home / ".gitconfig").open("a") as config:
        config.write(_LFS_CONFIG)
    _edit(repo)
    paths = ["params.yaml"]
    ours = git._snapshot_in_process(str(repo), paths)
    assert ours is not None
    assert ours == _by_git(repo, paths, monkeypatch)


def test_a_filter_driver_in_use_is_left_to_git(repo: Path, quiet_home: Path) -> None:
    with (quiet_home / ".gitconfig").open("a") as config:
        config.write(_LFS_CONFIG)
    (repo / ".gitattributes").write_text("*.yaml filter=lfs\n")
    _edit(repo)
    assert git._snapshot_in_process(str(repo), ["params.yaml"]) is None


def _index_claims_current_stat(repo: Path, name: str) -> None:
    """Make the index entry of ``name`` carry the file's present stat (its sha stays old).

    That is what a rewrite within one tick of a coarse clock leaves behind.
    """
    index = repo / ".git" / "index"
    data = bytearray(index.read_bytes())
    st = os.stat(repo / name)
    pos = 12
    while True:
        end = data.index(b"\0", pos + 62)
        if data[pos + 62 : end] == name.encode():
            break
        pos += (end - pos + 8) & ~7
    fields = {
        0: st.st_ctime_ns // 10**9, 4: st.st_ctime_ns % 10**9,
        8: st.st_mtime_ns // 10**9, 12: st.st_mtime_ns % 10**9,
        20: st.st_ino, 36: st.st_size,
    }  # fmt: skip
    for offset, value in fields.items():
        data[pos + offset : pos + offset + 4] = (value & 0xFFFFFFFF).to_bytes(4, "big")
    index.write_bytes(bytes(data))


@pytest.mark.parametrize("racy", [True, False])
def test_an_entry_is_trusted_only_when_older_than_its_index(repo: Path, racy: bool) -> None:
    """Git's racy rule: a file whose stat matches but that changed in the index's own tick
    is read; an older one is trusted without reading it (the point of the stat check)."""
    (repo / "params.yaml").write_text("lr: 0.9\n")
    _index_claims_current_stat(repo, "params.yaml")
    mtime = os.stat(repo / "params.yaml").st_mtime_ns
    index_time = mtime if racy else mtime + 10**9
    os.utime(repo / ".git" / "index", ns=(index_time, index_time))
    tree = git._snapshot_in_process(str(repo), [])
    assert tree is not None
    expected = "lr: 0.9\n" if racy else "lr: 0.1\n"
    assert _git(repo, "show", f"{tree}:params.yaml") == expected


def test_project_in_a_subfolder_and_untracked_paths(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = repo / "sub"
    _edit(repo)
    assert git._snapshot_in_process(str(project), ["deep/metrics.json"]) == _by_git(
        project, ["deep/metrics.json"], monkeypatch
    )
    (project / "new.json").write_text("{}\n")
    (project / "skipped.log").write_text("ignored\n")
    (repo / ".gitignore").write_text("*.log\n")
    wanted = ["new.json", "skipped.log", "absent.txt"]
    ours = git._snapshot_in_process(str(project), wanted)
    assert ours is not None
    assert ours == _by_git(project, wanted, monkeypatch)
    listing = _git(repo, "ls-tree", "-r", "--name-only", ours).split()
    assert "sub/new.json" in listing and "sub/skipped.log" not in listing
    (project / "outdir").mkdir()
    (project / "outdir" / "x").write_text("x")
    assert git._snapshot_in_process(str(project), ["outdir"]) is None  # git adds folders


@pytest.mark.parametrize(
    "setup",
    [
        lambda r: (r / "sub" / ".gitattributes").write_text("*.json text eol=crlf\n"),
        lambda r: _git(r, "config", "core.autocrlf", "true"),
        lambda r: _git(r, "config", "core.fileMode", "false"),
        lambda r: (
            (r / ".git" / "info").mkdir(exist_ok=True)
            or (r / ".git" / "info" / "attributes").write_text("* -text\n")
        ),
        lambda r: _git(r, "update-index", "--skip-worktree", "same.txt"),
    ],
    ids=["gitattributes", "autocrlf", "filemode-off", "info-attributes", "skip-worktree"],
)
def test_unusual_repositories_are_left_to_git(
    repo: Path, monkeypatch: pytest.MonkeyPatch, setup: object
) -> None:
    setup(repo)  # type: ignore[operator]
    _edit(repo)
    assert git._snapshot_in_process(str(repo), ["params.yaml"]) is None
    assert git.snapshot_tree(str(repo), ["params.yaml"]) == _by_git(
        repo, ["params.yaml"], monkeypatch
    )


def test_a_big_index_is_left_to_git(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from labrun.scm import staging

    monkeypatch.setattr(staging, "MAX_ENTRIES", 3)
    assert git._snapshot_in_process(str(repo), []) is None
    monkeypatch.setattr(staging, "MAX_ENTRIES", 100)
    assert git._snapshot_in_process(str(repo), []) is not None


def test_a_work_tree_named_in_the_environment_is_left_to_git(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_WORK_TREE", str(repo))
    assert git._snapshot_in_process(str(repo), []) is None


def test_a_tracked_file_that_became_a_folder_is_left_to_git(repo: Path) -> None:
    (repo / "same.txt").unlink()
    (repo / "same.txt").mkdir()
    (repo / "same.txt" / "x").write_text("x")
    assert git._snapshot_in_process(str(repo), []) is None


def test_linked_worktree(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    linked = tmp_path / "linked"
    _git(repo, "worktree", "add", "-q", "--detach", str(linked))
    _edit(linked)
    ours = git._snapshot_in_process(str(linked), ["params.yaml"])
    assert ours is not None
    assert ours == _by_git(linked, ["params.yaml"], monkeypatch)


def _excludes_in_repo_config(repo: Path, home: Path) -> Path:
    (repo / ".git" / "my-excludes").write_text("*.log\n")
    _git(repo, "config", "core.excludesFile", str(repo / ".git" / "my-excludes"))
    return repo


def _excludes_in_xdg_config(repo: Path, home: Path) -> Path:
    (home / "xdg" / "git").mkdir(parents=True)
    (home / "xdg" / "git" / "config").write_text("[core]\n\texcludesFile = ~/ignores\n")
    (home / "ignores").write_text("*.log\n")
    return repo


def _excludes_by_default(repo: Path, home: Path) -> Path:
    (home / "xdg" / "git").mkdir(parents=True)
    (home / "xdg" / "git" / "ignore").write_text("*.log\n")
    return repo


def _info_exclude_of_a_linked_worktree(repo: Path, home: Path) -> Path:
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("*.log\n")
    linked = home.parent / "linked"
    _git(repo, "worktree", "add", "-q", "--detach", str(linked))
    return linked


@pytest.mark.parametrize(
    "setup",
    [
        _excludes_in_repo_config,
        _excludes_in_xdg_config,
        _excludes_by_default,
        _info_exclude_of_a_linked_worktree,
    ],
    ids=["repo-config", "xdg-config", "xdg-default", "linked-worktree-info-exclude"],
)
def test_untracked_paths_ignored_by_any_excludes_file_stay_out(
    repo: Path, quiet_home: Path, monkeypatch: pytest.MonkeyPatch, setup: object
) -> None:
    """Git's excludes files beyond `.gitignore`: wherever they are set, as git reads them."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(quiet_home / "xdg"))
    top = setup(repo, quiet_home)  # type: ignore[operator]
    (top / "run.log").write_text("ignored\n")
    (top / "new.json").write_text("{}\n")
    assert _git(top, "check-ignore", "run.log").strip() == "run.log"  # git agrees
    wanted = ["run.log", "new.json"]
    ours = git._snapshot_in_process(str(top), wanted)
    assert ours is not None
    assert ours == _by_git(top, wanted, monkeypatch)
    listing = _git(top, "ls-tree", "-r", "--name-only", ours).split()
    assert "new.json" in listing and "run.log" not in listing


# --- commits ---


def _ident_of(repo: Path, sha: str, role: str) -> tuple[str, int, str]:
    line = next(
        x for x in _git(repo, "cat-file", "commit", sha).splitlines() if x.startswith(role + " ")
    )
    who, when, zone = line[len(role) + 1 :].rsplit(" ", 2)
    return who, int(when), zone


def _git_ident(repo: Path, role: str) -> tuple[str, int, str]:
    who, when, zone = _git(repo, "var", f"GIT_{role.upper()}_IDENT").strip().rsplit(" ", 2)
    return who, int(when), zone


def _check_commit(repo: Path, message: str = "exp: one\n\nbody") -> str:
    tree = _git(repo, "rev-parse", "HEAD^{tree}").strip()
    head = _git(repo, "rev-parse", "HEAD").strip()
    base = git.common_dir(git.git_dir(str(repo)))
    assert commits.prepared_commit(base, tree, [head], message) is not None  # in process
    sha = git.commit_tree(str(repo), tree, [head], message)
    for role in ("author", "committer"):
        who, when, zone = _ident_of(repo, sha, role)
        expected = _git_ident(repo, role)
        assert (who, zone) == (expected[0], expected[2])
        assert abs(when - expected[1]) <= 2
    assert _git(repo, "log", "-1", "--format=%B", sha).rstrip("\n") == message.rstrip("\n")
    assert _git(repo, "rev-parse", f"{sha}^{{tree}}").strip() == tree
    _git(repo, "fsck", "--strict", "--no-dangling")
    return sha


def test_commit_is_gits(repo: Path) -> None:
    _check_commit(repo)


@pytest.mark.parametrize(
    "config",
    [
        '[user]\n  name = "Ann \\"A\\" Example" # a comment\n  email = ann@example.com ; too\n',
        "[User]\n\tName = Ann   Example\n[author]\n\temail = author@example.com\n"
        "[user]\n\temail = ann@example.com\n",
        "[user]\n\tname = Ann Example\n\temail = ann@example.com\n[committer]\n\tname = Bot\n",
        '[user "sub"]\n\tname = Not Me\n[user]\n\tname = Ann\n\temail = a@example.com\n',
    ],
    ids=["quoted", "case-and-author", "committer", "subsection"],
)
def test_identity_from_config_is_gits(repo: Path, quiet_home: Path, config: str) -> None:
    (quiet_home / ".gitconfig").write_text(config)
    _check_commit(repo)


def test_identity_from_the_environment_is_gits(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Env Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "env-committer@example.com")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        _check_commit(repo)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize(
    ("config", "env"),
    [
        ("[commit]\n\tgpgSign = true\n", {}),
        ("[commit]\n\tgpgsign\n", {}),  # a bare key: true
        ("[commit]\n\tgpgsign = false\n[commit]\n\tgpgsign = yes\n", {}),  # the last wins
        ("[commit]\n\tgpgsign = 00\n", {}),  # git reads a number; this reader does not
        ("[include]\n\tpath = other\n", {}),
        ("[user]\n\tname = Ann\n", {}),  # no e-mail: git works one out or fails
        ("[user]\n\tname = Ann.\n\temail = a@example.com\n", {}),  # git trims the dot
        ("", {"GIT_AUTHOR_DATE": "2020-01-01T00:00:00"}),
        ("[user]\n\tname = Ann \\\n Example\n", {}),  # a continued line
    ],
    ids=[
        "gpgsign",
        "gpgsign-bare",
        "gpgsign-last",
        "gpgsign-number",
        "include",
        "no-email",
        "trimmed-name",
        "date-from-env",
        "continued",
    ],
)
def test_unusual_identities_are_left_to_git(
    repo: Path, quiet_home: Path, monkeypatch: pytest.MonkeyPatch, config: str, env: dict[str, str]
) -> None:
    (quiet_home / ".gitconfig").write_text(
        "[user]\n\tname = Ann Example\n\temail = ann@example.com\n" + config
    )
    if "user" in config and "email" not in config:
        (quiet_home / ".gitconfig").write_text(config)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    base = git.common_dir(git.git_dir(str(repo)))
    tree = _git(repo, "rev-parse", "HEAD^{tree}").strip()
    assert commits.prepared_commit(base, tree, [], "m") is None


@pytest.mark.parametrize(
    "setting",
    ["gpgSign = false", "gpgsign = No ; plain", 'GPGSIGN = "off"', "gpgsign = 0", "gpgsign ="],
)
def test_unsigned_commits_spelled_out_are_written_in_process(
    repo: Path, quiet_home: Path, setting: str
) -> None:
    """`commit.gpgSign` set to false (a common line in configs) is git's own default."""
    (quiet_home / ".gitconfig").write_text(
        f"[user]\n\tname = Ann Example\n\temail = ann@example.com\n[commit]\n\t{setting}\n"
        "[tag]\n\tgpgSign = true\n"  # tags are not commits
    )
    assert _git(repo, "config", "--type=bool", "commit.gpgsign").strip() == "false"
    _check_commit(repo)


def test_email_from_the_email_variable(
    repo: Path, quiet_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (quiet_home / ".gitconfig").write_text("[user]\n\tname = Ann\n")
    monkeypatch.setenv("EMAIL", "from-env@example.com")
    sha = _check_commit(repo)
    assert "<from-env@example.com>" in _ident_of(repo, sha, "author")[0]


def test_os_environ_changes_are_seen(repo: Path) -> None:
    """The identity is read at each commit (a long-lived worker sees new settings)."""
    assert os.environ.get("GIT_AUTHOR_NAME") is None
    first = _check_commit(repo)
    assert _ident_of(repo, first, "author")[0] == "Ann Example <ann@example.com>"


@pytest.mark.parametrize(
    ("text", "off"),
    [
        (b"[core]\n\tfilemode = true\n", False),
        (b"[core]\n\tfilemode = false\n", True),
        (b"[core]\n\tfilemode=no ; comment\n", True),
        (b'[core]\n\tfilemode = "off"\n', True),
        (b"[core]\n\tfilemode = 0\n", True),
        (b"[core]\n\tfilemodex = false\n", False),
    ],
)
def test_filemode_off_is_read_as_git_reads_it(text: bytes, off: bool) -> None:
    from labrun.scm import staging

    assert staging.plain_config([text.lower()]) is not off


def test_config_reader_follows_git(tmp_path: Path) -> None:
    """Values are read as `git config --get` reads them; odd lines make the reader unsure."""
    config = tmp_path / "config"
    config.write_text(
        '# top\n[user]\n\tbare\n  name = Ann "B"   C  ; note\n'
        '[user "x"]\n\tname = Other\n[User]\n\tEMAIL = a@example.com\n'
    )
    settings = commits.read_settings([str(config)])
    assert settings is not None
    for key in ("user.name", "user.email"):
        expected = _git(tmp_path, "config", "--file", str(config), "--get", key).rstrip("\n")
        assert settings[key.encode()].decode() == expected
    for odd in ("[user] name = x\n", "[user\n", "[user]\n\t9name = x\n", "[u]\n\tflag # on\n"):
        config.write_text(odd)
        assert commits.read_settings([str(config)]) is None, odd
