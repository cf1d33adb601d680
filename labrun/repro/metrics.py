"""What one revision reports: its params and metrics files, read as DVC 3.67 reads them.

Which files (per revision, from its pipeline):

- params: every params dependency of every stage (its listed keys, or the whole
  file when some stage tracks it whole), every file of a top-level `params:`
  section, and `params.yaml` at the root, whole, when it exists; then the
  values `${...}` took from other vars files ("tracked vars", flat dotted keys);
- metrics: every `metrics` output of every stage, then the top-level
  `metrics:` files; a directory stands for every file inside it.

Each file gives ``{"data": value}`` or, when it cannot be read,
``{"error": {"msg": ..., "type": ...}}``, in discovery order.

    >>> extract_metrics({"acc": 0.9, "loss": {"a": 1}, "lst": [1, 2], "none": None, "e": {}})
    {'acc': 0.9, 'loss': {'a': 1}}
    >>> select_keys({"train": {"lr": 0.1, "epochs": 3}, "seed": 7}, ["train.lr", "seed"])
    {'train': {'lr': 0.1}, 'seed': 7}
"""

from __future__ import annotations

import contextlib
import fnmatch
import posixpath
import re

from labrun.errors import LabrunError, ParamsFileError
from labrun.pipeline import files
from labrun.pipeline.index import PIPELINE_FILE
from labrun.pipeline.stage import DEFAULT_PARAMS_FILE

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    from labrun.pipeline.dvcfile import PipelineFile
    from labrun.pipeline.index import Index
    from labrun.pipeline.interpolate import Context
    from labrun.pipeline.source import FileSource
    from labrun.pipeline.stage import Stage

    FileResult = dict[str, Any]

_GLOB_CHARS = frozenset("*?[")
# `${` not preceded by a backslash, then the shortest text up to `}` (as interpolate reads it)
_EXPR = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}", re.DOTALL)
_LOCAL = ("item", "key")  # foreach/matrix variables: never a file's value


def error_result(exc: BaseException) -> FileResult:
    """The ``{"error": {"type", "msg"}}`` entry of a file that could not be read (DVC's order)."""
    found = describe_error(exc)
    return {"error": {"type": found["type"], "msg": found["msg"]}}


# (patterns compiled on first use: errors are rare, and compiling costs start-up time)
_CORRUPTED = r"^unable to read: '.*', (YAML|JSON|TOML|Python) file structure is corrupted"
_INVALID_YAML = r"^'(?:\./)?(.*?)' is invalid\."


def describe_error(exc: BaseException) -> dict[str, str]:
    """``{"msg": ..., "type": ...}`` for an exception, in DVC's words where they differ.

    A file that does not parse is DVC's ``<KIND>FileCorruptedError`` with the
    short message (no parser detail); a broken `dvc.yaml` is its ``YAMLSyntaxError``.

        >>> from labrun.errors import ParamsFileError
        >>> describe_error(ParamsFileError("unable to read: 'm.json', JSON file structure "
        ...                                "is corrupted: Expecting value"))
        {'msg': "unable to read: 'm.json', JSON file structure is corrupted", \
'type': 'JSONFileCorruptedError'}
    """
    from labrun.errors import YamlSyntaxError

    message = str(exc)
    corrupted = re.match(_CORRUPTED, message)
    if corrupted is not None:
        kind = corrupted.group(1).upper() if corrupted.group(1) != "Python" else "Python"
        return {"msg": corrupted.group(0), "type": f"{kind}FileCorruptedError"}
    invalid = re.match(_INVALID_YAML, message)
    if isinstance(exc, YamlSyntaxError) and invalid is not None:
        path = invalid.group(1)
        return {
            "msg": f"unable to read: '{path}', YAML file structure is corrupted",
            "type": "YAMLSyntaxError",
        }
    return {"msg": message, "type": type(exc).__name__}


# --- which files ---------------------------------------------------------------------------


def _norm(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(base, path))


def _top_level(pipeline: PipelineFile, section: str) -> list[str]:
    from labrun.pipeline.interpolate import resolve

    items = pipeline.data.get(section) or []
    resolved = resolve(items, pipeline.context(), field=section)
    return [_norm(pipeline.dirname, str(item)) for item in resolved]


