"""Git: the only module that runs the `git` command (and, later, imports the git library).

Errors from git become labrun errors here; nothing outside sees git's types.

    >>> find_worktree("/home/u/proj/src")      # doctest: +SKIP
    '/home/u/proj'
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from labrun.errors import LabrunError

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from labrun.scm.objects import Entry, Store


class GitError(LabrunError):
    """A git command failed."""


def find_worktree(path: str) -> str | None:
    """The top of the Git work tree containing ``path``, or None outside Git."""
    current = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def run_git(
    cwd: str,
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> str:
    """Run `git <args>` in ``cwd`` and return stdout; GitError with git's message on failure."""
    import subprocess  # not at module level: finding the work tree must stay cheap

    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            env=full_env,
            input=input,
        )
    except FileNotFoundError:
        raise GitError("git is not installed", hint="install git and try again") from None
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()
        last = detail[-1] if detail else proc.returncode
        if any(sign in proc.stderr for sign in _NO_IDENTITY):
            raise GitError(
                f"git {args[0]} failed: git does not know who you are ({last})",
                hint='set it with `git config --global user.name "Your Name"` and '
                "`git config --global user.email you@example.com`, then run the command again",
            )
        raise GitError(f"git {args[0]} failed: {last}")
    return proc.stdout


# what git says when it has no author or committer to write into a commit
_NO_IDENTITY = ("Please tell me who you are", "unable to auto-detect email", "empty ident name")


def add(cwd: str, paths: Sequence[str]) -> None:
    """Stage files (`git add -- paths`)."""
    if paths:
        run_git(cwd, ["add", "--", *paths])


def tracked(cwd: str, paths: Sequence[str]) -> set[str]:
    """The given paths (or paths inside them) that Git tracks, as given.

    The index is read in-process (a `git ls-files` per stage would cost more
    than the rest of saving a small output); an index this module cannot read
    (version 4, split or sparse) is asked of git.
    """
    if not paths:
        return set()
    top = find_worktree(cwd)
    listing = _index_listing(top) if top is not None else None
    if top is None or listing is None:
        return _tracked_by_git(cwd, paths)
    entries, ordered = listing
    found: set[str] = set()
    for path in paths:
        full = os.path.normpath(os.path.join(cwd, path))
        rel = os.path.relpath(full, top).replace(os.sep, "/")
        if rel in entries or _has_prefix(ordered, rel + "/"):
            found.add(path)
    return found


def _has_prefix(ordered: list[str], prefix: str) -> bool:
    import bisect

    i = bisect.bisect_left(ordered, prefix)
    return i < len(ordered) and ordered[i].startswith(prefix)


def _tracked_by_git(cwd: str, paths: Sequence[str]) -> set[str]:
    out = run_git(cwd, ["ls-files", "-z", "--", *paths])
    found = {os.path.normpath(os.path.join(cwd, p)) for p in out.split("\0") if p}
    return {
        p
        for p in paths
        if any(
            f == os.path.normpath(p) or f.startswith(os.path.normpath(p) + os.sep) for f in found
        )
    }


# index file → (mtime_ns, size, inode, its paths, the same sorted)
_LISTINGS: dict[str, tuple[int, int, int, set[str], list[str]]] = {}


def _index_listing(top: str) -> tuple[set[str], list[str]] | None:
    """The paths of the work tree's index (set and sorted list); None: ask git."""
    index = os.environ.get("GIT_INDEX_FILE") or os.path.join(git_dir(top), "index")
    try:
        st = os.stat(index)
    except FileNotFoundError:
        return set(), []  # nothing was ever staged
    except OSError:
        return None
    known = _LISTINGS.get(index)
    if known is not None and known[:3] == (st.st_mtime_ns, st.st_size, st.st_ino):
        return known[3], known[4]
    with open(index, "rb") as stream:
        data = stream.read()
    from labrun.scm.gitindex import entries_of, plain_extensions

    parsed = entries_of(data)
    if parsed is None or not plain_extensions(data, parsed[1]):
        return None
    paths = _decoded(parsed[0])
    _LISTINGS[index] = (st.st_mtime_ns, st.st_size, st.st_ino, paths, sorted(paths))
    return paths, _LISTINGS[index][4]


