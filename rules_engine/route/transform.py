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

Modules: this one holds the steps and the public API; ``payload.py`` one
application's state, copy-on-write writes and values; ``envelope.py`` the
CloudEvents envelope.

Invariants: ``apply`` never raises and never mutates its input; the compiled
form holds no mutable state (each application uses its own scratch state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from rules_engine.compile.expr_codegen import compile_value
from rules_engine.model import codes, ir
from rules_engine.model.values import MISSING, get_path
from rules_engine.patterns.input_transformer import NotText, compile_input_transformer
from rules_engine.route.envelope import compile_envelope
from rules_engine.route.payload import (
    FAILED,
    Run,
    TransformError,
    assign,
    build_value,
    delete,
    show_path,
    why_missing,
)

__all__ = [
    "CompiledTransform",
    "Context",
    "Outcome",
    "compile_transform",
]


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


_Step = Callable[[Run], None]


# --- steps ----------------------------------------------------------------------------------------------


def _set_step(step: ir.SetField) -> _Step:
    build, path, where = build_value(step.value), step.path, show_path(step.path)

    def set_field(run: Run) -> None:
        v = build(run, where)
        if v is FAILED:
            return
        new_root, why = assign(run, run.payload, path, v)
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
    way is an object or absent; anything else answers ``FAILED`` (the general path decides)."""

    items: tuple[tuple[Callable[[Any, Mapping[str, Any]], Any], ir.Path, str | int], ...]

    def __call__(self, payload: dict[str, Any], event: Mapping[str, Any]) -> Any:
        no_bindings: Mapping[str, Any] = _NO_BINDINGS
        root = dict(payload)
        owned = {id(root): root}  # what this call made (kept alive, so ids stay unique)
        for fn, parents, last in self.items:
            v = fn(event, no_bindings)
            if v is MISSING:
                return FAILED
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
                    return FAILED
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
        (compile_value(s.value), s.value, s.path[:-1], s.path[-1], show_path(s.path), s.path) for s in steps
    )
    no_bindings: Mapping[str, Any] = {}

    def set_block(run: Run) -> None:
        event = run.event
        owned = run.owned
        for fn, expr, parents, last, where, path in items:
            v = fn(event, no_bindings)
            if v is MISSING:
                v = run.fail(codes.TRANSFORM_NO_VALUE, where, detail=why_missing(expr, event))
                if v is FAILED:
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
            new_root, why = assign(run, run.payload, path, v)
            if why is not None:
                if run.fail(codes.TRANSFORM_PATH_CONFLICT, where, detail=why) is FAILED:
                    return
                continue
            run.payload = new_root

    return set_block


def _rename_step(step: ir.Rename) -> _Step:
    src, dest = step.source, step.dest
    src_text, dest_text = show_path(src), show_path(dest)

    def rename(run: Run) -> None:
        v = get_path(run.payload, src)
        if v is MISSING:
            v = run.fail(codes.RENAME_SOURCE_MISSING, src_text, dest=dest_text)
            if v is FAILED:
                return
        else:
            delete(run, src)
        new_root, why = assign(run, run.payload, dest, v)
        if why is not None:
            run.fail(codes.TRANSFORM_PATH_CONFLICT, dest_text, detail=why)
            return
        run.payload = new_root

    return rename


def _drop_step(step: ir.Drop) -> _Step:
    paths = step.paths

    def drop(run: Run) -> None:
        for p in paths:
            delete(run, p)

    return drop


def _keep_step(step: ir.Keep) -> _Step:
    paths = step.paths

    def keep(run: Run) -> None:
        source = run.payload
        kept: Any = run.new_object()
        for p in paths:
            v = get_path(source, p)
            if v is not MISSING:
                # Object keys only (check_transform refuses array indexes): cannot fail.
                kept, _ = assign(run, kept, p, v)
        run.payload = kept

    return keep


def _replace_step(step: ir.Replace) -> _Step:
    build = build_value(step.value)

    def replace(run: Run) -> None:
        v = build(run, "payload")
        if v is not FAILED:
            run.payload = v

    return replace


def _input_step(step: ir.InputTransformer) -> _Step:
    fn = compile_input_transformer(step)
    if fn is None:
        def invalid(run: Run) -> None:
            run.fail(codes.TRANSFORM_FAILED, "input_template", detail="the input transformer is invalid (see check)")

        return invalid

    def input_transformer(run: Run) -> None:
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
        return show_path(step.path)
    if isinstance(step, ir.Rename):
        return show_path(step.source)
    if isinstance(step, (ir.Drop, ir.Keep)):
        return ", ".join(show_path(p) for p in step.paths)
    if isinstance(step, ir.Replace):
        return "payload"
    return "input_template"


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
            if done is not FAILED:
                return done, ()
            # Something unusual (a value missing, a non-object on the way): the general path
            # below runs the same transform again and reports it.  Transforms are pure, so
            # running again gives the same values.
        run = Run(payload, event, rule, now, null_fill)
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
        fns.append(compile_envelope(t.envelope).wrap)
    fast = None
    if t.envelope is None and t.steps and all(_plain_set(s) for s in t.steps):
        fast = _FastSets(tuple((compile_value(s.value), s.path[:-1], s.path[-1])
                               for s in t.steps if isinstance(s, ir.SetField)))
    return CompiledTransform(tuple(names), tuple(fns), t, fast)
