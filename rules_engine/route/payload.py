"""One application of a transform: its scratch state, copy-on-write writes, values read from the event.

Position in the pipeline::

    route/transform.py (steps) ─┐
    route/envelope.py ──────────┴─▶ **payload**: Run (one application), assign / delete at a path,
                                    build_value / value_of (a ``set`` value, a ``payload``, an attribute)

The meaning (docs/transforms.md): values read the event as it arrived; writes
go to the payload, copying lazily, container by container, along the paths
that are written (copy-on-write), so the caller's event is never changed.
Errors are :class:`TransformError` values recorded on the :class:`Run`, never
exceptions; a value that could not be produced is :data:`FAILED`.

Invariants: a :class:`Run` is local to one application and never shared; only
containers it owns (made or copied by it, kept alive in ``owned``) are mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from rules_engine.compile.cel_codegen import compile_cel_value
from rules_engine.compile.cel_values import CelFailure
from rules_engine.compile.expr_codegen import compile_value
from rules_engine.expressions.render import render_expr, render_path
from rules_engine.expressions.shape import children
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.values import MISSING, get_path, is_array, is_object, type_name


@dataclass(frozen=True, slots=True)
class TransformError:
    """Why a transform failed: a stable code, where (a payload path or ``envelope.type``), and the message."""

    code: str
    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message)


class Failed:
    """A value that could not be produced (the application stops unless null-filling)."""

    __slots__ = ()


FAILED: Final = Failed()


class Run:
    """Scratch state of one application (local to ``apply``; never shared)."""

    __slots__ = ("errors", "event", "now", "null_fill", "owned", "payload", "rule")

    def __init__(self, payload: Any, event: Mapping[str, Any], rule: str, now: datetime | None,
                 null_fill: bool) -> None:
        self.payload = payload
        self.event = event
        self.rule = rule
        self.now = now
        # Containers this application made (its copies and new objects), by id, kept alive here
        # so that an id cannot be reused while the application runs.  Only these may be mutated.
        self.owned: dict[int, Any] = {}
        self.errors: list[TransformError] = []
        self.null_fill = null_fill

    def fail(self, code: codes.Code, path: str, **args: Any) -> Any:
        """Record an error; the value to use instead (``None`` when null-filling, else ``FAILED``)."""
        self.errors.append(TransformError(code.code, path, code.format(path=path, **args)))
        return None if self.null_fill else FAILED

    def own(self, container: Any) -> Any:
        """``container`` itself if this application made it, else a shallow copy that it now owns."""
        if id(container) in self.owned:
            return container
        copy: Any = dict(container) if type(container) is dict or is_object(container) else list(container)
        self.owned[id(copy)] = copy
        return copy

    def new_object(self) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        self.owned[id(obj)] = obj
        return obj


def is_obj(v: Any) -> bool:
    """``is_object`` with the common case first: ``isinstance(v, Mapping)`` is an ABC check (slow)."""
    return type(v) is dict or is_object(v)


Build = Callable[[Run, str], Any]  # (run, where) -> value, or FAILED


# --- paths ----------------------------------------------------------------------------------------------


def show_path(path: ir.Path) -> str:
    return render_path(path, None, frozenset())


def child(container: Any, step: str | int) -> Any:
    if isinstance(step, str):
        return container.get(step, MISSING) if is_obj(container) else MISSING
    if is_array(container):
        i = step + len(container) if step < 0 else step
        return container[i] if 0 <= i < len(container) else MISSING
    return MISSING


def kind_of(v: Any) -> str:
    name = type_name(v)
    return ("an " if name[0] in "aeiou" else "a ") + name


def _blocked(root: Any, path: ir.Path) -> str | None:
    """Why ``path`` cannot be written inside ``root`` (None: it can).  Reads only.

    Objects missing on the way will be created; arrays never are (an index must exist).
    """
    if not is_obj(root):
        return f"the payload is {kind_of(root)}, not an object"
    cur = root
    for i, step in enumerate(path):
        if isinstance(step, str) and not is_obj(cur):
            return f"{show_path(path[:i])} is {kind_of(cur)}, not an object"
        if isinstance(step, int):
            if not is_array(cur):
                return f"{show_path(path[:i])} is {kind_of(cur)}, not an array"
            if child(cur, step) is MISSING:
                return f"{show_path(path[:i])} has no index {step} (it has {len(cur)} elements)"
        if i == len(path) - 1:
            return None
        nxt = child(cur, step)
        if nxt is MISSING:
            # The rest is created: objects only, so no index may follow.
            for j in range(i + 1, len(path)):
                if isinstance(path[j], int):
                    return f"{show_path(path[:j])} is missing, so it has no index {path[j]}"
            return None
        cur = nxt
    return None


def assign(run: Run, root: Any, path: ir.Path, value: Any) -> tuple[Any, str | None]:
    """Write ``value`` at ``path`` inside ``root``, copying what this application does not own.

    Returns the new root and None, or ``root`` untouched and why the write cannot happen
    (checked before anything is changed, so a failed write leaves no trace).
    """
    if not path:
        return value, None
    why = _blocked(root, path)
    if why is not None:
        return root, why
    new_root = cur = run.own(root)
    for step in path[:-1]:
        at = step if isinstance(step, str) else (step + len(cur) if step < 0 else step)
        nxt = child(cur, step)
        nxt = run.new_object() if nxt is MISSING else run.own(nxt)
        cur[at] = nxt
        cur = nxt
    last = path[-1]
    cur[last if isinstance(last, str) else (last + len(cur) if last < 0 else last)] = value
    return new_root, None


def delete(run: Run, path: ir.Path) -> bool:
    """Remove the value at ``path`` from the payload; False when there is none."""
    if not path or get_path(run.payload, path) is MISSING:
        return False
    cur = run.payload = run.own(run.payload)
    for step in path[:-1]:
        nxt = run.own(child(cur, step))
        if isinstance(step, str):
            cur[step] = nxt
        else:
            cur[step + len(cur) if step < 0 else step] = nxt
        cur = nxt
    last = path[-1]
    if isinstance(last, str):
        del cur[last]
    else:
        del cur[last + len(cur) if last < 0 else last]
    return True


# --- values ---------------------------------------------------------------------------------------------


def why_missing(expr: ir.Expr, event: Any) -> str:
    """The first missing event field the expression reads, for a message (slow path only)."""
    stack: list[ir.Expr] = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, ir.Field) and e.var is None:
            if get_path(event, e.path) is MISSING:
                return f"{show_path(e.path)} is missing"
            continue
        if isinstance(e, ir.Quantifier):
            stack.append(e.collection)
            continue
        stack.extend(reversed(children(e)))
    text = render_expr(expr)
    if len(text) > 80:
        text = text[:79] + "…"
    return f"{text} has no value"


def value_of(expr: ir.Expr) -> Build:
    """One value: an expression (E511 when it has no value) or a CEL expression (E514 on failure)."""
    if isinstance(expr, ir.Cel):
        cel = compile_cel_value(expr.source)

        def cel_value(run: Run, where: str) -> Any:
            v = cel(run.event)
            failure = _first_failure(v, CelFailure)
            if failure is not None:
                return run.fail(codes.CEL_VALUE_FAILED, where, detail=failure)
            return v

        return cel_value
    fn = compile_value(expr)
    no_bindings: Mapping[str, Any] = {}

    def value(run: Run, where: str) -> Any:
        v = fn(run.event, no_bindings)
        if v is MISSING:
            return run.fail(codes.TRANSFORM_NO_VALUE, where, detail=why_missing(expr, run.event))
        return v

    return value


def _first_failure(v: Any, failure_type: type) -> str | None:
    stack = [v]
    while stack:
        x = stack.pop()
        if type(x) is failure_type:
            return str(x.message) if hasattr(x, "message") else str(x)
        if type(x) is list:
            stack.extend(x)
        elif type(x) is dict:
            stack.extend(x.values())
    return None


def build_value(expr: ir.Expr) -> Build:
    """A ``set`` value or a ``payload``: objects and lists written out are templates whose every
    field must have a value; anything else is one value."""
    if isinstance(expr, ir.ObjectExpr):
        items = tuple((k, build_value(x)) for k, x in expr.items)

        def build_object(run: Run, where: str) -> Any:
            obj: dict[str, Any] = {}
            for k, b in items:
                v = b(run, f"{where}.{k}" if k.isidentifier() else f"{where}[{k!r}]")
                if v is FAILED:
                    return FAILED
                obj[k] = v
            return obj

        return build_object
    if isinstance(expr, ir.ListExpr):
        elems = tuple(build_value(x) for x in expr.items)

        def build_list(run: Run, where: str) -> Any:
            out: list[Any] = []
            for i, b in enumerate(elems):
                v = b(run, f"{where}[{i}]")
                if v is FAILED:
                    return FAILED
                out.append(v)
            return out

        return build_list
    return value_of(expr)
