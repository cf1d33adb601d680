"""Side-by-side benchmarks of labrun and DVC 3.67.1 (`python3 bench/run.py`, see bench/README.md).

Standard library only, so that any python3 >= 3.10 can run it before either
tool is installed.

    scenarios.py   the declarative table: what runs, on which project, with which reset
    projects.py    scratch projects (generated deterministically, reused between runs)
    toolchain.py   the two virtual environments and the environment every command runs in
    measure.py     time one process: wall clock, user/sys time, peak RSS, lingering workers
    session.py     run one scenario: alternate the tools, reset untimed, detect "not supported"
    report.py      statistics, RESULTS.md and results.json
    profiling.py   cProfile of one labrun command
    run.py         the command line
"""
