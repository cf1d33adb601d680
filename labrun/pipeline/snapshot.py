"""Reading a project from a snapshot (a Git commit): what differs from the working tree.

The loaders take any `labrun.pipeline.source.FileSource`; this module adds what
a snapshot needs on top, such as `.dvcignore` rules read from the snapshot
itself rather than from the disk.

    >>> from labrun.pipeline.source import WorkspaceSource
    >>> ignored = ignore_filter(WorkspaceSource("/nonexistent"))
    >>> ignored("data/x.tmp", False), ignored(".git", True)
    (False, True)
"""

from __future__ import annotations

from labrun.ignore import IgnoreFileError, Rule, RuleSet, compile_rule, compile_rules

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable

    from labrun.pipeline.source import FileSource

_BUILTIN_PATTERNS = (".hg/", ".git/", ".git", ".dvc/")


def ignore_filter(source: FileSource) -> Callable[[str, bool], bool]:
    """`.dvcignore` rules read from ``source`` (root and nested files), as an index filter.

    The working tree has its own filter (`labrun.ignore.DvcIgnore`, plus Git's
    ignores); this one serves snapshots, where Git-ignored files are absent anyway.
    """
    sets: dict[str, RuleSet] = {}

    def rules_for(dirrel: str) -> RuleSet:
        found = sets.get(dirrel)
        if found is None:
            if dirrel:
                parent = rules_for(dirrel.rpartition("/")[0])
            else:
                parent = RuleSet(_builtin_rules())
            found = sets[dirrel] = _extended(source, parent, dirrel)
        return found

    def ignored(relpath: str, is_dir: bool) -> bool:
        return rules_for(relpath.rpartition("/")[0]).decide_path(relpath, is_dir)[0]

    return ignored


def _builtin_rules() -> tuple[Rule, ...]:
    rules = (compile_rule(p, source="", line=0, text=p) for p in _BUILTIN_PATTERNS)
    return tuple(r for r in rules if r is not None)


def _extended(source: FileSource, parent: RuleSet, dirrel: str) -> RuleSet:
    name = f"{dirrel}/.dvcignore" if dirrel else ".dvcignore"
    if not source.isfile(name) or parent.decide_path(name, False)[0]:
        return parent
    try:
        lines = source.read_text(name).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise IgnoreFileError(f"unable to read '{name}': {exc}") from exc
    rules = compile_rules(lines, name, dirrel)
    return parent.extended(rules) if rules else parent
