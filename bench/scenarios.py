"""The scenario table: every benchmark is one row of data, none is a function.

A row names the scratch project it runs in (built by `projects.py`), the
arguments given to `dvc` and to `labrun`, the untimed reset done before each
timed run, and optional reference commands ("baselines": the physical limits
or the stage commands alone). Arguments may hold `{size}` placeholders, filled
from `Sizes`, plus `{python}` (the interpreter running the suite) and `{cmds}`
(the template's script of stage commands).

    >>> by_name("stage-list-3").labrun
    ('stage', 'list')
    >>> Sizes().scaled(0.1).stages
    50
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Argv = tuple[str, ...]


@dataclass(frozen=True)
class Sizes:
    """Every size a scenario can depend on; each field is also a flag of run.py."""

    big_mib: int = field(default=1024, metadata={"help": "size of the big file, MiB"})
    files: int = field(default=70_000, metadata={"help": "files in the MNIST-like tree"})
    file_bytes: int = field(default=275, metadata={"help": "mean size of those files, bytes"})
    stages: int = field(default=500, metadata={"help": "stages of the foreach pipeline"})
    exps_few: int = field(default=50, metadata={"help": "experiments for exp-show-few"})
    exps_many: int = field(default=1000, metadata={"help": "experiments for exp-show-many"})
    queued: int = field(default=8, metadata={"help": "queued experiments for queue-run-all"})
    sleep: float = field(default=1.0, metadata={"help": "seconds a sleeping stage sleeps"})
    width: int = field(default=2, metadata={"help": "parallel branches of the diamond"})
    jobs: int = field(default=2, metadata={"help": "workers/jobs for -j"})

    def scaled(self, factor: float) -> Sizes:
        """The same sizes with every count that `--size-scale` scales multiplied by `factor`."""
        changes = {
            name: max(low, round(getattr(self, name) * factor)) for name, low in SCALABLE.items()
        }
        return dataclasses.replace(self, **changes)

    def placeholders(self) -> dict[str, str]:
        """Values for `{name}` placeholders in arguments and labels."""
        return {f.name: f"{getattr(self, f.name):g}" for f in dataclasses.fields(self)}


# size → smallest value `--size-scale` may shrink it to
SCALABLE: dict[str, int] = {
    "big_mib": 1,
    "files": 10,
    "stages": 3,
    "exps_few": 2,
    "exps_many": 10,
}


@dataclass(frozen=True)
class Reset:
    """What to undo, untimed, before each timed run of a command that changes its project.

    `keep`: nothing (read-only command); `fresh`: replace the project with a new
    copy of its template (and drop DVC's site cache); `touch`: bump the mtime of
    `path`; `remove`: delete `path` (e.g. the workspace copy of tracked data).
    """

    kind: Literal["keep", "fresh", "touch", "remove"]
    path: str = ""


KEEP = Reset("keep")
FRESH = Reset("fresh")


@dataclass(frozen=True)
class Baseline:
    """A reference command timed in the same alternation (runs in its own copy, never reset)."""

    label: str
    argv: Argv


MD5 = Baseline(
    "hashlib md5",
    (
        "{python}",
        "-c",
        "import hashlib,sys;h=hashlib.md5();f=open(sys.argv[1],'rb');"
        "[h.update(b) for b in iter(lambda:f.read(1<<20),b'')];print(h.hexdigest())",
        "big.dat",
    ),
)
CAT = Baseline("cat > /dev/null", ("sh", "-c", "cat big.dat > /dev/null"))
COMMANDS = Baseline("commands alone", ("sh", "{cmds}"))
# The file system's floor for putting a tree in place: a plain recursive copy into a
# new folder each run (creating files is most of a checkout's cost on some disks).
CP_TREE = Baseline("cp -r of the tree", ("sh", "-c", "cp -r mnist copy-$$"))


@dataclass(frozen=True)
class Scenario:
    """One benchmark row.

    `project` names a builder in projects.PROJECTS; `dvc`/`labrun` are the
    arguments after the program name; `size` labels the row; `prepare` is a
    tool command run untimed after each reset, `prepare_count` times (a Sizes
    field, `{i}` counting from 1); `stages` is how many stage commands a run
    executes (a Sizes field or a number), for per-stage overhead; `ideal`
    gives the best possible time; `linger` watches for workers left running;
    `first_run` reports the warm-up (cold cache) time too.
    """

    name: str
    what: str
    project: str
    dvc: Argv
    labrun: Argv
    size: str = ""
    reset: Reset = KEEP
    prepare: Argv = ()
    prepare_count: str = ""
    baselines: tuple[Baseline, ...] = ()
    stages: str = ""
    ideal: Callable[[Sizes], float] | None = None
    linger: bool = False
    first_run: bool = False

    def prepare_argvs(self, sizes: Sizes) -> list[Argv]:
        """Tool commands run untimed after each reset (`{i}` counts from 1)."""
        if not self.prepare:
            return []
        count = getattr(sizes, self.prepare_count) if self.prepare_count else 1
        return [tuple(a.replace("{i}", str(i)) for a in self.prepare) for i in range(1, count + 1)]

    def stage_count(self, sizes: Sizes) -> int | None:
        """How many stage commands one run executes, for per-stage overhead."""
        if not self.stages:
            return None
        return int(getattr(sizes, self.stages)) if self.stages.isidentifier() else int(self.stages)


def _queue_ideal(s: Sizes) -> float:
    return math.ceil(s.queued / s.jobs) * s.sleep


def _diamond_ideal(s: Sizes) -> float:
    return (2 + math.ceil(s.width / s.jobs)) * s.sleep


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("startup-version", "`--version` (interpreter + import start-up)", "none",
             ("--version",), ("--version",)),
    Scenario("startup-status", "`status` in an empty initialised repo", "empty",
             ("status",), ("status",)),
    Scenario("stage-list-3", "`stage list` on the 3-stage project", "three",
             ("stage", "list"), ("stage", "list"), size="3 stages"),
    Scenario("stage-list-foreach", "`stage list` on the foreach pipeline", "foreach",
             ("stage", "list"), ("stage", "list"), size="{stages} stages"),
    Scenario("status-noop-3", "no-op `status`, 3-stage project", "three",
             ("status",), ("status",), size="3 stages"),
    Scenario("repro-noop-3", "no-op `repro`, 3-stage project", "three",
             ("repro",), ("repro",), size="3 stages"),
    Scenario("status-noop-foreach", "no-op `status`, foreach pipeline", "foreach-done",
             ("status",), ("status",), size="{stages} stages"),
    Scenario("repro-noop-foreach", "no-op `repro`, foreach pipeline", "foreach-done",
             ("repro",), ("repro",), size="{stages} stages"),
    Scenario("repro-full-foreach", "first full `repro` of the foreach pipeline", "foreach",
             ("repro",), ("repro",), size="{stages} stages", reset=FRESH,
             baselines=(COMMANDS,), stages="stages"),
    Scenario("add-big", "`add` of one big file", "big",
             ("add", "big.dat"), ("add", "big.dat"), size="{big_mib} MiB", reset=FRESH,
             baselines=(MD5, CAT)),
    Scenario("status-touch-big", "`status` after `touch` of the big tracked file", "big-added",
             ("status",), ("status",), size="{big_mib} MiB", reset=Reset("touch", "big.dat")),
    Scenario("add-files", "`add` of an MNIST-like tree of small files", "mnist",
             ("add", "mnist"), ("add", "mnist"), size="{files} files", reset=FRESH),
    Scenario("status-files", "no-op `status` of the tracked tree", "mnist-added",
             ("status",), ("status",), size="{files} files"),
    Scenario("checkout-files", "`checkout` after `rm -rf` of the tracked tree", "mnist-added",
             ("checkout",), ("checkout",), size="{files} files",
             reset=Reset("remove", "mnist"), baselines=(CP_TREE,)),
    Scenario("exp-run-3", "`exp run -S` on the 3-stage project (all 3 stages rerun)", "three",
             ("exp", "run", "-S", "prepare.split=0.3"),
             ("exp", "run", "-S", "prepare.split=0.3"),
             size="3 stages", reset=FRESH, baselines=(COMMANDS,), stages="3"),
    Scenario("queue-run-all", "queued experiments, `exp run --run-all -j N`", "queue",
             ("exp", "run", "--run-all", "-j", "{jobs}"),
             ("exp", "run", "--run-all", "-j", "{jobs}"),
             size="{queued} × {sleep} s, -j {jobs}", reset=FRESH,
             prepare=("exp", "run", "--queue", "-S", "train.seed={i}"), prepare_count="queued",
             ideal=_queue_ideal, linger=True),
    Scenario("exp-show-few", "`exp show --json`", "exps-few",
             ("exp", "show", "--json"), ("exp", "show", "--json"), size="{exps_few} exps",
             first_run=True),
    Scenario("exp-show-many", "`exp show --json`", "exps-many",
             ("exp", "show", "--json"), ("exp", "show", "--json"), size="{exps_many} exps",
             first_run=True),
    Scenario("repro-j-diamond", "diamond of sleeping stages: labrun `repro -j N`, DVC serial "
             "(it has no -j)", "diamond",
             ("repro",), ("repro", "-j", "{jobs}"),
             size="{width} wide × {sleep} s, -j {jobs}", reset=FRESH, ideal=_diamond_ideal),
)  # fmt: skip


def by_name(name: str) -> Scenario:
    """The scenario called `name` (KeyError if there is none)."""
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)
