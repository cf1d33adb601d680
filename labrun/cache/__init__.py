"""Content-addressed storage compatible with DVC's cache; knows nothing of stages.

- :mod:`labrun.cache.hashing`: file md5 (DVC 3 and the 2.x legacy flavour),
  ``.dir`` manifests, the :class:`~labrun.cache.hashing.HashInfo` value.
- :mod:`labrun.cache.state`: the ``(inode, mtime, size) → md5`` memo in SQLite.
- :mod:`labrun.cache.scan`: one walk of a directory and the token of its stat data.
- :mod:`labrun.cache.presence`: whether a whole tree is in the cache, memoised.
- :mod:`labrun.cache.odb`: the ``ObjectStore`` protocol, its local and in-memory
  implementations.
- :mod:`labrun.cache.links`: reflink/hardlink/symlink/copy and checkout.
- :mod:`labrun.cache.commit`: hash through the memo and store, each file read once.
- :mod:`labrun.cache.workers`: per-file work on a few threads.

Import the submodule you need; this package module stays empty so that importing
one of them does not pay for the others (``sqlite3`` in particular).
"""
