"""Walk a plan: one stage at a time (DVC's behaviour) or ``jobs`` at a time.

    >>> result = execute(ctx, plan, ReproOptions(jobs=2))     # doctest: +SKIP
    >>> result.failed                                         # doctest: +SKIP
    []

Failure handling (repro.md 7): "fail" stops at the first failure; "keep-going"
skips every dependent of a failed stage and goes on with the rest;
"ignore" goes on with everything. With ``jobs > 1`` independent stages run
concurrently, a stage starts only when all its planned dependencies are done,
lock-file writes are serialised, and command output is captured line by line
(emitted as Output events, which the console prefixes with the stage name).
"""

from __future__ import annotations

from _thread import allocate_lock  # `threading` costs start-up time

from labrun.errors import LabrunError
from labrun.pipeline.stage import Stage
from labrun.record import field, record
from labrun.repro.context import RunContext, records_by_path
from labrun.repro.events import StageFailed, StageSucceeded
from labrun.repro.options import ReproOptions
from labrun.repro.plan import Plan
from labrun.repro.run import reproduce_stage

TYPE_CHECKING = False  # for the type checker only: see run_parallel
if TYPE_CHECKING:
    from concurrent.futures import Future


@record(frozen=False)
class RunResult:
    """What happened to each planned stage."""

    outcomes: dict[str, str] = field(default_factory=dict)  # addressing → outcome
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True if any stage ran, was restored or re-verified."""
        return any(o in ("ran", "restored", "verified") for o in self.outcomes.values())


class ReproFailedError(LabrunError):
    """One or more stages failed (the message is DVC's summary line)."""


def execute(ctx: RunContext, plan: Plan, opts: ReproOptions) -> RunResult:
    """Run the plan; raises ReproFailedError when a stage failed (unless ignoring errors)."""
    runner = _Runner(ctx, plan, opts)
    if opts.jobs > 1 and not opts.interactive:
        ctx.capture = True
        runner.run_parallel(opts.jobs)
    else:
        runner.run_serial()
    return runner.finish()


class _Runner:
    def __init__(self, ctx: RunContext, plan: Plan, opts: ReproOptions) -> None:
        self.ctx, self.plan, self.opts = ctx, plan, opts
        self.result = RunResult()
        self.skip: set[int] = set()
        self.forced: set[int] = set()
        self.stop = False
        self.lock = allocate_lock()

    def run_serial(self) -> None:
        for i in range(len(self.plan.stages)):
            if self.stop:
                break
            if i not in self.skip:
                self._one(i)

    def run_parallel(self, jobs: int) -> None:
        # imported here: concurrent.futures (and the logging it imports) costs a serial
        # run, such as every `exp run`, more start-up time than the rest of this module
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        done: set[int] = set()
        running: dict[Future[None], int] = {}
        pending = list(range(len(self.plan.stages)))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            while pending or running:
                ready = [i for i in pending if all(d in done for d in self.plan.deps[i])]
                for i in ready:
                    if self.stop or len(running) >= jobs:
                        break
                    pending.remove(i)
                    if i in self.skip:
                        done.add(i)
                        continue
                    running[pool.submit(self._one, i)] = i
                if not running:
                    if self.stop or not pending:
                        break
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    done.add(running.pop(future))

    def _one(self, i: int) -> None:
        stage = self.plan.stages[i]
        addr = self.ctx.addressing(stage)
        try:
            outcome = reproduce_stage(self.ctx, stage, self.opts, force=i in self.forced)
        except LabrunError as exc:
            self._failed(i, addr, exc.message)
            return
        with self.lock:
            self._remember_outs(stage)
            self.result.outcomes[addr] = outcome
            if outcome != "skipped":
                self.ctx.reporter.emit(StageSucceeded(addr, ran=outcome == "ran"))
                if self.opts.force_downstream:
                    self.forced |= {j for j, d in enumerate(self.plan.deps) if i in d}

    def _remember_outs(self, stage: Stage) -> None:
        for out in records_by_path(self.ctx.recorded(stage), "outs").values():
            if "md5" in out:
                self.ctx.recorded_outs[stage.abspath(self.ctx.root, out["path"])] = out["md5"]

    def _failed(self, i: int, addr: str, message: str) -> None:
        with self.lock:
            self.result.outcomes[addr] = "failed"
            self.result.failed.append(addr)
            self.result.errors[addr] = message
            skipped: list[str] = []
            if self.opts.on_error == "keep-going":
                dependents = self.plan.dependents(i) - self.skip
                self.skip |= dependents
                skipped = [self.ctx.addressing(self.plan.stages[j]) for j in sorted(dependents)]
            elif self.opts.on_error == "fail":
                self.stop = True
            self.ctx.reporter.emit(StageFailed(addr, message, skipped, mode=self.opts.on_error))

    def finish(self) -> RunResult:
        failed = self.result.failed
        if not failed or self.opts.on_error == "ignore":
            return self.result
        if self.opts.on_error == "fail":
            raise ReproFailedError(
                f"failed to reproduce '{failed[0]}': {self.result.errors[failed[0]]}"
            )
        if len(failed) == 1:
            raise ReproFailedError(f"failed to reproduce '{failed[0]}'")
        quoted = [f"'{n}'" for n in failed]
        names = ", ".join(quoted[:-1]) + " and " + quoted[-1]
        raise ReproFailedError(f"failed to reproduce stages: {names}")
