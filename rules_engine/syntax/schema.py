"""Structure check of a loaded YAML rule file against ``schemas/rules.schema.json``.

Position in the pipeline::

    (value, locator) ──**check_schema**──▶ diagnostics (E2xx) ──▶ lower_yaml

jsonschema reports errors by JSON path; the locator turns each path into the
YAML line and column of the offending node (the key's position for unknown
keys, so the caret sits under the misspelt word).  Unknown keys get a
"did you mean" note.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import ValidationError

from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
from rules_engine.model.resources import schema_text
from rules_engine.model.source import Locator, Pointer


@cache
def schema() -> dict[str, Any]:
    """The rule-file JSON Schema (draft 2020-12), read once from package data."""
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


@cache
def _fast_validator() -> Any:
    """jsonschema-rs (compiled, draft 2020-12): answers only "valid or not", about 50x faster.

    The precise pass with jsonschema runs only on documents it rejects, so every diagnostic
    comes from jsonschema as before (tests/test_fast_paths.py checks that both agree).
    """
    return jsonschema_rs.validator_for(schema())


def pointer_text(pointer: Sequence[str | int], whole: str = "the rule file") -> str:
    """A JSON pointer as the messages write it: ``rules[2].match.source``; ``whole`` for the empty one."""
    if not pointer:
        return whole
    out = ""
    for p in pointer:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def yaml_kind(value: Any) -> str:
    """What a YAML value is, in the words of the config messages: ``a mapping``, ``a list``, ``an integer``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _allowed_keys(schema_node: dict[str, Any]) -> list[str]:
    keys: list[str] = list(schema_node.get("properties", {}))
    ref = schema_node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        keys += list(schema()["$defs"][ref.split("/")[-1]].get("properties", {}))
    return keys


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """For anyOf/oneOf failures, descend to the most relevant branch errors."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and best.validator not in ("anyOf", "oneOf", "type"):
            yield best
            return
    yield error


def check_schema(doc: Any, locator: Locator) -> list[Diagnostic]:
    """All schema violations of ``doc``, each at its YAML position."""
    diags: list[Diagnostic] = []
    try:
        valid = bool(_fast_validator().is_valid(doc))
    except Exception:  # noqa: BLE001 - a value it cannot take: let jsonschema decide
        valid = False
    if valid:
        return diags
    for top in _validator().iter_errors(doc):
        for err in _leaf_errors(top):
            diags.extend(_translate(err, doc, locator))
    return diags


def _translate(err: Any, doc: Any, locator: Locator) -> list[Diagnostic]:
    # ``err`` is a jsonschema ValidationError; typed Any because its fields are
    # declared with an 'Unset' sentinel that only errors from real validation never hold.
    ptr: Pointer = tuple(err.absolute_path)
    where = pointer_text(ptr)
    v = err.validator
    if v in ("additionalProperties", "unevaluatedProperties") and isinstance(err.instance, dict):
        allowed = _allowed_keys(err.schema) if isinstance(err.schema, dict) else []
        if not allowed and isinstance(err.schema, dict) and v == "unevaluatedProperties":
            allowed = _allowed_keys(err.schema)
        props = set(allowed)
        pat_props = err.schema.get("patternProperties", {}) if isinstance(err.schema, dict) else {}
        out = []
        for key in err.instance:
            if key in props or pat_props:
                continue
            if v == "additionalProperties" and err.schema.get("additionalProperties") is not False:
                continue
            key_notes: list[str] = []
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            if close:
                key_notes.append(f"did you mean '{close[0]}'?")
            elif allowed:
                key_notes.append("allowed keys: " + ", ".join(sorted(allowed)))
            out.append(codes.UNKNOWN_KEY.at(locator.key(ptr + (key,)), notes=key_notes, key=key, where=where))
        if out:
            return out
        return [codes.SCHEMA_OTHER.at(locator.value(ptr), where=where, detail=err.message)]
    if v == "type":
        expected = err.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        words = " or ".join(TYPE_WORDS.get(n, n) for n in names)
        return [codes.WRONG_TYPE.at(locator.value(ptr), where=where, expected=words, found=yaml_kind(err.instance))]
    if v == "required":
        missing = [k for k in err.validator_value if isinstance(err.instance, dict) and k not in err.instance]
        return [codes.MISSING_KEY.at(locator.value(ptr), where=where, key=k) for k in missing]
    if v == "dependentRequired":
        return [codes.SCHEMA_OTHER.at(locator.value(ptr), where=where, detail=err.message)]
    if v in ("enum", "const"):
        options = err.validator_value if v == "enum" else [err.validator_value]
        shown = ", ".join(json.dumps(o) for o in options)
        notes: list[str] = []
        if isinstance(err.instance, str):
            close = difflib.get_close_matches(err.instance, [str(o) for o in options], n=1, cutoff=0.6)
            if close:
                notes.append(f"did you mean '{close[0]}'?")
        return [
            codes.INVALID_VALUE.at(
                locator.value(ptr), notes=notes, where=where,
                detail=f"must be one of {shown}, not {json.dumps(err.instance)}"
            )
        ]
    if v == "pattern":
        detail = f"{json.dumps(err.instance)} is not a valid "
        if ptr and ptr[-1] in ("url",):
            detail = f"{json.dumps(err.instance)} is not a supported URL (expected it to match {err.validator_value})"
        elif err.validator_value == schema()["$defs"]["name"]["pattern"]:
            detail += "name: use letters, digits, '_', '-' and '.', starting with a letter or '_'"
        else:
            detail = f"{json.dumps(err.instance)} does not match {err.validator_value}"
        return [codes.INVALID_VALUE.at(locator.value(ptr), where=where, detail=detail)]
    if v == "propertyNames":
        return [codes.SCHEMA_OTHER.at(locator.value(ptr), where=where, detail=err.message)]
    if v == "minLength" and err.instance == "":
        return [codes.NO_FILTER_VALUE.at(locator.value(ptr), where=where)]
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength"):
        return [codes.INVALID_VALUE.at(locator.value(ptr), where=where, detail=err.message)]
    return [codes.SCHEMA_OTHER.at(locator.value(ptr), where=where, detail=err.message)]
