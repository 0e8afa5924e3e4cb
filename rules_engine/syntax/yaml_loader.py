"""YAML text -> plain JSON-like values plus a position table (the only place that sees YAML nodes).

Position in the pipeline::

    rule file bytes ──decode──▶ text ──**load_yaml**──▶ (value, YamlLocator) ──schema──▶ lower

PyYAML's composer and constructor recurse once per nesting level and expand
aliases without limit, so this module builds values itself from PyYAML's
*event stream*, iteratively:

  * nesting deeper than ``max_depth`` is reported (E105) at the node that crosses it;
  * aliases are expanded with a budget of ``max_nodes`` nodes made by alias
    expansion, so a "billion laughs" document stops early with E103 instead of
    eating memory.  Nodes written out in the file do not count: their number is
    already bounded by the file size limit, and a big honest file must load;
  * duplicate mapping keys are errors (E110); mapping keys are always the
    key's source text (so ``on:`` stays the string ``"on"``, not ``True``);
  * only the YAML core tags are accepted (E115 for ``!!python/...`` and friends);
    timestamps stay strings, as they would in JSON;
  * scalars follow the YAML 1.2 core schema: ``yes``/``no``/``on``/``off`` are
    strings and ``10:30`` is not a base-60 number; numbers mean what they mean
    in JSON (``1e3`` is 1000.0), and ``.nan``/``.inf``/``1e999`` are refused
    (E140), since no JSON value holds them (docs/yaml-format.md, "Numbers").

Every value gets an entry in the locator, keyed by its pointer
(``("rules", 0, "match", "source")``): the value's span, its key's span, and
the scalar style, which :meth:`YamlLocator.embedded` uses to map positions
inside an expression string back to the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

from rules_engine.model import codes
from rules_engine.model.errors import Diagnostic
from rules_engine.model.source import Embedded, Locator, Pointer, Source, Span

MAX_DEPTH = 100
MAX_NODES = 200_000

_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BINARY = "tag:yaml.org,2002:binary"
_CORE_SCALARS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    _TIMESTAMP,
}
_CORE_COLLECTIONS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"}


@dataclass(frozen=True, slots=True)
class NodeInfo:
    span: Span
    key_span: Span | None
    style: str | None  # None: plain; "'", '"', "|", ">" for scalars; "{" / "[" flow, "" block collections


class YamlLocator(Locator):
    """Spans of every value (and mapping key) of one loaded YAML document."""

    def __init__(self, source: Source, table: dict[Pointer, NodeInfo]) -> None:
        super().__init__(source.name)
        self.source = source
        self.table = table

    def _nearest(self, pointer: Pointer) -> NodeInfo | None:
        p = tuple(pointer)
        while True:
            info = self.table.get(p)
            if info is not None or not p:
                return info
            p = p[:-1]

    def value(self, pointer: Pointer) -> Span:
        info = self._nearest(pointer)
        return info.span if info else Span(self.file, 1, 1, 1, 2)

    def key(self, pointer: Pointer) -> Span:
        info = self.table.get(tuple(pointer))
        if info is not None and info.key_span is not None:
            return info.key_span
        return self.value(pointer)

    def embedded(self, pointer: Pointer, text: str) -> Embedded:
        info = self.table.get(tuple(pointer))
        if info is None:
            return super().embedded(pointer, text)
        sp = info.span
        n_lines = text.count("\n") + 1
        style = info.style
        if style == "|":
            # Literal block scalar: content starts on the line after the header; each
            # content line begins at the block's indentation.
            first = sp.line + 1
            indent = 1
            for ln in range(first, min(first + 50, self.source.line_count + 1)):
                raw = self.source.line_text(ln)
                if raw.strip():
                    indent = len(raw) - len(raw.lstrip(" ")) + 1
                    break
            origins = tuple((first + i, indent) for i in range(n_lines))
            return Embedded(self.file, text, origins)
        if sp.end_line > sp.line or style in ("'", '"', ">"):
            # Folded, multi-line or quoted: line breaks became spaces, escapes characters.
            return Embedded(self.file, text, (), self._char_positions(sp, text, style))
        col = sp.column + (1 if style in ("'", '"') else 0)
        origins_l = [(sp.line, col)]
        for i in range(1, n_lines):
            ln = sp.line + i
            raw = self.source.line_text(ln)
            origins_l.append((ln, len(raw) - len(raw.lstrip()) + 1))
        return Embedded(self.file, text, tuple(origins_l))


    def _char_positions(self, sp: Span, text: str, style: str | None) -> tuple[tuple[int, int], ...]:
        src = self.source
        start = src.offset(sp.line, sp.column)
        raw = src.text[start : src.offset(sp.end_line, sp.end_column)]
        if style in ("'", '"'):
            skip = 1
        elif style == ">":
            skip = raw.find("\n") + 1 if "\n" in raw else len(raw)
        else:
            skip = 0
        return tuple(src.position(start + skip + i) for i in _align(text, raw[skip:], style))


_ESCAPE_LEN: Final = {"x": 4, "u": 6, "U": 10}


def _align(value: str, raw: str, style: str | None) -> list[int]:
    """Offsets into ``raw`` (a scalar's source after its opening quote or block header) of each
    character of ``value``, then of the position just past it.

    One forward walk: a character written as itself maps to itself; a space or line feed that
    folding made from a line break maps to that break (and the next line's indentation is
    skipped); a double-quoted escape maps to its backslash; an escaped line break makes no
    character.  Anything else in the source (quotes, indentation, doubled single quotes) is
    skipped.  Linear in the scalar's length.
    """
    out: list[int] = []
    i, n = 0, len(raw)
    for ch in value:
        while i < n:
            c = raw[i]
            if style == '"' and c == "\\":
                nxt = raw[i + 1] if i + 1 < n else ""
                if nxt in "\r\n":
                    i += 2
                    while i < n and raw[i] in " \t\r\n":
                        i += 1
                    continue
                out.append(i)
                i += _ESCAPE_LEN.get(nxt, 2)
                break
            if c == ch or (ch in " \n" and c in "\r\n"):
                out.append(i)
                i += 2 if c == "\r" and raw[i + 1 : i + 2] == "\n" else 1
                if ch == " " and c in "\r\n":
                    while i < n and raw[i] in " \t":
                        i += 1
                break
            i += 1
        else:
            out.append(out[-1] if out else 0)
    out.append(min(i, n))
    return out


def _span(file: str, start: Any, end: Any) -> Span:
    return Span(file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


@dataclass
class _Frame:
    kind: str  # "map" or "seq"
    value: Any
    pointer: Pointer
    pending_key: str | None = None
    pending_key_span: Span | None = None
    index: int = 0
    alias_anchor: str | None = None


# libyaml's parser (PyYAML's CParser, when PyYAML was built with libyaml) yields the same
# events with the same marks as the pure-Python one, several times faster.  It differs in
# its error wording; in plain scalars' style ('' instead of None); in resolving explicitly
# tagged empty scalars; in the position of empty values (``{a: }``); in accepting tabs, a
# byte order mark inside the text, a comment glued to a block scalar's header ("|#") and
# some "? " inside flow collections, which PyYAML refuses; and, at the end of a file
# without a final line break, in placing the end of the open collections one line further.
# So libyaml's result is used only for a file that ends with a line break, holds none of
# those, no explicit tag, no empty plain value, and yields no diagnostic; any other file is
# parsed (again) by the pure-Python parser, the reference, whose diagnostics are the ones
# reported (tests/test_fast_paths.py compares the two parsers, also on random input).
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
# a block scalar header with a comment glued to it, or "?" before white space
_NOT_FAST = re.compile(r"[|>][-+0-9]*#|\?[ \r\n\u2028\u2029\x85]")


def load_yaml(
    source: Source, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> tuple[Any, YamlLocator, list[Diagnostic]]:
    """Parse one YAML document.  Returns (value, locator, diagnostics); value is None on error.

    Multiple documents in one file are an error (E102) — a rule file is one document.
    """
    if _FAST_LOADER is not None and fast_eligible(source.text):
        try:
            fast = _load_yaml(source, max_depth, max_nodes, _FAST_LOADER, fast=True)
        except Exception:  # noqa: BLE001 - libyaml is only a shortcut; the reference parser decides
            fast = None
        if fast is not None and not fast[2]:
            return fast
    return _load_yaml(source, max_depth, max_nodes, yaml.SafeLoader)


def fast_eligible(text: str) -> bool:
    """May libyaml's parse of ``text`` be used (when it has no tag and no diagnostic)?"""
    return (text.endswith("\n") and "\t" not in text and "\ufeff" not in text
            and _NOT_FAST.search(text) is None)


def _load_yaml(
    source: Source, max_depth: int, max_nodes: int, loader: Any, fast: bool = False
) -> tuple[Any, YamlLocator, list[Diagnostic]]:
    """One parser's event stream (``loader``: PyYAML's pure-Python one, or libyaml's when ``fast``)
    built into (value, locator, diagnostics) by a :class:`_Builder`; a refused document gives None."""
    build = _Builder(source, max_depth, max_nodes, fast)
    try:
        for ev in yaml.parse(source.text, Loader=loader):
            if build.event(ev):
                break
    except _Refuse as r:
        build.diags.append(r.diag)
        return None, build.locator, build.diags
    except yaml.MarkedYAMLError as e:
        build.diags.append(_syntax_error(e, source))
        return None, build.locator, build.diags
    except (yaml.YAMLError, ConstructorError) as e:
        build.diags.append(codes.YAML_SYNTAX.at(Span.point(source.name, 1, 1), detail=str(e).splitlines()[0]))
        return None, build.locator, build.diags
    except (RecursionError, MemoryError):
        build.diags.append(codes.TOO_DEEP.at(Span.point(source.name, 1, 1), what="YAML document", limit=max_depth))
        return None, build.locator, build.diags
    if build.diags:
        return None, build.locator, build.diags
    return (build.root if build.have_root else None), build.locator, build.diags


def _syntax_error(e: yaml.MarkedYAMLError, source: Source) -> Diagnostic:
    """PyYAML's syntax error as E102 at its mark, with notes for the usual causes."""
    mark = e.problem_mark or e.context_mark
    problem = e.problem or "invalid YAML"
    sp = Span.point(source.name, mark.line + 1, mark.column + 1) if mark is not None else Span.point(source.name, 1, 1)
    notes: list[str] = []
    if "\t" in problem or "tab" in problem.lower():
        notes.append("YAML does not allow tab characters for indentation; use spaces")
    if e.context:
        notes.append(e.context)
    if mark is not None and _UNQUOTED_QUANTIFIER.search(source.line_text(mark.line + 1)):
        # `when: any(x in l: x > 1)`: the ': ' inside the expression starts a YAML mapping.
        notes.append("an expression holding ': ' (a quantifier) must be quoted in YAML: "
                     "when: 'any(x in data.items: x.price > 3)'")
    return codes.YAML_SYNTAX.at(sp, notes=notes, detail=problem)


class _Builder:
    """Builds plain values and the position table from one document's parser events, iteratively.

    :meth:`event` takes the events in order; containers under construction are on ``stack``.
    Invariants: every value placed has a table entry under its pointer; a collection's entry is
    widened to its end when it closes; ``nodes`` counts only nodes made by alias expansion.
    Raises :class:`_Refuse` (a diagnostic that ends the document) or :class:`_NotFast`.
    """

    def __init__(self, source: Source, max_depth: int, max_nodes: int, fast: bool) -> None:
        self.file = source.name
        self.table: dict[Pointer, NodeInfo] = {}
        self.locator = YamlLocator(source, self.table)
        self.diags: list[Diagnostic] = []
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.fast = fast
        self.resolver = Resolver()
        self.constructor = SafeConstructor()
        self.anchors: dict[str, tuple[Any, Span]] = {}
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.have_root = False
        self.docs = 0
        self.nodes = 0  # made by alias expansion (the budget of max_nodes)
        # anchors whose collection is still being built: an alias to one is a recursive document (refused)
        self.building: set[str] = set()

    def event(self, ev: Any) -> bool:
        """Take one parser event; True when the document must not be read further."""
        if isinstance(ev, yaml.ScalarEvent):  # the most frequent first
            if self.fast and (ev.tag is not None or (not ev.value and not ev.style)):
                raise _NotFast  # explicit tags, empty plain scalars: the pure-Python parser is the reference
            self.scalar(ev)
        elif isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if self.fast and ev.tag is not None:
                raise _NotFast
            self.collection_start(ev)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.collection_end(ev)
        elif isinstance(ev, yaml.AliasEvent):
            self.alias(ev)
        elif isinstance(ev, yaml.DocumentStartEvent):
            self.docs += 1
            if self.docs > 1:
                self.diags.append(codes.YAML_SYNTAX.at(
                    _span(self.file, ev.start_mark, ev.end_mark),
                    detail="a rule file holds one YAML document; found a second '---'"))
                return True
        return False  # stream and document ends

    # --- one method per event kind ---------------------------------------------------------

    def collection_start(self, ev: Any) -> None:
        sp = _span(self.file, ev.start_mark, ev.end_mark)
        stack = self.stack
        if len(stack) >= self.max_depth:
            raise _Refuse(codes.TOO_DEEP.at(sp, what="YAML document", limit=self.max_depth))
        tag = ev.tag
        if tag not in (None, "!") and tag not in _CORE_COLLECTIONS:
            raise _Refuse(codes.YAML_UNSUPPORTED_TAG.at(sp, tag=tag))
        is_map = isinstance(ev, yaml.MappingStartEvent)
        if stack and stack[-1].kind == "map" and stack[-1].pending_key is None:
            raise _Refuse(codes.NON_STRING_KEY.at(sp, found="a mapping" if is_map else "a sequence"))
        ptr = self.child_pointer()
        container: Any = {} if is_map else []
        style = ("{" if is_map else "[") if ev.flow_style else ""
        self.place(container, sp, style, False, ev)
        stack.append(_Frame("map" if is_map else "seq", container, ptr, alias_anchor=ev.anchor))
        if ev.anchor:
            self.anchors[ev.anchor] = (container, sp)
            self.building.add(ev.anchor)

    def collection_end(self, ev: Any) -> None:
        frame = self.stack.pop()
        ptr = frame.pointer
        info = self.table.get(ptr)
        if info is not None and ev.end_mark is not None:
            # widen the span to the whole collection
            self.table[ptr] = NodeInfo(
                Span(self.file, info.span.line, info.span.column, ev.end_mark.line + 1, ev.end_mark.column + 1),
                info.key_span,
                info.style,
            )
        if frame.alias_anchor:
            self.building.discard(frame.alias_anchor)

    def scalar(self, ev: Any) -> None:
        sp = _span(self.file, ev.start_mark, ev.end_mark)
        stack = self.stack
        is_key = bool(stack) and stack[-1].kind == "map" and stack[-1].pending_key is None
        value = ev.value if is_key else self.scalar_value(ev, sp)
        self.place(value, sp, ev.style if ev.style else None, True, ev)
        if ev.anchor:
            self.anchors[ev.anchor] = (value, sp)

    def alias(self, ev: Any) -> None:
        sp = _span(self.file, ev.start_mark, ev.end_mark)
        if ev.anchor not in self.anchors:
            raise _Refuse(codes.YAML_SYNTAX.at(sp, detail=f"unknown alias *{ev.anchor}"))
        if ev.anchor in self.building:
            raise _Refuse(codes.YAML_SYNTAX.at(sp, detail=f"alias *{ev.anchor} refers to itself"))
        target, _ = self.anchors[ev.anchor]
        stack = self.stack
        if bool(stack) and stack[-1].kind == "map" and stack[-1].pending_key is None:
            if not isinstance(target, str):
                raise _Refuse(codes.NON_STRING_KEY.at(sp, found="an alias to a collection"))
            self.place(target, sp, None, True, _KeyEvent(target))
            return
        self.place(self.copy_alias(target, self.child_pointer(), sp), sp, None, True, ev)

    # --- values and where they go ----------------------------------------------------------

    def scalar_value(self, ev: Any, sp: Span) -> Any:
        tag = ev.tag
        if tag is None and not ev.style:
            number = _core_number(ev.value)
            if number is not None:
                return _finite(number, ev.value, sp)
        if tag is None or tag == "!":
            tag = self.resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit)  # type: ignore[no-untyped-call]
            if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
                return ev.value  # a YAML 1.1 number that YAML 1.2 does not know (1_000, 0b1, 017): text
        if tag in (_TIMESTAMP, _STR):
            return ev.value
        # YAML 1.2 core schema rather than PyYAML's YAML 1.1: only true/false are
        # booleans (a rule named "off" stays a string) and "10:30" is not base 60.
        if tag == "tag:yaml.org,2002:bool" and ev.value.lower() not in ("true", "false"):
            return ev.value
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in ev.value:
            return ev.value
        if tag not in _CORE_SCALARS:
            raise _Refuse(codes.YAML_UNSUPPORTED_TAG.at(sp, tag=ev.tag))
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
        value = self.constructor.construct_object(node, deep=False)
        return _finite(value, ev.value, sp) if isinstance(value, float) else value

    def place(self, value: Any, info_span: Span, style: str | None, is_key_ok: bool, ev: Any) -> None:
        """Attach a finished value (or a new container) to its parent."""
        stack = self.stack
        if not stack:
            self.root, self.have_root = value, True
            self.table[()] = NodeInfo(info_span, None, style)
            return
        parent = stack[-1]
        if parent.kind == "seq":
            ptr = parent.pointer + (parent.index,)
            parent.value.append(value)
            parent.index += 1
            self.table[ptr] = NodeInfo(info_span, None, style)
            return
        # mapping: either a key or a value
        if parent.pending_key is None:
            if not is_key_ok:
                raise _Refuse(codes.NON_STRING_KEY.at(info_span, found="a collection"))
            key = ev.value
            if key in parent.value:
                self.diags.append(codes.YAML_DUPLICATE_KEY.at(info_span, key=key))
            parent.pending_key = key
            parent.pending_key_span = info_span
            return
        key = parent.pending_key
        parent.value[key] = value
        self.table[parent.pointer + (key,)] = NodeInfo(info_span, parent.pending_key_span, style)
        parent.pending_key = None
        parent.pending_key_span = None

    def child_pointer(self) -> Pointer:
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if parent.kind == "seq":
            return parent.pointer + (parent.index,)
        return parent.pointer + (parent.pending_key if parent.pending_key is not None else "",)

    def copy_alias(self, value: Any, base: Pointer, src_span: Span) -> Any:
        """Deep-copy an anchored value iteratively, charging every node to the budget."""
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise _Refuse(codes.YAML_ALIAS_LIMIT.at(src_span, limit=self.max_nodes))
        if not isinstance(value, (dict, list)):
            return value
        out: Any = {} if isinstance(value, dict) else []
        work: list[tuple[Any, Any, Pointer]] = [(value, out, base)]
        while work:
            src, dst, ptr = work.pop()
            items = src.items() if isinstance(src, dict) else enumerate(src)
            for k, v in items:
                self.nodes += 1
                if self.nodes > self.max_nodes:
                    raise _Refuse(codes.YAML_ALIAS_LIMIT.at(src_span, limit=self.max_nodes))
                cptr = ptr + (k,)
                if isinstance(v, (dict, list)):
                    nv: Any = {} if isinstance(v, dict) else []
                    work.append((v, nv, cptr))
                else:
                    nv = v
                if isinstance(dst, dict):
                    dst[k] = nv
                else:
                    dst.append(nv)
                self.table.setdefault(cptr, NodeInfo(src_span, None, None))
        return out


