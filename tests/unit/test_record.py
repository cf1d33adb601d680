"""`@record` value classes behave like frozen dataclasses where labrun relies on it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labrun.record import field, record


@record
class Base:
    stage: str


@record
class Child(Base):
    extra: int = 1
    items: list[int] = field(default_factory=list)
    note: str = field(default="", compare=False)


@record(frozen=False)
class Counter:
    count: int = 0
    seen: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seen["init"] = self.count


def test_fields_defaults_factories_and_inheritance() -> None:
    a, b = Child("s"), Child("s")
    assert (a.stage, a.extra, a.items) == ("s", 1, [])
    assert a.items is not b.items
    assert Child("s", 2).extra == 2 and Child(stage="s", extra=3).extra == 3
    assert repr(Child("s")) == "Child(stage='s', extra=1, items=[], note='')"


def test_equality_and_hash_skip_uncompared_fields() -> None:
    assert Child("s", note="x") == Child("s", note="y")
    assert Child("s") != Child("t")
    assert Child("s") != Base("s")
    assert hash(Base("s")) == hash(Base("s"))


def test_frozen_and_mutable() -> None:
    with pytest.raises(AttributeError):
        Base("s").stage = "t"  # type: ignore[misc]
    c = Counter(3)
    c.count = 4
    assert c.seen == {"init": 3}
    with pytest.raises(TypeError):
        hash(c)


@pytest.mark.parametrize(
    ("args", "kwargs"), [((), {}), (("s", 1, [], "", 9), {}), (("s",), {"nope": 1})]
)
def test_bad_arguments_are_type_errors(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        Child(*args, **kwargs)  # type: ignore[arg-type]


def test_importing_the_pipeline_model_does_not_import_dataclasses_or_inspect() -> None:
    code = (
        "import sys, labrun.pipeline.dvcfile, labrun.pipeline.dag, labrun.repro.events; "
        "print(sorted(m for m in ('dataclasses', 'inspect', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "dataclasses" not in out.stdout and "inspect" not in out.stdout
