"""Transforms: a rule's or a target's payload shaping, compiled once at load time.

Position in the pipeline::

    ir.Transform ──**compile_transform**──▶ CompiledTransform ──apply(payload, context)──▶ Outcome
         └────────check/transform.py──▶ diagnostics (E370–E374, E129) at load time
                                                        ▲
                                 route/router.py: rule transform, then target transform

Meaning (docs/transforms.md has the user's view):

* **Expressions read the event as it arrived**; steps write the payload.  A
  ``set`` value, a ``payload``, an input transformer's paths, envelope
  attributes and partition keys all read the original event (``$`` is the
  whole event in the expression language, ``event`` in CEL), never the payload
  being built, so a transform is a pure function of the event and the order
  of steps only decides where values land.  ``rename``, ``drop`` and ``keep``
  act on the payload.
* Steps apply in written order to a copy of the payload.  The copy is made
  lazily, container by container, along the paths that are written
  (copy-on-write): the caller's event is never changed, and untouched parts of
  a payload are shared with the event.  Payloads are therefore read-only for
  whoever receives them.
* What is an error (an :class:`TransformError`, never an exception): a value
  with no value (E511: a missing field, a failed operation); renaming a field
  that is not there (E512); writing through something that is not an object
  or through an array index out of range (E513); a CEL value that fails or has
  no JSON form (E514); an envelope attribute of the wrong type or a required
  one without a value (E515); anything unexpected (E510).  ``drop`` and
  ``keep`` of absent fields are not errors.
* An object or list written out in a ``set`` value or a ``payload`` is a
  template: each of its fields must have a value (E511 names the field),
  whereas the same object inside a larger expression keeps the expression
  language's rule (a missing field is left out).

With ``null_fill`` the application goes on after an error: the failed value is
``null`` (a failed rename writes ``null`` at its destination, a write that
cannot happen is skipped) and every error is reported.  Without it the first
error ends the application.

Invariants: ``apply`` never raises and never mutates its input; the compiled
form holds no mutable state (each application uses its own scratch state).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from rules_engine.compile.cel_codegen import compile_cel_value
from rules_engine.compile.cel_values import CelFailure
from rules_engine.compile.expr_codegen import compile_value
from rules_engine.expressions.render import render_expr, render_path
from rules_engine.expressions.shape import children
from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.values import (
    MISSING,
    get_path,
    is_array,
    is_number,
    is_object,
    number_text,
    to_json_text,
    type_name,
)
from rules_engine.patterns.input_transformer import NotText, compile_input_transformer, format_time

__all__ = [
    "CompiledTransform",
    "Context",
    "Outcome",
    "TransformError",
    "compile_transform",
    "event_id",
]


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


@dataclass(frozen=True, slots=True)
class Context:
    """What a transform may read besides the payload: the original event, the rule, the time.

    ``now`` is the ingestion time (``<aws.events.event.ingestion-time>``, the
    envelope's fallback ``time``); the caller supplies it — nothing here reads a clock.
    """

    event: Mapping[str, Any]
    rule: str
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The transformed payload and the errors met (``payload`` is None when an error stopped it)."""

    payload: Any
    errors: tuple[TransformError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


class _Failed:
    """A value that could not be produced (the application stops unless null-filling)."""

    __slots__ = ()


_FAILED: Final = _Failed()


class _Run:
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
        """Record an error; the value to use instead (``None`` when null-filling, else ``_FAILED``)."""
        self.errors.append(TransformError(code.code, path, code.format(path=path, **args)))
        return None if self.null_fill else _FAILED

    @property
    def stopped(self) -> bool:
        return bool(self.errors) and not self.null_fill

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


def _is_obj(v: Any) -> bool:
    """``is_object`` with the common case first: ``isinstance(v, Mapping)`` is an ABC check (slow)."""
    return type(v) is dict or is_object(v)


_Step = Callable[[_Run], None]
_Build = Callable[[_Run, str], Any]  # (run, where) -> value, or _FAILED


# --- paths ----------------------------------------------------------------------------------------------


def _show_path(path: ir.Path) -> str:
    return render_path(path, None, frozenset())


def _child(container: Any, step: str | int) -> Any:
    if isinstance(step, str):
        return container.get(step, MISSING) if _is_obj(container) else MISSING
    if is_array(container):
        i = step + len(container) if step < 0 else step
        return container[i] if 0 <= i < len(container) else MISSING
    return MISSING


def _kind(v: Any) -> str:
    name = type_name(v)
    return ("an " if name[0] in "aeiou" else "a ") + name


def _blocked(root: Any, path: ir.Path) -> str | None:
    """Why ``path`` cannot be written inside ``root`` (None: it can).  Reads only.

    Objects missing on the way will be created; arrays never are (an index must exist).
    """
    if not _is_obj(root):
        return f"the payload is {_kind(root)}, not an object"
    cur = root
    for i, step in enumerate(path):
        if isinstance(step, str) and not _is_obj(cur):
            return f"{_show_path(path[:i])} is {_kind(cur)}, not an object"
        if isinstance(step, int):
            if not is_array(cur):
                return f"{_show_path(path[:i])} is {_kind(cur)}, not an array"
            if _child(cur, step) is MISSING:
                return f"{_show_path(path[:i])} has no index {step} (it has {len(cur)} elements)"
        if i == len(path) - 1:
            return None
        nxt = _child(cur, step)
        if nxt is MISSING:
            # The rest is created: objects only, so no index may follow.
            for j in range(i + 1, len(path)):
                if isinstance(path[j], int):
                    return f"{_show_path(path[:j])} is missing, so it has no index {path[j]}"
            return None
        cur = nxt
    return None


def _assign(run: _Run, root: Any, path: ir.Path, value: Any) -> tuple[Any, str | None]:
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
        nxt = _child(cur, step)
        nxt = run.new_object() if nxt is MISSING else run.own(nxt)
        cur[at] = nxt
        cur = nxt
    last = path[-1]
    cur[last if isinstance(last, str) else (last + len(cur) if last < 0 else last)] = value
    return new_root, None


def _delete(run: _Run, path: ir.Path) -> bool:
    """Remove the value at ``path`` from the payload; False when there is none."""
    if not path or get_path(run.payload, path) is MISSING:
        return False
    cur = run.payload = run.own(run.payload)
    for step in path[:-1]:
        nxt = run.own(_child(cur, step))
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


def _why_missing(expr: ir.Expr, event: Any) -> str:
    """The first missing event field the expression reads, for a message (slow path only)."""
    stack: list[ir.Expr] = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, ir.Field) and e.var is None:
            if get_path(event, e.path) is MISSING:
                return f"{_show_path(e.path)} is missing"
            continue
        if isinstance(e, ir.Quantifier):
            stack.append(e.collection)
            continue
        stack.extend(reversed(children(e)))
    text = render_expr(expr)
    if len(text) > 80:
        text = text[:79] + "…"
    return f"{text} has no value"


def _leaf(expr: ir.Expr) -> _Build:
    """One value: an expression (E511 when it has no value) or a CEL expression (E514 on failure)."""
    if isinstance(expr, ir.Cel):
        cel = compile_cel_value(expr.source)

        def cel_value(run: _Run, where: str) -> Any:
            v = cel(run.event)
            failure = _first_failure(v, CelFailure)
            if failure is not None:
                return run.fail(codes.CEL_VALUE_FAILED, where, detail=failure)
            return v

        return cel_value
    fn = compile_value(expr)
    no_bindings: Mapping[str, Any] = {}

    def value(run: _Run, where: str) -> Any:
        v = fn(run.event, no_bindings)
        if v is MISSING:
            return run.fail(codes.TRANSFORM_NO_VALUE, where, detail=_why_missing(expr, run.event))
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


def _build(expr: ir.Expr) -> _Build:
    """A ``set`` value or a ``payload``: objects and lists written out are templates whose every
    field must have a value; anything else is one value."""
    if isinstance(expr, ir.ObjectExpr):
        items = tuple((k, _build(x)) for k, x in expr.items)

        def build_object(run: _Run, where: str) -> Any:
            obj: dict[str, Any] = {}
            for k, b in items:
                v = b(run, f"{where}.{k}" if k.isidentifier() else f"{where}[{k!r}]")
                if v is _FAILED:
                    return _FAILED
                obj[k] = v
            return obj

        return build_object
    if isinstance(expr, ir.ListExpr):
        elems = tuple(_build(x) for x in expr.items)

        def build_list(run: _Run, where: str) -> Any:
            out: list[Any] = []
            for i, b in enumerate(elems):
                v = b(run, f"{where}[{i}]")
                if v is _FAILED:
                    return _FAILED
                out.append(v)
            return out

        return build_list
    return _leaf(expr)


# --- steps ----------------------------------------------------------------------------------------------


def _set_step(step: ir.SetField) -> _Step:
    build, path, where = _build(step.value), step.path, _show_path(step.path)

    def set_field(run: _Run) -> None:
        v = build(run, where)
        if v is _FAILED:
            return
        new_root, why = _assign(run, run.payload, path, v)
        if why is not None:
            run.fail(codes.TRANSFORM_PATH_CONFLICT, where, detail=why)
            return
        run.payload = new_root

    return set_field


def _plain_set(step: ir.TransformStep) -> bool:
    """A ``set`` of one value (not a written-out object, list or CEL) at a path of plain keys."""
    return (
        isinstance(step, ir.SetField)
        and all(type(k) is str for k in step.path)
        and not isinstance(step.value, (ir.ObjectExpr, ir.ListExpr, ir.Cel))
    )


@dataclass(frozen=True, slots=True)
class _FastSets:
    """Plain ``set`` steps on an object payload when every value exists and every parent on the
    way is an object or absent; anything else answers ``_FAILED`` (the general path decides)."""

    items: tuple[tuple[Callable[[Any, Mapping[str, Any]], Any], ir.Path, str | int], ...]

    def __call__(self, payload: dict[str, Any], event: Mapping[str, Any]) -> Any:
        no_bindings: Mapping[str, Any] = _NO_BINDINGS
        root = dict(payload)
        owned = {id(root): root}  # what this call made (kept alive, so ids stay unique)
        for fn, parents, last in self.items:
            v = fn(event, no_bindings)
            if v is MISSING:
                return _FAILED
            cur = root
            for k in parents:
                nxt = cur.get(k, MISSING)  # type: ignore[arg-type]
                if type(nxt) is dict:
                    if id(nxt) not in owned:
                        nxt = dict(nxt)
                        owned[id(nxt)] = nxt
                        cur[k] = nxt  # type: ignore[index]
                elif nxt is MISSING:
                    nxt = {}
                    owned[id(nxt)] = nxt
                    cur[k] = nxt  # type: ignore[index]
                else:
                    return _FAILED
                cur = nxt
            cur[last] = v  # type: ignore[index]
        return root


_NO_BINDINGS: Final[Mapping[str, Any]] = {}


def _set_block(steps: list[ir.SetField]) -> _Step:
    """Consecutive plain ``set`` steps as one step: the hot path of most transforms.

    Same meaning as the steps one by one (values read the event, so evaluating a value never
    depends on an earlier write); the first failure ends the block unless null-filling.
    """
    items = tuple(
        (compile_value(s.value), s.value, s.path[:-1], s.path[-1], _show_path(s.path), s.path) for s in steps
    )
    no_bindings: Mapping[str, Any] = {}

    def set_block(run: _Run) -> None:
        event = run.event
        owned = run.owned
        for fn, expr, parents, last, where, path in items:
            v = fn(event, no_bindings)
            if v is MISSING:
                v = run.fail(codes.TRANSFORM_NO_VALUE, where, detail=_why_missing(expr, event))
                if v is _FAILED:
                    return
            cur = run.payload
            if type(cur) is dict:
                if id(cur) not in owned:
                    cur = dict(cur)
                    owned[id(cur)] = cur
                    run.payload = cur
                for k in parents:
                    nxt = cur.get(k, MISSING)
                    if type(nxt) is dict:
                        if id(nxt) not in owned:
                            nxt = dict(nxt)
                            owned[id(nxt)] = nxt
                            cur[k] = nxt
                    elif nxt is MISSING:
                        nxt = {}
                        owned[id(nxt)] = nxt
                        cur[k] = nxt
                    else:
                        break  # something else on the way: the general write below
                    cur = nxt
                else:
                    cur[last] = v
                    continue
            new_root, why = _assign(run, run.payload, path, v)
            if why is not None:
                if run.fail(codes.TRANSFORM_PATH_CONFLICT, where, detail=why) is _FAILED:
                    return
                continue
            run.payload = new_root

    return set_block


def _rename_step(step: ir.Rename) -> _Step:
    src, dest = step.source, step.dest
    src_text, dest_text = _show_path(src), _show_path(dest)

    def rename(run: _Run) -> None:
        v = get_path(run.payload, src)
        if v is MISSING:
            v = run.fail(codes.RENAME_SOURCE_MISSING, src_text, dest=dest_text)
            if v is _FAILED:
                return
        else:
            _delete(run, src)
        new_root, why = _assign(run, run.payload, dest, v)
        if why is not None:
            run.fail(codes.TRANSFORM_PATH_CONFLICT, dest_text, detail=why)
            return
        run.payload = new_root

    return rename


def _drop_step(step: ir.Drop) -> _Step:
    paths = step.paths

    def drop(run: _Run) -> None:
        for p in paths:
            _delete(run, p)

    return drop


def _keep_step(step: ir.Keep) -> _Step:
    paths = step.paths

    def keep(run: _Run) -> None:
        source = run.payload
        kept: Any = run.new_object()
        for p in paths:
            v = get_path(source, p)
            if v is not MISSING:
                # Object keys only (check_transform refuses array indexes): cannot fail.
                kept, _ = _assign(run, kept, p, v)
        run.payload = kept

    return keep


def _replace_step(step: ir.Replace) -> _Step:
    build = _build(step.value)

    def replace(run: _Run) -> None:
        v = build(run, "payload")
        if v is not _FAILED:
            run.payload = v

    return replace


def _input_step(step: ir.InputTransformer) -> _Step:
    fn = compile_input_transformer(step)
    if fn is None:
        def invalid(run: _Run) -> None:
            run.fail(codes.TRANSFORM_FAILED, "input_template", detail="the input transformer is invalid (see check)")

        return invalid

    def input_transformer(run: _Run) -> None:
        try:
            run.payload = fn(run.event, run.rule, run.now)
        except NotText as e:
            if run.fail(codes.INPUT_VALUE_NOT_TEXT, "input_template", name=e.name, kind=e.kind) is None:
                run.payload = None  # null_fill: the payload is the failed value

    return input_transformer


def _step(step: ir.TransformStep) -> _Step:
    if isinstance(step, ir.SetField):
        return _set_step(step)
    if isinstance(step, ir.Rename):
        return _rename_step(step)
    if isinstance(step, ir.Drop):
        return _drop_step(step)
    if isinstance(step, ir.Keep):
        return _keep_step(step)
    if isinstance(step, ir.Replace):
        return _replace_step(step)
    return _input_step(step)


def _step_name(step: ir.TransformStep) -> str:
    if isinstance(step, ir.SetField):
        return _show_path(step.path)
    if isinstance(step, ir.Rename):
        return _show_path(step.source)
    if isinstance(step, (ir.Drop, ir.Keep)):
        return ", ".join(_show_path(p) for p in step.paths)
    if isinstance(step, ir.Replace):
        return "payload"
    return "input_template"


# --- the CloudEvents envelope -----------------------------------------------------------------------------


def event_id(event: Mapping[str, Any]) -> str:
    """The envelope ``id``: the event's own ``id`` (a string or number), else a digest of the event.

    The digest (32 hex digits of SHA-256 over the event as canonical JSON, keys
    sorted) is the same for the same event, whatever its key order.
    """
    own = event.get("id")
    if isinstance(own, str) and own:
        return own
    if is_number(own):
        return number_text(own)  # type: ignore[arg-type]
    return hashlib.sha256(to_json_text(event).encode("utf-8")).hexdigest()[:32]


_ATTR: Final = ("a non-empty string", (str,))
_EXTENSION: Final = ("a string, an integer or a boolean", (str, int, bool))
_Optional = Callable[[_Run, str], Any]  # (run, where) -> value, MISSING (absent) or _FAILED


def _optional(expr: ir.Expr) -> _Optional:
    """An optional attribute's value: an expression without a value means "no attribute"."""
    if isinstance(expr, ir.Cel):
        return _leaf(expr)  # a CEL failure is an error (E514), not an absence
    fn = compile_value(expr)
    no_bindings: Mapping[str, Any] = {}

    def value(run: _Run, where: str) -> Any:
        return fn(run.event, no_bindings)

    return value


@dataclass(frozen=True, slots=True)
class _Envelope:
    """CloudEvents 1.0, JSON structured mode: the finished payload becomes ``data``."""

    ce_type: _Build | None
    ce_source: _Build | None
    subject: _Optional | None
    extensions: tuple[tuple[str, _Optional], ...]

    def wrap(self, run: _Run) -> None:
        event = run.event
        out: dict[str, Any] = {"specversion": "1.0", "id": event_id(event)}
        for name, build, fallback in (("source", self.ce_source, ("source",)),
                                      ("type", self.ce_type, ("type", "detail-type"))):
            v = self._required(run, name, build, fallback)
            if v is _FAILED:
                return
            out[name] = v
        attrs: list[tuple[str, _Optional, tuple[str, tuple[type, ...]]]] = []
        if self.subject is not None:
            attrs.append(("subject", self.subject, _ATTR))
        for name, value, kinds in attrs:
            v = self._checked(run, name, value(run, f"envelope.{name}"), kinds)
            if v is _FAILED:
                return
            if v is not MISSING:
                out[name] = v
        if isinstance(event.get("time"), str):
            out["time"] = event["time"]
        elif run.now is not None:
            out["time"] = format_time(run.now)
        out["datacontenttype"] = "application/json"
        for name, value in self.extensions:
            v = self._checked(run, name, value(run, f"envelope.{name}"), _EXTENSION)
            if v is _FAILED:
                return
            if v is not MISSING:
                out[name] = v
        out["data"] = run.payload
        run.payload = out

    @staticmethod
    def _required(run: _Run, name: str, build: _Build | None, fallback: tuple[str, ...]) -> Any:
        where = f"envelope.{name}"
        if build is None:
            for key in fallback:
                v = event_value = run.event.get(key)
                if isinstance(event_value, str) and event_value:
                    return v
            keys = " or ".join(repr(k) for k in fallback)
            return run.fail(codes.BAD_ENVELOPE_VALUE, where, name=name,
                            detail=f"no expression is given and the event has no {keys} string")
        v = build(run, where)
        if v is _FAILED or (v is None and run.errors):
            return v  # failed, or null-filled after a failure
        return _Envelope._checked(run, name, v, _ATTR)

    @staticmethod
    def _checked(run: _Run, name: str, v: Any, kinds: tuple[str, tuple[type, ...]]) -> Any:
        """``v`` when CloudEvents allows it (MISSING and _FAILED pass through); else E515."""
        if v is MISSING or v is _FAILED:
            return v
        what, allowed = kinds
        # bool is an int in Python, a float never is an integer here: JSON's 2.0 is a number, not an Integer.
        if isinstance(v, allowed) and not isinstance(v, float) and v != "":
            return v
        return run.fail(codes.BAD_ENVELOPE_VALUE, f"envelope.{name}", name=name,
                        detail=f"must be {what}, not {_kind(v)}")


def _envelope(env: ir.Envelope) -> _Envelope:
    return _Envelope(
        _build(env.type) if env.type is not None else None,
        _build(env.source) if env.source is not None else None,
        _optional(env.subject) if env.subject is not None else None,
        tuple((n, _optional(e)) for n, e in env.extensions),
    )


# --- public API -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledTransform:
    """A transform ready to apply: its steps and envelope as closures, built once."""

    names: tuple[str, ...]
    fns: tuple[_Step, ...]
    """The steps, then the envelope's ``wrap`` (each with its name for error messages)."""
    source: ir.Transform = field(compare=False, repr=False)
    fast: _FastSets | None = field(default=None, compare=False, repr=False)
    """When the transform is only plain ``set`` steps: an optimistic path for the usual event."""

    def apply(self, payload: Any, ctx: Context, *, null_fill: bool = False) -> Outcome:
        """Transform ``payload`` (not changed) for the event in ``ctx``.  Never raises."""
        result, errors = self.run(payload, ctx.event, ctx.rule, ctx.now, null_fill)
        return Outcome(result, errors)

    def run(self, payload: Any, event: Mapping[str, Any], rule: str, now: datetime | None = None,
            null_fill: bool = False) -> tuple[Any, tuple[TransformError, ...]]:
        """:meth:`apply` without the wrapping (``(payload, errors)``): the router's hot path."""
        if self.fast is not None and type(payload) is dict:
            done = self.fast(payload, event)
            if done is not _FAILED:
                return done, ()
            # Something unusual (a value missing, a non-object on the way): the general path
            # below runs the same transform again and reports it.  Transforms are pure, so
            # running again gives the same values.
        run = _Run(payload, event, rule, now, null_fill)
        errors = run.errors
        fns = self.fns
        start = 0
        while start < len(fns):
            at = start
            try:
                # One guard around the loop (cheap); after an exception the walk resumes at the
                # next step (null_fill) or stops.
                for at in range(start, len(fns)):
                    fns[at](run)
                    if errors and not null_fill:
                        return None, tuple(errors)
                break
            except Exception as ex:  # noqa: BLE001 - a defect or a non-JSON input: an error, never a crash
                run.fail(codes.TRANSFORM_FAILED, self.names[at], detail=f"{type(ex).__name__}: {ex}")
                if not null_fill:
                    return None, tuple(errors)
                start = at + 1
        return run.payload, tuple(errors)


def compile_transform(t: ir.Transform) -> CompiledTransform:
    """Compile once at load time (expressions, regexes, CEL, the input template)."""
    names: list[str] = []
    fns: list[_Step] = []
    i = 0
    while i < len(t.steps):
        j = i
        while j < len(t.steps) and _plain_set(t.steps[j]):
            j += 1
        if j > i:
            block = [s for s in t.steps[i:j] if isinstance(s, ir.SetField)]
            names.append(", ".join(_step_name(s) for s in block))
            fns.append(_set_block(block))
            i = j
            continue
        names.append(_step_name(t.steps[i]))
        fns.append(_step(t.steps[i]))
        i += 1
    if t.envelope is not None:
        names.append("envelope")
        fns.append(_envelope(t.envelope).wrap)
    fast = None
    if t.envelope is None and t.steps and all(_plain_set(s) for s in t.steps):
        fast = _FastSets(tuple((compile_value(s.value), s.path[:-1], s.path[-1])
                               for s in t.steps if isinstance(s, ir.SetField)))
    return CompiledTransform(tuple(names), tuple(fns), t, fast)
