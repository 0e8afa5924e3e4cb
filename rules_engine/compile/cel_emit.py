"""CEL compiled, emission: how the translator writes Python source for one ``def _cel(ev)``.

Position in the pipeline::

    cel parse tree ──cel_translate.Translator──▶ Emitter (this module) ──function_source──▶ Python text
                                                                                  │
                                                          cel_codegen: compile + exec in Emitter.ns

The emitter knows nothing about CEL's meaning; it owns the shape of the
generated function.  Invariants:

* every value lives in a fresh numbered local (``v1``, ``x2``, ``r3``), so a
  name is assigned on every path before it is read and never reused;
* every non-literal constant (trees, errors, compiled regexes, frozensets) is
  a ``_k<n>`` entry of ``ns``, the namespace the function is executed in,
  which starts as a copy of :data:`~.cel_runtime.RUNTIME`;
* the lines and the constants are the compiler's one emitter
  (:class:`~rules_engine.compile.emit.Writer`), as for ``match`` and the decoder;
* ``depth`` is the indentation level, 1 being the function body;
* ``fields`` collects every event path whose value was consumed whole
  (``use``), so the expression reads nothing outside those subtrees.
"""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass
from typing import Any, Final

from celpy.evaluation import CELEvalError
from lark import Tree

from rules_engine.compile.cel_runtime import RUNTIME
from rules_engine.compile.cel_values import INT64_MAX, INT64_MIN
from rules_engine.compile.emit import Writer

__all__ = ["NOCONST", "Emitter", "Fallback", "Val", "py_tuple"]


class Fallback(Exception):
    """A construct the translator leaves to cel-python (the whole expression falls back)."""


NOCONST: Final = object()
# Generated code reading an int from the event keeps it only inside int64, else a double (big_json_int).
_NORMALISE: Final = "if type({v}) is int and ({v} > {max} or {v} < {min}): {v} = _big({v})"


@dataclass(slots=True)
class Val:
    """A translated sub-expression: Python code naming its value, the event path it is, its constant."""

    code: str
    path: tuple[str, ...] | None = None
    const: Any = NOCONST


def py_tuple(codes: list[str]) -> str:
    """Python source of a tuple of these expressions."""
    return "(" + ", ".join(codes) + ("," if len(codes) == 1 else "") + ")"


class Emitter:
    """The growing body of ``def _cel(ev)``, its constants and the event paths it reads."""

    def __init__(self) -> None:
        self.out = Writer()
        self.out.ns.update(RUNTIME)
        self.depth = 1
        self.count = 0
        self.fields: set[tuple[str, ...]] = set()

    @property
    def ns(self) -> dict[str, Any]:
        """The namespace the function runs in: the runtime and the constants."""
        return self.out.ns

    def new(self, prefix: str = "v") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def emit(self, line: str) -> None:
        self.out.emit(self.depth, line)

    def const(self, value: Any) -> str:
        return self.out.const(value, "_k")

    def error(self, message: str, exc: type[BaseException], node: Tree[Any] | None) -> str:
        """A constant error value as cel-python makes it at ``node`` (see _err on the tree)."""
        try:
            return self.const(CELEvalError(message, exc, None, tree=node))
        except AttributeError as ex:  # a node without positions: cel-python itself would fail there
            raise Fallback("error without position") from ex

    def tree(self, node: Tree[Any]) -> str:
        return self.const(node)

    def lit(self, value: Any) -> str:
        t = type(value)
        if value is None or t is bool or t is str:
            return repr(value)
        if t is int or (t is float and math.isfinite(value)):
            return f"({value!r})"
        return self.const(value)

    def use(self, val: Val) -> str:
        """The value is consumed whole: the event path it came from is read."""
        if val.path is not None:
            self.fields.add(val.path)
        return val.code

    def bind(self, code: str) -> str:
        """A local name for ``code`` (Python warns about subscripting a literal such as ``(1.5)[k]``)."""
        if code.isidentifier() and not keyword.iskeyword(code):
            return code
        v = self.new()
        self.emit(f"{v} = {code}")
        return v

    def normalise_code(self, v: str) -> str:
        """The statement that turns an out-of-int64 event integer in local ``v`` into a double."""
        return _NORMALISE.format(v=v, max=INT64_MAX, min=INT64_MIN)

    def normalise(self, v: str) -> None:
        self.emit(self.normalise_code(v))

    def function_source(self, result: str) -> str:
        """The whole ``def _cel(ev)``, returning the expression ``result``; any mapping is accepted."""
        source = "def _cel(ev):\n    if type(ev) is not dict: ev = _as_dict(ev)\n"
        return source + "\n".join(self.out.lines) + f"\n    return {result}\n"
