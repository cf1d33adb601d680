"""Tables as DVC prints them: the `exp show` box with horizontal rules, Markdown, CSV, plain.

- :func:`ruled`: `exp show`'s terminal table (rich's ``HORIZONTALS`` box): a rule
  above, below the header and at the end; each cell padded by one space, one
  space between cells, metrics right-aligned, every line one space in from
  both edges.
- :func:`markdown` and :func:`plain`: what `tabulate` writes for DVC's
  ``github`` and ``plain`` formats (each column at least its header plus two).
- :func:`csv_text`: the CSV module's default dialect (``\\r\\n`` line ends).

    >>> print(plain(["Path", "acc"], [["metrics.json", "0.9"]]))
    Path          acc
    metrics.json  0.9
    >>> text = ruled(["Experiment", "acc"], [["workspace", "0.9"]], ["left", "right"])
    >>> print("\\n".join(line.rstrip() for line in text.splitlines()))
     ──────────────────
      Experiment   acc
     ──────────────────
      workspace    0.9
     ──────────────────
"""

from __future__ import annotations

from collections.abc import Sequence

from labrun.cli.render import width

RULE = "─"
MIN_PADDING = 2  # tabulate: a column is at least as wide as its header plus this
_GLYPHS = str.maketrans("├└─│…", "xxxxx")  # one column each: no Unicode lookup needed


def _width(text: str) -> int:
    """Display width; the tree glyphs of every experiment row take the fast path."""
    if text.isascii() or text.translate(_GLYPHS).isascii():
        return len(text)
    return width(text)


def _pad(text: str, size: int, align: str) -> str:
    gap = size - _width(text)
    if gap <= 0:
        return text
    return " " * gap + text if align == "right" else text + " " * gap


def ruled(headers: Sequence[str], rows: Sequence[Sequence[str]], aligns: Sequence[str]) -> str:
    """The `exp show` table; trailing spaces kept, as DVC prints them."""
    if not rows:
        return ""
    sizes = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    rule = " " + RULE * (sum(sizes) + 3 * len(sizes) - 1) + " "

    def line(cells: Sequence[str]) -> str:
        padded = (_pad(c, s, a) for c, s, a in zip(cells, sizes, aligns, strict=True))
        return " " + " ".join(f" {cell} " for cell in padded) + " "

    body = [line(row) for row in rows]
    return "\n".join([rule, line(headers), rule, *body, rule]) + "\n"


def _clean(text: str) -> str:
    return text.strip()


def _sizes(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    return [
        max([_width(h) + MIN_PADDING] + [_width(_clean(r[i])) for r in rows])
        for i, h in enumerate(headers)
    ]


def plain(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """tabulate's ``plain`` format: two spaces between columns, lines right-stripped."""
    sizes = _sizes(headers, rows)
    lines = []
    for cells in [headers, *rows]:
        padded = [_pad(_clean(c), s, "left") for c, s in zip(cells, sizes, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """tabulate's ``github`` format (GitHub-flavoured Markdown), without a final newline."""
    sizes = _sizes(headers, rows)

    def line(cells: Sequence[str]) -> str:
        padded = [_pad(_clean(c), s, "left") for c, s in zip(cells, sizes, strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (s + 2) for s in sizes) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def csv_text(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """CSV with a header row, as Python's `csv.writer` writes it (``\\r\\n`` line ends)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def page(text: str, *, pager: bool) -> None:
    """Print ``text`` (which ends with a newline), through the pager when asked and a TTY.

    The pager is ``$DVC_PAGER``, else ``$PAGER``, else `less` with DVC's options.
    """
    import os
    import sys

    command = _pager_command() if pager and sys.stdout.isatty() else None
    if command is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    import subprocess

    sys.stdout.flush()
    proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=os.environ)
    assert proc.stdin is not None
    try:
        proc.stdin.write(text.encode("utf-8", "replace"))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    proc.wait()


def _pager_command() -> str | None:
    import os
    import shutil

    command = os.environ.get("DVC_PAGER") or os.environ.get("PAGER")
    if not command:
        if shutil.which("less") is None:
            return None
        command = "less"
    if command == "less":
        quit_if_one = "" if os.environ.get("LESS") else " --quit-if-one-screen"
        return f"less{quit_if_one} --RAW-CONTROL-CHARS --chop-long-lines --no-init"
    return command


def json_text(data: object) -> str:
    """`--json` output as DVC writes it: one line, or indented on a terminal."""
    import json
    import sys

    indent = 2 if sys.stdout.isatty() else None
    return json.dumps(data, indent=indent, default=str) + "\n"
