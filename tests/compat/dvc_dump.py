"""Report how the real dvc loads a project's pipelines, as JSON.

Run it with the python of dvc's own environment, never with labrun's::

    .venv-dvc/bin/python tests/compat/dvc_dump.py PROJECT
    .venv-dvc/bin/python tests/compat/dvc_dump.py --batch PROJECT < batch.json

The first form prints a JSON list with one object per stage, in dvc's index
order::

    {"addressing": "sub/dvc.yaml:train@a", "cmd": "python train.py a",
     "wdir": "sub", "deps": ["data.csv"],
     "outs": [{"path": "model.pkl", "cache": true, "persist": false,
               "metric": false, "plot": false}],
     "params": {"params.yaml": ["lr"], "extra.json": null},
     "frozen": false, "always_changed": false, "desc": null}

The second form reads ``{"init_from": SOURCE | null, "commands": [ARGS, ...]}``
on stdin, where each ARGS is a dvc argument list such as ``["dag", "--md"]``.
With ``init_from``, it first runs ``dvc init -q`` in PROJECT (which must
already be a Git repository) and then copies the SOURCE tree over it, so that
a SOURCE ``.dvc/config`` replaces the fresh one. It then runs each command as
dvc's command line would, and prints ``{"stages": [...] | null,
"stages_error": str | null, "runs": [{"args", "returncode", "stdout",
"stderr"}]}``. dvc is imported once and every command runs in a forked child,
which keeps the cost of dvc's start-up to one import per project.

dvc discovers dvc files with ``os.walk`` and keeps the directory listing
order, which on most filesystems is a hash order. Both forms make that order
deterministic by sorting each listing (files by name, then sub-directories by
name, top-down), so that the output can be compared with labrun's.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

_ORIGINAL_WALK = os.walk


def _sorted_walk(
    top: Any,
    topdown: bool = True,
    onerror: Callable[[OSError], object] | None = None,
    followlinks: bool = False,
) -> Iterator[tuple[Any, list[Any], list[Any]]]:
    """os.walk with each directory listing sorted (the walk follows the sorted dirs)."""
    for root, dirs, files in _ORIGINAL_WALK(top, topdown, onerror, followlinks):
        dirs.sort()
        files.sort()
        yield root, dirs, files


def install_sorted_walk() -> None:
    """Make every later os.walk call (and so dvc's discovery) list entries sorted."""
    os.walk = _sorted_walk


def _posix_relpath(path: str, start: str) -> str:
    return os.path.relpath(path, start).replace(os.sep, "/")


def _describe_out(out: Any) -> dict[str, Any]:
    return {
        "path": out.def_path,
        "cache": bool(out.use_cache),
        "persist": bool(out.persist),
        "metric": bool(out.metric),
        "plot": bool(out.plot),
    }


def _describe_params(deps: list[Any]) -> dict[str, list[str] | None]:
    """Params dependencies as {file def path: sorted keys, or None for the whole file}."""
    from dvc.dependency import ParamsDependency

    params: dict[str, list[str] | None] = {}
    for dep in deps:
        if isinstance(dep, ParamsDependency):
            params[dep.def_path] = sorted(dep.params) if dep.params else None
    return params


def describe_stage(stage: Any, root: str) -> dict[str, Any]:
    """One dvc Stage object as a plain dict (see the module docstring)."""
    from dvc.dependency import ParamsDependency

    return {
        "addressing": stage.addressing,
        "cmd": stage.cmd,
        "wdir": _posix_relpath(stage.wdir, root),
        "deps": [d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)],
        "outs": [_describe_out(out) for out in stage.outs],
        "params": _describe_params(stage.deps),
        "frozen": bool(stage.frozen),
        "always_changed": bool(stage.always_changed),
        "desc": stage.desc,
    }


def dump_stages(project: str) -> list[dict[str, Any]]:
    """Load every stage of the project at `project` with dvc, in index order."""
    from dvc.repo import Repo

    root = os.path.abspath(project)
    os.chdir(root)
    with Repo(root) as repo:
        return [describe_stage(stage, repo.root_dir) for stage in repo.index.stages]


