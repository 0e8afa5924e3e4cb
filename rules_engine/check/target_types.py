"""Target types and the load-time check of their options (JSON Schema per type, E601-E604).

Position in the pipeline::

    entry points (rules_engine.adapters) ─▶ **TargetTypes** ─┬─▶ loader (check_options: E60x, positions)
                                                             └─▶ deliver.AdapterRegistry (create adapters)

A target type is named by an entry point of the ``rules_engine.adapters``
group (or, for the built-in ones in a source checkout, by the import path
below, the same string pyproject.toml registers).  The object it names has
``options_schema``: the JSON Schema of the type's own options; the options
every type shares (retry, timeout, dead letter, ordering, bounds) are added
here.  Types are resolved by name at run time (importlib, as entry points
are), so this layer imports no adapter module: it only learns schemas.
Broker client libraries are imported only when an adapter opens, so loading
a type costs no client import.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, Final

import jsonschema
from jsonschema.exceptions import ValidationError

from rules_engine.check.targets import OptionProblem
from rules_engine.model import codes
from rules_engine.syntax.schema import TYPE_WORDS, pointer_text, yaml_kind

__all__ = ["BUILTIN_ADAPTERS", "COMMON_OPTIONS_SCHEMA", "ENTRY_POINT_GROUP", "TargetTypes"]

ENTRY_POINT_GROUP: Final = "rules_engine.adapters"

BUILTIN_ADAPTERS: Final[Mapping[str, str]] = {
    "stdout": "rules_engine.deliver.adapters.stdout:StdoutAdapter",
    "file": "rules_engine.deliver.adapters.file:FileAdapter",
    "http": "rules_engine.deliver.adapters.http:HttpAdapter",
    "nats": "rules_engine.deliver.adapters.nats:NatsAdapter",
    "redis": "rules_engine.deliver.adapters.redis:RedisAdapter",
    "amqp": "rules_engine.deliver.adapters.amqp:AmqpAdapter",
    "mqtt": "rules_engine.deliver.adapters.mqtt:MqttAdapter",
}

_POSITIVE: Final = {"type": "number", "exclusiveMinimum": 0}
COMMON_OPTIONS_SCHEMA: Final[Mapping[str, Any]] = {
    "retry": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "attempts": {"type": "integer", "minimum": 1, "maximum": 1000},
            "backoff": {"enum": ["exponential", "linear"]},
            "initial": {"type": "number", "minimum": 0},
            "max": {"type": "number", "minimum": 0},
            "jitter": {"type": "number", "minimum": 0, "maximum": 1},
            "max_age": _POSITIVE,
        },
    },
    "timeout": _POSITIVE,
    "dead_letter": {"type": "string", "minLength": 1},
    "ordered": {"type": "boolean"},
    "max_in_flight": {"type": "integer", "minimum": 1, "maximum": 100000},
    "batch": {"type": "integer", "minimum": 1, "maximum": 10000},
}
"""The options every target type takes (their meaning: rules_engine/deliver/policy.py, docs/delivery.md)."""

def _where(type_: str, path: Sequence[str | int]) -> str:
    return f"{type_} option " + pointer_text(path, "")


def _load(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


class TargetTypes:
    """Target types by name: built-ins, installed plugins, and ``extra`` ones (tests, embedding).
    A :class:`~rules_engine.check.targets.TargetCatalog` for the loader."""

    def __init__(self, extra: Mapping[str, Any] | None = None, *, plugins: bool = True) -> None:
        self._specs: dict[str, str] = dict(BUILTIN_ADAPTERS)
        self._entry: dict[str, Any] = {}
        if plugins:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._entry[ep.name] = ep
        self._loaded: dict[str, Any] = dict(extra or {})
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}

    def types(self) -> frozenset[str]:
        return frozenset(self._specs) | frozenset(self._entry) | frozenset(self._loaded)

    def get(self, type_: str) -> Any:
        """The object that implements ``type_`` (KeyError when unknown)."""
        found = self._loaded.get(type_)
        if found is None:
            ep = self._entry.get(type_)
            found = ep.load() if ep is not None else _load(self._specs[type_])
            self._loaded[type_] = found
        return found

    def schema(self, type_: str) -> dict[str, Any]:
        """The full options schema of ``type_``: its own options plus the common ones."""
        own = dict(self.get(type_).options_schema)
        props = {**COMMON_OPTIONS_SCHEMA, **own.get("properties", {})}
        return {**own, "type": "object", "properties": props, "additionalProperties": False}

    # --- TargetCatalog -------------------------------------------------------------------------
    def check_options(self, type: str, options: Mapping[str, Any]) -> Sequence[OptionProblem]:
        v = self._validators.get(type)
        if v is None:
            v = self._validators[type] = jsonschema.Draft202012Validator(self.schema(type))
        out: list[OptionProblem] = []
        for err in sorted(v.iter_errors(options), key=lambda e: [str(p) for p in e.absolute_path]):
            out.extend(self._problems(type, err))
        return out

    def _problems(self, type_: str, err: ValidationError) -> list[OptionProblem]:
        path = tuple(err.absolute_path)
        node = err.schema if isinstance(err.schema, dict) else {}
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = sorted(node.get("properties", {}))
            unknown = [k for k in err.instance if k not in node.get("properties", {})]
            out = []
            for k in unknown:
                close = difflib.get_close_matches(k, allowed, n=1, cutoff=0.6)
                notes: tuple[str, ...] = (f"did you mean {close[0]!r}?",) if close else ()
                notes += (
                    f"{_where(type_, path) if path else 'target type ' + repr(type_)} takes: {', '.join(allowed)}",
                )
                if path:
                    out.append(
                        OptionProblem(
                            codes.TARGET_OPTION_VALUE,
                            (*path, k),
                            {"where": _where(type_, path), "detail": f"unknown key {k!r}"},
                            True,
                            notes,
                        )
                    )
                else:
                    out.append(OptionProblem(codes.TARGET_UNKNOWN_OPTION, (k,), {"key": k, "type": type_}, True, notes))
            return out
        if err.validator == "required" and not path:
            key = str(err.message).split("'")[1] if "'" in err.message else "?"
            return [OptionProblem(codes.TARGET_MISSING_OPTION, (), {"type": type_, "key": key})]
        if err.validator == "type":
            expected = node.get("type")
            listed = [str(t) for t in (expected if isinstance(expected, list) else [expected])]
            words = " or ".join(TYPE_WORDS.get(t, t) for t in listed)
            return [
                OptionProblem(
                    codes.TARGET_OPTION_TYPE,
                    path,
                    {"where": _where(type_, path), "expected": words, "found": yaml_kind(err.instance)},
                )
            ]
        detail = node.get("x-message")
        if not isinstance(detail, str):
            if err.validator == "enum":
                detail = "must be one of " + ", ".join(repr(o) for o in node["enum"]) + f", not {err.instance!r}"
            elif err.validator in ("oneOf", "anyOf", "not"):
                detail = "these options do not fit together"
            else:
                detail = err.message
        where = _where(type_, path) if path else f"target type {type_!r}"
        return [OptionProblem(codes.TARGET_OPTION_VALUE, path, {"where": where, "detail": detail})]
