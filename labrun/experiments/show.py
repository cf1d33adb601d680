"""`exp show` data: baselines, their experiments in groups, each with its row data.

The result is DVC 3.67's JSON layout, a list of baseline states:

    {"rev": sha | "workspace", "name": label | None, "data": row | None,
     "error": {"msg", "type"} | None,
     "experiments": [{"revs": [state, ...], "executor": executor | None,
                      "name": name}, ...] | None}

where a row is ``{"rev", "timestamp", "params", "metrics", "deps", "outs",
"meta"}`` (`collect.py`). Under each baseline come its running experiments,
then the finished ones (every ``refs/exps/<baseline>/<name>``), then queued,
then failed ones, each group newest first. Queued, running and failed entries
come from the caller as :class:`QueueRow` values (the queue owns them).

Collected rows are kept by commit sha in the row cache (`revisions.py`), so a
warm `exp show` reads refs, one SQLite file and the working tree, and starts
no process at all.

    >>> states = collect_experiments(project, ShowOptions())   # doctest: +SKIP
    >>> [s["name"] or s["rev"] for s in states]                # doctest: +SKIP
    ['workspace', 'main']
"""

from __future__ import annotations

from labrun.experiments.collect import Collected, CollectOptions
from labrun.experiments.refs import EXPS
from labrun.experiments.revisions import (
    Revisions,
    UnknownRevisionError,
    collect_options,
    collect_workspace,
    timestamp,
)
from labrun.experiments.showjson import RawData, RawJSON, range_text, stamp_of, state_text
from labrun.record import field, record
from labrun.scm import git

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from labrun.project import Project
    from labrun.scm.catfile import CommitInfo

    _Range = dict[str, Any] | RawJSON  # an item of a baseline's "experiments"

__all__ = [
    "QueueRow",
    "ShowOptions",
    "UnknownRevisionError",
    "collect_experiments",
    "select_baselines",
]

QUEUE_STATES = ("running", "queued", "failed", "success")


@record
class ShowOptions:
    """Which baselines and rows `exp show` gathers (the table options are separate)."""

    revs: tuple[str, ...] = ()
    num: int = 1
    all_branches: bool = False
    all_tags: bool = False
    all_commits: bool = False
    hide_queued: bool = False
    hide_failed: bool = False
    hide_workspace: bool = False
    sha_only: bool = False
    param_deps: bool = False
    force: bool = False  # ignore the row cache


@record
class QueueRow:
    """An experiment a queue knows about: queued, running, failed, or finished by a task.

    ``rev`` is the entry's commit (shown as the row's rev; its files give the row
    data unless ``params`` is given). A running entry may name the directory it
    runs in (``workdir``): that directory is collected as a work tree. A
    ``success`` entry only decorates the finished experiment ``result_ref``
    with its executor. ``local`` is DVC's executor detail
    (``root``, ``log``, ``pid``, ``returncode``, ``task_id``).
    """

    rev: str
    baseline: str
    state: str  # one of QUEUE_STATES
    name: str | None = None
    executor: str | None = None  # "workspace", "tempdir" or "dvc-task"
    created: int | None = None  # unix time; default: the commit time of ``rev``
    params: dict[str, Any] | None = None  # params per file, as in a row
    workdir: str | None = None
    result_ref: str | None = None
    local: dict[str, Any] | None = field(default=None, compare=False)

    def executor_json(self) -> dict[str, Any]:
        """The ``executor`` object of DVC's JSON."""
        local = None
        if self.local is not None:
            keys = ("root", "log", "pid", "returncode", "task_id")
            local = {k: self.local.get(k) for k in keys}
        return {"state": self.state, "name": self.executor, "local": local}


def state(
    rev: str,
    name: str | None,
    row: Collected,
    when: int | None,
    experiments: list[_Range] | None = None,
) -> dict[str, Any]:
    """One revision in DVC's JSON layout."""
    data = None
    if row.data is not None:
        data = {"rev": rev, "timestamp": timestamp(when), **row.data}
    return {"rev": rev, "name": name, "data": data, "error": row.error, "experiments": experiments}


