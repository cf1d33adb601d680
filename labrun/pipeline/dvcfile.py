"""Load one dvc file (`dvc.yaml` or `*.dvc`) into Stage values.

A `dvc.yaml` is parsed and validated when loaded; its stages are resolved
(templating, `foreach`, `matrix`) on demand, so asking for one stage of a
large file does not resolve the others.

    >>> pf = PipelineFile.load(root, "dvc.yaml")          # doctest: +SKIP
    >>> [s.name for s in pf.stages()]                     # doctest: +SKIP
    ['prep', 'train@cnn', 'train@xgb']
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Mapping
from functools import cached_property

from labrun.errors import FileFormatError, LabrunError, TargetError, TemplateError
from labrun.pipeline import files, schema
from labrun.pipeline.interpolate import (
    Context,
    ExpressionError,
    MergeError,
    MissingKeyError,
    ParsingConfig,
    check_syntax,
    compile_value,
    find_expression,
    resolve,
    resolve_str,
    to_text,
)
from labrun.pipeline.source import workspace_of
from labrun.pipeline.stage import DEFAULT_PARAMS_FILE, Out, Stage, make_outs, merge_params
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from labrun.pipeline.interpolate import Resolver
    from labrun.pipeline.source import FileSource

    _Fields = list[tuple[str, Resolver]]

STAGE_FIELDS_RESOLVED_AS_DATA = ("foreach", "matrix")


class VarsError(LabrunError):
    """A `vars` item cannot be loaded (missing file, partial/complete clash...)."""


def _fail(where: str, relpath: str, exc: LabrunError, *, verb: str = "parse") -> TemplateError:
    """DVC's `failed to parse '<where>' in '<file>': <reason>` message."""
    newline = isinstance(exc, ExpressionError | MergeError) and not isinstance(exc, MissingKeyError)
    sep = "\n" if newline or getattr(exc, "newline", False) else " "
    return TemplateError(
        f"failed to {verb} {where} in '{relpath}':{sep}{exc.message}", hint=exc.hint
    )


