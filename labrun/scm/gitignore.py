"""`.gitignore` entries for outputs, written exactly as DVC writes them.

>>> entry_for("/p/model")     # the form DVC appends in the output's directory
'/model'
"""

from __future__ import annotations

import os
import re

_SPECIAL = re.compile(r"([\\*?\[\]!#])")


def entry_for(path: str) -> str:
    """`/<basename>` with gitignore's special characters escaped (trailing space too)."""
    name = _SPECIAL.sub(r"\\\1", os.path.basename(path.rstrip(os.sep)))
    if name.endswith(" "):
        name = name[:-1] + "\\ "
    return "/" + name


def gitignore_path(path: str) -> str:
    """The `.gitignore` that DVC edits for an output: the one in its parent directory."""
    return os.path.join(os.path.dirname(path.rstrip(os.sep)), ".gitignore")


def has_entry(path: str) -> bool:
    """True if the output's `.gitignore` already lists it."""
    ignore_file = gitignore_path(path)
    try:
        with open(ignore_file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return False
    return entry_for(path) in lines


def add_entry(path: str) -> str | None:
    """Append the output's entry to its `.gitignore`; return that file if it changed."""
    if has_entry(path):
        return None
    ignore_file = gitignore_path(path)
    text = ""
    if os.path.exists(ignore_file):
        with open(ignore_file, encoding="utf-8") as f:
            text = f.read()
    if text and not text.endswith("\n"):
        text += "\n"
    with open(ignore_file, "w", encoding="utf-8") as f:
        f.write(text + entry_for(path) + "\n")
    return ignore_file


def remove_entry(path: str) -> None:
    """Drop the output's entry again (after a failed command); delete an emptied file."""
    ignore_file = gitignore_path(path)
    try:
        with open(ignore_file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    kept = [line for line in lines if line != entry_for(path)]
    if not kept:
        os.unlink(ignore_file)
        return
    with open(ignore_file, "w", encoding="utf-8") as f:
        f.write("\n".join(kept) + "\n")