# --- baselines --------------------------------------------------------------------------------


def select_baselines(revs: Revisions, options: ShowOptions) -> list[str]:
    """Baseline shas in DVC's order: --rev (with -n), then branches, then tags (or -A)."""
    wanted = list(options.revs)
    if not (wanted or options.all_branches or options.all_tags or options.all_commits):
        wanted = ["HEAD"]
    found: list[str] = []
    for rev in wanted:
        if options.num != 0:
            found.extend(revs.first_parents(revs.resolve(rev), options.num))
    if options.all_commits:
        found.extend(_all_commits(revs))
    else:
        if options.all_branches:
            for _ref, sha in sorted(git.read_refs(revs.gdir, "refs/heads/").items()):
                if options.num != 0:
                    found.extend(revs.first_parents(sha, options.num))
        if options.all_tags:
            found.extend(_tag_commits(revs))
    return list(dict.fromkeys(found))


def _tag_commits(revs: Revisions) -> list[str]:
    tags = sorted(git.read_refs(revs.gdir, "refs/tags/"))
    shas = [revs.cat().resolve(ref) for ref in tags]
    return [s for s in shas if s is not None]


def _all_commits(revs: Revisions) -> list[str]:
    from labrun.scm.catfile import all_commits

    return all_commits(revs.root)


def describe(revs: Revisions, shas: Sequence[str]) -> dict[str, str]:
    """Labels: the current branch for HEAD, else a tag, else a branch (first by name)."""
    head, branch = revs.head()
    labels: dict[str, str] = {}
    wanted = set(shas)
    for prefix in ("refs/heads/", "refs/tags/"):  # tags win over branches
        refs = git.read_refs(revs.gdir, prefix)
        if prefix == "refs/tags/":
            refs = _peeled(revs, refs, wanted)
        for ref, sha in sorted(refs.items(), reverse=True):
            if sha in wanted:
                labels[sha] = ref[len(prefix) :]
    if head in wanted and branch is not None and branch.startswith("refs/heads/"):
        labels[head] = branch[len("refs/heads/") :]
    return labels


def _peeled(revs: Revisions, tags: dict[str, str], wanted: set[str]) -> dict[str, str]:
    """Tags → commits: an annotated tag names a tag object, which Git peels.

    Only tags that do not name a wanted commit are looked at, and what Git says
    is kept in the row cache (tag objects never change): a warm `exp show`
    starts no process here either.
    """
    unknown = sorted({s for s in tags.values() if s not in wanted})
    if not unknown:
        return tags
    commit_of = revs.cache.get_peeled(unknown)
    missing = [s for s in unknown if s not in commit_of]
    if missing:
        found = revs.cat().read_many([f"{sha}^{{commit}}" for sha in missing])
        fresh = {sha: obj.sha for sha, obj in zip(missing, found, strict=True) if obj}
        revs.cache.put_peeled(fresh)
        commit_of.update(fresh)
    return {ref: commit_of.get(sha, sha) for ref, sha in tags.items()}


# --- experiments of the baselines -----------------------------------------------------------


class Finished:
    """A finished experiment of a baseline: its name, ref, and commits from the tip down."""

    __slots__ = ("chain", "name", "ref")

    def __init__(self, name: str, ref: str, chain: list[str]) -> None:
        self.name = name
        self.ref = ref
        self.chain = chain