@record(frozen=False)
class PipelineFile:
    """A parsed and validated `dvc.yaml`; stages are resolved lazily."""

    root: str
    relpath: str  # project-relative POSIX path of the dvc.yaml
    data: dict[str, Any]
    parsing: ParsingConfig = field(default_factory=ParsingConfig)
    warnings: list[str] = field(default_factory=list)
    _context: Context | None = None
    _groups: dict[str, tuple[dict[str, Any], bool]] = field(default_factory=dict)
    _templates: dict[str, _Fields | None] = field(default_factory=dict)
    # resolved stages by (group, key), ("", name) for plain ones: the index, the targets
    # and the plan all ask for the same stages
    _resolved: dict[tuple[str, str], Stage] = field(default_factory=dict)
    source: FileSource | None = None  # where its files are read (None: the working tree)

    @classmethod
    def load(
        cls,
        root: str,
        relpath: str,
        parsing: ParsingConfig | None = None,
        display: str = "",
        source: FileSource | None = None,
    ) -> PipelineFile:
        """Read, parse and validate `root/relpath` (errors name ``display`` or ./relpath).

        ``source`` serves the files (default: the working tree at ``root``).
        """
        shown = display or "./" + relpath
        source = workspace_of(root, source)
        text = files.read_text(relpath, shown, source)
        data = schema.validate_dvcyaml(files.parse_yaml(text, shown), text, shown)
        pipeline = cls(root, relpath, data, parsing or ParsingConfig(), source=source)
        pipeline.context()  # as in DVC, `vars` errors surface when the file is loaded
        return pipeline

    @cached_property  # asked for every stage that has no `wdir`
    def dirname(self) -> str:
        """Project-relative directory of this file (``.`` for the root)."""
        return posixpath.dirname(self.relpath) or "."

    # -- context ---------------------------------------------------------------------------

    def context(self) -> Context:
        """The file-level context: `params.yaml` beside the file, then top-level `vars`."""
        if self._context is None:
            ctx = Context()
            vars_ = self.data.get("vars") or []
            if find_expression(vars_):
                raise TemplateError(
                    f"failed to parse 'vars' in '{self.relpath}': interpolating is not allowed"
                )
            default = _join(self.dirname, DEFAULT_PARAMS_FILE)
            try:
                if self._source().exists(default):
                    self._merge_file(ctx, DEFAULT_PARAMS_FILE, self.dirname)
                self._merge_vars(ctx, vars_, self.dirname, stage="")
            except (VarsError, MergeError, FileFormatError) as exc:
                raise _fail("'vars'", self.relpath, exc) from None
            self._context = ctx
        return self._context

    def _merge_vars(self, ctx: Context, items: list[Any], wdir: str, stage: str) -> None:
        for index, item in enumerate(items):
            if isinstance(item, str):
                self._merge_file(ctx, item, wdir)
            else:
                prefix = f"{stage}." if stage else ""
                ctx.merge(item, source=f"{prefix}vars[{index}]")

    def _merge_file(self, ctx: Context, item: str, wdir: str) -> None:
        name, _, keys_text = item.partition(":")
        path = _join(wdir, name)
        keys = [k for k in keys_text.split(",") if k] or None
        if path in ctx.imports:
            if keys is None and ctx.imports[path] is None:
                return  # the same whole file twice is fine
            _check_loaded(ctx.imports[path], item, keys)
        data = self._read_vars_file(path)
        if keys is not None:
            missing = [k for k in keys if k not in data]
            if missing:
                raise VarsError(f"could not find '{missing[0]}' in '{path}'")
            data = {k: data[k] for k in keys}
        ctx.merge(data, source=path)
        previous = ctx.imports.get(path)
        ctx.imports[path] = None if keys is None else [*(previous or []), *keys]

    def _source(self) -> FileSource:
        if self.source is None:
            self.source = workspace_of(self.root, None)
        return self.source

    def _read_vars_file(self, path: str) -> dict[str, Any]:
        source = self._source()
        if not source.exists(path):
            raise VarsError(f"'{path}' does not exist")
        if source.isdir(path):
            raise VarsError(f"'{path}' is a directory")
        return files.load_params(path, path, source)

    # -- stages ------------------------------------------------------------------------

    def definitions(self) -> dict[str, dict[str, Any]]:
        """Raw stage definitions by name, as written (before templating)."""
        stages: dict[str, dict[str, Any]] = self.data.get("stages") or {}
        return stages

    def stage_names(self) -> list[str]:
        """Every stage name of the file, generated names included, in file order."""
        names: list[str] = []
        for name, definition in self.definitions().items():
            if "foreach" in definition or "matrix" in definition:
                names.extend(f"{name}@{key}" for key in self._group(name)[0])
            else:
                names.append(name)
        return names

    def stages(self) -> list[Stage]:
        """Every stage of the file, resolved, in file order."""
        out: list[Stage] = []
        for name, definition in self.definitions().items():
            if "foreach" in definition or "matrix" in definition:
                out.extend(self.generate(name, key) for key in self._group(name)[0])
            else:
                out.append(self._plain(name, definition))
        return out

    def select(self, name: str, shown: str | None = None) -> list[Stage]:
        """Stages addressed by ``name``: a stage, a group, or ``group@key``."""
        definitions = self.definitions()
        if name in definitions:
            definition = definitions[name]
            if "foreach" in definition or "matrix" in definition:
                return [self.generate(name, key) for key in self._group(name)[0]]
            return [self._plain(name, definition)]
        group, sep, key = name.rpartition("@")
        if sep and group in definitions and key in self._group(group)[0]:
            return [self.generate(group, key)]
        raise TargetError(f"Stage '{name}' not found inside '{shown or self.relpath}' file")

    def _plain(self, name: str, definition: dict[str, Any]) -> Stage:
        resolved = self._resolved.get(("", name))
        if resolved is not None:
            return resolved
        for key, value in definition.items():
            try:
                check_syntax(value)
            except ExpressionError as exc:
                raise _fail(f"'stages.{name}.{key}'", self.relpath, exc) from None
        stage = self._resolve_stage(name, definition, self.context(), group=None)
        self._resolved["", name] = stage
        return stage

    def _group(self, name: str) -> tuple[dict[str, Any], bool]:
        """A foreach/matrix group's items (key → item) and whether `${key}` is defined."""
        if name not in self._groups:
            definition = self.definitions()[name]
            kind = "matrix" if "matrix" in definition else "foreach"
            where = f"'stages.{name}.{kind}'"
            try:
                data = resolve(definition[kind], self.context(), field="foreach")
            except ExpressionError as exc:
                raise _fail(where, self.relpath, exc) from None
            if kind == "matrix":
                items, has_key = _matrix_items(data), True
            else:
                items = _foreach_items(data, where, self.relpath)
                has_key = isinstance(data, Mapping)
            if kind == "matrix":  # DVC names them in this order for matrix stages
                self._warn_shadowing(name, ["key", "item"])
            else:
                self._warn_shadowing(name, ["item", "key"] if has_key else ["item"])
            self._groups[name] = (items, has_key)
            template = definition["do"] if kind == "foreach" else definition
            for key, value in template.items():
                try:
                    check_syntax(value)
                except ExpressionError as exc:
                    raise _fail(f"'stages.{name}.{key}'", self.relpath, exc) from None
        return self._groups[name]

    def generate(self, group: str, key: str, *, compiled: bool = True) -> Stage:
        """The stage `group@key` of a `foreach`/`matrix` group (``key`` must be one of its keys).

        The group's template is parsed once and substituted per key, and the stage is
        kept for the next call; ``compiled=False`` resolves the template as written
        instead, every time (the reference: same stage, same errors).

            >>> pf.generate("train", "cnn").name                 # doctest: +SKIP
            'train@cnn'
        """
        resolved = self._resolved.get((group, key)) if compiled else None
        if resolved is not None:
            return resolved
        definition = self.definitions()[group]
        is_matrix = "matrix" in definition
        if is_matrix:
            template = {k: v for k, v in definition.items() if k != "matrix"}
        else:
            template = definition["do"]
        items, has_key = self._group(group)
        ctx = self.context()
        extra: dict[str, Any] = {"item": items[key]}
        if has_key:
            extra["key"] = key
        name = f"{group}@{key}"
        with ctx.temporarily(extra):
            fields = self._compiled(group, template) if compiled else None
            if fields is None:
                return self._resolve_stage(name, template, ctx, group=group)
            try:
                stage = self._resolve_compiled(name, template, fields, ctx, group)
            except ExpressionError:  # the reference raises it, worded with its location
                stage = self._resolve_stage(name, template, ctx, group=group)
        self._resolved[group, key] = stage
        return stage

    def _compiled(self, group: str, template: dict[str, Any]) -> _Fields | None:
        """The group's template with its expressions parsed once (None: resolve it as written).

        A template with stage-level `vars` merges files into a copy of the context
        for each stage: it takes the reference path.
        """
        if group not in self._templates:
            fields: _Fields | None = None
            if not template.get("vars"):
                try:
                    fields = [
                        (key, compile_value(value, field=key))
                        for key, value in template.items()
                        if key != "vars"
                    ]
                except ExpressionError:
                    fields = None
            self._templates[group] = fields
        return self._templates[group]

    def _resolve_compiled(
        self, name: str, template: dict[str, Any], fields: _Fields, ctx: Context, group: str
    ) -> Stage:
        """What `_resolve_stage` returns for a template without `vars`, from its compiled form."""
        wdir = self._resolve_wdir(name, template.get("wdir"), ctx)
        resolved = {key: resolve_field(ctx, self.parsing) for key, resolve_field in fields}
        return build_stage(name, self.relpath, wdir, resolved, group=group)

    def _warn_shadowing(self, group: str, names: list[str]) -> None:
        shadowed = [n for n in names if n in self.context()]
        if shadowed:
            verb = "is" if len(shadowed) == 1 else "are"
            self.warnings.append(
                f"{' and '.join(shadowed)} {verb} already specified, "
                f"will be overwritten for stages generated from '{group}'"
            )

    def _resolve_stage(
        self, name: str, definition: dict[str, Any], ctx: Context, group: str | None
    ) -> Stage:
        where = f"stages.{name}"
        wdir = self._resolve_wdir(name, definition.get("wdir"), ctx)
        stage_vars = definition.get("vars") or []
        if stage_vars:
            if find_expression(stage_vars):
                raise TemplateError(
                    f"failed to parse '{where}.vars' in '{self.relpath}': "
                    "interpolating is not allowed"
                )
            ctx = ctx.copy()
            try:
                self._merge_vars(ctx, stage_vars, wdir, stage=name)
            except VarsError as exc:
                raise _fail(f"'{where}.vars'", self.relpath, exc) from None
            except (MergeError, FileFormatError) as exc:
                raise _fail(f"stage '{name}'", self.relpath, exc) from None
        resolved: dict[str, Any] = {}
        for key, value in definition.items():
            if key == "vars":
                continue
            try:
                resolved[key] = resolve(value, ctx, field=key, parsing=self.parsing)
            except ExpressionError as exc:
                raise _fail(f"'{where}.{key}'", self.relpath, exc) from None
        return build_stage(name, self.relpath, wdir, resolved, group=group)

    def _resolve_wdir(self, name: str, wdir: Any, ctx: Context) -> str:
        if not wdir:
            return self.dirname
        try:
            value = to_text(resolve_str(str(wdir), ctx, field="wdir"), self.parsing)
        except ExpressionError as exc:
            raise _fail(f"'stages.{name}.wdir'", self.relpath, exc) from None
        return _join(self.dirname, value)