# YAML 1.2 core schema numbers (https://yaml.org/spec/1.2.2/#1023-core-schema).  Every JSON
# number is one, with the value JSON gives it: an integer without fraction or exponent, else a
# float (``1e3`` is 1000.0, as json.loads and orjson read it).  The forms YAML 1.2 adds are
# ``+1``, ``.5``, ``1.``, ``0o17`` and ``0x1F``; ``.inf`` and ``.nan`` are numbers no JSON text
# holds and are refused (E140), as is a literal beyond the double range (``1e999``).
_UNQUOTED_QUANTIFIER = re.compile(r":\s+(?=[^'\"|>\s]).*\b(?:any|all)\s*\(\s*\w+\s+in\b[^:]*:\s")
_INT_RE = re.compile(r"[-+]?[0-9]+")
_OCT_RE = re.compile(r"0o[0-7]+")
_HEX_RE = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF_RE = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN_RE = re.compile(r"\.(?:nan|NaN|NAN)")


def _core_number(text: str) -> int | float | None:
    """The number a plain scalar is under the YAML 1.2 core schema, or None (not a number)."""
    if len(text) > 4300:  # more digits than Python converts; no honest number is that long
        return None
    if _INT_RE.fullmatch(text):
        return int(text)
    if _OCT_RE.fullmatch(text):
        return int(text[2:], 8)
    if _HEX_RE.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    if _INF_RE.fullmatch(text) or _NAN_RE.fullmatch(text):
        return float(text.replace(".", "").lower().replace("+", ""))
    return None


def _finite(value: int | float, text: str, span: Span) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        detail = "out of the range of a double" if _FLOAT_RE.fullmatch(text) else "not a number JSON can hold"
        raise _Refuse(codes.YAML_NOT_JSON_NUMBER.at(
            span, notes=["rule files hold JSON values; quote it to mean the text"], text=text, detail=detail))
    return value


@dataclass(frozen=True, slots=True)
class _KeyEvent:
    """Stands in for a scalar event when an alias is used as a mapping key."""

    value: str


class _NotFast(Exception):
    """The libyaml pass leaves this document to the pure-Python parser."""


class _Refuse(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag
