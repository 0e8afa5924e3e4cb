"""EventBridge's input transformer: ``input_paths_map`` + ``input_template``, compiled once.

Position in the pipeline::

    ir.InputTransformer ──**compile_input_transformer**──▶ fn(event, rule, now) -> payload
                         └─**check_input_transformer**──▶ diagnostics (E370–E373), at load time

Behaviour follows AWS's documentation of the input transformer, "Amazon
EventBridge input transformation"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html)
and the ``InputTransformer`` API reference
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html).
The facts used here, from those pages:

* up to 100 variables, each a JSON path into the original event; variable names
  are letters, digits, ``_`` and ``-``; names starting with ``aws.`` are reserved;
* the JSON path subset: dot notation, keys of letters, digits, dashes,
  underscores and forward slashes, array indices, wildcards (``*``);
* ``<name>`` in the template is replaced by the variable's value; a template is
  either JSON or a plain string; in JSON, a placeholder cannot be an object key;
* EventBridge quotes string values itself where a placeholder is a JSON value
  (``{"state": <state>}`` gives ``{"state": "RUNNING"}``), and inserts the text
  as it is inside a string (``"instance <instance> is in <state>"``); an object
  or array referenced inside a *plain-text* template loses its inner quotes;
* a placeholder that names neither a variable nor a reserved variable makes
  AWS refuse the target ("InputTemplate ... contains invalid placeholder"):
  E373 at load time;
* a variable whose path is not in the event leaves nothing in text and ``""``
  as a JSON value (what AWS delivers);
* reserved variables: ``aws.events.rule-name`` (the rule), ``aws.events.event``
  (the original event without ``detail``, with ``detail-type`` as ``detailType``
  and ``time`` as the ingestion time in epoch milliseconds, as AWS delivers it),
  ``aws.events.event.json`` (the whole original event) — these two only as the
  value of a JSON field — and ``aws.events.event.ingestion-time`` (ISO 8601).
  ``aws.events.rule-arn`` has no meaning outside AWS and is refused.

Checked against messages AWS delivered (LocalStack's AWS-recorded snapshots):
an object or array placeholder inside a string of a JSON template makes AWS
paste the value's JSON text into the string, so the result is not JSON and the
target receives nothing.  Such a template is refused at load time when the
path's kind is known (``$`` is an object, a wildcard path an array: E373), and
otherwise the event's transform fails (:class:`NotText`, E516 under the rule's
``on_error``).

Where AWS's output would not be JSON (a string value holding a quote, pasted
unescaped) this module escapes it, so a JSON template always gives JSON.

The template is parsed once, at load time, into a tree of constants and slots;
per event only the slots are filled (no JSON text is written or parsed).  The
ingestion time is a parameter (``now``): this module never reads a clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from rules_engine.model import codes, ir
from rules_engine.model.errors import Diagnostic
from rules_engine.model.values import MISSING

__all__ = [
    "MAX_VARIABLES",
    "NotText",
    "RESERVED",
    "InputTransformerFn",
    "check_input_transformer",
    "compile_input_transformer",
    "format_time",
    "parse_input_path",
    "select",
]

MAX_VARIABLES: Final = 100
RULE_NAME: Final = "aws.events.rule-name"
INGESTION_TIME: Final = "aws.events.event.ingestion-time"
EVENT: Final = "aws.events.event"
EVENT_JSON: Final = "aws.events.event.json"
RESERVED: Final = frozenset({RULE_NAME, INGESTION_TIME, EVENT, EVENT_JSON})
_JSON_ONLY: Final = frozenset({EVENT, EVENT_JSON})

InputTransformerFn = Callable[[Mapping[str, Any], str, "datetime | None"], Any]
"""``fn(event, rule_name, now) -> payload``: raises :class:`NotText` only."""

_NAME: Final = re.compile(r"[A-Za-z0-9_\-]+")
_PLACEHOLDER: Final = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_STEP: Final = re.compile(r"\.([A-Za-z0-9_\-/]+)|\.(\*)|\[(\d+)\]|\[(\*)\]")


class _Wild:
    """The wildcard step (``.*`` or ``[*]``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "*"


WILDCARD: Final = _Wild()
Step = str | int | _Wild


# --- JSON paths -------------------------------------------------------------------------------------


def parse_input_path(text: str) -> tuple[tuple[Step, ...] | None, str]:
    """``"$.detail.items[0].id"`` -> ``("detail", "items", 0, "id")``; ``(None, why)`` outside AWS's subset."""
    if not text.startswith("$"):
        return None, "it must start with '$'"
    steps: list[Step] = []
    pos = 1
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            c = text[pos]
            if c == "[":
                return None, f"at {text[pos:]!r}: use dot notation for keys; brackets hold an array index or '*'"
            return None, f"at {text[pos:]!r}: keys hold letters, digits, '-', '_' and '/'"
        key, _star, index, _star2 = m.groups()
        if key is not None:
            steps.append(key)
        elif index is not None:
            steps.append(int(index))
        else:
            steps.append(WILDCARD)
        pos = m.end()
    return tuple(steps), ""


def select(event: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` (``MISSING`` if absent); with a wildcard, the list of all matches
    (``MISSING`` when nothing matched)."""
    if not any(s is WILDCARD for s in steps):
        cur = event
        for s in steps:
            if isinstance(s, str):
                if not (isinstance(cur, Mapping) and s in cur):
                    return MISSING
                cur = cur[s]
            elif isinstance(s, int) and isinstance(cur, (list, tuple)) and s < len(cur):
                cur = cur[s]
            else:
                return MISSING
        return cur
    found: list[Any] = [event]
    for s in steps:
        nxt: list[Any] = []
        for cur in found:
            if s is WILDCARD:
                if isinstance(cur, Mapping):
                    nxt.extend(cur.values())
                elif isinstance(cur, (list, tuple)):
                    nxt.extend(cur)
            elif isinstance(s, str):
                if isinstance(cur, Mapping) and s in cur:
                    nxt.append(cur[s])
            elif isinstance(cur, (list, tuple)) and isinstance(s, int) and s < len(cur):
                nxt.append(cur[s])
        found = nxt
    return found if found else MISSING


def format_time(now: datetime) -> str:
    """ISO 8601 in UTC, to the second, like an EventBridge event's ``time`` (a naive time is UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the template as a tree --------------------------------------------------------------------------

_TEXT_MARK: Final = ("\ue000", "\ue001")   # a placeholder inside a JSON string
_VALUE_MARK: Final = ("\ue002", "\ue003")  # a placeholder standing for a JSON value
_TEXT_SLOT: Final = re.compile("\ue000(\\d+)\ue001")
_VALUE_SLOT: Final = re.compile("\ue002(\\d+)\ue003")


@dataclass(frozen=True, slots=True)
class _Const:
    value: Any  # a JSON scalar


@dataclass(frozen=True, slots=True)
class _Value:
    var: str


@dataclass(frozen=True, slots=True)
class _Text:
    parts: tuple[tuple[bool, str], ...]  # (is a variable, literal text or variable name)


@dataclass(frozen=True, slots=True)
class _Obj:
    items: tuple[tuple[str, _Node], ...]


@dataclass(frozen=True, slots=True)
class _Arr:
    items: tuple[_Node, ...]


_Node = _Const | _Value | _Text | _Obj | _Arr


class _Problem(Exception):
    def __init__(self, code: codes.Code, **args: Any) -> None:
        super().__init__(code.format(**args))
        self.code = code
        self.args_ = args


def _is_placeholder(name: str, variables: Mapping[str, Any]) -> bool:
    """Every ``<name>`` is a placeholder; one that names nothing is refused (AWS refuses the target)."""
    if name not in variables and not name.startswith("aws."):
        raise _Problem(
            codes.INPUT_TEMPLATE_INVALID,
            detail=f"<{name}> is not a variable of the input paths map nor a reserved variable "
            "(EventBridge refuses such a template: 'invalid placeholder')",
        )
    return True


def _reserved_check(name: str, in_text: bool) -> None:
    if name.startswith("aws.") and name not in RESERVED:
        why = "it has no meaning outside AWS" if name == "aws.events.rule-arn" else "it is not a reserved variable"
        raise _Problem(codes.INPUT_TEMPLATE_INVALID, detail=f"<{name}> cannot be used: {why}")
    if in_text and name in _JSON_ONLY:
        raise _Problem(
            codes.INPUT_TEMPLATE_INVALID,
            detail=f"<{name}> can only be the value of a JSON field, not part of a string",
        )


def _template_tree(template: str, variables: Mapping[str, Any]) -> _Node:
    """The template as a tree; raises :class:`_Problem` for a template EventBridge would refuse."""
    body = template.strip()
    if body.startswith(("{", "[", '"')):
        tree = _json_template(template, variables, strict=not body.startswith('"'))
        if tree is not None:
            return tree
    return _text_tree(template, variables)


def _text_tree(text: str, variables: Mapping[str, Any]) -> _Text:
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        name = m.group(1)
        _is_placeholder(name, variables)
        _reserved_check(name, in_text=True)
        if m.start() > pos:
            parts.append((False, text[pos : m.start()]))
        parts.append((True, name))
        pos = m.end()
    if pos < len(text):
        parts.append((False, text[pos:]))
    return _Text(tuple(parts))


def _json_template(template: str, variables: Mapping[str, Any], strict: bool) -> _Node | None:
    """A JSON template, or None when a template that starts with a quote is not one JSON string."""
    names: list[str] = []
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(template):
        c = template[i]
        m = _PLACEHOLDER.match(template, i) if c == "<" else None
        if m is not None and _is_placeholder(m.group(1), variables):
            name = m.group(1)
            _reserved_check(name, in_text=in_string)
            mark = _TEXT_MARK if in_string else _VALUE_MARK
            text = f"{mark[0]}{len(names)}{mark[1]}"
            out.append(text if in_string else f'"{text}"')
            names.append(name)
            i = m.end()
            escaped = False
            continue
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        out.append(c)
        i += 1
    try:
        parsed = json.loads("".join(out))
    except ValueError as e:
        if not strict:
            return None
        raise _Problem(
            codes.INPUT_TEMPLATE_INVALID, detail=f"not valid JSON once its placeholders are filled: {e}"
        ) from None
    if not strict and not isinstance(parsed, str):
        return None
    return _to_node(parsed, names)


def _to_node(value: Any, names: list[str]) -> _Node:
    # Iterative: templates are small, but nothing that walks user data here recurses.
    def leaf(v: Any) -> _Node:
        if isinstance(v, str):
            m = _VALUE_SLOT.fullmatch(v)
            if m is not None:
                return _Value(names[int(m.group(1))])
            if "\ue000" in v:
                parts: list[tuple[bool, str]] = []
                pos = 0
                for t in _TEXT_SLOT.finditer(v):
                    if t.start() > pos:
                        parts.append((False, v[pos : t.start()]))
                    parts.append((True, names[int(t.group(1))]))
                    pos = t.end()
                if pos < len(v):
                    parts.append((False, v[pos:]))
                return _Text(tuple(parts))
        return _Const(v)

    root: list[Any] = [None]
    stack: list[tuple[Any, list[Any], int]] = [(value, root, 0)]
    pending: list[tuple[list[Any], int, str, list[Any]]] = []
    while stack:
        v, into, at = stack.pop()
        if isinstance(v, dict):
            for k in v:
                if "\ue000" in k or "\ue002" in k:
                    raise _Problem(codes.INPUT_TEMPLATE_INVALID, detail="a placeholder cannot be used as an object key")
            kids: list[Any] = [None] * len(v)
            pending.append((into, at, "obj", [list(v), kids]))
            stack.extend((x, kids, j) for j, x in enumerate(v.values()))
        elif isinstance(v, list):
            kids = [None] * len(v)
            pending.append((into, at, "arr", [kids]))
            stack.extend((x, kids, j) for j, x in enumerate(v))
        else:
            into[at] = leaf(v)
    # Containers are finished children-first: the reverse of the order they were met.
    for into, at, kind, data in reversed(pending):
        if kind == "obj":
            keys, kids = data
            into[at] = _Obj(tuple(zip(keys, kids, strict=True)))
        else:
            into[at] = _Arr(tuple(data[0]))
    node: _Node = root[0]
    return node


# --- filling the template ------------------------------------------------------------------------------


def _as_text(v: Any) -> str:
    """A value inside a string: text as it is, numbers and literals as JSON, objects and arrays as
    compact JSON without their inner quotes (AWS); nothing for a missing variable."""
    if v is MISSING:
        return ""
    if isinstance(v, str):
        return v
    text = json.dumps(v, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.replace('"', "") if isinstance(v, (dict, list, tuple)) else text


class NotText(Exception):
    """An object or array for a placeholder inside a string of a JSON template (AWS would deliver
    text that is not JSON, so nothing): the transform fails with E516."""

    def __init__(self, name: str, value: Any) -> None:
        super().__init__(name)
        self.name = name
        self.kind = "an object" if isinstance(value, Mapping) else "an array"


def _fill(node: _Node, values: Mapping[str, Any], in_json: bool) -> Any:
    if isinstance(node, _Const):
        return node.value
    if isinstance(node, _Value):
        v = values[node.var]
        return "" if v is MISSING else v  # AWS delivers "" for a path the event lacks
    if isinstance(node, _Text):
        if in_json:
            for is_var, text in node.parts:
                if is_var and isinstance(values[text], (Mapping, list, tuple)):
                    raise NotText(text, values[text])
        return "".join([_as_text(values[text]) if is_var else text for is_var, text in node.parts])
    if isinstance(node, _Obj):
        return {k: _fill(x, values, True) for k, x in node.items}
    return [_fill(x, values, True) for x in node.items]


@dataclass(frozen=True, slots=True)
class _Compiled:
    paths: tuple[tuple[str, tuple[Step, ...]], ...]
    tree: _Node
    uses: frozenset[str]
    json: bool  # a JSON template (a plain-text one is a _Text at the root)

    def __call__(self, event: Mapping[str, Any], rule: str, now: datetime | None) -> Any:
        """The payload; raises :class:`NotText` only (an object or array inside a JSON string)."""
        values: dict[str, Any] = {}
        for name, steps in self.paths:
            values[name] = select(event, steps)
        if RULE_NAME in self.uses:
            values[RULE_NAME] = rule
        if INGESTION_TIME in self.uses:
            values[INGESTION_TIME] = format_time(now) if now is not None else MISSING
        if EVENT in self.uses:
            values[EVENT] = _event_without_detail(event, now)
        if EVENT_JSON in self.uses:
            values[EVENT_JSON] = event
        return _fill(self.tree, values, self.json)


def _problems(it: ir.InputTransformer) -> tuple[_Compiled | None, list[tuple[codes.Code, dict[str, Any]]]]:
    found: list[tuple[codes.Code, dict[str, Any]]] = []
    paths: list[tuple[str, tuple[Step, ...]]] = []
    if len(it.paths_map) > MAX_VARIABLES:
        found.append((codes.TOO_MANY_INPUT_VARIABLES, {"count": len(it.paths_map), "limit": MAX_VARIABLES}))
    for name, text in it.paths_map:
        if name.startswith("aws."):
            reserved = "names starting with 'aws.' are reserved"
            found.append((codes.INPUT_VARIABLE_NAME, {"name": name, "detail": reserved}))
            continue
        if not _NAME.fullmatch(name):
            found.append((codes.INPUT_VARIABLE_NAME,
                          {"name": name, "detail": "a variable name holds letters, digits, '_' and '-'"}))
            continue
        steps, why = parse_input_path(text)
        if steps is None:
            found.append((codes.INPUT_PATH_INVALID, {"name": name, "path": text, "detail": why}))
            continue
        paths.append((name, steps))
    variables = dict(it.paths_map)
    try:
        tree = _template_tree(it.template, variables)
    except _Problem as p:
        found.append((p.code, p.args_))
        return None, found
    if found:
        return None, found
    uses = frozenset(_names(tree))
    used_paths = tuple((n, s) for n, s in paths if n in uses)
    is_json = not isinstance(tree, _Text) or it.template.strip().startswith('"')
    if is_json:
        for name in sorted(_text_names(tree)):
            steps_of = dict(paths).get(name)
            if steps_of is not None and (steps_of == () or any(x is WILDCARD for x in steps_of)):
                kind = "an object (the whole event)" if steps_of == () else "an array (a wildcard path)"
                found.append((codes.INPUT_TEMPLATE_INVALID, {
                    "detail": f"<{name}> is {kind} inside a string: EventBridge would paste its JSON text "
                    "there and deliver something that is not JSON; use it as a value, outside quotes"}))
        if found:
            return None, found
    return _Compiled(used_paths, tree, uses, is_json), found


def _text_names(node: _Node) -> set[str]:
    """Variables used inside strings of a JSON template."""
    out: set[str] = set()
    stack: list[_Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, _Text):
            out.update(text for is_var, text in n.parts if is_var)
        elif isinstance(n, _Obj):
            stack.extend(x for _, x in n.items)
        elif isinstance(n, _Arr):
            stack.extend(n.items)
    return out


def _event_without_detail(event: Mapping[str, Any], now: datetime | None) -> dict[str, Any]:
    """``<aws.events.event>`` as AWS delivers it: no ``detail``, ``detailType`` for ``detail-type``,
    and ``time`` the ingestion time in epoch milliseconds.  Without an ingestion time (this module
    reads no clock) the event's own ``time`` stands in for it; without either, ``time`` is left out."""
    out: dict[str, Any] = {}
    for k, v in event.items():
        if k == "detail":
            continue
        if k == "time":
            ms = _epoch_ms(now) if now is not None else _epoch_ms(_parse_time(v))
            if ms is not None:
                out["time"] = ms
            continue
        out["detailType" if k == "detail-type" else k] = v
    if "time" not in out and now is not None:
        out["time"] = _epoch_ms(now)
    return out


def _parse_time(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        return datetime.fromisoformat(v)
    except ValueError:
        return None


def _epoch_ms(t: datetime | None) -> int | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _names(node: _Node) -> list[str]:
    out: list[str] = []
    stack: list[_Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, _Value):
            out.append(n.var)
        elif isinstance(n, _Text):
            out.extend(text for is_var, text in n.parts if is_var)
        elif isinstance(n, _Obj):
            stack.extend(x for _, x in n.items)
        elif isinstance(n, _Arr):
            stack.extend(n.items)
    return out


def compile_input_transformer(it: ir.InputTransformer) -> InputTransformerFn | None:
    """The compiled transformer, or None when the load-time check reports a problem."""
    fn, _ = _problems(it)
    return fn


def check_input_transformer(it: ir.InputTransformer) -> list[Diagnostic]:
    """Load-time problems (E370–E373), placed at the transformer."""
    _, found = _problems(it)
    return [code.at(it.span, **args) for code, args in found]
