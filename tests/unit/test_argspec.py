"""The fast parser of `exp run` against argparse, which it stands in front of."""

from __future__ import annotations

import random
import subprocess
import sys
from typing import Any

import pytest

from labrun.cli import main as cli_main
from labrun.cli.argspec import COMMON, Option, add_options, parse_options, split_command
from labrun.errors import ArgumentError

# option spelling → values it may take (None: a flag)
RUN_VALUES: dict[str, list[str] | None] = {
    "-f": None, "--force": None, "-i": None, "-s": None, "--single-item": None, "-p": None,
    "-P": None, "--all-pipelines": None, "-R": None, "--downstream": None,
    "--force-downstream": None, "--pull": None, "--allow-missing": None, "--dry": None,
    "-k": None, "--keep-going": None, "--ignore-errors": None, "--temp": None, "--queue": None,
    "--run-all": None, "--reset": None, "--no-commit": None, "--no-run-cache": None,
    "--glob": None, "-q": None, "-v": None,
    "-n": ["exp1", "a b"], "--name": ["x"], "-S": ["lr=0.1", "f.yaml:+a.b=c", "~k"],
    "--set-param": ["a=1"], "--params": ["a=1,b=2"], "-m": ["msg"], "-M": ["m"],
    "--message": ["hello world"], "-C": ["data"], "--copy-paths": ["x/y"],
    "-j": ["2", "0", "x", "+3"], "--jobs": ["1"], "--priority": ["5", "-1"], "--gpus": ["0,1"],
    "--sample": ["3"], "--seed": ["7", "1.5"], "-r": ["abc"], "--rev": ["HEAD"],
    "--cd": ["sub", "-x"],
}  # fmt: skip
LEVEL_VALUES: dict[str, list[str] | None] = {"-q": None, "-v": None, "--cd": ["d", "e f"]}
TARGETS = ["train", "dvc.yaml:prep", "", "sub/dvc.yaml"]


def _options(rng: random.Random, table: dict[str, list[str] | None], count: int) -> list[str]:
    tokens: list[str] = []
    for name in rng.sample(sorted(table), k=min(count, len(table))):
        values = table[name]
        if values is None:
            tokens.append(name)
        elif name.startswith("--") and rng.random() < 0.3:
            tokens.append(f"{name}={rng.choice(values)}")
        else:
            tokens += [name, rng.choice(values)]
    return tokens


def _command_line(rng: random.Random) -> list[str]:
    run = _options(rng, RUN_VALUES, rng.randint(0, 6))
    targets = rng.sample(TARGETS, k=rng.randint(0, 2))
    where = rng.randint(0, len(run))
    while where < len(run) and run[where - 1 : where] and not run[where].startswith("-"):
        where += 1  # not between an option and its value
    run[where:where] = targets
    if rng.random() < 0.1 and targets:
        run.append(rng.choice(TARGETS))  # a second run of positionals: argparse's error
    top = _options(rng, LEVEL_VALUES, rng.randint(0, 2))
    group = _options(rng, LEVEL_VALUES, rng.randint(0, 2))
    return [*top, "exp", *group, "run", *run]


def _argparse(argv: list[str]) -> dict[str, Any] | None:
    try:
        return vars(cli_main._build_parser(argv).parse_args(argv))
    except ArgumentError:
        return None


