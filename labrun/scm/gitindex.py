"""The layout of Git's index file (versions 2 and 3), read without git.

Each entry is a fixed part (stat data, mode, object name, flags) followed by its
path and 1 to 8 NULs that pad it to a multiple of 8 bytes; version 3 entries
with the extended flag carry two more bytes of flags before the path. The
extensions follow the entries. Readers of paths (`git.tracked`), of tree entries
(`objects`) and of stat data (`staging`) all walk it with :func:`entries_of`.

    >>> fixed = bytes(60) + (9).to_bytes(2, "big")
    >>> data = b"DIRC" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + fixed + b"params.yaml"
    >>> entries_of(data + bytes(7))
    ([(12, b'params.yaml', 9)], 92)
"""

from __future__ import annotations

EXTENDED = 0x4000  # the entry has a second flags word (intent-to-add, skip-worktree)
STAGE = 0x3000  # a conflict stage (1-3)
ASSUME_VALID = 0x8000  # `git update-index --assume-unchanged`
NOT_PLAIN = EXTENDED | STAGE  # intent-to-add or skip-worktree entries, conflicts


def entries_of(data: bytes) -> tuple[list[tuple[int, bytes, int]], int] | None:
    """``(offset of the entry, path, flags)`` of each entry, and where the extensions
    start; None for an index of another version, or one that ends too soon."""
    if data[:4] != b"DIRC" or data[4:8] not in (b"\0\0\0\2", b"\0\0\0\3"):
        return None
    found: list[tuple[int, bytes, int]] = []
    version3 = data[7] == 3
    pos = 12
    try:
        for _ in range(int.from_bytes(data[8:12], "big")):
            flags = int.from_bytes(data[pos + 60 : pos + 62], "big")
            start = pos + (64 if flags & EXTENDED and version3 else 62)
            end = data.index(b"\0", start)
            found.append((pos, data[start:end], flags))
            pos += (end - pos + 8) & ~7
    except ValueError:
        return None
    return (found, pos) if pos <= len(data) else None


def field(data: bytes, entry: int, offset: int) -> int:
    """The 32-bit field at ``offset`` of the entry's fixed part (0 ctime … 36 size)."""
    return int.from_bytes(data[entry + offset : entry + offset + 4], "big")


def plain_extensions(data: bytes, pos: int) -> bool:
    """False if the index is split (`link`) or sparse (`sdir`): its entries are not all there."""
    end = len(data) - 20  # the trailing checksum (SHA-1; a longer one only ends the walk early)
    while pos + 8 <= end:
        if data[pos : pos + 4] in (b"link", b"sdir"):
            return False
        pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
    return True