def _check_loaded(imported: list[str] | None, item: str, keys: list[str] | None) -> None:
    if keys is None and imported is not None:
        raise VarsError(f"cannot load '{item}' as it's partially loaded already")
    if keys is not None and imported is None:
        raise VarsError(f"cannot partially load '{item}' as it's already loaded.")
    if keys is not None and imported is not None and set(keys) & set(imported):
        raise VarsError(f"cannot load '{item}' as it's partially loaded already")


def _is_composite(value: Any) -> bool:
    return isinstance(value, Mapping | list | tuple)


def _foreach_items(data: Any, where: str, relpath: str) -> dict[str, Any]:
    text = ParsingConfig()
    if isinstance(data, Mapping):
        return {to_text(k, text): v for k, v in data.items()}
    if isinstance(data, list | tuple):
        if any(_is_composite(v) for v in data):
            return {str(i): v for i, v in enumerate(data)}
        return {to_text(v, text): v for v in data}
    raise TemplateError(
        f"failed to resolve {where} in '{relpath}': expected list/dictionary, "
        f"got {type(data).__name__}"
    )


def _matrix_items(data: Mapping[str, Any]) -> dict[str, Any]:
    text = ParsingConfig()
    names = list(data)
    out: dict[str, Any] = {}
    for combo in itertools.product(*(list(enumerate(data[n])) for n in names)):
        fragments = [
            f"{n}{i}" if _is_composite(v) else to_text(v, text)
            for n, (i, v) in zip(names, combo, strict=True)
        ]
        out["-".join(fragments)] = {n: v for n, (_, v) in zip(names, combo, strict=True)}
    return out


