"""Git objects read through one long-lived `git cat-file --batch` process.

Starting `git` once and asking it for objects over a pipe costs microseconds per
object, where a process per question costs milliseconds and importing a Git
library costs a hundred. Requests are pipelined in chunks small enough that the
pipe never fills while we are still writing (no deadlock).

    >>> with CatFile("/path/to/repo") as cat:                 # doctest: +SKIP
    ...     info = cat.commit(cat.resolve("HEAD"))
    ...     src = GitTreeSource(cat, info.sha)
    ...     src.read_text("params.yaml")
    'lr: 0.1\\n'
"""

from __future__ import annotations

import posixpath

from labrun.record import record
from labrun.scm.git import GitError

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterable, Iterator, Sequence
    from types import TracebackType

TREE_MODE = "40000"
LINK_MODE = "120000"
# Requests written before reading answers: well under a pipe's 64 KiB, so git can always
# take all of them while its answers wait in the other pipe.
_CHUNK = 256


@record
class GitObject:
    """One object as cat-file returns it."""

    sha: str
    kind: str  # "commit", "tree", "blob" or "tag"
    data: bytes


class CommitInfo:
    """What `exp show` needs of a commit: its tree, parents and committer time.

    A plain class, as `TreeEntry`: `exp show` reads thousands of them back from
    the row cache, and a record costs several times more to create.

        >>> CommitInfo("c" * 40, "", ("p" * 40,), 17) == CommitInfo("c" * 40, "", ("p" * 40,), 17)
        True
    """

    __slots__ = ("commit_time", "parents", "sha", "tree")

    def __init__(self, sha: str, tree: str, parents: tuple[str, ...], commit_time: int) -> None:
        self.sha = sha
        self.tree = tree
        self.parents = parents
        self.commit_time = commit_time  # seconds since the epoch (committer date)

    def _key(self) -> tuple[str, str, tuple[str, ...], int]:
        return (self.sha, self.tree, self.parents, self.commit_time)

    def __repr__(self) -> str:
        return "CommitInfo(sha={!r}, tree={!r}, parents={!r}, commit_time={!r})".format(
            *self._key()
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CommitInfo) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class TreeEntry:
    """One entry of a tree: mode (`100644`, `40000`, `120000`...) and object id.

    A plain class: trees of thousands of commits are parsed, and a record costs
    several times more to create.
    """

    __slots__ = ("mode", "sha")

    def __init__(self, mode: str, sha: str) -> None:
        self.mode = mode
        self.sha = sha

    def __repr__(self) -> str:
        return f"TreeEntry(mode={self.mode!r}, sha={self.sha!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeEntry) and (self.mode, self.sha) == (other.mode, other.sha)

    def __hash__(self) -> int:
        return hash((self.mode, self.sha))

    @property
    def is_dir(self) -> bool:
        """True for a subtree."""
        return self.mode == TREE_MODE