@pytest.mark.parametrize("seed", range(4))
def test_fast_parser_gives_argparses_values_or_steps_aside(
    seed: int, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(seed)
    accepted = 0
    for _ in range(300):
        argv = _command_line(rng)
        fast = cli_main._parse_fast(argv)
        slow = _argparse(argv)
        if fast is not None:
            accepted += 1
            assert vars(fast) == slow, argv
    capsys.readouterr()
    assert accepted > 100  # the common command lines do take the fast path


REPRO_ONLY = ("--temp", "--queue", "--run-all", "--reset", "-n", "--name", "-S", "--set-param",
              "--params", "-m", "-M", "--message", "-C", "--copy-paths", "--priority", "--gpus",
              "--sample", "--seed", "-r", "--rev")  # fmt: skip
REPRO_VALUES = {k: v for k, v in RUN_VALUES.items() if k not in REPRO_ONLY}


@pytest.mark.parametrize("seed", range(2))
def test_repro_fast_parser_gives_argparses_values_or_steps_aside(
    seed: int, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(seed)
    accepted = 0
    for _ in range(300):
        own = _options(rng, REPRO_VALUES, rng.randint(0, 6))
        own[len(own) :] = rng.sample(TARGETS, k=rng.randint(0, 2))
        argv = [*_options(rng, LEVEL_VALUES, rng.randint(0, 2)), "repro", *own]
        fast = cli_main._parse_fast(argv)
        if fast is not None:
            accepted += 1
            assert vars(fast) == _argparse(argv), argv
    capsys.readouterr()
    assert accepted > 100


@pytest.mark.parametrize(
    "argv",
    [
        ["exp", "run", "--forc"],  # an abbreviation
        ["exp", "run", "-h"],
        ["exp", "run", "--", "train"],
        ["exp", "run", "-fq"],  # a cluster of short options
        ["exp", "run", "-Slr=1"],  # a value stuck to a short option
        ["exp", "run", "-S=lr=1"],
        ["exp", "run", "-n", "-1"],  # a value that looks like an option
        ["exp", "run", "-j", "two"],
        ["exp", "run", "-n"],
        ["exp", "run", "--force=yes"],
        ["exp", "run", "--name="],
        ["exp", "run", "-q", "-v"],
        ["-q", "-v", "exp", "run"],
        ["exp", "run", "a", "-f", "b"],
        ["exp", "resume"],
        ["exp", "show"],
        ["repro", "--forc"],
        ["repro", "-fs"],
        ["-V"],
        [],
    ],
)
def test_unusual_command_lines_are_left_to_argparse(argv: list[str]) -> None:
    assert cli_main._parse_fast(argv) is None


def test_levels_merge_with_the_deepest_winning() -> None:
    args = cli_main._parse_fast(["--cd", "a", "-q", "exp", "--cd=b", "run", "-v", "t", "-S", "x=1"])
    assert args is not None
    assert (args.cd, args.quiet, args.verbose, args.targets, args.set_param) == (
        "b",
        True,
        True,
        ["t"],
        ["x=1"],
    )
    assert args.on_error == "fail" and args.jobs == 1 and args.name is None


def test_parse_options_and_split_command_on_their_own() -> None:
    opts = [
        Option(("-n", "--name"), "value", "Name."),
        Option(("-a",), "append", "Add."),
        Option(("-j",), "int", "Jobs.", default=1),
        Option(("paths",), "positional", "Paths."),
        *COMMON,
    ]
    assert parse_options(["x", "-a", "1", "-a", "2", "--name", "n", "-j", "3"], opts) == {
        "name": "n",
        "a": ["1", "2"],
        "j": 3,
        "paths": ["x"],
    }
    assert parse_options(["--cd", "d"], COMMON) == {"cd": "d"}
    assert parse_options(["x"], COMMON) is None  # no positional here
    assert split_command(["-q", "-v"], COMMON) is None


def test_add_options_builds_the_same_parser_help_as_written_out() -> None:
    import argparse

    table = argparse.ArgumentParser(prog="t", add_help=False)
    add_options(table, COMMON)
    written = argparse.ArgumentParser(prog="t", add_help=False)
    group = written.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS)
    group.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    written.add_argument("--cd", metavar="DIR", default=argparse.SUPPRESS)
    assert table.format_usage() == written.format_usage()
    assert vars(table.parse_args(["-q", "--cd", "x"])) == {"quiet": True, "cd": "x"}


def test_exp_run_parses_its_command_line_without_argparse() -> None:
    code = (
        "import sys\n"
        "from labrun.cli.main import _parse_fast\n"
        "args = _parse_fast(['-q', 'exp', 'run', '-S', 'lr=0.2', '--name=a', 'train'])\n"
        "assert args is not None and args.name == 'a'\n"
        "print(sorted(m for m in ('argparse', 'gettext', 'locale') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
