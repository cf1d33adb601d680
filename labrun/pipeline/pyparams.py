r"""Python params files, read statically with `ast` (never executed).

Module-level `NAME = <literal>` (and annotated) assignments; `class Name:` becomes a
mapping of its class-level assignments plus `self.x = <literal>` in `__init__`.

    >>> read_python_params("LR = 0.1\nclass Cfg:\n    depth = 3\n", "p.py")
    {'LR': 0.1, 'Cfg': {'depth': 3}}
"""

from __future__ import annotations

import ast
from typing import Any


def read_python_params(text: str, display: str) -> dict[str, Any]:
    """The params of a Python file; SyntaxError/ValueError if it cannot be parsed."""
    return _python_params(ast.parse(text, filename=display).body)


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Dict):
        return {
            _literal_key(k): ast.literal_eval(v)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    if isinstance(node, ast.List):
        return [ast.literal_eval(item) for item in node.elts]
    if isinstance(node, ast.Set):
        return {ast.literal_eval(item) for item in node.elts}
    if isinstance(node, ast.Tuple):
        return tuple(ast.literal_eval(item) for item in node.elts)
    return ast.literal_eval(node)


def _literal_key(node: ast.expr | None) -> Any:
    if node is None:  # `{**other}`
        raise ValueError("dict unpacking")
    return ast.literal_eval(node)


def _target_name(target: ast.expr, only_self: bool) -> str:
    if isinstance(target, ast.Name) and not only_self:
        return target.id
    value = getattr(target, "value", None)
    if isinstance(target, ast.Attribute) and isinstance(value, ast.Name) and value.id == "self":
        return target.attr
    raise ValueError("not a parameter assignment")


def _assignment(stmt: ast.Assign | ast.AnnAssign, only_self: bool) -> dict[str, Any]:
    targets = [stmt.target] if isinstance(stmt, ast.AnnAssign) else stmt.targets
    if len(targets) != 1 or stmt.value is None:
        raise ValueError("not a single assignment")
    return {_target_name(targets[0], only_self): _literal(stmt.value)}


def _python_params(body: list[ast.stmt], only_self: bool = False) -> dict[str, Any]:
    """Module/class-level literal assignments; `self.x = ...` directly in `__init__`."""
    result: dict[str, Any] = {}
    for stmt in body:
        try:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                result.update(_assignment(stmt, only_self))
            elif isinstance(stmt, ast.ClassDef):
                result[stmt.name] = _python_params(stmt.body)
            elif isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
                result.update(_python_params(stmt.body, only_self=True))
        except (ValueError, TypeError, RecursionError):
            continue
    return result
