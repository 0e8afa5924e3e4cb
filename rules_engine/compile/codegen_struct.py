"""Compile stage 4b: ``match_struct(s)``, the generated ``match`` reading msgspec's structs.

Position in the pipeline::

    raw bytes ──msgspec, decode.py's types──▶ struct ──**match_struct**──▶ matched rules   (a plain event)
                                                    └─▶ None ──convert──▶ dict ──match──▶   (anything else)

The partial decoder turns msgspec's structs into dicts before ``match`` reads them with ``.get``
chains; for a raw event that is most of the Python work left (ANYTHING-BUT, city lots: msgspec 1.0 µs,
the dicts 0.5 µs, the reads 0.3 µs).  ``match_struct`` is ``match`` with its head rewritten to read the
same key prefixes as struct fields (``s.f2.f0``); everything after the head is ``match``'s own text, so
the probes, the candidates and their checks are the ones the property tests hold to the reference.

An array on the way to a key the head reads (the types decode it whole, as plain JSON values, where
they expect an object) has no fields: the head reads UNUSUAL below it, as ``match``'s ``step`` does,
and the name's slow path walks the array itself (``walk.eb_below``).  A check, or an expression path
below an array (``get_path``), gets the converted dict, made once.

Invariants (each is a reason to answer None, and the caller converts and runs ``match``):

  * every value the head reads is a JSON scalar, an array of plain values, absent or below an array,
    and every other value decoded is a JSON scalar or absent (only checks read those, from the
    converted dict, and converting one may be the event's error);
  * no array lies on the way to such another value;
  * no key spelled with a dot is present where ``match`` would test for one (its ``alt`` flag);
  * an integer beyond orjson's range (the dict holds it as a float) is not read.

The decoder's types hold most of these already, and for those the head tests nothing: a leaf typed
``NAME_LEAF`` (read only as a name's leaf) is a scalar within int64, an array of such, or absent, and a
key typed ``REFUSED`` (a name's dotted spelling) is never present; msgspec refuses an event that does not
fit, and the full decoder takes it.  An array value at a leaf goes to the name's slow path
(``walk.eb_below`` walks it from the last node read).

A check that needs the event itself (``VER[r](ev, m)``: CEL, deep formulas) gets the converted dict
too.  Built only when the decoder's types name every prefix the head reads (a prefix read both
as a value and as an object, or a path with an index, leaves ``match`` alone: None).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rules_engine.compile.codegen import Generated
from rules_engine.compile.decode import INT_MAX, INT_MIN, MSGSPEC_REFUSED, SHALLOW, EventDecoder, nesting_ok
from rules_engine.compile.emit import Lines, load
from rules_engine.compile.runtime import MISSING
from rules_engine.model import ir
from rules_engine.model.events import decode_event

StructMatch = Callable[[Any], list[ir.Rule] | None]

_S = "struct_"  # the parameter: no name the probes use for their own locals (``s``, ``e``, ``b`` …)
_VERIFY = re.compile(r"(?<![\w.])f\(ev, m\)")  # a candidate's general check, in ``codegen._finish``
_VERIFY_STRUCT = f"f(ev if ev is not None else (ev := CONVERT({_S})), m)"
_GET_PATH = re.compile(r"(?<![\w.])get_path\(ev, ")  # an expression path below an array (``_probe_path``)
_GET_PATH_STRUCT = f"get_path(ev if ev is not None else (ev := CONVERT({_S})), "


def struct_match(g: Generated, decoder: EventDecoder) -> StructMatch | None:
    """``match_struct`` for this rule set, or None when its head reads something the types do not name."""
    p = g.prologue
    if p is None or p.reads_event or decoder.struct_decode is None or decoder.convert is None or not g.match_lines:
        return None
    layout, structs = decoder.layout, decoder.structs
    for prefix in p.order:
        if prefix not in layout or (prefix in p.inner) != (prefix in structs):
            return None
    for at, keys in p.alts.items():
        if any((*at, k) not in layout for k in keys):
            return None
    ns = g.function.__globals__
    # Every other value decoded (read only by checks: CEL, expressions' opaque parts) must be one the dict
    # holds as it is, else the dict path converts it (an integer beyond the float range is an error there).
    dotted_keys = {(*at, k) for at, keys in p.alts.items() for k in keys}
    others = [path for path in sorted(layout) if not (
        path in structs or path in p.order or any(path[:j] in dotted_keys for j in range(1, len(path) + 1)))]
    alts: list[tuple[str | None, str]] = []  # (the node, or None at the root; its dotted keys present)
    for at, keys in sorted(p.alts.items(), key=lambda kv: (len(kv[0]), kv[0])):
        present: list[str] = []
        for k in sorted(keys):
            if (*at, k) in decoder.refused:
                continue  # never present: msgspec refuses the event (the full decoder takes it)
            absent = decoder.absent[(*at, k)]
            name = "MISSING" if absent is MISSING else f"SABSENT{len(ns)}"
            ns[name] = absent
            present.append(f"{_S if not at else p.var[at]}.f{layout[(*at, k)][-1]} is not {name}")
        if present:
            alts.append((p.var[at] if at else None, " or ".join(present)))

    def checks(arrays: bool) -> list[str]:
        """The leaves plain, the other values plain, no dotted key present (``arrays``: some node on the
        way may be an array or below one, UNUSUAL, which has no fields and no dotted key to look for).
        None for a leaf typed NAME_LEAF or a dotted key typed REFUSED: msgspec has seen to those."""
        out: list[str] = []
        for prefix in p.order:
            if prefix not in p.inner and prefix not in decoder.name_leaves:
                out.append(_back_unless_plain(p.var[prefix], arrays))
        for path in others:
            out.append(f"x = {_S}{''.join(f'.f{i}' for i in layout[path])}")
            out.append(_back_unless_plain("x"))
        dotted = [test if node is None or not arrays else f"(not {_off(node)} and ({test}))" for node, test in alts]
        if dotted:
            out.append(f"if {' or '.join(dotted)}: return None")
        return out

    head = Lines()
    # Fast: every node on the way is a struct.  An array where the types expect an object (decoded whole,
    # plain JSON values) has no fields: AttributeError, and the careful reads give UNUSUAL below it, as
    # ``match``'s ``step`` does, so the name's slow path walks the array (``eb_below`` starts at the last
    # node read).  An array on the way to another value raises again: the dict path takes the event.
    head.emit(1, "try:")
    head.emit(2, "pass")
    for prefix in p.order:  # an absent key reads as its default: MISSING, or an object with every key absent
        parent = _S if len(prefix) == 1 else p.var[prefix[:-1]]
        head.emit(2, f"{p.var[prefix]} = {parent}.f{layout[prefix][-1]}")
    for line in checks(arrays=False):
        head.emit(2, line)
    head.emit(1, "except AttributeError:")
    head.emit(2, "pass")
    for prefix in p.order:
        field_ = f".f{layout[prefix][-1]}"
        if len(prefix) == 1:
            head.emit(2, f"{p.var[prefix]} = {_S}{field_}")
        else:
            parent = p.var[prefix[:-1]]
            head.emit(2, f"{p.var[prefix]} = UNUSUAL if {_off(parent)} else {parent}{field_}")
    careful = checks(arrays=True)
    if careful:  # another value read below an array raises again: the dict path takes the event
        head.emit(2, "try:")
        for line in careful:
            head.emit(3, line)
        head.emit(2, "except AttributeError:")
        head.emit(3, "return None")
    if p.alts:
        head.emit(1, "alt = False")  # for any use of the flag the rewrite below leaves
    lines = list(g.match_lines)
    assert lines[0] == "def match(ev):"
    if any(_S in line for line in lines):  # cannot happen: no generator names a local so
        return None
    # no dotted key: ``match``'s flag for one is false, so its values are read as they are
    rest = [line.replace("UNSET if alt else ", "").replace("UNUSUAL if alt else ", "")
            .replace("None if alt else ", "") for line in lines[p.end :]]
    body = lines[1 : p.start] + head.lines + rest
    text = "\n".join([f"def match_struct({_S}):", "    ev = None", *body]) + "\n"
    text = _GET_PATH.sub(_GET_PATH_STRUCT, _VERIFY.sub(_VERIFY_STRUCT, text))
    ns.update({"CONVERT": decoder.convert, "SLO": INT_MIN, "SHI": INT_MAX})
    load(text, "match_struct", ns)
    fn: StructMatch = ns["match_struct"]
    return fn


def _off(node: str) -> str:
    """Is the object-typed ``node`` an array, or below one (no fields to read)?"""
    return f"(type({node}) is list or {node} is UNUSUAL)"


def _back_unless_plain(v: str, arrays: bool = False) -> str:
    """A string goes on at once; anything but a plain scalar or MISSING (or, with ``arrays``, UNUSUAL:
    below an array, which the name's slow path walks) goes back (``return None``)."""
    unusual = f" and {v} is not UNUSUAL" if arrays else ""
    return (f"if type({v}) is not str and {v} is not MISSING{unusual} and (type({v}) not in SCALARS or "
            f"(type({v}) is int and not SLO <= {v} <= SHI)): return None")


def raw_matcher(
    match: Callable[[Any], list[ir.Rule]], decoder: EventDecoder, match_struct: StructMatch | None
) -> Callable[[Any], list[ir.Rule]]:
    """Decode-and-match of one raw event, its steps bound once: ``match_struct`` on msgspec's structs for
    plain ASCII bytes (the dict path when it hands the event back), the full decoder when msgspec refuses
    the text (not msgspec again), ``decoder.decode`` then ``match`` for anything else."""
    decode = decoder.decode
    sd, convert = decoder.struct_decode, decoder.convert
    if match_struct is None or sd is None or convert is None:
        return lambda raw: match(decode(raw))
    ms = match_struct

    def decode_match(raw: Any) -> list[ir.Rule]:
        if type(raw) is bytes and (len(raw) <= SHALLOW or nesting_ok(raw)) and raw.isascii():
            try:
                s = sd(raw)
            except MSGSPEC_REFUSED:
                return match(decode_event(raw))  # the full decoder: a shape the types refuse, or the error
            got = ms(s)
            if got is not None:
                return got
            try:
                event = convert(s)
            except OverflowError:  # an integer beyond the float range: the full decoder's error
                return match(decode_event(raw))
            return match(event)
        return match(decode(raw))

    return decode_match
