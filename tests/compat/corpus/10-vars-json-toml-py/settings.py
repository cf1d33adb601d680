"""Experiment settings, read statically by dvc (never executed)."""

EPOCHS = 3
RUN_TAG: str = "nightly"
SKIPPED = compute()  # noqa: F821  (not a literal: ignored)


class Model:
    depth = 12
    heads = 8

    def __init__(self):
        self.dropout = 0.1
