"""The CloudEvents envelope a transform may end with (CloudEvents 1.0, JSON structured mode).

Position in the pipeline::

    ir.Envelope ──**compile_envelope**──▶ Envelope.wrap: the finished payload becomes ``data`` of
                                          {"specversion": "1.0", "id", "source", "type", ...}

``id`` is the event's own ``id`` or a digest of the event (:func:`event_id`);
``source`` and ``type`` are required (an expression, else the event's own);
``subject`` and extensions are optional (an expression without a value means
no attribute).  A value CloudEvents does not allow is E515, recorded on the
run like every transform error (``payload.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from rules_engine.compile.expr_codegen import compile_value
from rules_engine.model import codes, ir
from rules_engine.model.values import MISSING, is_number, number_text, to_json_text
from rules_engine.patterns.input_transformer import format_time
from rules_engine.route.payload import FAILED, Build, Run, build_value, kind_of, value_of


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
_Optional = Callable[[Run, str], Any]  # (run, where) -> value, MISSING (absent) or FAILED


def _optional(expr: ir.Expr) -> _Optional:
    """An optional attribute's value: an expression without a value means "no attribute"."""
    if isinstance(expr, ir.Cel):
        return value_of(expr)  # a CEL failure is an error (E514), not an absence
    fn = compile_value(expr)
    no_bindings: Mapping[str, Any] = {}

    def value(run: Run, where: str) -> Any:
        return fn(run.event, no_bindings)

    return value


@dataclass(frozen=True, slots=True)
class Envelope:
    """CloudEvents 1.0, JSON structured mode: the finished payload becomes ``data``."""

    ce_type: Build | None
    ce_source: Build | None
    subject: _Optional | None
    extensions: tuple[tuple[str, _Optional], ...]

    def wrap(self, run: Run) -> None:
        event = run.event
        out: dict[str, Any] = {"specversion": "1.0", "id": event_id(event)}
        for name, build, fallback in (("source", self.ce_source, ("source",)),
                                      ("type", self.ce_type, ("type", "detail-type"))):
            v = self._required(run, name, build, fallback)
            if v is FAILED:
                return
            out[name] = v
        attrs: list[tuple[str, _Optional, tuple[str, tuple[type, ...]]]] = []
        if self.subject is not None:
            attrs.append(("subject", self.subject, _ATTR))
        for name, value, kinds in attrs:
            v = self._checked(run, name, value(run, f"envelope.{name}"), kinds)
            if v is FAILED:
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
            if v is FAILED:
                return
            if v is not MISSING:
                out[name] = v
        out["data"] = run.payload
        run.payload = out

    @staticmethod
    def _required(run: Run, name: str, build: Build | None, fallback: tuple[str, ...]) -> Any:
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
        if v is FAILED or (v is None and run.errors):
            return v  # failed, or null-filled after a failure
        return Envelope._checked(run, name, v, _ATTR)

    @staticmethod
    def _checked(run: Run, name: str, v: Any, kinds: tuple[str, tuple[type, ...]]) -> Any:
        """``v`` when CloudEvents allows it (MISSING and FAILED pass through); else E515."""
        if v is MISSING or v is FAILED:
            return v
        what, allowed = kinds
        # bool is an int in Python, a float never is an integer here: JSON's 2.0 is a number, not an Integer.
        if isinstance(v, allowed) and not isinstance(v, float) and v != "":
            return v
        return run.fail(codes.BAD_ENVELOPE_VALUE, f"envelope.{name}", name=name,
                        detail=f"must be {what}, not {kind_of(v)}")


def compile_envelope(env: ir.Envelope) -> Envelope:
    return Envelope(
        build_value(env.type) if env.type is not None else None,
        build_value(env.source) if env.source is not None else None,
        _optional(env.subject) if env.subject is not None else None,
        tuple((n, _optional(e)) for n, e in env.extensions),
    )