def params_targets(
    index: Index, source: FileSource, *, deps_only: bool = False
) -> dict[str, list[str] | None]:
    """params file → keys to show (None: the whole file), in DVC's order."""
    wanted: dict[str, list[str] | None] = {}

    def add(path: str, keys: Sequence[str] | None) -> None:
        if keys is None or (path in wanted and wanted[path] is None):
            wanted[path] = None
        else:
            current = wanted.setdefault(path, [])
            assert current is not None
            current.extend(k for k in keys if k not in current)

    for stage in index.stages:
        for dep in stage.params:
            add(_norm(stage.wdir, dep.path), dep.keys)
    if not deps_only:
        for pipeline in index.pipelines.values():
            for path in _top_level(pipeline, "params"):
                add(path, None)
        if source.isfile(DEFAULT_PARAMS_FILE):
            add(DEFAULT_PARAMS_FILE, None)
    return wanted


def metrics_targets(index: Index) -> list[str]:
    """Metrics files and directories of the pipeline, in DVC's order (no duplicates)."""
    paths = [
        _norm(stage.wdir, out.path) for stage in index.stages for out in stage.outs if out.is_metric
    ]
    for pipeline in index.pipelines.values():
        paths.extend(_top_level(pipeline, "metrics"))
    return list(dict.fromkeys(paths))


def expand_dirs(source: FileSource, paths: Sequence[str]) -> list[str]:
    """Each path, or every file inside it when it is a directory (sorted), no duplicates."""
    from labrun.repro.overlay import walk_files

    out: list[str] = []
    for path in paths:
        try:
            out.extend(walk_files(source, path) if source.isdir(path) else [path])
        except OSError:
            out.append(path)
    return list(dict.fromkeys(out))


# --- reading -------------------------------------------------------------------------------


def read_document(source: FileSource, path: str) -> Any:
    """A params/metrics file parsed by its extension (YAML unless .json/.toml/.py)."""
    return files.parse_data(_read(source, path), path, path)


def _read(source: FileSource, path: str) -> str:
    try:
        return source.read_text(path)
    except UnicodeDecodeError as exc:
        raise ParamsFileError(f"unable to read: '{path}', is not valid utf-8: {exc}") from None
    except FileNotFoundError:
        raise FileNotFoundError(2, "No such file or directory", path) from None


def extract_metrics(value: Any) -> Any:
    """Numbers (bools included) and strings, recursing into mappings; the rest dropped."""
    if isinstance(value, int | float | str):
        return value
    if not isinstance(value, dict):
        return None
    out = {}
    for key, item in value.items():
        found = extract_metrics(item)
        if found is not None and found != {}:
            out[key] = found
    return out


def select_keys(data: Any, keys: Sequence[str]) -> dict[str, Any]:
    """The parts of ``data`` at dotted key paths, nested as in the file (DVC's dpath search).

    Missing keys are skipped; a segment with glob characters matches several
    keys; a list index keeps its position (earlier items become None).
    """
    out: dict[str, Any] = {}
    for key in dict.fromkeys(keys):
        for found in _search(data, key.split(".")):
            _merge(out, found)
    return out


def _search(node: Any, parts: list[str]) -> Iterator[dict[str, Any] | list[Any]]:
    head, rest = parts[0], parts[1:]
    for name, child in _children(node, head):
        inner = [child] if not rest else list(_search(child, rest))
        for value in inner:
            if isinstance(node, list):
                index = int(name)
                yield [None] * index + [value]
            else:
                yield {name: value}


def _children(node: Any, segment: str) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        if _GLOB_CHARS.intersection(segment):
            yield from ((k, v) for k, v in node.items() if fnmatch.fnmatchcase(str(k), segment))
        elif segment in node:
            yield segment, node[segment]
    elif isinstance(node, list):
        for index, child in enumerate(node):
            if fnmatch.fnmatchcase(str(index), segment):
                yield str(index), child


def _merge(into: Any, new: Any) -> None:
    """dpath's additive merge: mappings recursively, lists appended, scalars replaced."""
    for key, value in new.items():
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            current.extend(value)
        else:
            into[key] = _copy(value)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def read_params(source: FileSource, path: str, keys: Sequence[str] | None) -> FileResult:
    """One params file's entry: the whole document, or the selected keys."""
    try:
        data = read_document(source, path)
    except (LabrunError, OSError, ValueError) as exc:
        return error_result(exc)
    return {"data": data if not keys else select_keys(data, keys)}


