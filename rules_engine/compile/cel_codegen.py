"""CEL compiled: a CEL filter translated once into a plain Python function.

Position in the pipeline::

    ir.Cel(source) ──compile_cel──▶ CompiledCel.predicate(event) -> bool     (compiled rule set)
                        │
                        └─ any construct not translated: cel.CelProgram (cel-python) for that expression

The translation walks cel-python's own parse tree (``cel.parse_cel``) and
emits Python source, compiled once with :func:`compile`.  The contract is
*exactly cel-python's verdict*, quirks included (docs/cel.md): errors are
values that ``||``/``&&`` absorb, ``1.5 + 1`` is a plain Python float that
compares with an ``int`` although ``1.5 == 1`` is an error, ``true == 1`` holds
but ``1 == true`` is an error, and so on.

This module is the public face; the work is done by one module per concern::

    cel_values.py     the value domain (compiled ↔ cel-python ↔ JSON) and its conversions
    cel_runtime.py    helpers the generated code calls: slow paths through cel-python's own functions
    cel_emit.py       the shape of the generated ``def _cel(ev)``: locals, constants, paths read
    cel_translate.py  parse tree -> statements, one method per node kind, fast paths inline
    cel_codegen.py    (here) compile + exec, fallback to cel-python, ``compile_cel``/``compile_cel_value``

How exactness is kept without re-deriving every rule:

* **Values** in compiled code mirror cel-python's run-time values one to one
  (cel_values), so any value can be converted to cel-python's and back.
* **Fast paths** are emitted inline for the common, simple cases (cel_translate).
* **Everything else** converts the operands to cel-python values and calls
  the very function cel-python's evaluator calls, with the same exception
  handling as the evaluator's tree node (cel_runtime).  A few cases are
  beyond that (an error stored inside a map literal, values that are not
  JSON): the compiled code raises :class:`Unsure` and cel-python evaluates
  that event.

An event is read lazily: a value is taken from the event dict only where the
expression looks, and a JSON integer outside int64 becomes a double there, as
``cel.to_cel`` does for the reference.

The value types and conversions live in ``cel_values.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from celpy.celparser import CELParseError

from rules_engine.cel.evaluate import CelProgram
from rules_engine.cel.parse import CelTooDeep, parse_cel
from rules_engine.compile.cel_emit import Fallback
from rules_engine.compile.cel_translate import Translator
from rules_engine.compile.cel_values import CelFailure, Raised, Unsure, from_celpy, to_plain
from rules_engine.compile.emit import load

__all__ = ["CompiledCel", "compile_cel", "compile_cel_value"]


# --- public API -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledCel:
    """A CEL filter ready to run: ``predicate(event)`` is True iff cel-python's result is ``true``."""

    text: str
    predicate: Callable[[Mapping[str, Any]], bool]
    is_fallback: bool
    fields: frozenset[tuple[str, ...]] | None
    """Event paths read: the expression reads nothing outside these subtrees (None: unknown)."""
    python: str | None = field(default=None, repr=False, compare=False)
    """The generated Python source (None on fallback), for debugging."""


@dataclass(frozen=True, slots=True)
class _Translation:
    """One translation; ``function`` is None when cel-python (``program``) must evaluate every event."""

    program: CelProgram
    function: Callable[[dict[str, Any]], Any] | None
    fields: frozenset[tuple[str, ...]] | None
    python: str | None


def _translate(text: str) -> _Translation:
    try:
        tree = parse_cel(text)
    except (CELParseError, CelTooDeep):  # the checker reports it at load time; cel-python says the same at run time
        return _Translation(CelProgram.build(text), None, None, None)
    program = CelProgram.build(text, tree)
    gen = Translator()
    try:
        result = gen.use(gen.node(tree))
        source = gen.function_source(result)
        namespace = dict(gen.ns)
        load(source, "cel", namespace)
    except Fallback:
        # A construct the translation leaves to cel-python (counted: ``CEL fallbacks`` in
        # ``rules-engine compile --show stats``).
        return _Translation(program, None, None, None)
    except (SyntaxError, RecursionError):
        # Python's own limits on the generated source (20 nested blocks, deeply nested macros).
        return _Translation(program, None, None, None)
    # Anything else is a translator defect: it propagates, so the tests see it.
    return _Translation(program, namespace["_cel"], frozenset(gen.fields), source)


def compile_cel(text: str) -> CompiledCel:
    """Translate ``text`` once.  Never raises; a text that does not parse gives a predicate that is always false."""
    tr = _translate(text)
    program, fn = tr.program, tr.function
    if fn is None:
        return CompiledCel(text, program.truth, True, None)

    def predicate(event: Mapping[str, Any]) -> bool:
        try:
            return fn(event) is True  # type: ignore[arg-type]
        except Unsure:
            return program.truth(event)
        except Exception:
            # cel-python would raise here (an error result of map()/filter(), a macro over a
            # number, int(inf)): the evaluation has no value and the filter does not hold.
            return False

    return CompiledCel(text, predicate, False, tr.fields, tr.python)


def compile_cel_value(text: str) -> Callable[[Mapping[str, Any]], Any]:
    """A value-producing CEL expression (transforms): returns JSON values, or :class:`CelFailure`."""
    tr = _translate(text)
    program, fn = tr.program, tr.function

    def reference(event: Mapping[str, Any]) -> Any:
        try:
            return to_plain(from_celpy(program.evaluate(event)))
        except Exception as ex:
            return CelFailure(f"{type(ex).__name__}: {ex}")

    if fn is None:
        return reference

    def value(event: Mapping[str, Any]) -> Any:
        try:
            r = fn(event)  # type: ignore[arg-type]
        except Unsure:
            return reference(event)
        except Raised as ex:
            r = ex.err
        except Exception as ex:
            return CelFailure(f"{type(ex).__name__}: {ex}")
        return to_plain(r)

    return value