def _run_forked(body: Callable[[], int]) -> dict[str, Any]:
    """Run `body` in a forked child with fds 1 and 2 sent to files; collect them."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # child: never returns
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            code = 255
            try:
                code = body()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return {
            "returncode": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode("utf-8", "surrogateescape"),
            "stderr": err.read().decode("utf-8", "surrogateescape"),
        }


def _cli_body(project: str, args: list[str]) -> Callable[[], int]:
    def body() -> int:
        from dvc.cli import main

        os.chdir(project)
        sys.argv = ["dvc", *args]
        return int(main(args))

    return body


def _dump_body(project: str) -> Callable[[], int]:
    def body() -> int:
        json.dump(dump_stages(project), sys.stdout)
        return 0

    return body


def _rename_gitignores(project: str) -> None:
    # The corpus keeps Git ignore files as `dot-gitignore` so that they do not
    # apply to the repository holding the corpus.
    for root, _dirs, files in os.walk(project):
        if "dot-gitignore" in files:
            os.replace(os.path.join(root, "dot-gitignore"), os.path.join(root, ".gitignore"))


def init_project(project: str, source: str) -> None:
    """`dvc init -q` in `project`, then copy the `source` tree over it."""
    import shutil

    result = _run_forked(_cli_body(project, ["init", "-q"]))
    if result["returncode"] != 0:
        raise RuntimeError(f"dvc init failed in {project}: {result['stderr']}")
    shutil.copytree(source, project, dirs_exist_ok=True)
    _rename_gitignores(project)


# What dvc's commands import lazily; imported once before forking, each child
# starts warm. A name missing from some dvc version is simply skipped.
_PRELOAD = (
    "dvc.cli",
    "dvc.repo",
    "dvc.repo.index",
    "dvc.repo.graph",
    "dvc.repo.plots",
    "dvc.repo.fetch",
    "dvc.commands.dag",
    "dvc.commands.stage",
    "dvc.commands.init",
    "dvc.stage",
    "dvc.stage.loader",
    "dvc.stage.cache",
    "dvc.dvcfile",
    "dvc.parsing",
    "dvc.scm",
    "dvc.ignore",
    "dvc.fs",
    "dvc.logger",
    "dvc.ui.table",
    "dvc.analytics",
    "dvc.lock",
    "dvc.cachemgr",
    "dvc.data_cloud",
    "networkx",
    "networkx.drawing.nx_pydot",
    "pydot",
    "tabulate",
    "wcwidth",
    "scmrepo.git",
    "dulwich.repo",
    "dulwich.client",
    "pyparsing",
    "ruamel.yaml",
    "psutil",
    "flufl.lock",
    "zc.lockfile",
    "configobj",
)


def _preload_modules() -> None:
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def run_batch(project: str, batch: dict[str, Any]) -> dict[str, Any]:
    """Run the batch read from stdin (see the module docstring) in `project`."""
    _preload_modules()

    if batch.get("init_from"):
        init_project(project, batch["init_from"])
    commands: list[list[str]] = batch["commands"]
    runs = [{"args": args, **_run_forked(_cli_body(project, args))} for args in commands]
    dumped = _run_forked(_dump_body(project))
    ok = dumped["returncode"] == 0
    return {
        "stages": json.loads(dumped["stdout"]) if ok else None,
        "stages_error": None if ok else dumped["stderr"],
        "runs": runs,
    }


def main(argv: list[str]) -> int:
    """Command line entry: `dvc_dump.py PROJECT` or `dvc_dump.py --batch PROJECT`."""
    install_sorted_walk()
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    if len(argv) == 2 and argv[0] == "--batch":
        project = os.path.abspath(argv[1])
        result: Any = run_batch(project, json.load(sys.stdin))
    elif len(argv) == 1:
        result = dump_stages(argv[0])
    else:
        sys.stderr.write("usage: dvc_dump.py [--batch] PROJECT\n")
        return 2
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