def read_metrics(source: FileSource, path: str) -> FileResult:
    """One metrics file's entry (its numbers and strings)."""
    try:
        value = extract_metrics(read_document(source, path))
    except (LabrunError, OSError, ValueError) as exc:
        return error_result(exc)
    return {"data": value or {}}


# --- gathering -----------------------------------------------------------------------------


def gather_params(
    index: Index,
    source: FileSource,
    *,
    deps_only: bool = False,
    targets: Sequence[str] = (),
) -> dict[str, FileResult]:
    """Every params file of a revision (or just ``targets``, whole) → its entry."""
    wanted: Mapping[str, list[str] | None]
    if targets:
        wanted = dict.fromkeys(targets)
    else:
        wanted = params_targets(index, source, deps_only=deps_only)
    found: dict[str, FileResult] = {}
    for path, keys in wanted.items():
        for each in expand_dirs(source, [path]):
            found[each] = read_params(source, each, keys)
    if not targets:
        for path, values in tracked_vars(index).items():
            if path not in found:
                found[path] = {"data": values}
    return found


def gather_metrics(
    index: Index, source: FileSource, *, targets: Sequence[str] = ()
) -> dict[str, FileResult]:
    """Every metrics file of a revision (or ``targets``) → its entry."""
    paths = list(targets) if targets else metrics_targets(index)
    return {path: read_metrics(source, path) for path in expand_dirs(source, paths)}


# --- values `${...}` took from vars files ---------------------------------------------------


def tracked_vars(index: Index) -> dict[str, dict[str, Any]]:
    """vars file → {dotted key: value} for every file value interpolated into a stage."""
    found: dict[str, dict[str, Any]] = {}
    for relpath, pipeline in index.pipelines.items():
        if posixpath.basename(relpath) != PIPELINE_FILE:
            continue
        for name, definition in pipeline.definitions().items():
            ctx = _stage_context(pipeline, name, definition)
            grouped = "foreach" in definition or "matrix" in definition
            template = definition.get("do", definition) if grouped else definition
            for key in _expressions(template):
                _track(found, ctx, key, local=grouped)
    return found


def _stage_context(pipeline: PipelineFile, name: str, definition: dict[str, Any]) -> Context:
    ctx = pipeline.context()
    stage_vars = definition.get("vars") or []
    if not stage_vars or "foreach" in definition or "matrix" in definition:
        return ctx
    ctx = ctx.copy()
    wdir = _norm(pipeline.dirname, str(definition.get("wdir") or "."))
    with contextlib.suppress(LabrunError):  # loading the stage reports it; this is display
        pipeline._merge_vars(ctx, stage_vars, wdir, stage=name)  # the loader's own merge
    return ctx


def _expressions(value: Any) -> Iterator[str]:
    from labrun.pipeline.interpolate import ExpressionError, parse_expression

    if isinstance(value, str):
        for match in _EXPR.finditer(value):
            try:
                yield parse_expression(match["inner"])
            except ExpressionError:
                continue
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("vars", "matrix", "foreach"):
                yield from _expressions(key)
                yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


def _track(found: dict[str, dict[str, Any]], ctx: Context, key: str, *, local: bool) -> None:
    from labrun.pipeline.interpolate import ExpressionError

    key = ".".join(part.strip() for part in key.split("."))
    if local and key.split(".")[0] in _LOCAL:
        return
    try:
        value = ctx.select(key)
    except ExpressionError:
        return
    if isinstance(value, dict):
        return  # DVC records lists and plain values, not mappings
    source = _source_of(ctx, key)
    if source is not None and source in ctx.imports:
        found.setdefault(source, {})[key] = value


def _source_of(ctx: Context, key: str) -> str | None:
    path = key
    while path not in ctx.sources and "." in path:
        path = path.rsplit(".", 1)[0]
    return ctx.sources.get(path)


def stage_dep_paths(stage: Stage) -> list[str]:
    """Project-relative paths of a stage's plain dependencies (params files excluded)."""
    return [_norm(stage.wdir, dep) for dep in stage.deps]
