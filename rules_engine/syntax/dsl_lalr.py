"""A tight LALR loop over the one Lark parser's own tables and lexers: text -> parse tree, or None.

Position in the pipeline::

    rule text ──dsl: parse (**dsl_lalr** first, Lark for what fails)──▶ parse tree ──lower──▶ IR

Lark's LALR parser, driven by Lark, spends most of its time between the steps that matter: a
generator per token, three method calls to match one regular expression, a line counter object,
a ``feed_token`` call that sets up its locals again for every token.  :func:`fast_parse` runs the
very same steps in one loop: for each token, the contextual lexer of the parser's current state
(the same compiled expressions, the same keyword callbacks, the same ignored terminals and line
counting), then the same shift and reduce actions from the same table, calling the same
reduction callbacks (which build :class:`~rules_engine.syntax.dsl_tree.Node` trees).  So when
Lark parses a text, this loop builds the equal tree, tokens and positions included; when Lark
would raise (an unexpected character or token), this loop returns None and the caller parses
the text with Lark, whose error is the one reported (``dsl.py``).  Nothing of Lark is changed.

``tests/test_dsl_lalr.py`` compares the two on every rule file and expression of the test
corpora and on random text.

One shortcut Lark does not take, with the same result: a run of *unit* reductions (``?rule: other``
links of the precedence chain, whose callback hands its one child up unchanged) pops one state and
pushes one, so it depends only on the state below, the state on top and the lookahead; the state it
ends in is remembered per (below, top, lookahead) instead of being found link by link again.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark import Token
from lark.parsers.lalr_analysis import Shift

from rules_engine.syntax.dsl_tree import Node, lark_parser

__all__ = ["fast_parse"]


@dataclass(frozen=True, slots=True)
class _StateLexer:
    """The contextual lexer of one parser state: Lark's compiled expressions and callbacks for it."""

    matchers: tuple[Callable[..., Any], ...]  # bound ``re.Pattern.match`` of each alternation, in order
    callbacks: dict[str, Any]  # terminal -> Lark's callback (keywords: a NAME that is a keyword)
    newline_types: frozenset[str]
    ignore_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Tables:
    states: dict[Any, dict[str, tuple[Any, Any]]]
    start_states: dict[str, Any]
    end_states: dict[str, Any]
    lexers: dict[Any, _StateLexer]
    reduce_with: dict[Any, tuple[int, str, Callable[[list[Any]], Any], bool]]  # rule -> size, origin, callback, unit


@functools.cache
def _tables() -> _Tables:
    lark = lark_parser()
    frontend = lark.parser
    table = frontend.parser.parser.parse_table
    callbacks = frontend.parser.parser.callbacks
    contextual = frontend.lexer.lexer  # the ContextualLexer behind the post-lexer (which changes no token)
    assert not any(isinstance(k, str) for k in callbacks)  # no per-terminal callbacks in the parser
    lexers: dict[Any, _StateLexer] = {}
    made: dict[int, _StateLexer] = {}
    for state, basic in contextual.lexers.items():
        sl = made.get(id(basic))
        if sl is None:
            scanner = basic.scanner  # builds the expressions and the keyword callbacks
            assert not set(basic.callback) & set(basic.ignore_types)  # an ignored token is never re-typed
            sl = _StateLexer(tuple(m.match for m in scanner._mres), dict(basic.callback),
                             frozenset(basic.newline_types), frozenset(basic.ignore_types))
            made[id(basic)] = sl
        lexers[state] = sl
    reduce_with = {}
    for rule, cb in callbacks.items():
        unit = isinstance(cb, operator.itemgetter) and len(rule.expansion) == 1
        # A run of unit reductions is never the last step (that reduces a start rule, which builds a node).
        assert not (unit and rule.origin.name in table.start_states)
        reduce_with[rule] = (len(rule.expansion), rule.origin.name, cb, unit)
    return _Tables(table.states, table.start_states, table.end_states, lexers, reduce_with)


