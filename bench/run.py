#!/usr/bin/env python3
"""Benchmark labrun against DVC 3.67.1, side by side: `python3 bench/run.py --help`.

Needs only the standard library of any python3 >= 3.10; see bench/README.md.
"""

import sys
from pathlib import Path

# Import `bench` as a package from the repository root, and let no file of
# bench/ shadow a standard module (the script's folder is sys.path[0]).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.suite import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
