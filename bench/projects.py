"""Scratch projects ("templates") that the scenarios copy and run in.

Each template is built once under `<work>/templates/<name>-<sizes>/` and reused
by later runs of the suite (a marker file beside it records that it is
complete). Data is generated deterministically from a seeded PRNG. States
that need a pipeline run or an `add` are prepared with real DVC, so both
tools start from the same, DVC-made files. Next to each template,
`<key>.cmds.sh` holds the stage commands alone (one `sh -c` per stage), the
reference for "overhead beyond the commands".

    >>> template_key("foreach", Sizes(stages=500))
    'foreach-stages500'
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import datagen
from bench.datagen import (
    THREE_PARAMS,
    diamond_dvc_yaml,
    foreach_dvc_yaml,
    foreach_params,
    three_dvc_yaml,
)
from bench.scenarios import Sizes

BUILD_VERSION = "1"  # bump when a builder changes, to rebuild every template


@dataclass(frozen=True)
class Kit:
    """What a builder may run: git and the reference DVC, in the bench environment."""

    env: dict[str, str]
    dvc_exe: Path

    def git(self, cwd: Path, *args: str) -> str:
        """Run git in `cwd` and return its stdout."""
        return _check(["git", *args], cwd, self.env)

    def dvc(self, cwd: Path, *args: str) -> str:
        """Run the reference dvc in `cwd` and return its stdout."""
        return _check([str(self.dvc_exe), *args], cwd, self.env)

    def commit(self, cwd: Path, message: str) -> None:
        """Stage everything (dvc's .gitignore files keep data out) and commit."""
        self.git(cwd, "add", "-A")
        self.git(cwd, "commit", "-q", "--no-verify", "-m", message)


def _check(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(argv, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in {cwd}:\n{done.stdout}{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Template:
    """A built project directory and its script of stage commands (may not exist)."""

    path: Path
    cmds: Path


Builder = Callable[[Path, Sizes, Kit], None]


@dataclass(frozen=True)
class Project:
    """How to build a template: from an empty dir, or on a copy of the `base` template."""

    build: Builder
    sizes: tuple[str, ...] = ()
    base: str = ""


def template_key(name: str, sizes: Sizes) -> str:
    """Directory name of a template: project name plus the sizes it depends on."""
    parts = [f"{field}{getattr(sizes, field):g}" for field in _all_sizes(name)]
    return "-".join([name, *parts])


def _all_sizes(name: str) -> list[str]:
    project = PROJECTS[name]
    inherited = _all_sizes(project.base) if project.base else []
    return inherited + [s for s in project.sizes if s not in inherited]


def ensure_template(name: str, sizes: Sizes, kit: Kit, templates: Path) -> Template:
    """The template for project `name`, built now unless a complete one exists."""
    key = template_key(name, sizes)
    path, marker = templates / key, templates / f"{key}.done"
    template = Template(path, templates / f"{key}.cmds.sh")
    if marker.exists() and marker.read_text() == BUILD_VERSION:
        return template
    project = PROJECTS[name]
    base = ensure_template(project.base, sizes, kit, templates) if project.base else None
    marker.unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)
    if base is None:
        path.mkdir(parents=True)
    else:
        copy_project(base.path, path)
        if base.cmds.exists():
            shutil.copyfile(base.cmds, template.cmds)
    project.build(path, sizes, kit)
    marker.write_text(BUILD_VERSION)
    return template


def copy_project(src: Path, dest: Path) -> None:
    """Copy a project like `cp -a` (symlinks kept, mtimes preserved)."""
    shutil.copytree(src, dest, symlinks=True)


def _init(path: Path, kit: Kit) -> None:
    kit.git(path, "init", "-q")
    kit.dvc(path, "init", "-q")


def _build_none(path: Path, sizes: Sizes, kit: Kit) -> None:
    """An empty directory: `--version` needs no project."""


def _build_empty(path: Path, sizes: Sizes, kit: Kit) -> None:
    _init(path, kit)
    kit.commit(path, "empty project")


def _build_three(path: Path, sizes: Sizes, kit: Kit, sleep: float = 0) -> None:
    datagen.write_files(path, {"data/raw.txt": datagen.raw_text(), "params.yaml": THREE_PARAMS})
    datagen.write_files(path, {"dvc.yaml": three_dvc_yaml(sleep)})
    datagen.write_commands(path.parent / f"{path.name}.cmds.sh", datagen.three_commands(sleep))
    _init(path, kit)
    kit.dvc(path, "repro", "-q")
    kit.commit(path, "3-stage project")


def _build_queue(path: Path, sizes: Sizes, kit: Kit) -> None:
    _build_three(path, sizes, kit, sleep=sizes.sleep)


def _build_foreach(path: Path, sizes: Sizes, kit: Kit) -> None:
    files = {"params.yaml": foreach_params(sizes.stages), "dvc.yaml": foreach_dvc_yaml()}
    datagen.write_files(path, {**files, "data/input.txt": datagen.raw_text()})
    (path / "out").mkdir()
    datagen.write_commands(
        path.parent / f"{path.name}.cmds.sh", datagen.foreach_commands(sizes.stages)
    )
    _init(path, kit)
    kit.commit(path, "foreach pipeline")


def _build_repro(path: Path, sizes: Sizes, kit: Kit) -> None:
    kit.dvc(path, "repro", "-q")
    kit.commit(path, "reproduced")


def _build_big(path: Path, sizes: Sizes, kit: Kit) -> None:
    _init(path, kit)
    kit.commit(path, "empty project")
    datagen.write_random_file(path / "big.dat", sizes.big_mib << 20, seed=1)


def _build_mnist(path: Path, sizes: Sizes, kit: Kit) -> None:
    _init(path, kit)
    kit.commit(path, "empty project")
    datagen.write_mnist_tree(path / "mnist", sizes.files, sizes.file_bytes, seed=2)


def _adder(target: str) -> Builder:
    def build(path: Path, sizes: Sizes, kit: Kit) -> None:
        kit.dvc(path, "add", "-q", target)
        kit.commit(path, f"track {target}")

    return build


def _exps(size: str) -> Builder:
    def build(path: Path, sizes: Sizes, kit: Kit) -> None:
        datagen.write_experiments(path, int(getattr(sizes, size)), kit.git, kit.env)

    return build


def _build_diamond(path: Path, sizes: Sizes, kit: Kit) -> None:
    datagen.write_files(path, {"dvc.yaml": diamond_dvc_yaml(sizes.width, sizes.sleep)})
    _init(path, kit)
    kit.commit(path, "diamond pipeline")


PROJECTS: dict[str, Project] = {
    "none": Project(_build_none),
    "empty": Project(_build_empty),
    "three": Project(_build_three),
    "queue": Project(_build_queue, ("sleep",)),
    "foreach": Project(_build_foreach, ("stages",)),
    "foreach-done": Project(_build_repro, base="foreach"),
    "big": Project(_build_big, ("big_mib",)),
    "big-added": Project(_adder("big.dat"), base="big"),
    "mnist": Project(_build_mnist, ("files", "file_bytes")),
    "mnist-added": Project(_adder("mnist"), base="mnist"),
    "exps-few": Project(_exps("exps_few"), ("exps_few",), base="three"),
    "exps-many": Project(_exps("exps_many"), ("exps_many",), base="three"),
    "diamond": Project(_build_diamond, ("width", "sleep")),
}
