"""ExpRef, the ref namespace of experiments, and every query over experiment refs.

A finished experiment is a commit reachable only from
``refs/exps/<bl[:2]>/<bl[2:]>/<name>`` (``bl`` = the baseline commit). The
other refs under ``refs/exps/`` (exec, temp, celery, apply, stash) are DVC's
bookkeeping and are never experiments. labrun keeps its own queue entries
under ``refs/labrun/`` so that `dvc` never mistakes them for experiments.

    >>> r = ExpRef.parse("refs/exps/8c/4051ab8f7c867aa8681b7a5a13572d02405837/roily-flea")
    >>> r.name, r.baseline[:7], r.ref == ExpRef(r.baseline, "roily-flea").ref
    ('roily-flea', '8c4051a', True)
"""

from __future__ import annotations

from labrun.errors import LabrunError
from labrun.record import record
from labrun.scm import git

EXPS = "refs/exps"
EXEC_NS = f"{EXPS}/exec"
EXEC_APPLY = f"{EXEC_NS}/EXEC_APPLY"
EXEC_BRANCH = f"{EXEC_NS}/EXEC_BRANCH"
APPLY_NS = f"{EXPS}/apply"
APPLY_HEAD = f"{APPLY_NS}/ORIG_HEAD"
APPLY_STASH = f"{APPLY_NS}/stash"
CELERY_NS = f"{EXPS}/celery"
TEMP_NS = f"{EXPS}/temp"
STASHES = (f"{EXPS}/stash", f"{CELERY_NS}/stash")
LABRUN_NS = "refs/labrun"
QUEUE_NS = f"{LABRUN_NS}/queue"  # one ref per queue entry: keeps its workspace commit alive
_SKIP = (f"{EXEC_NS}/", f"{APPLY_NS}/", f"{CELERY_NS}/", f"{TEMP_NS}/")


class ExperimentError(LabrunError):
    """An experiment command cannot do what was asked."""


class InvalidNameError(ExperimentError):
    """An experiment name that Git cannot store as a ref."""


class ExperimentExistsError(ExperimentError):
    """An experiment with this name already exists under the baseline."""

    def __init__(self, name: str, command: str = "labrun exp run -f ...") -> None:
        super().__init__(
            f"Experiment conflicts with existing experiment '{name}'. To overwrite the "
            f"existing experiment run:\n\n\t{command}\n"
        )


class AmbiguousNameError(ExperimentError):
    """A name that exists under several baselines, none of them HEAD."""

    def __init__(self, name: str, refs: list[ExpRef]) -> None:
        listing = "".join(f"\n\t{r.ref}" for r in refs)
        super().__init__(
            f"Ambiguous name '{name}' refers to multiple experiments. Use one of the "
            f"following full refnames instead:\n{listing}"
        )


@record
class ExpRef:
    """The ref of one experiment: baseline commit + name."""

    baseline: str
    name: str

    @property
    def ref(self) -> str:
        """The full ref name."""
        return f"{EXPS}/{self.baseline[:2]}/{self.baseline[2:]}/{self.name}"

    @classmethod
    def parse(cls, ref: str) -> ExpRef | None:
        """The ExpRef of a full experiment ref name, or None for any other ref."""
        if not ref.startswith(f"{EXPS}/") or ref.startswith(_SKIP) or ref in STASHES:
            return None
        parts = ref.split("/")
        if len(parts) != 5 or len(parts[2]) != 2 or len(parts[3]) != 38:
            return None
        return cls(parts[2] + parts[3], parts[4])


def validate_name(baseline: str, name: str) -> None:
    """Raise InvalidNameError unless ``name`` can be the last part of an experiment ref."""
    if "/" in name or not git.check_ref_format(ExpRef(baseline, name).ref):
        raise InvalidNameError(
            f"Invalid exp name {name}, the exp name must follow rules in "
            "https://git-scm.com/docs/git-check-ref-format",
            hint="use letters, digits, '-', '_' and '.', without spaces",
        )


def iter_exp_refs(gdir: str) -> list[tuple[ExpRef, str]]:
    """Every experiment (ref, commit sha), sorted by ref name; bookkeeping refs skipped."""
    found = []
    for name, sha in sorted(git.read_refs(gdir, f"{EXPS}/").items()):
        exp = ExpRef.parse(name)
        if exp is not None:
            found.append((exp, sha))
    return found


def refs_of_baseline(gdir: str, baseline: str) -> dict[str, str]:
    """name → sha of the experiments derived from ``baseline``."""
    prefix = f"{EXPS}/{baseline[:2]}/{baseline[2:]}/"
    return {
        ref[len(prefix) :]: sha
        for ref, sha in git.read_refs(gdir, prefix).items()
        if "/" not in ref[len(prefix) :]
    }


def find_by_name(gdir: str, name: str, head_sha: str | None) -> list[tuple[ExpRef, str]]:
    """Experiments called ``name``; when several baselines have it, HEAD's wins."""
    matches = [(r, sha) for r, sha in iter_exp_refs(gdir) if r.name == name]
    if len(matches) > 1:
        preferred = [(r, sha) for r, sha in matches if r.baseline == head_sha]
        if preferred:
            return preferred
    return matches


def refs_pointing_at(gdir: str, sha: str) -> list[ExpRef]:
    """The experiment refs whose tip is ``sha``."""
    return [r for r, tip in iter_exp_refs(gdir) if tip == sha]
