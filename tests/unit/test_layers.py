"""The architecture rules of STYLE.md, checked on the source: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "labrun"

# package → labrun packages/modules it must not import
FORBIDDEN = {
    "pipeline": {"cache", "repro", "experiments", "scm", "cli", "api"},
    "cache": {"pipeline", "repro", "experiments", "scm", "cli", "api"},
    # repro edits .gitignore and asks Git what it tracks/ignores, as DVC's repro does
    "repro": {"experiments", "cli", "api"},
    "scm": {"pipeline", "cache", "repro", "experiments", "cli", "api"},
}
# third-party library → the only modules allowed to import it
QUARANTINE = {
    "yaml": {"pipeline/files.py"},
    # experiments/params.py edits users' params files round-trip (comments kept), as DVC does
    "ruamel": {"pipeline/files.py", "pipeline/lockfile.py", "experiments/params.py"},
    "hydra": {"experiments/overrides.py", "experiments/params.py"},
    "omegaconf": {"experiments/overrides.py", "experiments/params.py"},
    "pygit2": {"scm/git.py"},
    "rich": {"cli/dataprogress.py"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


SOURCES = sorted(PKG.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_layers_are_respected(path: Path) -> None:
    rel = path.relative_to(PKG)
    layer = rel.parts[0] if len(rel.parts) > 1 else None
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "labrun" and layer in FORBIDDEN and len(parts) > 1:
            assert parts[1] not in FORBIDDEN[layer], f"{rel} imports {name}"
        allowed = QUARANTINE.get(parts[0])
        if allowed is not None:
            assert rel.as_posix() in allowed, f"{rel} imports {parts[0]}"


def test_cli_imports_only_api_errors_and_its_own_modules() -> None:
    for path in (PKG / "cli").rglob("*.py"):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "labrun" and len(parts) > 1:
                assert parts[1] in {"api", "errors", "cli", "_version"}, f"{path} imports {name}"


def test_public_surface() -> None:
    import labrun

    for name in labrun.__all__:
        assert getattr(labrun, name) is not None, name
    with pytest.raises(AttributeError):
        labrun.nope  # noqa: B018