class CatFile:
    """A running `git cat-file --batch` for the repository at ``cwd``; close() ends it."""

    def __init__(self, cwd: str) -> None:
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._trees: dict[str, dict[str, TreeEntry]] = {}
        self._blobs: dict[str, bytes] = {}  # prefetched blob contents, by id
        self.roots: dict[str, str] = {}  # commit → root tree, when known

    def __enter__(self) -> CatFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            import subprocess

            try:
                self._proc = subprocess.Popen(
                    ["git", "cat-file", "--batch"],
                    cwd=self.cwd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except FileNotFoundError:
                raise GitError("git is not installed", hint="install git and try again") from None
        return self._proc

    def close(self) -> None:
        """End the git process (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            proc.stdout.close()
            proc.wait()

    def read_many(self, names: Sequence[str]) -> list[GitObject | None]:
        """Objects by name (sha, `rev^{commit}`, `rev:path`...); None for a missing one."""
        found: list[GitObject | None] = []
        for start in range(0, len(names), _CHUNK):
            found.extend(self._exchange(names[start : start + _CHUNK]))
        return found

    def read(self, name: str) -> GitObject | None:
        """One object by name, or None if there is no such object."""
        return self._exchange([name])[0]

    def _exchange(self, names: Sequence[str]) -> list[GitObject | None]:
        if any("\n" in n for n in names):
            raise GitError("an object name cannot contain a newline")
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write("".join(f"{n}\n" for n in names).encode("utf-8", "surrogateescape"))
            proc.stdin.flush()
            return [self._answer(proc) for _ in names]
        except (BrokenPipeError, ValueError) as exc:
            self.close()
            raise GitError(f"git cat-file stopped: {exc}") from None

    def _answer(self, proc: subprocess.Popen[bytes]) -> GitObject | None:
        assert proc.stdout is not None
        header = proc.stdout.readline().decode("utf-8", "surrogateescape").split(" ")
        if not header[-1]:
            raise ValueError("no answer")
        if len(header) != 3 or header[-1].rstrip("\n") in ("missing", "ambiguous"):
            return None  # "<name> missing" or "<name> ambiguous"
        sha, kind, size = header
        data = proc.stdout.read(int(size) + 1)[:-1]
        return GitObject(sha, kind, data)

    # -- typed reads -----------------------------------------------------------------------

    def resolve(self, rev: str) -> str | None:
        """The commit sha a revision names (`HEAD`, `main~2`, a tag, a short sha), or None."""
        if not rev or rev.startswith("-"):
            return None
        obj = self.read(f"{rev}^{{commit}}")
        return obj.sha if obj is not None else None

    def commits(self, shas: Sequence[str]) -> list[CommitInfo | None]:
        """Commit infos of several commits (None for each one that is missing)."""
        return [
            parse_commit(obj) if obj is not None and obj.kind == "commit" else None
            for obj in self.read_many(shas)
        ]

    def commit(self, sha: str) -> CommitInfo:
        """The commit info of one commit; GitError if it is not a commit."""
        info = self.commits([sha])[0]
        if info is None:
            raise GitError(f"unknown Git revision '{sha}'")
        return info

    def tree(self, sha: str) -> dict[str, TreeEntry]:
        """Entries of one tree object, by name (memoised: trees never change)."""
        entries = self._trees.get(sha)
        if entries is None:
            obj = self.read(sha)
            if obj is None or obj.kind != "tree":
                raise GitError(f"'{sha}' is not a Git tree")
            entries = self._trees[sha] = parse_tree(obj.data)
        return entries

    def blob(self, sha: str) -> bytes:
        """The bytes of a blob."""
        found = self._blobs.get(sha)
        if found is not None:
            return found
        obj = self.read(sha)
        if obj is None or obj.kind != "blob":
            raise GitError(f"'{sha}' is not a Git blob")
        return obj.data

    def prefetch(self, commits: Sequence[str], files: Iterable[str]) -> None:
        """Read, in a few pipelined batches, what reading ``files`` of each commit needs.

        The root trees, the trees of the directories on the way, and the blobs of
        the files: afterwards those reads are answered from memory. Reading the
        same files of many commits one request at a time would wait on the pipe
        for each object.
        """
        blobs = {f.strip("/") for f in files} - {"", "."}
        levels: dict[int, set[str]] = {}
        for path in blobs:
            parts = path.split("/")
            for depth in range(1, len(parts) + 1):
                levels.setdefault(depth, set()).add("/".join(parts[:depth]))
        roots = self.read_many([f"{c}^{{tree}}" for c in commits])
        for commit, obj in zip(commits, roots, strict=True):
            if obj is not None and obj.kind == "tree":
                self.roots[commit] = obj.sha
                self._trees.setdefault(obj.sha, parse_tree(obj.data))
        for depth in sorted(levels):
            wanted: set[str] = set()
            for path in levels[depth]:
                for commit in commits:
                    entry = self._lookup(commit, path)
                    if entry is None or entry.sha in self._trees or entry.sha in self._blobs:
                        continue
                    if entry.is_dir or (path in blobs and entry.mode[:3] == "100"):
                        wanted.add(entry.sha)
            self._store(sorted(wanted))

    def _lookup(self, commit: str, path: str) -> TreeEntry | None:
        """The entry at ``path`` from memory only (None when not known yet)."""
        tree = self.roots.get(commit)
        entry: TreeEntry | None = None if tree is None else TreeEntry(TREE_MODE, tree)
        for part in path.split("/"):
            if entry is None or not entry.is_dir or entry.sha not in self._trees:
                return None
            entry = self._trees[entry.sha].get(part)
        return entry

    def _store(self, shas: Sequence[str]) -> None:
        for obj in self.read_many(shas):
            if obj is None:
                continue
            if obj.kind == "tree":
                self._trees[obj.sha] = parse_tree(obj.data)
            elif obj.kind == "blob":
                self._blobs[obj.sha] = obj.data

    def forget(self) -> None:
        """Drop prefetched objects (memory stays bounded over thousands of commits)."""
        self._blobs.clear()
        self._trees.clear()
        self.roots.clear()

    def ls_tree(self, commit: str) -> dict[str, TreeEntry]:
        """Every file of a commit, recursively: path → entry (like `git ls-tree -r`)."""
        out: dict[str, TreeEntry] = {}
        for path, entry in self._walk(self.commit(commit).tree, ""):
            out[path] = entry
        return out

    def _walk(self, tree: str, prefix: str) -> Iterator[tuple[str, TreeEntry]]:
        for name, entry in sorted(self.tree(tree).items()):
            path = prefix + name
            if entry.is_dir:
                yield from self._walk(entry.sha, path + "/")
            else:
                yield path, entry


def parse_commit(obj: GitObject) -> CommitInfo:
    """Tree, parents and committer time from a raw commit object.

    >>> raw = (b"tree " + b"a" * 40 + b"\\nparent " + b"b" * 40 +
    ...        b"\\nauthor A <a@x> 1 +0000\\ncommitter C <c@x> 1700000000 +0100\\n\\nmsg\\n")
    >>> info = parse_commit(GitObject("c" * 40, "commit", raw))
    >>> info.tree[:3], [p[:3] for p in info.parents], info.commit_time
    ('aaa', ['bbb'], 1700000000)
    """
    head = obj.data.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    tree, parents, when = "", [], 0
    for line in head.split("\n"):
        key, _, value = line.partition(" ")
        if key == "tree":
            tree = value
        elif key == "parent":
            parents.append(value)
        elif key == "committer":
            when = int(value.rsplit(" ", 2)[1])
    return CommitInfo(obj.sha, tree, tuple(parents), when)


def parse_tree(data: bytes) -> dict[str, TreeEntry]:
    """Entries of a raw tree object (`<mode> <name>\\0<20-byte id>` repeated).

    >>> parse_tree(b"100644 a.txt\\0" + bytes(20))
    {'a.txt': TreeEntry(mode='100644', sha='0000000000000000000000000000000000000000')}
    """
    entries: dict[str, TreeEntry] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        mode = data[pos:space].decode("ascii")
        entries[name] = TreeEntry(mode, data[nul + 1 : nul + 21].hex())
        pos = nul + 21
    return entries


class _Entry:
    """A directory-listing item of a Git tree (quacks like `os.DirEntry`)."""

    __slots__ = ("_dir", "name")

    def __init__(self, name: str, is_dir: bool) -> None:
        self.name = name
        self._dir = is_dir

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._dir


class GitTreeSource:
    """The files of one commit, for loading a pipeline as it was then (a FileSource).

    ``prefix`` is the project's directory inside the repository (`dvc init --subdir`).
    """

    def __init__(self, cat: CatFile, commit: str, prefix: str = "") -> None:
        self.cat = cat
        self.commit = commit
        self.prefix = prefix.strip("/")
        self._root: str | None = None
        self.read_paths: set[str] = set()  # repository paths of the files read (prefetching)

    def __repr__(self) -> str:
        return f"GitTreeSource({self.commit[:7]}, prefix={self.prefix!r})"

    def _root_tree(self) -> str:
        if self._root is None:
            known = self.cat.roots.get(self.commit)
            self._root = known if known is not None else self.cat.commit(self.commit).tree
        return self._root

    def entry(self, relpath: str, depth: int = 0) -> TreeEntry | None:
        """The tree entry at a project-relative path (symlinks inside the tree followed)."""
        full = posixpath.normpath(posixpath.join(self.prefix, relpath))
        if full == ".":
            return TreeEntry(TREE_MODE, self._root_tree())
        if full.startswith("../") or full == "..":
            return None
        entry: TreeEntry | None = TreeEntry(TREE_MODE, self._root_tree())
        for part in full.split("/"):
            if entry is None or not entry.is_dir:
                return None
            entry = self.cat.tree(entry.sha).get(part)
        if entry is not None and entry.mode == LINK_MODE and depth < 8:
            target = self.cat.blob(entry.sha).decode("utf-8", "surrogateescape")
            linked = posixpath.join(posixpath.dirname(full), target)
            rel = posixpath.relpath(posixpath.normpath(linked), self.prefix or ".")
            return self.entry(rel, depth + 1)
        return entry

    def read_bytes(self, relpath: str) -> bytes:
        """The bytes of a file; FileNotFoundError / IsADirectoryError as `open()` raises."""
        self.read_paths.add(posixpath.normpath(posixpath.join(self.prefix, relpath)))
        entry = self.entry(relpath)
        if entry is None or entry.mode == "160000":
            raise FileNotFoundError(2, "No such file or directory", relpath)
        if entry.is_dir:
            raise IsADirectoryError(21, "Is a directory", relpath)
        return self.cat.blob(entry.sha)

    def read_text(self, relpath: str) -> str:
        """The text of a file: UTF-8, universal newlines (as `open()` reads it)."""
        text = self.read_bytes(relpath).decode("utf-8")
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text

    def exists(self, relpath: str) -> bool:
        """True if a file or directory is there."""
        return self.entry(relpath) is not None

    def isfile(self, relpath: str) -> bool:
        """True for a file."""
        entry = self.entry(relpath)
        return entry is not None and not entry.is_dir and entry.mode != "160000"

    def isdir(self, relpath: str) -> bool:
        """True for a directory."""
        entry = self.entry(relpath)
        return entry is not None and entry.is_dir

    def scandir(self, relpath: str) -> list[_Entry]:
        """The entries of a directory; NotADirectoryError/FileNotFoundError otherwise."""
        entry = self.entry(relpath)
        if entry is None:
            raise FileNotFoundError(2, "No such file or directory", relpath)
        if not entry.is_dir:
            raise NotADirectoryError(20, "Not a directory", relpath)
        return [_Entry(name, e.is_dir) for name, e in self.cat.tree(entry.sha).items()]


def all_commits(cwd: str) -> list[str]:
    """Every commit reachable from HEAD, branches, tags and remotes, newest first.

    What `exp show -A` takes as baselines (DVC walks the same starting points by date).
    """
    from labrun.scm.git import run_git

    out = run_git(cwd, ["rev-list", "--date-order", "HEAD", "--branches", "--tags", "--remotes"])
    return out.split()