_new_str = str.__new__


def fast_parse(text: str, start: str) -> Node | None:
    """The tree Lark's parser builds for ``text`` from rule ``start``, or None where Lark would raise."""
    t = _tables()
    states = t.states
    lexers = t.lexers
    reduce_with = t.reduce_with
    end_state = t.end_states[start]
    state_stack: list[Any] = [t.start_states[start]]
    value_stack: list[Any] = []
    units: dict[tuple[Any, Any, str], Any] = _unit_runs
    pos, line, line_start, n = 0, 1, 0, len(text)
    last: Token | None = None
    while True:
        # --- the next token, lexed in the current state's context (Lark's BasicLexer.next_token)
        is_end = pos >= n
        tok: Token
        if not is_end:
            lx = lexers[state_stack[-1]]
            while True:
                m = None
                for match in lx.matchers:
                    m = match(text, pos)
                    if m is not None:
                        break
                if m is None:
                    return None  # an unexpected character
                type_ = m.lastgroup
                value = m.group(0)
                if type_ in lx.ignore_types:
                    if type_ in lx.newline_types:
                        nl = value.count("\n")
                        if nl:
                            line += nl
                            line_start = pos + value.rindex("\n") + 1
                    pos += len(value)
                    if pos >= n:
                        is_end = True
                        break
                    continue
                tok = _new_str(Token, value)
                tok.type = type_
                tok.start_pos = pos
                tok.value = value
                tok.line = line
                tok.column = pos - line_start + 1
                if type_ in lx.newline_types:
                    nl = value.count("\n")
                    if nl:
                        line += nl
                        line_start = pos + value.rindex("\n") + 1
                pos += len(value)
                tok.end_line = line
                tok.end_column = pos - line_start + 1
                tok.end_pos = pos
                cb = lx.callbacks.get(type_)
                if cb is not None:
                    tok = cb(tok)
                last = tok
                break
        if is_end:
            tok = Token.new_borrow_pos("$END", "", last) if last is not None else Token("$END", "", 0, 1, 1)
        ttype = tok.type
        # --- the parser's actions for it (Lark's ParserState.feed_token)
        while True:
            top = state_stack[-1]
            action = states[top].get(ttype)
            if action is None:
                return None  # an unexpected token
            kind, arg = action
            if kind is Shift:
                if is_end:
                    return None
                state_stack.append(arg)
                value_stack.append(tok)
                break
            size, origin, callback, unit = reduce_with[arg]
            if unit:
                below = state_stack[-2]
                key = (below, top, ttype)
                final = units.get(key)
                if final is None:
                    final = _run_units(states, reduce_with, below, top, ttype)
                    units[key] = final
                state_stack[-1] = final
                continue
            if size:
                s = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                s = []
            value = callback(s)
            _action, new_state = states[state_stack[-1]][origin]
            state_stack.append(new_state)
            value_stack.append(value)
            if is_end and new_state == end_state:
                return value_stack[-1]  # type: ignore[no-any-return]


_unit_runs: dict[tuple[Any, Any, str], Any] = {}
"""(state below, state on top, lookahead) -> the state a run of unit reductions ends in (see the module doc)."""


def _run_units(states: dict[Any, dict[str, tuple[Any, Any]]],
               reduce_with: dict[Any, tuple[int, str, Callable[[list[Any]], Any], bool]],
               below: Any, top: Any, ttype: str) -> Any:
    """Follow unit reductions from ``top`` (over ``below``) while the lookahead ``ttype`` asks for one."""
    while True:
        action = states[top].get(ttype)
        if action is None:
            return top  # Lark raises here; so does the caller, finding no action either
        kind, arg = action
        if kind is Shift:
            return top
        size, origin, _callback, unit = reduce_with[arg]
        if not unit:
            return top
        _action, top = states[below][origin]
