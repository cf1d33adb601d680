"""The `exp show` table: columns, cells, sorting and column filters, as DVC 3.67 lays them out.

From the states `show.py` gathers, :func:`tabulate` makes an :class:`ExpTable`:
one row per baseline and per experiment (its tip commit), columns
``Experiment, rev, typ, Created, parent, State, Executor``, then one per
flattened metric, one per flattened param (``file:key`` when a key occurs in
several files or equals a fixed header), then one per dependency path (sorted).
Rendering (terminal, CSV, Markdown) lives in the CLI.

    >>> table = tabulate([], TableOptions())
    >>> table.headers
    ['Experiment', 'Created']
"""

from __future__ import annotations

import re

from labrun.errors import LabrunError
from labrun.record import field, record

TYPE_CHECKING = False  # typing is only for the type checker: importing it costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from typing import Any

FIXED = ("Experiment", "rev", "typ", "Created", "parent", "State", "Executor")
MERGED = ("rev", "typ", "parent")  # folded into `Experiment` in the terminal/Markdown table
TREE = {
    "branch_commit": "├──",
    "branch_base": "└──",
    "baseline": "",
    # checkpoint chains, drawn as DVC 2.x did (DVC 3 shows only their tip)
    "checkpoint_tip": "│ ╓",
    "checkpoint_commit": "│ ╟",
    "checkpoint_base": "├─╨",
}


class SortColumnError(LabrunError):
    """`--sort-by` names no column, or several."""


@record
class TableOptions:
    """How cells are written and which columns stay (DVC's `exp show` table options)."""

    precision: int | None = 5  # significant digits of floats; None: full precision
    fill: str = "-"  # a missing value
    error: str = "!"  # a value of a file that could not be read
    iso: bool = False  # `Created` as ISO 8601 (CSV) instead of `08:24 PM` / `Nov 27, 2026`
    sort_by: str | None = None
    sort_order: str = "asc"
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    only_changed: bool = False
    merge_id: bool = True  # fold rev/typ/parent into `Experiment` (False for CSV)


@record
class ExpTable:
    """Rows of cells under headers; ``kinds`` says what each column holds.

    Kinds: ``id`` (Experiment), ``info`` (rev, typ, Created, ...), ``metrics``,
    ``params``, ``deps``. ``baseline`` flags the baseline rows.
    """

    headers: list[str]
    kinds: list[str]
    rows: list[list[str]]
    baseline: list[bool] = field(default_factory=list)


# --- names ------------------------------------------------------------------------------


