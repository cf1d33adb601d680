"""`python -m labrun` runs the command line."""

from labrun.cli.main import main

raise SystemExit(main())