def ignored(cwd: str, paths: Sequence[str]) -> set[str]:
    """The given paths that Git ignores (`git check-ignore`)."""
    if not paths:
        return set()
    import subprocess

    proc = subprocess.run(
        ["git", "check-ignore", "-z", "--stdin"],
        cwd=cwd,
        input="\0".join(paths) + "\0",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise GitError(f"git check-ignore failed: {proc.stderr.strip()}")
    return {p for p in proc.stdout.split("\0") if p}


# --- refs, read in-process (no subprocess: listing experiments must be instant) ---


def git_dir(root: str) -> str:
    """The `.git` directory of the work tree containing ``root`` (follows `gitdir:` files)."""
    root = find_worktree(root) or root
    dot_git = os.path.join(root, ".git")
    if os.path.isfile(dot_git):
        with open(dot_git, encoding="utf-8") as stream:
            target = stream.read().strip().removeprefix("gitdir:").strip()
        return os.path.normpath(os.path.join(root, target))
    return dot_git


def common_dir(gdir: str) -> str:
    """Where shared refs and objects live (differs from ``gdir`` in linked worktrees)."""
    marker = os.path.join(gdir, "commondir")
    if not os.path.exists(marker):
        return gdir
    with open(marker, encoding="utf-8") as stream:
        return os.path.normpath(os.path.join(gdir, stream.read().strip()))


def read_refs(gdir: str, prefix: str) -> dict[str, str]:
    """Every ref under ``prefix`` → its sha: `packed-refs` first, loose refs override.

    >>> read_refs("/nonexistent/.git", "refs/exps/")
    {}
    """
    base = common_dir(gdir)
    refs = _packed_refs(base, prefix)
    top = os.path.join(base, prefix.rstrip("/"))
    cut = len(base) + 1
    for dirpath, _dirs, files in os.walk(top):
        for name in files:  # raw os.open/read: 10,000 experiment refs must read in ~0.1 s
            full = f"{dirpath}/{name}"
            try:
                fd = os.open(full, os.O_RDONLY)
                try:
                    data = os.read(fd, 128)
                finally:
                    os.close(fd)
            except OSError:
                continue
            text = data.strip()
            if len(text) == 40 and not text.startswith(b"ref:"):
                refs[full[cut:].replace(os.sep, "/")] = text.decode("ascii")
    return refs


def _packed_refs(base: str, prefix: str) -> dict[str, str]:
    try:
        with open(os.path.join(base, "packed-refs"), encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except FileNotFoundError:
        return {}
    refs = {}
    for line in lines:
        if line[:1] in ("#", "^") or " " not in line:
            continue
        sha, name = line.split(" ", 1)
        if name.startswith(prefix):
            refs[name] = sha
    return refs


def _read_loose(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read().strip()
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None
    return text if len(text) == 40 and not text.startswith("ref:") else None


def head(root: str) -> tuple[str | None, str | None]:
    """(HEAD's sha or None when there are no commits yet, its branch ref or None if detached)."""
    gdir = git_dir(root)
    try:
        with open(os.path.join(gdir, "HEAD"), encoding="utf-8") as stream:
            text = stream.read().strip()
    except FileNotFoundError:
        raise GitError(f"'{root}' is not a Git repository") from None
    if not text.startswith("ref:"):
        return text, None
    branch = text[4:].strip()
    return resolve_ref(gdir, branch), branch


def resolve_ref(gdir: str, ref: str) -> str | None:
    """The sha a full ref name points to (loose or packed), or None."""
    base = common_dir(gdir)
    sha = _read_loose(os.path.join(base, ref))
    if sha is None:
        sha = _packed_refs(base, ref).get(ref)
    return sha


def rev_parse(root: str, rev: str) -> str | None:
    """The commit sha ``rev`` names (branch, tag, short sha, `HEAD~1`...), or None."""
    import subprocess

    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def is_ancestor(root: str, older: str, newer: str) -> bool:
    """True when commit ``older`` is an ancestor of (or equal to) ``newer``."""
    import subprocess

    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", older, newer],
        cwd=root,
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


_BAD_REF_CHARS = frozenset(" ~^:?*[\\\x7f")


def check_ref_format(ref: str) -> bool:
    """`git check-ref-format` rules for a full ref name, in-process.

    >>> check_ref_format("refs/exps/ab/cd/good-name"), check_ref_format("refs/exps/a..b")
    (True, False)
    """
    if not ref or ref.endswith(("/", ".")) or ref.startswith("/") or "//" in ref:
        return False
    if ".." in ref or "@{" in ref or ref == "@":
        return False
    if any(c in _BAD_REF_CHARS or ord(c) < 32 for c in ref):
        return False
    return all(
        part and not part.startswith(".") and not part.endswith(".lock") for part in ref.split("/")
    )


# --- writing refs and commits (git plumbing; the user's index is never touched) ---


def update_ref(root: str, ref: str, sha: str, message: str = "", old: str | None = None) -> None:
    """Point ``ref`` at ``sha`` atomically; with ``old``, only if it still points there.

    A plain update of a ref without a reflog is written in-process as Git writes
    it (`<ref>.lock`, then a rename); anything else goes to `git update-ref`.
    """
    if old is None and _write_loose_ref(git_dir(root), ref, sha):
        return
    args = ["update-ref", "-m", message or f"labrun: update {ref}", ref, sha]
    if old is not None:
        args.append(old)
    run_git(root, args)


def _write_loose_ref(gdir: str, ref: str, sha: str) -> bool:
    """Write ``ref`` as a loose ref file; False (nothing done) when Git must do it.

    Git must when the refs are not stored as files (reftable), when the ref keeps a
    reflog or a config might ask for one, or when the ref or its lock is in the way.
    """
    base = common_dir(gdir)
    if len(sha) != 40 or not ref.startswith("refs/") or not check_ref_format(ref):
        return False
    if os.path.exists(os.path.join(base, "reftable")) or _may_log(base, ref):
        return False
    path = os.path.join(base, *ref.split("/"))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError:
        return False
    try:
        os.write(fd, f"{sha}\n".encode("ascii"))
    finally:
        os.close(fd)
    try:
        os.replace(path + ".lock", path)
    except OSError:
        os.unlink(path + ".lock")
        return False
    return True


def _may_log(base: str, ref: str) -> bool:
    """Whether Git would append to a reflog for ``ref`` (or might).

    It would if the reflog exists, or if a config sets `core.logAllRefUpdates` to
    `always` (its usual `true` logs only branches, remote refs, notes and HEAD).
    """
    if os.path.exists(os.path.join(base, "logs", *ref.split("/"))):
        return True
    for text in _config_texts(base):
        if b"logallrefupdates" in text and _logs_all(text):
            return True
    return "GIT_CONFIG_PARAMETERS" in os.environ or "GIT_CONFIG_COUNT" in os.environ


def _config_texts(base: str) -> list[bytes]:
    """The lower-cased texts of the config files Git reads for the repository at ``base``."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    configs = (
        os.path.join(base, "config"),
        os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        os.environ.get("GIT_CONFIG_GLOBAL") or "",
        os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig",
    )
    texts = []
    for config in configs:
        try:
            with open(config, "rb") as stream:
                texts.append(stream.read().lower())
        except OSError:
            continue
    return texts


_BOOLEANS = frozenset([b"", b"true", b"false", b"yes", b"no", b"on", b"off", b"1", b"0"])


def _logs_all(config: bytes) -> bool:
    """A (lower-cased) config text sets logAllRefUpdates to anything but a boolean.

    >>> _logs_all(b"[core]\\n\\tlogallrefupdates = true\\n"), _logs_all(b"logallrefupdates=always")
    (False, True)
    """
    for line in config.splitlines():
        key, _, value = line.partition(b"=")
        if key.strip() == b"logallrefupdates" and value.split(b"#")[0].strip() not in _BOOLEANS:
            return True
    return False


def delete_refs(root: str, refs: Sequence[str]) -> None:
    """Delete refs in one transaction."""
    if refs:
        run_git(root, ["update-ref", "--stdin"], input="".join(f"delete {r}\n" for r in refs))


def set_symbolic_ref(root: str, ref: str, target: str) -> None:
    """Make ``ref`` a symbolic ref to ``target``."""
    run_git(root, ["symbolic-ref", ref, target])


def snapshot_tree(
    root: str,
    paths: Sequence[str],
    *,
    forced: Sequence[str] = (),
    overlay: dict[str, str] | None = None,
) -> str:
    """A tree of the work tree: the user's index + tracked changes + ``paths``.

    Works on a private copy of the index, so the user's staging area is left
    exactly as it was. Ignored paths among ``paths`` are skipped; ``forced`` paths
    are added even if Git ignores them; ``overlay`` maps paths (relative to
    ``root``) to files whose content replaces theirs in the tree only (queued
    experiments carry their edited params files this way).

    Paths the index already tracks are staged by `git add -u` with every other
    tracked change, so usually no further `git` run is needed for them. In a
    plain repository where all of ``paths`` are tracked, that is done in process
    (:mod:`labrun.scm.staging`) and no index is written at all.
    """
    if not forced and not overlay:
        sha = _snapshot_in_process(root, paths)
        if sha is not None:
            return sha
    gdir = git_dir(root)
    tmp_index = private_index(gdir)
    try:
        env = {"GIT_INDEX_FILE": tmp_index}
        tracked = copy_index(gdir, tmp_index)
        if tracked is None:
            run_git(root, ["read-tree", "HEAD"], env=env)
            tracked = set()
        run_git(root, ["add", "-u", "--", ":/"], env=env)
        prefix = _worktree_prefix(root)
        wanted = [p for p in paths if os.path.lexists(os.path.join(root, p))]
        _add_unignored(root, [p for p in wanted if prefix + p not in tracked], env)
        if forced:
            run_git(root, ["add", "-f", "--", *forced], env=env)
        if overlay:
            _overlay(root, overlay, env)
        return write_tree(root, tmp_index, env)
    finally:
        if os.path.exists(tmp_index):
            os.unlink(tmp_index)


def _snapshot_in_process(root: str, paths: Sequence[str]) -> str | None:
    """:func:`snapshot_tree` without git, or None where git must do it."""
    if "GIT_WORK_TREE" in os.environ:  # git stages that tree, not the one found here
        return None
    gdir = git_dir(root)
    base = common_dir(gdir)
    texts = _config_texts(base)
    if not _plain_object_store(base, texts):
        return None
    from labrun.scm import objects, staging

    if not staging.plain_config(texts) or staging.attribute_files(base):
        return None
    try:
        with open(os.path.join(gdir, "index"), "rb") as stream:
            data = stream.read()
            st = os.fstat(stream.fileno())
    except FileNotFoundError:
        return None
    top = find_worktree(root) or root
    store = objects.loose_store(os.path.join(base, "objects"))
    entries = staging.stage_tracked(top, data, st.st_mtime_ns, store)
    tracked = index_paths(data)
    if entries is None or tracked is None:
        return None
    prefix = _worktree_prefix(root)
    new = [prefix + p for p in paths if os.path.lexists(os.path.join(root, p))]
    added = _stage_untracked(top, [p for p in new if p not in tracked], store)
    return None if added is None else objects.tree_sha(sorted(entries + added), store)


def _stage_untracked(top: str, relpaths: list[str], store: Store) -> list[Entry] | None:
    """Entries for the untracked ``relpaths`` that Git does not ignore (None: run git)."""
    if not relpaths:
        return []
    from labrun.scm import staging
    from labrun.scm.gitignore import ignored_by_git

    skipped = ignored_by_git(top, [os.path.join(top, p) for p in relpaths])
    kept = [p for p in relpaths if os.path.join(top, p) not in skipped]
    return staging.stage_new(top, kept, store)


def write_tree(root: str, index: str, env: dict[str, str]) -> str:
    """`git write-tree` of ``index`` (``env`` names it for git): in-process where the index
    and the repository are plain (:mod:`labrun.scm.objects`), else by git."""
    base = common_dir(git_dir(root))
    if _plain_object_store(base):
        from labrun.scm import objects

        with open(index, "rb") as stream:
            data = stream.read()
        from labrun.scm.gitindex import plain_extensions

        parsed = objects.index_entries(data)
        if parsed is not None and plain_extensions(data, parsed[1]):
            store = objects.loose_store(os.path.join(base, "objects"))
            sha = objects.tree_sha(parsed[0], store)
            if sha is not None:
                return sha
    return run_git(root, ["write-tree"], env=env).strip()


# Environment and config that change where or how Git stores objects: git decides then.
_OBJECT_ENV = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_CONFIG_PARAMETERS")
# `fsync`: core.fsync / core.fsyncObjectFiles ask for flushed objects, which git does
_OBJECT_CONFIG = (b"objectformat", b"sharedrepository", b"include", b"extensions", b"fsync")


def _plain_object_store(base: str, texts: Sequence[bytes] | None = None) -> bool:
    """SHA-1 objects in ``base/objects``, written with Git's default file modes.

    ``texts``: the config texts (:func:`_config_texts`), when the caller has them.
    """
    if any(name in os.environ for name in (*_OBJECT_ENV, "GIT_CONFIG_COUNT")):
        return False
    texts = _config_texts(base) if texts is None else texts
    return not any(word in text for text in texts for word in _OBJECT_CONFIG)


def private_index(gdir: str) -> str:
    """A new, empty file in the Git directory to hold the private index."""
    import time

    while True:
        path = os.path.join(gdir, f"labrun-index-{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            continue
        return path


def copy_index(gdir: str, target: str) -> set[str] | None:
    """Copy the user's index to ``target``; the paths it tracks (None: there is no index).

    An index in a format :func:`index_paths` does not read gives an empty set,
    which only costs `git add` runs for paths that turn out to be tracked.
    """
    try:
        with open(os.path.join(gdir, "index"), "rb") as stream:
            data = stream.read()
            st = os.fstat(stream.fileno())
    except FileNotFoundError:
        os.unlink(target)
        return None
    with open(target, "wb") as stream:
        stream.write(data)
    _keep_index_time(target, st)
    return index_paths(data) or set()


def _keep_index_time(copy: str, source: os.stat_result) -> None:
    """Give a copy of an index its source's modification time.

    Git trusts an entry's stat data only when the entry is older than the index
    file ("racily clean" entries are compared by content): a copy made later
    would make a file edited in the same second as the index look unchanged.
    """
    os.utime(copy, ns=(source.st_atime_ns, source.st_mtime_ns))


def index_paths(data: bytes) -> set[str] | None:
    """The paths of a Git index (versions 2 and 3, the usual ones); None for others.

    >>> entry = bytes(60) + (9).to_bytes(2, "big") + b"params.yaml" + bytes(7)
    >>> index_paths(b"DIRC" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + entry)
    {'params.yaml'}
    """
    from labrun.scm.gitindex import entries_of

    parsed = entries_of(data)
    return None if parsed is None else _decoded(parsed[0])


def _decoded(entries: list[tuple[int, bytes, int]]) -> set[str]:
    return {path.decode("utf-8", "surrogateescape") for _, path, _ in entries}


def _worktree_prefix(root: str) -> str:
    """The project's folder inside its Git work tree, with a final `/` ('' at the top)."""
    top = find_worktree(root) or root
    rel = os.path.relpath(os.path.abspath(root), top).replace(os.sep, "/")
    return "" if rel == "." else rel + "/"


def _add_unignored(root: str, paths: Sequence[str], env: dict[str, str]) -> None:
    """`git add` the paths Git does not ignore (an ignored one makes `git add` fail)."""
    if not paths:
        return
    try:
        run_git(root, ["add", "--", *paths], env=env)
    except GitError:
        keep = sorted(set(paths) - ignored(root, paths))
        if keep:
            run_git(root, ["add", "--", *keep], env=env)


def _overlay(root: str, overlay: dict[str, str], env: dict[str, str]) -> None:
    """Store the overlay files as blobs and point the (private) index at them."""
    names = sorted(overlay)
    blobs = run_git(
        root,
        ["hash-object", "-w", "--stdin-paths"],
        input="".join(overlay[n] + "\n" for n in names),
    ).split()
    prefix = run_git(root, ["rev-parse", "--show-prefix"]).strip()
    info = "".join(
        f"100644 {sha}\t{prefix}{name}\n" for name, sha in zip(names, blobs, strict=True)
    )
    run_git(root, ["update-index", "--add", "--index-info"], env=env, input=info)


def commit_tree(root: str, tree: str, parents: Sequence[str], message: str) -> str:
    """Create a commit object (no hooks, no ref update) and return its sha.

    Written in process (:mod:`labrun.scm.commits`) when the repository is plain
    and the identity plainly configured, else by `git commit-tree`.
    """
    base = common_dir(git_dir(root))
    if _plain_object_store(base):
        from labrun.scm import commits, objects

        text = commits.prepared_commit(base, tree, parents, message)
        if text is not None:
            return objects.loose_store(os.path.join(base, "objects"))(text).hex()
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return run_git(root, args, input=message).strip()


def tree_of(root: str, rev: str) -> str:
    """The tree sha of a commit."""
    return run_git(root, ["rev-parse", f"{rev}^{{tree}}"]).strip()


# --- remotes: the `git` command, so that users' remotes, URLs and credentials just work ---


def ls_remote(root: str, remote: str, prefix: str) -> dict[str, str]:
    """Every ref of ``remote`` (a remote's name, a URL or a path) under ``prefix`` → its sha.

    >>> ls_remote(".", "origin", "refs/exps/")  # doctest: +SKIP
    {'refs/exps/8c/4051ab.../lucky-lynx': '00f2881f...'}
    """
    import subprocess

    args = ["git", "ls-remote", "--refs", remote, f"{prefix}*"]
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GitError(f"git ls-remote failed: {_first_complaint(proc.stderr, proc.returncode)}")
    refs = {}
    for line in proc.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith(prefix):
            refs[ref] = sha
    return refs


def _first_complaint(stderr: str, returncode: int) -> str:
    """Git's first `fatal:`/`error:` line (the one that says what went wrong).

    >>> _first_complaint("hint: ...\\nfatal: 'x' does not appear to be a git repository", 128)
    "'x' does not appear to be a git repository"
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        for lead in ("fatal: ", "error: "):
            if line.startswith(lead):
                return line[len(lead) :]
    return lines[-1] if lines else f"exit status {returncode}"


def push_porcelain(
    root: str, remote: str, refspecs: Sequence[str], *, force: bool = False, atomic: bool = False
) -> dict[str, tuple[str, str]]:
    """`git push --porcelain`: each destination ref → (git's flag, its summary).

    Flags: ``=`` up to date, ``*`` new, `` `` fast-forward, ``+`` forced, ``-`` deleted,
    ``!`` rejected (the summary says why). A push that reports no ref failed: GitError.
    """
    import subprocess

    args = ["git", "push", "--porcelain", *(["--force"] if force else [])]
    args += [*(["--atomic"] if atomic else []), remote, *refspecs]
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)
    found: dict[str, tuple[str, str]] = {}
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and len(parts[0]) == 1:
            found[parts[1].rpartition(":")[2]] = (parts[0], parts[2])
    if proc.returncode != 0 and not found:
        raise GitError(f"git push failed: {_first_complaint(proc.stderr, proc.returncode)}")
    return found


def fetch_refs(root: str, remote: str, refspecs: Sequence[str]) -> None:
    """`git fetch` the given refspecs (no tags, no `FETCH_HEAD`)."""
    if refspecs:
        args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, *refspecs]
        run_git(root, args)


def update_refs(root: str, changes: Sequence[tuple[str, str | None, str | None]]) -> None:
    """Apply ``(ref, new sha or None to delete, expected old sha or None)`` in one transaction."""
    lines = []
    for ref, new, old in changes:
        expect = f" {old}" if old else ""
        lines.append(f"update {ref} {new}{expect}\n" if new else f"delete {ref}{expect}\n")
    if lines:
        run_git(root, ["update-ref", "--stdin"], input="".join(lines))


def has_object(root: str, sha: str) -> bool:
    """True when the repository holds the object ``sha``."""
    import subprocess

    proc = subprocess.run(
        ["git", "cat-file", "-e", sha], cwd=root, capture_output=True, check=False
    )
    return proc.returncode == 0


def commits_between(root: str, tip: str, base: str) -> list[str]:
    """``tip`` and its first parents back to (not including) ``base``, newest first."""
    return run_git(root, ["rev-list", "--first-parent", tip, f"^{base}"]).split()