def flatten(data: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened with dots (lists stay values, empty mappings vanish).

    >>> flatten({"train": {"lr": 0.1, "layers": [1, 2]}, "seed": 7, "opt": {}})
    {'train.lr': 0.1, 'train.layers': [1, 2], 'seed': 7}
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


@record
class Names:
    """Per file, the flattened keys seen in any row (in order of appearance); dep paths."""

    metrics: dict[str, dict[str, None]] = field(default_factory=dict)
    params: dict[str, dict[str, None]] = field(default_factory=dict)
    deps: dict[str, None] = field(default_factory=dict)


def iter_rows(states: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every revision state: baselines and every commit of every experiment."""
    for baseline in states:
        yield baseline
        for exp_range in baseline.get("experiments") or []:
            yield from exp_range["revs"]


def collect_names(states: Iterable[dict[str, Any]]) -> Names:
    """The metric/param keys and dep paths of all rows (DVC's `_collect_names`)."""
    names = Names()
    for item in iter_rows(states):
        data = item.get("data")
        if not data:
            continue
        for kind in ("metrics", "params"):
            target: dict[str, dict[str, None]] = getattr(names, kind)
            for path, entry in data[kind].items():
                value = entry.get("data", {})
                keys = target.setdefault(path, {})
                if isinstance(value, dict):
                    keys.update(dict.fromkeys(flatten(value)))
        names.deps.update(dict.fromkeys(data["deps"]))
    return names


def _headers(names: Mapping[str, Mapping[str, None]], count: Mapping[str, int]) -> list[str]:
    return [
        name if count.get(name, 0) == 1 else f"{path}:{name}"
        for path, keys in names.items()
        for name in keys
    ]


# --- cells --------------------------------------------------------------------------------


def format_value(value: Any, precision: int | None) -> str:
    """A cell: floats to ``precision`` significant digits (inside lists/dicts too), then str.

    >>> format_value(1 / 7, 5), format_value([0.123456, 1], 3), format_value(True, 5)
    ('0.14286', "['0.123', 1]", 'True')
    """
    return str(_format(value, precision))


def _format(value: Any, precision: int | None) -> Any:
    if isinstance(value, float) and precision:
        return f"{value:.{precision}g}"
    if isinstance(value, dict):
        return {k: _format(v, precision) for k, v in value.items()}
    if isinstance(value, list):
        return [_format(v, precision) for v in value]
    return value


def format_created(stamp: str | None, options: TableOptions, today: str) -> str:
    """`Created`: ISO for CSV; the time if today (`08:24 PM`), else the date (`Nov 27, 2026`)."""
    if not stamp:
        return options.fill
    if options.iso:
        return stamp
    from datetime import datetime

    parsed = datetime.fromisoformat(stamp)
    return parsed.strftime("%I:%M %p" if stamp[:10] == today else "%b %d, %Y")


@record
class _Layout:
    """Column names per kind and how rows are turned into cells."""

    names: Names
    metrics: list[str]
    params: list[str]
    deps: list[str]
    options: TableOptions
    today: str

    @property
    def headers(self) -> list[str]:
        return [*FIXED, *self.metrics, *self.params, *self.deps]

    def row(self, item: dict[str, Any], fixed: dict[str, str]) -> list[str]:
        cells = dict.fromkeys(self.headers, self.options.fill)
        cells.update(fixed)
        data = item.get("data")
        if data:
            cells["Created"] = format_created(data.get("timestamp"), self.options, self.today)
            cells.update(self._file_cells(data["metrics"], self.names.metrics, self.metrics))
            cells.update(self._file_cells(data["params"], self.names.params, self.params))
            for dep in self.deps:
                recorded = data["deps"].get(dep)
                if recorded:
                    cells[dep] = recorded.get("hash") or self.options.fill
        return list(cells.values())

    def _file_cells(
        self,
        files: Mapping[str, Any],
        names: Mapping[str, Mapping[str, None]],
        headers: Sequence[str],
    ) -> Iterator[tuple[str, str]]:
        shown = set(headers)
        for path, entry in files.items():
            value = entry.get("data", {})
            flat = flatten(value) if isinstance(value, dict) else {path: value}
            missing = self.options.error if entry.get("error") else self.options.fill
            for name in names.get(path, {}):
                found = flat.get(name)
                cell = format_value(missing if found is None else found, self.options.precision)
                yield (name if name in shown else f"{path}:{name}"), cell


def tabulate(states: Sequence[dict[str, Any]], options: TableOptions) -> ExpTable:
    """The table of `exp show` for the states of `show.collect_experiments`."""
    import time
    from collections import Counter

    names = collect_names(states)
    count = Counter(
        k for files in (names.metrics, names.params) for keys in files.values() for k in keys
    )
    count.update(FIXED)
    layout = _Layout(
        names,
        _headers(names.metrics, count),
        _headers(names.params, count),
        sorted(names.deps),
        options,
        time.strftime("%Y-%m-%d"),
    )
    rows: list[list[str]] = []
    flags: list[bool] = []
    for baseline, exp_rows in _ordered(states, names, options):
        rows.append(layout.row(baseline, _baseline_fixed(baseline)))
        flags.append(True)
        shared = _shared_commits(exp_rows)
        for i, exp_range in enumerate(exp_rows):
            head = exp_range["revs"][0] if exp_range["revs"] else None
            if head is None:
                continue
            if len(exp_range["revs"]) > 1:
                for item, fixed in _chain_rows(exp_range, i, shared):
                    rows.append(layout.row(item, fixed))
                    flags.append(False)
                continue
            last = i == len(exp_rows) - 1
            rows.append(layout.row(head, _exp_fixed(head, exp_range, last)))
            flags.append(False)
    kinds = ["id"] + ["info"] * (len(FIXED) - 1)
    kinds += ["metrics"] * len(layout.metrics) + ["params"] * len(layout.params)
    kinds += ["deps"] * len(layout.deps)
    table = ExpTable(layout.headers, kinds, rows, flags)
    return _filter_columns(table, options)


def _baseline_fixed(item: dict[str, Any]) -> dict[str, str]:
    rev = item["rev"]
    label = item.get("name") or (rev[:7] if _is_sha(rev) else rev)
    return {"Experiment": "", "rev": label, "typ": "baseline", "parent": ""}


def _is_sha(rev: str) -> bool:
    return len(rev) == 40 and not rev.strip("0123456789abcdef")


def _exp_fixed(head: dict[str, Any], exp_range: dict[str, Any], last: bool) -> dict[str, str]:
    rev = head["rev"]
    fixed = {
        "Experiment": head.get("name") or "",
        "rev": rev[:7] if _is_sha(rev) else rev,
        "typ": "branch_base" if last else "branch_commit",
        "parent": "",
    }
    executor = exp_range.get("executor")
    if executor:
        fixed["State"] = str(executor["state"]).capitalize()
        if executor.get("name"):
            fixed["Executor"] = str(executor["name"]).capitalize()
    return fixed


def _shared_commits(exp_rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Which chain draws each commit: the one where it sits nearest the tip.

    A checkpoint experiment resumed with changed params branches off another
    chain and contains that chain's commits below the branch point; those are
    drawn once, under the experiment they were made for.
    """
    owner: dict[str, tuple[int, int]] = {}  # rev → (position in its chain, chain number)
    for number, exp_range in enumerate(exp_rows):
        for pos, item in enumerate(exp_range["revs"]):
            best = owner.get(item["rev"])
            if best is None or pos < best[0]:
                owner[item["rev"]] = (pos, number)
    return {rev: number for rev, (_pos, number) in owner.items()}


def _chain_rows(
    exp_range: dict[str, Any], number: int, owners: dict[str, int]
) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """The rows of a checkpoint chain: tip, its checkpoints, and the base commit.

    A chain branched off another one shows its branch point as ``sha (parent)``
    instead of a base row.
    """
    items = exp_range["revs"]
    own = [it for it in items if owners.get(it["rev"]) == number]
    branched = len(own) < len(items)
    for pos, item in enumerate(own):
        rev = item["rev"]
        fixed = _exp_fixed(item, exp_range, False) if pos == 0 else {"Experiment": ""}
        fixed["rev"] = rev[:7] if _is_sha(rev) else rev
        fixed["parent"] = ""
        if pos == 0:
            fixed["typ"] = "checkpoint_tip"
        elif pos == len(own) - 1 and not branched:
            fixed["typ"] = "checkpoint_base"
        else:
            fixed["typ"] = "checkpoint_commit"
        if pos == len(own) - 1 and branched:
            fixed["parent"] = items[len(own)]["rev"][:7]
        yield item, fixed


# --- sorting ----------------------------------------------------------------------------------


def _ordered(
    states: Sequence[dict[str, Any]], names: Names, options: TableOptions
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    sort_key = None
    for baseline in states:
        exp_rows = list(baseline.get("experiments") or [])
        if options.sort_by and exp_rows:
            if sort_key is None:
                sort_key = sort_column(options.sort_by, names)
            exp_rows = _sort(exp_rows, sort_key, options.sort_order == "desc")
        yield baseline, exp_rows


def sort_column(sort_by: str, names: Names) -> tuple[str, str, str]:
    """(file, key, "metrics" | "params") that ``--sort-by [file:]key`` names.

    >>> sort_column("p.yaml:lr", Names(params={"p.yaml": {"lr": None}}))
    ('p.yaml', 'lr', 'params')
    """
    parts = sort_by.split(":")
    matches: dict[tuple[str, str, str], None] = {}
    for split in range(len(parts)):
        path, key = ":".join(parts[:split]), ":".join(parts[split:])
        if not path:
            sort_by = key  # `:name` means the bare name
        _match(matches, path, key, names)
    if not matches:
        for kind in ("metrics", "params"):
            for path in getattr(names, kind):
                _match(matches, path, sort_by, names)
    if len(matches) == 1:
        return next(iter(matches))
    if matches:
        found = ", ".join(f"{path}:{key}" for path, key, _ in matches)
        raise SortColumnError(f"Ambiguous sort column '{sort_by}' matched '{found}'")
    raise SortColumnError(f"Unknown sort column '{sort_by}'")


def _match(matches: dict[tuple[str, str, str], None], path: str, key: str, names: Names) -> None:
    for kind in ("metrics", "params"):
        files: dict[str, dict[str, None]] = getattr(names, kind)
        if path in files and key in files[path]:
            matches[(path, key, kind)] = None


def _sort(
    ranges: list[dict[str, Any]], column: tuple[str, str, str], reverse: bool
) -> list[dict[str, Any]]:
    path, key, kind = column

    def value_of(exp_range: dict[str, Any]) -> tuple[bool, int, Any]:
        head = exp_range["revs"][0] if exp_range["revs"] else None
        data = (head or {}).get("data") or {}
        found = data.get(kind, {}).get(path, {}).get("data", {})
        value = flatten(found).get(key) if isinstance(found, dict) else None
        if value is None:
            return True, 0, 0
        if isinstance(value, int | float):
            return False, 0, value
        return False, 1, str(value)  # mixed types: numbers before text instead of a crash

    return sorted(ranges, key=value_of, reverse=reverse)


# --- column filters -------------------------------------------------------------------------


def _filter_columns(table: ExpTable, options: TableOptions) -> ExpTable:
    """--keep protects, then empty State/Executor go, ids merge, --only-changed, --drop."""
    protected = set()
    if options.keep:
        keep = re.compile("|".join(options.keep))
        protected = {h for h in table.headers if keep.match(h)}
    drop = {c for c in ("State", "Executor") if _is_empty(table, c, options.fill)}
    table = _without(table, drop - protected)
    if options.merge_id:
        table = _merge_ids(table)
        table = _without(table, set(MERGED) - protected)
    if options.only_changed:
        same = {h for i, h in enumerate(table.headers) if len({r[i] for r in table.rows}) == 1}
        table = _without(table, same - protected)
    if options.drop:
        pattern = re.compile("|".join(options.drop))
        table = _without(table, {h for h in table.headers if pattern.match(h)} - protected)
    return table


def _is_empty(table: ExpTable, header: str, fill: str) -> bool:
    column = table.headers.index(header)
    return all(row[column] == fill for row in table.rows)


def _without(table: ExpTable, headers: set[str]) -> ExpTable:
    if not headers:
        return table
    keep = [i for i, h in enumerate(table.headers) if h not in headers]
    return ExpTable(
        [table.headers[i] for i in keep],
        [table.kinds[i] for i in keep],
        [[row[i] for i in keep] for row in table.rows],
        table.baseline,
    )


def _merge_ids(table: ExpTable) -> ExpTable:
    """`Experiment` becomes `├── <rev> [<name>]` (or the baseline label)."""
    col = {h: i for i, h in enumerate(table.headers)}
    for row in table.rows:
        name, rev, typ = row[col["Experiment"]], row[col["rev"]], row[col["typ"]]
        text = name or rev if typ == "baseline" or not name else f"{rev} [{name}]"
        parent = row[col["parent"]]
        text += f" ({parent})" if parent else ""
        tree = TREE.get(typ, "")
        row[col["Experiment"]] = f"{tree} {text}" if tree else text
    return table
