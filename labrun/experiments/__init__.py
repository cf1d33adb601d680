"""Experiments: runs of the pipeline recorded as commits under `refs/exps/`, never on a branch."""
