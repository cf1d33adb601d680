"""The programs under test, their virtual environments, and the environment they run in.

labrun is installed editable into `.venv` and DVC into `.venv-dvc` (the same
paths scripts/test.sh uses); both are created only when missing. Every
command then runs with a hermetic environment: analytics and update checks
off, git and DVC configuration taken from files under the work directory.

    >>> env = bench_env(Path("/tmp/w"))
    >>> env["DVC_NO_ANALYTICS"], env["SHELL"]
    ('1', '/bin/sh')
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DVC_VERSION = "3.67.1"
LABRUN_VENV = ROOT / ".venv"
DVC_VENV = ROOT / ".venv-dvc"


@dataclass(frozen=True)
class Tool:
    """A program under test: its console script inside its virtual environment."""

    name: str
    venv: Path

    @property
    def exe(self) -> Path:
        """The console script, e.g. `.venv-dvc/bin/dvc`."""
        return self.venv / "bin" / self.name

    @property
    def python(self) -> Path:
        """The interpreter of the tool's virtual environment."""
        return self.venv / "bin" / "python"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` with the tool's bin directory first on PATH (queue workers respawn it)."""
        return {**base, "PATH": f"{self.venv / 'bin'}{os.pathsep}{base.get('PATH', '')}"}


LABRUN = Tool("labrun", LABRUN_VENV)
DVC = Tool("dvc", DVC_VENV)


def log(message: str) -> None:
    """Progress for the person running the suite (stderr, so stdout stays clean)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_tools(install: bool) -> None:
    """Create `.venv` with labrun and `.venv-dvc` with dvc==3.67.1 if they are missing."""
    if not _labrun_installed():
        _need(install, LABRUN)
        _make_venv(LABRUN_VENV)
        _pip(LABRUN_VENV, "-e", str(ROOT))
    if dvc_version() != DVC_VERSION:
        _need(install, DVC)
        _make_venv(DVC_VENV)
        _pip(DVC_VENV, f"dvc=={DVC_VERSION}")


def dvc_version() -> str:
    """`dvc --version` of `.venv-dvc`, or '' when it does not run."""
    return _first_line([str(DVC.exe), "--version"])


def labrun_version() -> str:
    """`labrun --version` of `.venv`, or '' when it does not run."""
    return _first_line([str(LABRUN.exe), "--version"])


def _labrun_installed() -> bool:
    probe = [str(LABRUN.python), "-c", "import labrun"]
    return (
        LABRUN.exe.exists()
        and subprocess.run(probe, check=False, capture_output=True).returncode == 0
    )


def _need(install: bool, tool: Tool) -> None:
    if not install:
        raise SystemExit(f"{tool.exe} is missing and --no-install was given")
    log(f"installing {tool.name} into {tool.venv.relative_to(ROOT)}")


def _make_venv(venv: Path) -> None:
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)


def _pip(venv: Path, *requirement: str) -> None:
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--disable-pip-version-check", *requirement], check=True, cwd=ROOT)


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
    except OSError:
        return ""
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else ""


GITCONFIG = """\
[user]
\tname = bench
\temail = bench@example.invalid
[init]
\tdefaultBranch = main
[commit]
\tgpgsign = false
[gc]
\tauto = 0
"""

DVC_GLOBAL_CONFIG = "[core]\n    check_update = false\n    analytics = false\n"


def bench_env(work: Path) -> dict[str, str]:
    """The environment of every timed and untimed command (per-tool PATH added by Tool.env)."""
    # as a user's shell would be: bytecode cached (the warm-up writes it), output buffered
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DVC_SITE_CACHE_DIR"}
    drop |= {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONPROFILEIMPORTTIME"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("GIT_")}
    config = work / "config"
    env.update(
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(config / "dvc-global"),
        DVC_SYSTEM_CONFIG_DIR=str(config / "dvc-system"),
        GIT_CONFIG_GLOBAL=str(config / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        SHELL="/bin/sh",
        LC_ALL="C.UTF-8",
    )
    return env


def write_configs(work: Path) -> None:
    """Write the git and DVC configuration files `bench_env` points at."""
    config = work / "config"
    (config / "dvc-global").mkdir(parents=True, exist_ok=True)
    (config / "dvc-system").mkdir(parents=True, exist_ok=True)
    (config / "gitconfig").write_text(GITCONFIG)
    (config / "dvc-global" / "config").write_text(DVC_GLOBAL_CONFIG)