def exp_tips(gdir: str, baselines: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
    """baseline → its experiments as (name, ref, tip sha), sorted by name (so by ref).

    The refs are read once, under the one baseline's directory when there is
    one (as `refs.ExpRef.parse` reads names: ``refs/exps/<bl[:2]>/<bl[2:]>/<name>``).

        >>> exp_tips("/nonexistent/.git", ["a" * 40])
        {'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': []}
    """
    prefixes = {f"{EXPS}/{b[:2]}/{b[2:]}/": b for b in baselines}
    found: dict[str, list[tuple[str, str, str]]] = {b: [] for b in baselines}
    if not prefixes:
        return found
    cut = len(next(iter(prefixes)))
    where = next(iter(prefixes)) if len(prefixes) == 1 else f"{EXPS}/"
    for ref, sha in git.read_refs(gdir, where).items():
        baseline = prefixes.get(ref[:cut])
        name = ref[cut:]
        if baseline is not None and name and "/" not in name:
            found[baseline].append((name, ref, sha))
    for group in found.values():
        group.sort()  # by name: the refs of a baseline differ only there
    return found


def _ranges_of(revs: Revisions, baselines: Sequence[str]) -> dict[str, list[Finished]]:
    """baseline → its finished experiments, each with its commits from the tip down."""
    tips = exp_tips(revs.gdir, baselines)
    revs.infos([sha for group in tips.values() for _, _, sha in group])
    return {
        baseline: [Finished(name, ref, _chain(revs, tip, baseline)) for name, ref, tip in group]
        for baseline, group in tips.items()
    }


def _chain(revs: Revisions, tip: str, baseline: str) -> list[str]:
    """The experiment's commits: the tip, then first parents until the baseline."""
    chain = [tip]
    while True:
        info = revs.info(chain[-1])
        if info is None or not info.parents or info.parents[0] == baseline:
            return chain
        if info.parents[0] in chain:
            return chain
        chain.append(info.parents[0])


def _sort_key(item: _Range) -> tuple[str, str]:
    """Newest first by the head row's timestamp, ties by rev (descending), as DVC sorts."""
    if isinstance(item, RawJSON):
        return item.key
    head = item["revs"][0] if item["revs"] else None
    stamp = stamp_of(head["data"]) if head else None
    return (stamp, head["rev"]) if head and stamp else ("", "")


def collect_experiments(
    project: Project,
    options: ShowOptions,
    queue_rows: Sequence[QueueRow] = (),
    *,
    raw: bool = False,
) -> list[dict[str, Any]]:
    """Every selected baseline with its experiments, in DVC's JSON layout (module docstring).

    With ``raw``, rows read back from the row cache stay JSON text (:class:`RawData`)
    for :func:`dump_states`.
    """
    revs = Revisions(project, use_cache=not options.force)
    try:
        return _collect(revs, options, queue_rows, raw)
    finally:
        revs.close()


def _collect(
    revs: Revisions, options: ShowOptions, queue_rows: Sequence[QueueRow], raw: bool
) -> list[dict[str, Any]]:
    if revs.head()[0] is None:
        return []  # no commits yet
    copts = collect_options(revs.project, options.param_deps)
    baselines = select_baselines(revs, options)
    names = {} if options.sha_only else describe(revs, baselines)
    finished = _ranges_of(revs, baselines)
    queued = [q for q in queue_rows if q.baseline in finished and _shown(q, options)]
    shas = [*baselines, *(s for group in finished.values() for exp in group for s in exp.chain)]
    shas.extend(q.rev for q in queued if q.params is None and q.workdir is None)
    infos = revs.infos(shas)
    rows = revs.rows([s for s in shas if s in infos], copts, options.force)
    build = _Builder(revs, rows, infos, copts, raw)
    result = []
    if not options.hide_workspace:
        result.append(state("workspace", None, collect_workspace(revs.project, copts), None))
    for baseline in baselines:
        mine = [q for q in queued if q.baseline == baseline]
        experiments = build.experiments(finished[baseline], mine)
        result.append(build.state(baseline, names.get(baseline), experiments or None))
    return result


def _shown(row: QueueRow, options: ShowOptions) -> bool:
    if row.state == "queued":
        return not options.hide_queued
    if row.state == "failed":
        return not options.hide_failed
    return True


_EMPTY: dict[str, Any] = {"params": {}, "metrics": {}, "deps": {}, "outs": {}, "meta": {}}


@record(frozen=False)
class _Builder:
    """Assembles states from the rows and commit infos gathered for one command."""

    revs: Revisions
    rows: dict[str, Collected]
    infos: dict[str, CommitInfo]
    copts: CollectOptions
    raw: bool = False

    def state(
        self, sha: str, name: str | None, experiments: list[_Range] | None = None
    ) -> dict[str, Any]:
        info = self.infos.get(sha)
        row = self.rows.get(sha) or Collected(error={"msg": f"unknown commit {sha}", "type": ""})
        when = info.commit_time if info else None
        if self.raw and row.has_text:  # keep the cached text: `--json` copies it as is
            found = state(sha, name, Collected(error=row.error), when, experiments)
            found["data"] = RawData(sha, timestamp(when), row.text or "{}")
            return found
        return state(sha, name, row, when, experiments)

    def experiments(self, finished: list[Finished], queued: list[QueueRow]) -> list[_Range]:
        """Running, finished, queued and failed ranges of one baseline, in DVC's order."""
        success = {q.result_ref: q for q in queued if q.state == "success" and q.result_ref}
        groups: dict[str, list[_Range]] = {
            "running": [],
            "finished": [],
            "queued": [],
            "failed": [],
        }
        for exp in finished:
            task = success.get(exp.ref) if success else None
            executor = task.executor_json() if task is not None else None
            groups["finished"].append(self.finished_range(exp, executor))
        for q in queued:
            if q.state in groups:
                groups[q.state].append(self.queue_range(q))
        ordered = (sorted(group, key=_sort_key, reverse=True) for group in groups.values())
        return [item for group in ordered for item in group]

    def finished_range(self, exp: Finished, executor: dict[str, Any] | None) -> _Range:
        """The range of a finished experiment: as JSON text when raw and every row is cached."""
        if self.raw and executor is None:
            found = self.raw_range(exp)
            if found is not None:
                return found
        states = [self.state(sha, None) for sha in exp.chain]
        states[0]["name"] = exp.name
        return {"revs": states, "executor": executor, "name": exp.name}

    def raw_range(self, exp: Finished) -> RawJSON | None:
        """The range as JSON text from the cached rows' texts (None unless all are cached).

        Thousands of experiments go through here: it is written for speed.
        """
        texts = []
        name: str | None = exp.name
        head_stamp = None
        for sha in exp.chain:
            row = self.rows.get(sha)
            if row is None or row.error is not None or not row.has_text:
                return None
            info = self.infos.get(sha)
            stamp = timestamp(info.commit_time) if info is not None else None
            texts.append(state_text(sha, name, stamp, row.text or "{}"))
            if name is not None:
                head_stamp, name = stamp, None
        key = (head_stamp, exp.chain[0]) if head_stamp else ("", "")
        return RawJSON(range_text(texts, exp.name), key)

    def queue_range(self, q: QueueRow) -> dict[str, Any]:
        """The range of a queued, running or failed entry."""
        info = self.infos.get(q.rev)
        when = q.created
        if when is None and q.workdir is None and info is not None:
            when = info.commit_time  # a running work tree has no time of its own, as in DVC
        if q.params is not None:
            row = Collected(data={**_EMPTY, "params": q.params})
        elif q.workdir is not None:
            row = collect_workspace(self.revs.project, self.copts, root=q.workdir)
        else:
            row = self.rows.get(q.rev) or Collected(data=dict(_EMPTY))
        if q.state == "queued" and row.data is not None:
            row = Collected(data={**row.data, "metrics": {}}, error=row.error)
        if q.state == "failed":
            row = Collected(data=row.data, error={"msg": "Experiment run failed", "type": ""})
        executor = q.executor_json()
        return {"revs": [state(q.rev, q.name, row, when)], "executor": executor, "name": q.name}