def _join(base: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(base, path))


def build_stage(
    name: str, dvcfile: str, wdir: str, data: Mapping[str, Any], group: str | None = None
) -> Stage:
    """Make a Stage from a resolved stage definition."""
    outs: list[Out] = []
    for kind in ("outs", "metrics", "plots"):
        items = data.get(kind)
        if items:
            outs.extend(make_outs(kind, items))
    params = data.get("params")
    return Stage(
        name=name,
        dvcfile=dvcfile,
        wdir=wdir,
        cmd=data.get("cmd"),
        deps=tuple(data.get("deps") or ()),
        params=merge_params(list(params)) if params else (),
        outs=tuple(outs),
        frozen=bool(data.get("frozen", False)),
        always_changed=bool(data.get("always_changed", False)),
        desc=data.get("desc"),
        meta=data.get("meta"),
        group=group,
        raw=data,
    )


def load_dvcfile_stage(
    root: str, relpath: str, display: str = "", source: FileSource | None = None
) -> Stage:
    """The single stage of a `.dvc` file (written by `dvc add` / `labrun add`)."""
    shown = display or relpath
    text = files.read_text(relpath, shown, workspace_of(root, source))
    data = schema.validate_dvcfile(files.parse_yaml(text, shown), text, shown)
    base = posixpath.dirname(relpath) or "."
    wdir = _join(base, data["wdir"]) if data.get("wdir") else base
    outs = [_dvcfile_out(o) for o in data.get("outs") or []]
    deps = tuple(d["path"] for d in data.get("deps") or [])
    return Stage(
        name=posixpath.basename(relpath),
        dvcfile=relpath,
        wdir=wdir,
        cmd=None,
        deps=deps,
        outs=tuple(outs),
        frozen=bool(data.get("frozen", data.get("locked", False))),
        always_changed=bool(data.get("always_changed", False)),
        desc=data.get("desc"),
        meta=data.get("meta"),
        raw=data,
    )


def _dvcfile_out(record: Mapping[str, Any]) -> Out:
    return make_outs("outs", [{record["path"]: {k: v for k, v in record.items() if k != "path"}}])[
        0
    ]
